//! Replacing the agent binary on disk, and undoing it.
//!
//! Install: the new binary is written next to the running one
//! (`.steward-agent.new`), fsynced and made executable; the running file is
//! hard-linked as `NAME.prev`; the new file is renamed over the old name
//! (atomic: the name always holds a whole binary) and the directory
//! fsynced. A marker (`STATE/update.json`) records what is being tried and
//! until when. A guard process (the previous binary, detached) watches the
//! marker: unless the new version confirms it connected before the
//! deadline, the guard puts `.prev` back, kills the new version and
//! starts the previous one. The new version also reads the marker at start:
//! started a second time without having connected (it crashed, or a
//! service manager restarted it), it rolls back itself.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MARKER: &str = "update.json";
/// An outcome waiting to be reported at the next connection.
pub const OUTCOME: &str = "update-outcome.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub rollout_id: String,
    pub from_version: String,
    pub to_version: String,
    pub exe: PathBuf,
    pub prev: PathBuf,
    /// Unix ms by which the new version must have connected.
    pub deadline_ms: i64,
    /// The arguments to start the agent with again.
    pub args: Vec<String>,
    /// How many times the new version started.
    #[serde(default)]
    pub starts: u32,
    #[serde(default)]
    pub confirmed: bool,
}

/// What the new version does with the marker at start (pure).
#[derive(Debug, PartialEq, Eq)]
pub enum AtStart {
    /// No update pending.
    Nothing,
    /// This is the new version's first start: run, and confirm once
    /// connected.
    Trial,
    /// Started again without confirming, or past the deadline: roll back.
    RollBack(String),
    /// The marker is about another version than this one (the previous
    /// version runs again): the update failed.
    Failed,
}

pub fn at_start(marker: Option<&Marker>, version: &str, now_ms: i64) -> AtStart {
    match marker {
        None => AtStart::Nothing,
        Some(m) if m.confirmed => AtStart::Nothing,
        Some(m) if m.to_version != version => AtStart::Failed,
        Some(m) if m.starts >= 1 => AtStart::RollBack(format!(
            "version {} started again without having connected",
            m.to_version
        )),
        Some(m) if now_ms > m.deadline_ms => AtStart::RollBack(format!(
            "version {} started after its deadline",
            m.to_version
        )),
        Some(_) => AtStart::Trial,
    }
}

pub fn load_marker(dir: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save_marker(dir: &Path, marker: &Marker) -> Result<()> {
    write_durably(&dir.join(MARKER), &serde_json::to_vec(marker)?, 0o600)
}

pub fn remove_marker(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(MARKER));
    sync_dir(dir);
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory: fsynced, then renamed, then the directory fsynced.
pub fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().context("a path without a directory")?;
    let name = path.file_name().context("a path without a name")?;
    let tmp = dir.join(format!(".{}.new", name.to_string_lossy()));
    let _ = std::fs::remove_file(&tmp);
    let mut file =
        create_new(&tmp, mode).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    sync_dir(dir);
    Ok(())
}

/// A new file with `mode` (Unix permissions; elsewhere the directory's).
fn create_new(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The previous binary's path beside `exe`.
pub fn prev_path(exe: &Path) -> PathBuf {
    let mut name = exe.file_name().unwrap_or_default().to_os_string();
    name.push(".prev");
    exe.with_file_name(name)
}

/// Puts `binary` in place of `exe`, keeping the current file as
/// `exe.prev`. Nothing changes when it fails before the last rename.
pub fn install(exe: &Path, binary: &[u8]) -> Result<PathBuf> {
    let dir = exe.parent().context("the agent binary has no directory")?;
    let new = dir.join(".steward-agent.new");
    let _ = std::fs::remove_file(&new);
    {
        let mut file =
            create_new(&new, 0o755).with_context(|| format!("cannot write {}", new.display()))?;
        file.write_all(binary)?;
        file.sync_all()?;
    }
    let prev = prev_path(exe);
    let link = dir.join(".steward-agent.prev.new");
    let _ = std::fs::remove_file(&link);
    if let Err(error) = std::fs::hard_link(exe, &link) {
        let _ = std::fs::remove_file(&new);
        bail!(
            "cannot keep the running binary as {}: {error}",
            prev.display()
        );
    }
    std::fs::rename(&link, &prev)?;
    if let Err(error) = std::fs::rename(&new, exe) {
        let _ = std::fs::remove_file(&new);
        bail!("cannot put the new binary in place: {error}");
    }
    sync_dir(dir);
    Ok(prev)
}

/// Puts `prev` back as `exe` (atomically; `prev` stays).
pub fn restore(exe: &Path, prev: &Path) -> Result<()> {
    let dir = exe.parent().context("the agent binary has no directory")?;
    let link = dir.join(".steward-agent.restore");
    let _ = std::fs::remove_file(&link);
    std::fs::hard_link(prev, &link)
        .with_context(|| format!("cannot restore {}", prev.display()))?;
    std::fs::rename(&link, exe)?;
    sync_dir(dir);
    Ok(())
}

/// Replaces this process with `exe args` (returns only on failure).
#[cfg(unix)]
pub fn exec(exe: &Path, args: &[String]) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let error = std::process::Command::new(exe).args(args).exec();
    anyhow::anyhow!("cannot start {}: {error}", exe.display())
}

/// Self-update restarts itself only on Unix so far (a Windows service is
/// restarted by its control manager, not written yet): refused, so the
/// guard rolls back.
#[cfg(not(unix))]
pub fn exec(exe: &Path, _: &[String]) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot start {}: self-update restarts are not available on this operating system yet",
        exe.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> Marker {
        Marker {
            rollout_id: "r".into(),
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into(),
            exe: "/x".into(),
            prev: "/x.prev".into(),
            deadline_ms: 1000,
            args: vec![],
            starts: 0,
            confirmed: false,
        }
    }

    #[test]
    fn the_marker_decides_what_a_start_does() {
        let m = marker();
        assert_eq!(at_start(None, "0.2.0", 0), AtStart::Nothing);
        assert_eq!(at_start(Some(&m), "0.2.0", 500), AtStart::Trial);
        assert!(matches!(
            at_start(Some(&m), "0.2.0", 1001),
            AtStart::RollBack(_)
        ));
        let again = Marker {
            starts: 1,
            ..m.clone()
        };
        assert!(matches!(
            at_start(Some(&again), "0.2.0", 500),
            AtStart::RollBack(_)
        ));
        assert_eq!(at_start(Some(&m), "0.1.0", 500), AtStart::Failed);
        let done = Marker {
            confirmed: true,
            starts: 3,
            ..m
        };
        assert_eq!(at_start(Some(&done), "0.2.0", 5000), AtStart::Nothing);
    }

    #[test]
    fn install_swaps_and_restore_undoes_it() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("steward-agent");
        std::fs::write(&exe, b"old").unwrap();
        let prev = install(&exe, b"new").unwrap();
        assert_eq!(std::fs::read(&exe).unwrap(), b"new");
        assert_eq!(std::fs::read(&prev).unwrap(), b"old");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777,
            0o755
        );
        restore(&exe, &prev).unwrap();
        assert_eq!(std::fs::read(&exe).unwrap(), b"old");
        assert_eq!(std::fs::read(&prev).unwrap(), b"old");
        // Nothing left over beside them.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["steward-agent", "steward-agent.prev"]);
        // A binary that cannot be written over leaves the old one.
        let missing = dir.path().join("gone").join("steward-agent");
        assert!(install(&missing, b"x").is_err());
    }

    #[test]
    fn markers_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        save_marker(dir.path(), &marker()).unwrap();
        assert_eq!(load_marker(dir.path()), Some(marker()));
        remove_marker(dir.path());
        assert_eq!(load_marker(dir.path()), None);
    }
}
