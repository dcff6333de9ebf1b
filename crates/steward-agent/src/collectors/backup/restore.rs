//! The restore test's decisions: which files to restore (a spread sample,
//! small enough to be quick) and what the comparison means. Hashing the
//! restored and source files is the only I/O here.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use steward_proto::BackupResult;

/// Files larger than this are not sampled (the test must stay cheap).
pub const MAX_SAMPLE_BYTES: u64 = 64 * 1024 * 1024;

/// A regular file of a snapshot or archive.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its path inside the snapshot.
    pub path: String,
    pub size: u64,
    /// Its modification time as backed up (Unix ms), when known.
    pub mtime_ms: Option<i64>,
}

/// At most `n` files no larger than `max_bytes`, spread evenly over the
/// listing (first and last included), in listing order.
pub fn choose(entries: &[Entry], n: usize, max_bytes: u64) -> Vec<Entry> {
    let fit: Vec<&Entry> = entries.iter().filter(|e| e.size <= max_bytes).collect();
    if n == 0 || fit.is_empty() {
        return Vec::new();
    }
    if fit.len() <= n {
        return fit.into_iter().cloned().collect();
    }
    let mut picked: Vec<usize> = if n == 1 {
        vec![0]
    } else {
        (0..n).map(|i| i * (fit.len() - 1) / (n - 1)).collect()
    };
    picked.dedup();
    picked.into_iter().map(|i| fit[i].clone()).collect()
}

/// What one sampled file showed.
#[derive(Debug, Clone, PartialEq)]
pub enum FileCheck {
    /// Restored, and equal to the source.
    Same,
    /// Restored; the source changed since the backup or is gone, so only
    /// the restored size was checked.
    NotCompared,
    /// Restored with a different content than the unchanged source.
    Differs,
    /// Not restored, or restored with the wrong size.
    Missing(String),
}

/// The outcome of a restore test.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub result: BackupResult,
    pub reason: String,
    pub files_restored: u32,
    pub files_compared: u32,
}

impl Sampled {
    pub fn failed(reason: String) -> Self {
        Self {
            result: BackupResult::Failed,
            reason,
            files_restored: 0,
            files_compared: 0,
        }
    }
}

/// The verdict over every sampled file: any difference or missing file
/// fails the test, naming the first.
pub fn judge(checks: &[(String, FileCheck)]) -> Sampled {
    let restored = checks
        .iter()
        .filter(|(_, c)| !matches!(c, FileCheck::Missing(_)))
        .count() as u32;
    let compared = checks.iter().filter(|(_, c)| *c == FileCheck::Same).count() as u32;
    let bad = checks
        .iter()
        .find(|(_, c)| matches!(c, FileCheck::Differs | FileCheck::Missing(_)));
    match bad {
        Some((path, FileCheck::Differs)) => Sampled {
            result: BackupResult::Failed,
            reason: format!(
                "{} restored with a different checksum than its unchanged source",
                super::run::clean(path, 200)
            ),
            files_restored: restored,
            files_compared: compared,
        },
        Some((path, FileCheck::Missing(why))) => Sampled {
            result: BackupResult::Failed,
            reason: format!("{}: {why}", super::run::clean(path, 200)),
            files_restored: restored,
            files_compared: compared,
        },
        _ if checks.is_empty() => Sampled::failed("nothing was sampled".into()),
        _ => Sampled {
            result: BackupResult::Ok,
            reason: format!("{restored} files restored, {compared} identical to their source"),
            files_restored: restored,
            files_compared: compared,
        },
    }
}

fn sha256(path: &Path) -> std::io::Result<(u64, [u8; 32])> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, hasher.finalize().into()))
}

fn mtime_ms(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(since.as_millis() as i64)
}

/// Checks each restored file; `locate` gives a file's restored path and,
/// when known, its source path.
pub fn compare(chosen: &[Entry], locate: impl Fn(&str) -> (PathBuf, Option<PathBuf>)) -> Sampled {
    let checks: Vec<(String, FileCheck)> = chosen
        .iter()
        .map(|entry| {
            let (restored, source) = locate(&entry.path);
            let check = match sha256(&restored) {
                Err(error) => FileCheck::Missing(format!("not restored ({error})")),
                Ok((size, _)) if size != entry.size => {
                    FileCheck::Missing(format!("restored {size} bytes of {}", entry.size))
                }
                Ok((_, restored_hash)) => {
                    // Compared only when the source is still as backed up
                    // (same size and modification time to the second).
                    let unchanged = source.as_deref().filter(|s| {
                        let same_time = match (entry.mtime_ms, mtime_ms(s)) {
                            (Some(a), Some(b)) => a / 1000 == b / 1000,
                            _ => false,
                        };
                        same_time && std::fs::metadata(s).is_ok_and(|m| m.len() == entry.size)
                    });
                    match unchanged.map(sha256) {
                        Some(Ok((_, source_hash))) if source_hash == restored_hash => {
                            FileCheck::Same
                        }
                        Some(Ok(_)) => FileCheck::Differs,
                        _ => FileCheck::NotCompared,
                    }
                }
            };
            (entry.path.clone(), check)
        })
        .collect();
    judge(&checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry {
                path: format!("/f{i}"),
                size: if i == 3 { u64::MAX } else { 10 },
                mtime_ms: None,
            })
            .collect()
    }

    #[test]
    fn the_sample_is_spread_and_skips_big_files() {
        let paths = |v: Vec<Entry>| v.into_iter().map(|e| e.path).collect::<Vec<_>>();
        assert_eq!(
            paths(choose(&entries(3), 5, 100)),
            vec!["/f0", "/f1", "/f2"]
        );
        assert_eq!(
            paths(choose(&entries(11), 3, 100)),
            vec!["/f0", "/f5", "/f10"]
        );
        assert_eq!(paths(choose(&entries(11), 1, 100)), vec!["/f0"]);
        assert!(choose(&entries(11), 0, 100).is_empty());
        assert!(choose(&[], 3, 100).is_empty());
    }

    #[test]
    fn any_difference_fails_and_changed_sources_are_not_compared() {
        let ok = judge(&[
            ("/a".into(), FileCheck::Same),
            ("/b".into(), FileCheck::NotCompared),
        ]);
        assert_eq!(
            (ok.result, ok.files_restored, ok.files_compared),
            (BackupResult::Ok, 2, 1)
        );
        let bad = judge(&[
            ("/a".into(), FileCheck::Same),
            ("/b".into(), FileCheck::Differs),
        ]);
        assert_eq!(bad.result, BackupResult::Failed);
        assert!(
            bad.reason
                .starts_with("/b restored with a different checksum"),
            "{}",
            bad.reason
        );
        let gone = judge(&[("/c".into(), FileCheck::Missing("not restored".into()))]);
        assert_eq!(
            (gone.result, gone.files_restored),
            (BackupResult::Failed, 0)
        );
        assert_eq!(judge(&[]).result, BackupResult::Failed);
    }

    #[test]
    fn compares_real_files() {
        let dir = tempfile::tempdir().unwrap();
        let (restored, source) = (dir.path().join("r"), dir.path().join("s"));
        std::fs::write(&restored, b"hello").unwrap();
        std::fs::write(&source, b"hello").unwrap();
        let entry = Entry {
            path: "/x".into(),
            size: 5,
            mtime_ms: mtime_ms(&source),
        };
        let locate = |_: &str| (restored.clone(), Some(source.clone()));
        assert_eq!(
            compare(std::slice::from_ref(&entry), locate).files_compared,
            1
        );
        // Same size and time, other content: the copy is wrong.
        std::fs::write(&restored, b"HELLO").unwrap();
        assert_eq!(
            compare(std::slice::from_ref(&entry), locate).result,
            BackupResult::Failed
        );
        // A source changed since the backup is not held against the copy.
        let later = Entry {
            mtime_ms: Some(1_000),
            ..entry.clone()
        };
        assert_eq!(compare(&[later], locate).result, BackupResult::Ok);
        let missing = |_: &str| (dir.path().join("nope"), None);
        assert_eq!(compare(&[entry], missing).result, BackupResult::Failed);
    }
}
