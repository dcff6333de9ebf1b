//! restic: `restic snapshots --json` (0.14 without a summary, 0.17+ with
//! one), `restic stats --json` for the size 0.14 does not record, exit
//! codes (0.17+: 10 no repository, 11 locked, 12 wrong password; older
//! versions say it on stderr), and the restore test's `ls`, `restore` and
//! `check --read-data-subset`. Pure parsers first, the thin shell last.

use super::Observation;
use super::config::{Job, Secret};
use super::restore::{self, Sampled};
use super::run::{self, Cmd, Output};
use super::time::parse_rfc3339;
use serde::Deserialize;
use std::time::Duration;
use steward_proto::BackupResult;

/// Most bytes of `snapshots`/`ls` output read (a repository with a huge
/// history, or hostile output, is refused rather than buffered).
pub const MAX_OUTPUT: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Snapshot {
    pub time: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub short_id: String,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub hostname: String,
    /// restic 0.17+: the backup's statistics.
    #[serde(default)]
    pub summary: Option<Summary>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub backup_start: Option<String>,
    #[serde(default)]
    pub backup_end: Option<String>,
    #[serde(default)]
    pub total_files_processed: Option<u64>,
    #[serde(default)]
    pub total_bytes_processed: Option<u64>,
}

/// The snapshots, or why the output cannot be read.
pub fn parse_snapshots(stdout: &[u8]) -> Result<Vec<Snapshot>, String> {
    serde_json::from_slice(stdout)
        .map_err(|e| run::clean(&format!("unreadable restic output: {e}"), 200))
}

/// The newest snapshot by time (unparseable times never win).
pub fn newest(snapshots: &[Snapshot]) -> Option<(&Snapshot, i64)> {
    snapshots
        .iter()
        .filter_map(|s| parse_rfc3339(&s.time).map(|t| (s, t)))
        .max_by_key(|(_, t)| *t)
}

/// What the snapshot list says: the newest snapshot is the last good run.
pub fn observe(snapshots: &[Snapshot]) -> Observation {
    let Some((snapshot, at)) = newest(snapshots) else {
        return Observation::failed("no snapshot in the repository");
    };
    let summary = snapshot.summary.as_ref();
    let duration_ms = summary.and_then(|s| {
        let start = parse_rfc3339(s.backup_start.as_deref()?)?;
        let end = parse_rfc3339(s.backup_end.as_deref()?)?;
        (end >= start).then_some(end - start)
    });
    Observation {
        result: BackupResult::Ok,
        reason: format!("snapshot {}", run::clean(&snapshot.short_id, 16)),
        run_ms: Some(at),
        duration_ms,
        size_bytes: summary.and_then(|s| s.total_bytes_processed),
        file_count: summary.and_then(|s| s.total_files_processed),
        newest_good_ms: Some(at),
        copy_id: snapshot.id.clone(),
        running: false,
    }
}

/// `restic stats --json` (restore size): `(bytes, files)`.
pub fn parse_stats(stdout: &[u8]) -> Option<(u64, u64)> {
    #[derive(Deserialize)]
    struct Stats {
        total_size: u64,
        total_file_count: u64,
    }
    let stats: Stats = serde_json::from_slice(stdout).ok()?;
    Some((stats.total_size, stats.total_file_count))
}

/// Why a restic command failed, from its exit code and stderr.
pub fn failure(output: &Output, timeout: Duration) -> (BackupResult, String) {
    if output.timed_out {
        return (
            BackupResult::Failed,
            format!(
                "restic did not answer within {} s (repository unreachable or hanging)",
                timeout.as_secs()
            ),
        );
    }
    let stderr = output.stderr.to_ascii_lowercase();
    let said = |needle: &str| stderr.contains(needle);
    match output.code {
        Some(10) => (
            BackupResult::Failed,
            "no repository at this location".into(),
        ),
        Some(11) => (BackupResult::Warning, "repository is locked".into()),
        Some(12) => (
            BackupResult::Failed,
            "wrong password for the repository".into(),
        ),
        _ if said("wrong password") => (
            BackupResult::Failed,
            "wrong password for the repository".into(),
        ),
        _ if said("is there a repository at the following location")
            || said("repository does not exist")
            || (said("config cannot be loaded") && said("no such file or directory")) =>
        {
            (
                BackupResult::Failed,
                "no repository at this location".into(),
            )
        }
        _ if said("already locked") => (BackupResult::Warning, "repository is locked".into()),
        Some(code) => (
            BackupResult::Failed,
            format!(
                "restic exited with {code}: {}",
                run::last_line(&output.stderr, 300)
            ),
        ),
        None => (
            BackupResult::Failed,
            format!(
                "restic did not finish: {}",
                run::last_line(&output.stderr, 300)
            ),
        ),
    }
}

/// One entry of `restic ls --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Node {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    mtime: String,
    #[serde(default)]
    struct_type: String,
}

/// Regular files of `restic ls --json` (JSON lines; the first is the
/// snapshot), at most `max`; unreadable lines are skipped.
pub fn parse_ls(stdout: &[u8], max: usize) -> Vec<restore::Entry> {
    stdout
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Node>(line).ok())
        .filter(|n| n.struct_type != "snapshot" && n.kind == "file" && n.path.starts_with('/'))
        .take(max)
        .map(|n| restore::Entry {
            mtime_ms: parse_rfc3339(&n.mtime),
            path: n.path,
            size: n.size,
        })
        .collect()
}

/// Where a file of the snapshot came from: restic stores a path given as
/// `/a/b/src` as `/a/b/src/…`, and one given relatively (`src`) as `/src/…`.
pub fn source_of(snapshot_paths: &[String], node: &str) -> Option<String> {
    for root in snapshot_paths {
        let root = root.trim_end_matches('/');
        if node.starts_with(&format!("{root}/")) {
            return Some(node.to_string());
        }
        let (parent, base) = root.rsplit_once('/')?;
        let top = format!("/{base}");
        if node == top || node.starts_with(&format!("{top}/")) {
            return Some(format!("{parent}{node}"));
        }
    }
    None
}

// ---- the shell ---------------------------------------------------------

fn base(job: &Job) -> Cmd {
    let mut cmd = Cmd::new(job.program.as_deref().unwrap_or("restic")).env(
        "RESTIC_REPOSITORY",
        job.repository.clone().unwrap_or_default(),
    );
    match &job.secret {
        Some(Secret::File(path)) => cmd = cmd.env("RESTIC_PASSWORD_FILE", path),
        Some(Secret::Value(value)) => cmd = cmd.env("RESTIC_PASSWORD", value),
        None => {}
    }
    if let Some(cache) = &job.cache_dir {
        cmd = cmd.env("RESTIC_CACHE_DIR", cache);
    }
    cmd
}

/// Reads the repository's snapshots (without taking its lock).
pub async fn scan(job: &Job) -> Observation {
    let cmd = base(job).arg("snapshots").arg("--json").arg("--no-lock");
    let output = run::run(&cmd, job.timeout, MAX_OUTPUT).await;
    if output.code != Some(0) {
        let (result, reason) = failure(&output, job.timeout);
        return Observation::with(result, reason);
    }
    if output.truncated {
        return Observation::failed("restic printed more than 32 MiB of snapshots");
    }
    let snapshots = match parse_snapshots(&output.stdout) {
        Ok(snapshots) => snapshots,
        Err(reason) => return Observation::failed(&reason),
    };
    let mut seen = observe(&snapshots);
    if seen.result == BackupResult::Ok && seen.size_bytes.is_none() {
        // restic before 0.17 records no summary: ask for the size.
        let stats = base(job)
            .arg("stats")
            .arg("--json")
            .arg("--no-lock")
            .arg(&seen.copy_id);
        let output = run::run(&stats, job.timeout, 64 * 1024).await;
        if let Some((bytes, files)) = (output.code == Some(0))
            .then(|| parse_stats(&output.stdout))
            .flatten()
        {
            seen.size_bytes = Some(bytes);
            seen.file_count = Some(files);
        }
    }
    seen
}

/// Restores a sample of the newest snapshot and compares it with the
/// source, then checks a subset of the repository's data.
pub async fn restore_test(job: &Job, snapshot_id: &str, sample: usize, subset: &str) -> Sampled {
    let ls = base(job)
        .arg("ls")
        .arg("--json")
        .arg("--no-lock")
        .arg(snapshot_id);
    let output = run::run(&ls, job.timeout, MAX_OUTPUT).await;
    if output.code != Some(0) {
        return Sampled::failed(format!(
            "cannot list the snapshot: {}",
            failure(&output, job.timeout).1
        ));
    }
    let snapshot_paths: Vec<String> = output
        .stdout
        .split(|b| *b == b'\n')
        .next()
        .and_then(|first| serde_json::from_slice::<Snapshot>(first).ok())
        .map(|s| s.paths)
        .unwrap_or_default();
    let files = parse_ls(&output.stdout, 1_000_000);
    let chosen = restore::choose(&files, sample, restore::MAX_SAMPLE_BYTES);
    if chosen.is_empty() {
        return Sampled::failed("the snapshot holds no file to restore".into());
    }
    let target = match tempfile::Builder::new()
        .prefix("steward-restore-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(error) => {
            return Sampled::failed(format!("cannot make a temporary directory: {error}"));
        }
    };
    let mut cmd = base(job)
        .arg("restore")
        .arg(snapshot_id)
        .arg("--no-lock")
        .arg("--target")
        .arg(target.path());
    for entry in &chosen {
        cmd = cmd.arg("--include").arg(&entry.path);
    }
    let output = run::run(&cmd, job.timeout, 64 * 1024).await;
    if output.code != Some(0) {
        return Sampled::failed(format!(
            "restore failed: {}",
            failure(&output, job.timeout).1
        ));
    }
    let mut sampled = restore::compare(&chosen, |path| {
        let restored = target.path().join(path.trim_start_matches('/'));
        let source = source_of(&snapshot_paths, path);
        (restored, source.map(std::path::PathBuf::from))
    });
    if sampled.result == BackupResult::Ok {
        let check = base(job)
            .arg("check")
            .arg(format!("--read-data-subset={subset}"));
        let output = run::run(&check, job.timeout, 256 * 1024).await;
        if output.code != Some(0) {
            let said = run::last_line(&output.stderr, 200);
            let said = if said.is_empty() {
                failure(&output, job.timeout).1
            } else {
                said
            };
            sampled.result = BackupResult::Failed;
            sampled.reason = format!("restic check --read-data-subset={subset} failed: {said}");
        } else {
            sampled
                .reason
                .push_str(&format!("; restic check of data subset {subset} passed"));
        }
    }
    sampled
}

#[cfg(test)]
#[path = "restic_tests.rs"]
mod tests;
