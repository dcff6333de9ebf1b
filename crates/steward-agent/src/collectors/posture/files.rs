//! File integrity: the watched paths' SHA-256, owner and mode. A path may
//! be a file or a directory (its files, not recursively). Bounded: at most
//! [`MAX_FILE_BYTES`] hashed per file (a larger one is reported with its
//! size and an error), [`steward_proto::MAX_FILES`] files in all. The
//! server compares each report with the last and records before/after.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use steward_proto::FileState;

pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

fn state(path: &Path) -> FileState {
    let mut out = FileState {
        path: super::super::clean(&path.to_string_lossy(), 1024),
        ..FileState::default()
    };
    // Not following a symlink at the watched place itself would hide a
    // swapped target; metadata() follows it, like sha256sum does.
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(error) => {
            out.error = super::super::clean(&error.to_string(), 256);
            return out;
        }
    };
    if let Some((uid, gid, mode)) = crate::os::sys::owner_mode(&meta) {
        (out.uid, out.gid, out.mode) = (uid, gid, mode);
    }
    out.size = meta.len();
    if !meta.is_file() {
        out.error = "not a regular file".into();
        return out;
    }
    if meta.len() > MAX_FILE_BYTES {
        out.error = format!("larger than {} MiB: not hashed", MAX_FILE_BYTES >> 20);
        return out;
    }
    let mut hasher = Sha256::new();
    let result = std::fs::File::open(path).and_then(|file| {
        let mut reader = file.take(MAX_FILE_BYTES);
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            hasher.update(&buf[..n]);
        }
    });
    match result {
        Ok(()) => out.sha256 = hex::encode(hasher.finalize()),
        Err(error) => out.error = super::super::clean(&error.to_string(), 256),
    }
    out
}

/// The current state of every watched file, in path order.
pub fn scan(paths: &[PathBuf]) -> Vec<FileState> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .take(steward_proto::MAX_FILES)
                .collect();
            inside.sort();
            files.extend(inside.iter().map(|p| state(p)));
        } else {
            files.push(state(path));
        }
        if files.len() >= steward_proto::MAX_FILES {
            break;
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    files.truncate(steward_proto::MAX_FILES);
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_hashed_with_owner_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.conf");
        std::fs::write(&a, "abc").unwrap();
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o640)).unwrap();
        let missing = dir.path().join("missing");
        let files = scan(&[dir.path().to_path_buf(), missing.clone()]);
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(files[0].mode, 0o640);
        assert!(files[1].sha256.is_empty() && !files[1].error.is_empty());
        steward_proto::Validate::validate(
            &steward_proto::PostureReport {
                files,
                ..Default::default()
            },
            &steward_proto::Limits::default(),
        )
        .unwrap();
    }
}
