//! BorgBackup: `borg list --json` and `borg info --json` (1.2 names; borg 2
//! calls them `repo-list`/`info` with the repository in `-r`), exit codes
//! 0 ok / 1 warning / 2 error (3+ with `BORG_EXIT_CODES=modern`), and the
//! restore test's `list --json-lines`, `extract` and `check
//! --repository-only`. borg 1.2 prints local times without a zone, so it
//! runs with `TZ=UTC`.

use super::Observation;
use super::config::{Job, Secret};
use super::restore::{self, Sampled};
use super::run::{self, Cmd, Output};
use super::time::parse_rfc3339;
use serde::Deserialize;
use std::time::Duration;
use steward_proto::BackupResult;

pub const MAX_OUTPUT: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Archive {
    /// borg 1.2 says `archive` and `name`, borg 2 `name`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub archive: Option<String>,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub time: Option<String>,
    /// Seconds (`borg info`).
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub stats: Option<Stats>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub nfiles: Option<u64>,
    #[serde(default)]
    pub original_size: Option<u64>,
}

impl Archive {
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .or(self.archive.as_deref())
            .unwrap_or("")
    }

    /// When the archive was made: its start (or time), as borg names it.
    pub fn at(&self) -> Option<i64> {
        [&self.time, &self.start, &self.end]
            .into_iter()
            .find_map(|t| t.as_deref().and_then(parse_rfc3339))
    }
}

#[derive(Debug, Deserialize)]
struct Listing {
    #[serde(default)]
    archives: Vec<Archive>,
}

/// The archives of `list --json` / `repo-list --json` / `info --json`.
pub fn parse_archives(stdout: &[u8]) -> Result<Vec<Archive>, String> {
    serde_json::from_slice::<Listing>(stdout)
        .map(|l| l.archives)
        .map_err(|e| run::clean(&format!("unreadable borg output: {e}"), 200))
}

/// The newest archive is the last good run; `info` (when read) adds its
/// duration, size and file count.
pub fn observe(archives: &[Archive], info: Option<&Archive>) -> Observation {
    let Some((archive, at)) = archives
        .iter()
        .filter_map(|a| a.at().map(|t| (a, t)))
        .max_by_key(|(_, t)| *t)
    else {
        return Observation::failed("no archive in the repository");
    };
    let info = info.filter(|i| i.label() == archive.label());
    let stats = info.and_then(|i| i.stats.as_ref());
    Observation {
        result: BackupResult::Ok,
        reason: format!("archive {}", run::clean(archive.label(), 100)),
        run_ms: Some(at),
        duration_ms: info
            .and_then(|i| i.duration)
            .filter(|d| d.is_finite() && *d >= 0.0 && *d < 1e9)
            .map(|d| (d * 1000.0).round() as i64),
        size_bytes: stats.and_then(|s| s.original_size),
        file_count: stats.and_then(|s| s.nfiles),
        newest_good_ms: Some(at),
        copy_id: archive.label().to_string(),
        running: false,
    }
}

/// The line of borg's stderr that says what went wrong: after a
/// traceback borg prints its platform (`Platform:`, `Borg:`, `PID:`,
/// `sys.argv:`, `SSH_ORIGINAL_COMMAND:` …), which says nothing.
pub fn what_borg_said(stderr: &str) -> String {
    const NOISE: &[&str] = &[
        "Platform:",
        "Linux:",
        "Borg:",
        "PID:",
        "sys.argv:",
        "SSH_ORIGINAL_COMMAND:",
    ];
    let line = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !NOISE.iter().any(|n| l.starts_with(n)))
        .unwrap_or("");
    run::clean(line, 300)
}

/// Why a borg command failed.
pub fn failure(output: &Output, timeout: Duration) -> (BackupResult, String) {
    if output.timed_out {
        return (
            BackupResult::Failed,
            format!(
                "borg did not answer within {} s (repository unreachable or hanging)",
                timeout.as_secs()
            ),
        );
    }
    let stderr = output.stderr.to_ascii_lowercase();
    let said = |needle: &str| stderr.contains(needle);
    if said("passphrase supplied") && said("incorrect") || said("passphrase is incorrect") {
        return (
            BackupResult::Failed,
            "wrong passphrase for the repository".into(),
        );
    }
    if said("does not exist") || said("is not a valid repository") {
        return (
            BackupResult::Failed,
            "no repository at this location".into(),
        );
    }
    if said("failed to create/acquire the lock") || said("lock timeout") {
        return (BackupResult::Warning, "repository is locked".into());
    }
    match output.code {
        Some(1) => (
            BackupResult::Warning,
            format!("borg warned: {}", what_borg_said(&output.stderr)),
        ),
        Some(code) => (
            BackupResult::Failed,
            format!(
                "borg exited with {code}: {}",
                what_borg_said(&output.stderr)
            ),
        ),
        None => (
            BackupResult::Failed,
            format!("borg did not finish: {}", what_borg_said(&output.stderr)),
        ),
    }
}

/// Regular files of `list --json-lines` (`type` `-`), at most `max`.
pub fn parse_items(stdout: &[u8], max: usize) -> Vec<restore::Entry> {
    #[derive(Deserialize)]
    struct Item {
        #[serde(default, rename = "type")]
        kind: String,
        #[serde(default)]
        path: String,
        #[serde(default)]
        size: u64,
        #[serde(default)]
        mtime: String,
    }
    stdout
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Item>(line).ok())
        .filter(|i| i.kind == "-" && !i.path.is_empty() && !i.path.split('/').any(|p| p == ".."))
        .take(max)
        .map(|i| restore::Entry {
            mtime_ms: parse_rfc3339(&i.mtime),
            path: i.path,
            size: i.size,
        })
        .collect()
}

// ---- the shell ---------------------------------------------------------

/// Whether the program is borg 2 (`borg 2.0.0b5`) by its `--version`.
pub fn is_borg2(version: &str) -> bool {
    version
        .split_whitespace()
        .nth(1)
        .is_some_and(|v| v.starts_with('2'))
}

struct Borg<'a> {
    job: &'a Job,
    two: bool,
}

impl Borg<'_> {
    fn cmd(&self, sub: &str) -> Cmd {
        let mut cmd = Cmd::new(self.job.program.as_deref().unwrap_or("borg")).env("TZ", "UTC");
        let sub = match (self.two, sub) {
            (true, "list-repo") => "repo-list",
            (_, "list-repo") => "list",
            (_, other) => other,
        };
        cmd = cmd.arg(sub);
        match &self.job.secret {
            Some(Secret::File(path)) => {
                cmd = cmd.env(
                    "BORG_PASSCOMMAND",
                    format!("cat {}", shell_word(&path.to_string_lossy())),
                )
            }
            Some(Secret::Value(value)) => cmd = cmd.env("BORG_PASSPHRASE", value),
            None => {}
        }
        if let Some(cache) = &self.job.cache_dir {
            cmd = cmd.env("BORG_BASE_DIR", cache);
        }
        cmd.env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "no")
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "no")
    }

    fn repo(&self, cmd: Cmd, archive: Option<&str>) -> Cmd {
        let repository = self.job.repository.clone().unwrap_or_default();
        match (self.two, archive) {
            (true, Some(name)) => cmd.arg("-r").arg(repository).arg(name),
            (true, None) => cmd.arg("-r").arg(repository),
            (false, Some(name)) => cmd.arg(format!("{repository}::{name}")),
            (false, None) => cmd.arg(repository),
        }
    }
}

fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

async fn borg(job: &Job) -> Borg<'_> {
    let version = run::run(
        &Cmd::new(job.program.as_deref().unwrap_or("borg")).arg("--version"),
        job.timeout,
        4096,
    )
    .await;
    Borg {
        job,
        two: is_borg2(&String::from_utf8_lossy(&version.stdout)),
    }
}

pub async fn scan(job: &Job) -> Observation {
    let b = borg(job).await;
    let list = b.repo(
        b.cmd("list-repo").arg("--json").arg("--lock-wait").arg("5"),
        None,
    );
    let output = run::run(&list, job.timeout, MAX_OUTPUT).await;
    if output.code != Some(0) {
        let (result, reason) = failure(&output, job.timeout);
        return Observation::with(result, reason);
    }
    if output.truncated {
        return Observation::failed("borg printed more than 32 MiB of archives");
    }
    let archives = match parse_archives(&output.stdout) {
        Ok(archives) => archives,
        Err(reason) => return Observation::failed(&reason),
    };
    let newest = observe(&archives, None);
    if newest.result != BackupResult::Ok {
        return newest;
    }
    let info = b.repo(
        b.cmd("info").arg("--json").arg("--lock-wait").arg("5"),
        Some(&newest.copy_id),
    );
    let output = run::run(&info, job.timeout, 1024 * 1024).await;
    let info = (output.code == Some(0))
        .then(|| parse_archives(&output.stdout).ok())
        .flatten()
        .unwrap_or_default();
    observe(&archives, info.first())
}

pub async fn restore_test(job: &Job, archive: &str, sample: usize) -> Sampled {
    let b = borg(job).await;
    let list = b.repo(
        b.cmd("list")
            .arg("--json-lines")
            .arg("--lock-wait")
            .arg("5"),
        Some(archive),
    );
    let output = run::run(&list, job.timeout, MAX_OUTPUT).await;
    if output.code != Some(0) {
        return Sampled::failed(format!(
            "cannot list the archive: {}",
            failure(&output, job.timeout).1
        ));
    }
    let chosen = restore::choose(
        &parse_items(&output.stdout, 1_000_000),
        sample,
        restore::MAX_SAMPLE_BYTES,
    );
    if chosen.is_empty() {
        return Sampled::failed("the archive holds no file to restore".into());
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
    let mut extract = b.repo(b.cmd("extract").arg("--lock-wait").arg("5"), Some(archive));
    for entry in &chosen {
        extract = extract.arg(&entry.path);
    }
    extract.cwd = Some(target.path().to_path_buf());
    let output = run::run(&extract, job.timeout, 64 * 1024).await;
    if output.code != Some(0) {
        return Sampled::failed(format!(
            "extract failed: {}",
            failure(&output, job.timeout).1
        ));
    }
    let root = job.source_root.clone().unwrap_or_else(|| "/".into());
    let mut sampled = restore::compare(&chosen, |path| {
        (target.path().join(path), Some(root.join(path)))
    });
    if sampled.result == BackupResult::Ok {
        let check = b.repo(
            b.cmd("check")
                .arg("--repository-only")
                .arg("--lock-wait")
                .arg("5"),
            None,
        );
        let output = run::run(&check, job.timeout, 256 * 1024).await;
        if output.code != Some(0) {
            sampled.result = BackupResult::Failed;
            sampled.reason = format!(
                "borg check --repository-only failed: {}",
                failure(&output, job.timeout).1
            );
        } else {
            sampled
                .reason
                .push_str("; borg check --repository-only passed");
        }
    }
    sampled
}

#[cfg(test)]
#[path = "borg_tests.rs"]
mod tests;
