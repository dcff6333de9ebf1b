//! Open raw chunks held decoded in memory between ingest groups, so a
//! group appends to each series with no read and no decode: one write per
//! series per group.
//!
//! What is held is only ever a copy of what committed: a group takes the
//! heads of its series out, and puts the new ones back only after its
//! transaction committed (a group that fails leaves them out, and the next
//! one reads them from the store). Nothing is lost with the process, then:
//! after a restart (or a kill -9) every head is read again from the store.
//!
//! Another writer may have changed a chunk meanwhile (another replica that
//! took the device over, retention deleting an idle series' chunk): every
//! update of a held chunk names the count it had, and a chunk whose count
//! is not that one any more is read again and the series planned anew
//! (`metrics/append.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use steward_store::Head;

/// Samples held at most (16 bytes each): 4 M is about 64 MiB, enough for
/// 50,000 series with full heads. Past it, series not held yet are read
/// from the store per group, as they are without holding.
const MAX_HELD_SAMPLES: usize = 4_000_000;

pub(crate) struct Heads {
    inner: Mutex<Held>,
    /// Samples held at most; 0 holds nothing.
    limit: usize,
}

impl Default for Heads {
    /// Holds up to [`MAX_HELD_SAMPLES`], or nothing when
    /// `STEWARD_INGEST_HOLD_HEADS=0` (every group reads its open chunks
    /// from the store: for comparison, or if holding ever misbehaves).
    fn default() -> Self {
        let off = std::env::var("STEWARD_INGEST_HOLD_HEADS").is_ok_and(|v| v.trim() == "0");
        Self {
            inner: Mutex::default(),
            limit: if off { 0 } else { MAX_HELD_SAMPLES },
        }
    }
}

#[derive(Default)]
struct Held {
    by_series: HashMap<i64, Head>,
    samples: usize,
}

impl Heads {
    /// Takes out the heads held for these series (raw resolution).
    pub(crate) fn take(&self, series: impl Iterator<Item = i64>) -> HashMap<i64, Head> {
        let Ok(mut held) = self.inner.lock() else {
            return HashMap::new();
        };
        let mut out = HashMap::new();
        for id in series {
            if let Some(head) = held.by_series.remove(&id) {
                held.samples -= head.samples.len();
                out.insert(id, head);
            }
        }
        out
    }

    /// Holds the heads a committed group left (those whose row id is
    /// known), while there is room.
    pub(crate) fn put(&self, heads: Vec<(i64, Head)>) {
        let Ok(mut held) = self.inner.lock() else {
            return;
        };
        for (series, head) in heads {
            if head.id.is_none() || held.samples + head.samples.len() > self.limit {
                continue;
            }
            held.samples += head.samples.len();
            if let Some(old) = held.by_series.insert(series, head) {
                held.samples -= old.samples.len();
            }
        }
    }
}
