//! File transfer orders: `file_get` reads a file into the result (base64),
//! `file_put` replaces a file with the order's content, atomically and
//! without following anything planted beside it (see [`file_put`]).

use super::{B64, result};
use base64::Engine;
use std::io::Write;
use std::path::{Path, PathBuf};
use steward_proto::{MAX_FILE_BYTES, RunResult, RunStatus};

pub(super) async fn file_get(run_id: &str, path: &str, max_bytes: u64) -> RunResult {
    let limit = max_bytes.min(MAX_FILE_BYTES as u64);
    let size = match tokio::fs::metadata(path).await {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => {
            return result(
                run_id,
                RunStatus::Failed,
                format!("{path} is not a regular file"),
            );
        }
        Err(error) => {
            return result(
                run_id,
                RunStatus::Failed,
                format!("cannot read {path}: {error}"),
            );
        }
    };
    if size > limit {
        return result(
            run_id,
            RunStatus::Failed,
            format!("{path} is {size} bytes; the limit is {limit}"),
        );
    }
    match tokio::fs::read(path).await {
        Ok(bytes) if bytes.len() as u64 <= limit => {
            let mut done = result(
                run_id,
                RunStatus::Succeeded,
                format!("sha256:{}", steward_sign::sha256_hex(&bytes)),
            );
            done.stdout = B64.encode(&bytes);
            done
        }
        Ok(_) => result(
            run_id,
            RunStatus::Failed,
            format!("{path} grew beyond the limit while read"),
        ),
        Err(error) => result(
            run_id,
            RunStatus::Failed,
            format!("cannot read {path}: {error}"),
        ),
    }
}

/// Replaces `path` with the order's content, atomically: the bytes go to a
/// new file created exclusively under a random name in the same directory
/// (`O_CREAT|O_EXCL`, so nothing planted there — a symbolic link, a file —
/// is opened or followed), which takes the replaced file's owner and mode,
/// is flushed to disk, and is then renamed over `path`.
///
/// A symbolic link at `path` itself is refused rather than written
/// through: the link may have been planted by a local user in a directory
/// they can write (`/tmp/report -> /etc/shadow`), and replacing the link
/// with a plain file would silently change what other programs read. To
/// replace what a link points to, upload to the link's target path.
pub(super) async fn file_put(
    run_id: &str,
    path: &str,
    content_b64: &str,
    sha256: &str,
) -> RunResult {
    let Ok(bytes) = B64.decode(content_b64) else {
        return result(run_id, RunStatus::Failed, "the content is not base64");
    };
    if steward_sign::sha256_hex(&bytes) != sha256 {
        return result(
            run_id,
            RunStatus::Failed,
            "checksum mismatch: nothing written",
        );
    }
    let (target, len) = (PathBuf::from(path), bytes.len());
    let written = tokio::task::spawn_blocking(move || replace(&target, &bytes))
        .await
        .unwrap_or_else(|e| Err(format!("the writer stopped: {e}")));
    match written {
        Ok(()) => result(
            run_id,
            RunStatus::Succeeded,
            format!("wrote {len} bytes, sha256:{sha256}"),
        ),
        Err(error) => result(
            run_id,
            RunStatus::Failed,
            format!("cannot write {path}: {error}; nothing written"),
        ),
    }
}

/// Mode of a file the upload creates (none was there to copy it from).
const NEW_FILE_MODE: u32 = 0o644;

fn replace(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => (dir, name),
        _ => return Err("not a file path".into()),
    };
    // A directory reached through a symbolic link (a user's link from their
    // home into /etc/cron.d, say) is refused like a link at the file itself.
    let real = std::fs::canonicalize(dir)
        .map_err(|e| format!("cannot resolve its directory {}: {e}", dir.display()))?;
    // Windows answers a verbatim path (`\\?\C:\…`) for a plain one.
    #[cfg(windows)]
    let real = PathBuf::from(
        real.to_string_lossy()
            .strip_prefix(r"\\?\")
            .map(str::to_string)
            .unwrap_or_else(|| real.to_string_lossy().into_owned()),
    );
    if real != dir {
        return Err(format!(
            "its directory {} goes through a symbolic link (to {}); not written through it: upload to the real path instead",
            dir.display(),
            real.display()
        ));
    }
    let (owner, mode) = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let to = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            return Err(format!(
                "it is a symbolic link (to {to}); not written through it: upload to the link's target instead"
            ));
        }
        Ok(meta) if !meta.is_file() => return Err("it is not a regular file".into()),
        Ok(meta) => match crate::os::sys::owner_mode(&meta) {
            Some((uid, gid, mode)) => (Some((uid, gid)), mode),
            None => (None, NEW_FILE_MODE),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, NEW_FILE_MODE),
        Err(e) => return Err(e.to_string()),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    // Removed on every early return (dropped), never left behind.
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".steward-upload")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
    tmp.write_all(bytes).map_err(|e| e.to_string())?;
    let file = tmp.as_file();
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if let Some((uid, gid)) = owner {
            let meta = file.metadata().map_err(|e| e.to_string())?;
            if (meta.uid(), meta.gid()) != (uid, gid) {
                std::os::unix::fs::fchown(file, Some(uid), Some(gid))
                    .map_err(|e| format!("cannot keep its owner {uid}:{gid}: {e}"))?;
            }
        }
        // After the owner: changing the owner clears set-id bits.
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())?;
    }
    // Windows: the new file inherits its directory's ACL.
    #[cfg(windows)]
    let _ = (owner, mode);
    file.sync_all().map_err(|e| e.to_string())?;
    tmp.persist(path).map_err(|e| e.error.to_string())?;
    // The rename itself is durable once the directory is.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    async fn put(path: &std::path::Path, content: &[u8]) -> RunResult {
        file_put(
            "run",
            path.to_str().unwrap(),
            &B64.encode(content),
            &steward_sign::sha256_hex(content),
        )
        .await
    }

    #[tokio::test]
    async fn an_upload_ignores_a_symlink_planted_at_the_old_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "the victim's content").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let target = dir.path().join("settings.conf");
        std::fs::write(&target, "old settings").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let planted = dir.path().join("settings.conf.steward-upload");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();

        let done = put(&target, b"new settings").await;

        assert_eq!(done.status, RunStatus::Succeeded, "{}", done.message);
        assert_eq!(std::fs::read(&victim).unwrap(), b"the victim's content");
        assert_eq!(mode(&victim), 0o600);
        assert_eq!(std::fs::read(&target).unwrap(), b"new settings");
        assert_eq!(mode(&target), 0o600, "the replaced file's mode changed");
        assert!(
            std::fs::symlink_metadata(&planted).unwrap().is_symlink(),
            "the planted link was followed or removed"
        );
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }

    #[tokio::test]
    async fn an_upload_keeps_the_owner_and_mode_of_the_file_it_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("script.sh");
        std::fs::write(&target, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o750)).unwrap();
        if rustix::process::geteuid().is_root() {
            // Owned by someone else than the agent, as most replaced files are.
            std::os::unix::fs::chown(&target, Some(4242), Some(4243)).unwrap();
        }
        let before = std::fs::metadata(&target).unwrap();

        let done = put(&target, b"#!/bin/sh\necho hi\n").await;

        assert_eq!(done.status, RunStatus::Succeeded, "{}", done.message);
        let after = std::fs::metadata(&target).unwrap();
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        assert_eq!(mode(&target), 0o750);
        assert_eq!(std::fs::read(&target).unwrap(), b"#!/bin/sh\necho hi\n");
    }

    #[tokio::test]
    async fn an_upload_does_not_write_through_a_symlinked_directory() {
        let dir = tempfile::tempdir().unwrap();
        let protected = dir.path().join("cron.d");
        std::fs::create_dir(&protected).unwrap();
        let link = dir.path().join("app");
        std::os::unix::fs::symlink(&protected, &link).unwrap();

        let done = put(&link.join("job"), b"* * * * * root evil\n").await;

        assert_eq!(done.status, RunStatus::Failed, "{}", done.message);
        assert!(done.message.contains("symbolic link"), "{}", done.message);
        assert_eq!(std::fs::read_dir(&protected).unwrap().count(), 0);
        // The real path still works.
        let done = put(&protected.join("job"), b"fine\n").await;
        assert_eq!(done.status, RunStatus::Succeeded, "{}", done.message);
    }

    #[tokio::test]
    async fn an_upload_does_not_write_through_a_symlink_at_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "the victim's content").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();

        let done = put(&link, b"attacker content").await;

        assert_eq!(done.status, RunStatus::Failed, "{}", done.message);
        assert!(done.message.contains("symbolic link"), "{}", done.message);
        assert_eq!(std::fs::read(&victim).unwrap(), b"the victim's content");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }

    #[tokio::test]
    async fn a_new_file_is_created_readable_and_a_bad_checksum_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("new.txt");
        let done = put(&target, b"hello").await;
        assert_eq!(done.status, RunStatus::Succeeded, "{}", done.message);
        assert_eq!(mode(&target), 0o644);

        let other = dir.path().join("other.txt");
        let refused = file_put(
            "run",
            other.to_str().unwrap(),
            &B64.encode(b"hello"),
            &steward_sign::sha256_hex(b"something else"),
        )
        .await;
        assert_eq!(refused.status, RunStatus::Failed);
        assert!(!other.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
