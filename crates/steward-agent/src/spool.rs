//! The bounded on-disk spool of metric batches not yet acknowledged.
//!
//! One file per batch, named by its sequence number, written before the
//! batch is sent and removed only after the server acked it (acks mean
//! "durably stored"). Sequence numbers never repeat: the highest one used is
//! kept in `seq` whenever the spool runs empty, and the server's stored
//! sequence number (from `welcome`) raises the floor further.
//! Beyond `max_bytes` the oldest batches are dropped, and counted.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use steward_proto::{MetricBatch, Point};

pub struct Spool {
    dir: PathBuf,
    /// seq → file size, oldest first.
    files: BTreeMap<u64, u64>,
    bytes: u64,
    max_bytes: u64,
    last_seq: u64,
    /// Batches dropped because the spool was full.
    pub dropped: u64,
}

impl Spool {
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create spool {}", dir.display()))?;
        let mut files = BTreeMap::new();
        let mut bytes = 0;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let size = entry.metadata()?.len();
            files.insert(seq, size);
            bytes += size;
        }
        let stored_last = fs::read_to_string(dir.join("seq"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let last_seq = files
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(stored_last);
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
            bytes,
            max_bytes,
            last_seq,
            dropped: 0,
        })
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Never hand out a sequence number at or below `seq` (the server has it).
    pub fn raise_floor(&mut self, seq: u64) -> Result<()> {
        if seq > self.last_seq {
            self.last_seq = seq;
            self.persist_seq()?;
        }
        Ok(())
    }

    fn persist_seq(&self) -> Result<()> {
        let tmp = self.dir.join("seq.tmp");
        fs::write(&tmp, self.last_seq.to_string())?;
        fs::rename(tmp, self.dir.join("seq"))?;
        Ok(())
    }

    /// Spools one collection cycle; returns its sequence number.
    pub fn append(&mut self, ts_ms: i64, points: Vec<Point>) -> Result<u64> {
        let seq = self.last_seq + 1;
        let batch = MetricBatch { seq, ts_ms, points };
        let frame = steward_proto::encode(&steward_proto::AgentMessage::Metrics(batch));
        let path = self.path(seq);
        fs::write(&path, &frame).with_context(|| format!("cannot write {}", path.display()))?;
        self.last_seq = seq;
        self.files.insert(seq, frame.len() as u64);
        self.bytes += frame.len() as u64;
        while self.bytes > self.max_bytes && self.files.len() > 1 {
            let Some((&oldest, _)) = self.files.iter().next() else {
                break;
            };
            self.remove(oldest);
            self.dropped += 1;
            tracing::warn!(
                seq = oldest,
                "Spool is full; dropped the oldest unsent batch."
            );
        }
        Ok(seq)
    }

    fn remove(&mut self, seq: u64) {
        if let Some(size) = self.files.remove(&seq) {
            self.bytes -= size;
            let _ = fs::remove_file(self.path(seq));
        }
    }

    /// The server stored every batch up to `seq`: forget them.
    pub fn ack(&mut self, seq: u64) -> Result<()> {
        let acked: Vec<u64> = self.files.range(..=seq).map(|(s, _)| *s).collect();
        for s in acked {
            self.remove(s);
        }
        if self.files.is_empty() {
            self.persist_seq()?;
        }
        Ok(())
    }

    /// Drops one batch without an ack (it cannot be read).
    pub fn ack_one(&mut self, seq: u64) {
        self.remove(seq);
    }

    /// Spooled batches at or below `sent_through` (sent, awaiting an ack).
    pub fn in_flight(&self, sent_through: u64) -> usize {
        self.files.range(..=sent_through).count()
    }

    /// The first spooled sequence number after `after`.
    pub fn next_after(&self, after: u64) -> Option<u64> {
        self.files.range(after + 1..).next().map(|(s, _)| *s)
    }

    /// The frame to send for `seq` (a `metrics` message).
    pub fn frame(&self, seq: u64) -> Result<String> {
        fs::read_to_string(self.path(seq))
            .with_context(|| format!("spooled batch {seq} is unreadable"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_restart_and_never_reuses_sequence_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(spool.append(1, vec![]).unwrap(), 1);
        assert_eq!(spool.append(2, vec![]).unwrap(), 2);
        drop(spool);
        let mut spool = Spool::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(spool.len(), 2);
        assert_eq!(spool.next_after(0), Some(1));
        spool.ack(2).unwrap();
        assert!(spool.is_empty());
        drop(spool);
        let mut spool = Spool::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(spool.append(3, vec![]).unwrap(), 3);
        spool.raise_floor(10).unwrap();
        assert_eq!(spool.append(4, vec![]).unwrap(), 11);
        assert!(spool.frame(11).unwrap().contains("\"seq\":11"));
    }

    #[test]
    fn drops_oldest_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 200).unwrap();
        for ts in 1..=10 {
            spool.append(ts, vec![]).unwrap();
        }
        assert!(spool.dropped > 0);
        assert_eq!(spool.next_after(0), Some(10 - spool.len() as u64 + 1));
        assert!(spool.bytes <= 200);
    }
}
