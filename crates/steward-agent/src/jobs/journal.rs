//! The job journal: one small file per run id, written (and fsynced)
//! before a run starts and again when it ends, so that
//! - a run is executed at most once: an order whose run id is in the
//!   journal is a replay and never runs again, across restarts too;
//! - a result is reported until the server acks it;
//! - a run cut short by a crash is reported as `unknown`, never retried.
//!
//! Entries stay (without their output once acked) until the order's expiry
//! has passed: after that the signature check refuses the order anyway.

use crate::state::write_private;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use steward_proto::{RunResult, RunStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Started and not finished (a crash leaves it here).
    Started,
    /// Finished; the result waits for the server's ack.
    Done,
    /// The server stored the result.
    Acked,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub expires_at: i64,
    pub phase: Phase,
    #[serde(default)]
    pub result: Option<RunResult>,
}

pub struct Journal {
    dir: PathBuf,
    entries: HashMap<String, Entry>,
}

fn is_run_id(name: &str) -> bool {
    name.len() == 36 && name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

impl Journal {
    /// Opens the journal; runs left `Started` by a crash become `Done` with
    /// an `unknown` outcome.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut journal = Self {
            dir: dir.to_path_buf(),
            entries: HashMap::new(),
        };
        for file in fs::read_dir(dir)? {
            let path = file?.path();
            let Some(run) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .filter(|n| is_run_id(n))
                .map(String::from)
            else {
                continue;
            };
            let entry = fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Entry>(&bytes).ok());
            match entry {
                Some(entry) => {
                    journal.entries.insert(run, entry);
                }
                None => {
                    tracing::warn!(path = %path.display(), "Unreadable job journal entry; its run id stays refused.")
                }
            }
        }
        let interrupted: Vec<String> = journal
            .entries
            .iter()
            .filter(|(_, e)| e.phase == Phase::Started)
            .map(|(run, _)| run.clone())
            .collect();
        for run in interrupted {
            tracing::warn!(%run, "A job was running when the agent stopped: reporting its outcome as unknown.");
            let result = RunResult {
                run_id: run.clone(),
                status: RunStatus::Unknown,
                exit_code: None,
                stdout: String::new(),
                stderr: String::new(),
                truncated: false,
                started_at: None,
                duration_ms: None,
                message: "the agent stopped while this ran; it may or may not have finished, and it is not retried".into(),
            };
            journal.finish(&run, result)?;
        }
        Ok(journal)
    }

    pub fn contains(&self, run: &str) -> bool {
        self.entries.contains_key(run)
    }

    pub fn get(&self, run: &str) -> Option<&Entry> {
        self.entries.get(run)
    }

    fn write(&mut self, run: &str, entry: Entry) -> Result<()> {
        let bytes = serde_json::to_vec(&entry)?;
        write_private(&self.dir.join(format!("{run}.json")), &bytes)?;
        self.entries.insert(run.to_string(), entry);
        Ok(())
    }

    /// Durably records that `run` starts now. Nothing runs if this fails.
    pub fn start(&mut self, run: &str, expires_at: i64) -> Result<()> {
        self.write(
            run,
            Entry {
                expires_at,
                phase: Phase::Started,
                result: None,
            },
        )
    }

    pub fn finish(&mut self, run: &str, result: RunResult) -> Result<()> {
        let expires_at = self.entries.get(run).map_or(0, |e| e.expires_at);
        self.write(
            run,
            Entry {
                expires_at,
                phase: Phase::Done,
                result: Some(result),
            },
        )
    }

    /// Records a run that needs no report (remote shells): only its id is
    /// remembered, against replays.
    pub fn remember(&mut self, run: &str, expires_at: i64) -> Result<()> {
        self.write(
            run,
            Entry {
                expires_at,
                phase: Phase::Acked,
                result: None,
            },
        )
    }

    pub fn ack(&mut self, run: &str) -> Result<()> {
        let Some(entry) = self.entries.get(run) else {
            return Ok(());
        };
        if entry.phase != Phase::Done {
            return Ok(());
        }
        let expires_at = entry.expires_at;
        self.write(
            run,
            Entry {
                expires_at,
                phase: Phase::Acked,
                result: None,
            },
        )
    }

    /// Results the server has not acked yet.
    pub fn unacked(&self) -> Vec<RunResult> {
        let mut results: Vec<RunResult> = self
            .entries
            .values()
            .filter(|e| e.phase == Phase::Done)
            .filter_map(|e| e.result.clone())
            .collect();
        results.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        results
    }

    /// Forgets acked runs whose orders expired before `now` (plus a day of
    /// margin for clock differences).
    pub fn collect_garbage(&mut self, now: i64) {
        let old: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.phase == Phase::Acked && e.expires_at + 86_400_000 < now)
            .map(|(run, _)| run.clone())
            .collect();
        for run in old {
            let _ = fs::remove_file(self.dir.join(format!("{run}.json")));
            self.entries.remove(&run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "0190aaaa-0000-7000-8000-000000000001";

    #[test]
    fn a_crash_mid_run_reports_unknown_once_and_remembers_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path()).unwrap();
        journal.start(RUN, i64::MAX / 2).unwrap();
        drop(journal);
        // The agent died here; on restart the run is "unknown", to report.
        let mut journal = Journal::open(dir.path()).unwrap();
        let unacked = journal.unacked();
        assert_eq!(unacked.len(), 1);
        assert_eq!(unacked[0].status, RunStatus::Unknown);
        assert!(journal.contains(RUN));
        journal.ack(RUN).unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        assert!(journal.unacked().is_empty());
        assert!(
            journal.contains(RUN),
            "the id must stay refused until expiry"
        );
    }

    #[test]
    fn acked_runs_are_forgotten_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path()).unwrap();
        journal.remember(RUN, 1_000).unwrap();
        journal.collect_garbage(1_000 + 86_400_000 - 1);
        assert!(journal.contains(RUN));
        journal.collect_garbage(1_000 + 86_400_000 + 1);
        assert!(!journal.contains(RUN));
        assert!(!Journal::open(dir.path()).unwrap().contains(RUN));
    }
}
