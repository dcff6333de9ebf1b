//! The generic freshness check: the newest file under a path must be
//! younger than the policy's age and at least `min_bytes` large. The walk
//! is bounded (files visited, depth) and follows no symbolic link.

use super::Observation;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use steward_proto::BackupResult;

/// Most directory entries one walk visits.
pub const MAX_ENTRIES: usize = 200_000;
const MAX_DEPTH: usize = 16;

/// The newest regular file: (mtime ms, size, files seen, walk cut short).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Newest {
    pub mtime_ms: Option<i64>,
    pub size: u64,
    pub files: u64,
    pub cut: bool,
}

pub fn walk(root: &Path) -> std::io::Result<Newest> {
    let mut newest = Newest::default();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    let meta = std::fs::symlink_metadata(root)?;
    if meta.is_file() {
        stack.clear();
        consider(&mut newest, &meta);
    }
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                newest.cut = true;
                return Ok(newest);
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() && depth < MAX_DEPTH {
                stack.push((entry.path(), depth + 1));
            } else if meta.is_file() {
                consider(&mut newest, &meta);
            }
        }
    }
    Ok(newest)
}

fn consider(newest: &mut Newest, meta: &std::fs::Metadata) {
    newest.files += 1;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64);
    if mtime > newest.mtime_ms {
        newest.mtime_ms = mtime;
        newest.size = meta.len();
    }
}

/// The verdict on a walk at `now_ms`.
pub fn judge(found: &Newest, now_ms: i64, max_age_hours: u32, min_bytes: u64) -> Observation {
    let Some(at) = found.mtime_ms else {
        return Observation::failed("no file under the path");
    };
    let age_h = (now_ms - at) as f64 / 3_600_000.0;
    let (result, reason) = if age_h > f64::from(max_age_hours) {
        (
            BackupResult::Failed,
            format!("newest file is {age_h:.1} h old (at most {max_age_hours} h)"),
        )
    } else if found.size < min_bytes {
        (
            BackupResult::Failed,
            format!(
                "newest file has {} bytes (at least {min_bytes})",
                found.size
            ),
        )
    } else {
        (
            BackupResult::Ok,
            format!("newest file is {age_h:.1} h old, {} bytes", found.size),
        )
    };
    let good = result == BackupResult::Ok;
    Observation {
        result,
        reason: if found.cut {
            format!("{reason} (walk stopped after {MAX_ENTRIES} entries)")
        } else {
            reason
        },
        run_ms: Some(at),
        duration_ms: None,
        size_bytes: Some(found.size),
        file_count: Some(found.files),
        newest_good_ms: good.then_some(at),
        copy_id: format!("{at}:{}", found.size),
        running: false,
    }
}

pub fn scan(path: &Path, max_age_hours: u32, min_bytes: u64) -> Observation {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    match walk(path) {
        Ok(found) => judge(&found, now_ms, max_age_hours, min_bytes),
        Err(error) => Observation::failed(&format!("cannot read {}: {error}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_age_and_size() {
        let hour = 3_600_000;
        let found = Newest {
            mtime_ms: Some(10 * hour),
            size: 500,
            files: 3,
            cut: false,
        };
        assert_eq!(judge(&found, 12 * hour, 24, 100).result, BackupResult::Ok);
        let old = judge(&found, 40 * hour, 24, 100);
        assert_eq!(
            (old.result, old.reason.as_str()),
            (
                BackupResult::Failed,
                "newest file is 30.0 h old (at most 24 h)"
            )
        );
        assert_eq!(
            judge(&found, 12 * hour, 24, 1000).result,
            BackupResult::Failed
        );
        assert_eq!(
            judge(&Newest::default(), 0, 24, 0).result,
            BackupResult::Failed
        );
    }

    #[test]
    fn walks_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), b"1").unwrap();
        std::fs::write(dir.path().join("sub/b"), b"12345").unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("loop")).unwrap();
        let found = walk(dir.path()).unwrap();
        assert_eq!(found.files, 2);
        assert!(found.mtime_ms.is_some());
        assert!(walk(&dir.path().join("missing")).is_err());
        assert_eq!(scan(dir.path(), 1, 1).result, BackupResult::Ok);
    }
}
