//! The backup section of the agent's configuration: a JSON file given with
//! `--backup-config PATH`, written by the device's administrator. Secrets
//! are named (a password file, or an environment variable of the agent),
//! never written in it, and never logged.
//!
//! ```json
//! {"jobs": [
//!   {"name": "home", "kind": "restic", "repository": "/srv/restic",
//!    "password_file": "/etc/steward/restic.pass", "max_age_hours": 26,
//!    "restore_test": {"every_hours": 24, "sample": 5, "read_data_subset": "1/20"}},
//!   {"name": "mail", "kind": "borg", "repository": "/srv/borg", "password_env": "BORG_PASS"},
//!   {"name": "db", "kind": "systemd", "unit": "db-backup.timer"},
//!   {"name": "dumps", "kind": "freshness", "path": "/var/backups", "max_age_hours": 26, "min_bytes": 1000},
//!   {"name": "tape", "kind": "script", "command": "/usr/local/bin/tape-status --json"}
//! ]}
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Restic,
    Borg,
    Systemd,
    Freshness,
    Script,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreSpec {
    /// How often (hours); also whenever the agent starts.
    #[serde(default = "day")]
    pub every_hours: f64,
    /// How many files to restore and compare.
    #[serde(default = "five")]
    pub sample: usize,
    /// restic's `--read-data-subset` (`n/t` or a percentage).
    #[serde(default = "twentieth")]
    pub read_data_subset: String,
}

fn day() -> f64 {
    24.0
}
fn five() -> usize {
    5
}
fn twentieth() -> String {
    "1/20".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobSpec {
    name: String,
    kind: Kind,
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    program: Option<String>,
    #[serde(default)]
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    source_root: Option<PathBuf>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    min_bytes: u64,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    max_age_hours: Option<u32>,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    rescan_minutes: Option<f64>,
    #[serde(default)]
    restore_test: Option<RestoreSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    jobs: Vec<JobSpec>,
}

/// A repository's secret, handed to the tool's environment only.
#[derive(Clone, PartialEq)]
pub enum Secret {
    File(PathBuf),
    Value(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::File(path) => write!(f, "File({})", path.display()),
            Secret::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

/// One job, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: String,
    pub kind: Kind,
    pub repository: Option<String>,
    pub secret: Option<Secret>,
    pub program: Option<String>,
    pub cache_dir: Option<PathBuf>,
    /// What a borg archive's paths are relative to (default `/`).
    pub source_root: Option<PathBuf>,
    pub unit: Option<String>,
    pub path: Option<PathBuf>,
    pub min_bytes: u64,
    pub command: Option<String>,
    pub max_age_hours: u32,
    pub timeout: Duration,
    /// Longest time between two reads of an unchanged repository.
    pub rescan: Duration,
    pub restore: Option<RestoreSpec>,
}

/// The default policy: a daily backup with two hours' slack.
pub const DEFAULT_MAX_AGE_HOURS: u32 = 26;

/// Parses and checks the configuration; `env` reads the agent's
/// environment (a parameter so tests need not change the process's).
pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Vec<Job>, String> {
    let spec: FileSpec =
        serde_json::from_str(text).map_err(|e| format!("backup configuration: {e}"))?;
    let mut jobs: Vec<Job> = Vec::new();
    for s in spec.jobs {
        let name = s.name.trim().to_string();
        let bad = |why: &str| Err(format!("backup job {name:?}: {why}"));
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return bad("a name of 1 to 64 characters");
        }
        if jobs.iter().any(|j| j.name == name) {
            return bad("named twice");
        }
        let needs = |field: bool, what: &str| {
            if field {
                Ok(())
            } else {
                Err(format!("backup job {name:?}: {what}"))
            }
        };
        match s.kind {
            Kind::Restic | Kind::Borg => needs(s.repository.is_some(), "needs a repository")?,
            Kind::Systemd => needs(
                s.unit.as_deref().is_some_and(unit_ok),
                "needs a unit name (letters, digits, -_.@:)",
            )?,
            Kind::Freshness => needs(s.path.is_some(), "needs a path")?,
            Kind::Script => needs(
                s.command.as_deref().is_some_and(|c| !c.trim().is_empty()),
                "needs a command",
            )?,
        }
        let secret = match (&s.password_file, &s.password_env) {
            (Some(_), Some(_)) => return bad("either password_file or password_env, not both"),
            (Some(path), None) => Some(Secret::File(path.clone())),
            (None, Some(var)) => match env(var) {
                Some(value) => Some(Secret::Value(value)),
                None => return bad(&format!("the environment variable {var} is not set")),
            },
            (None, None) => None,
        };
        if let Some(restore) = &s.restore_test {
            if !matches!(s.kind, Kind::Restic | Kind::Borg) {
                return bad("restore tests are for restic and borg jobs");
            }
            if !(restore.every_hours.is_finite() && restore.every_hours > 0.0)
                || restore.sample == 0
                || restore.sample > 1000
            {
                return bad("a restore test needs every_hours > 0 and a sample of 1 to 1000 files");
            }
        }
        let max_age_hours = s.max_age_hours.unwrap_or(DEFAULT_MAX_AGE_HOURS);
        if max_age_hours == 0 || max_age_hours > 24 * 400 {
            return bad("max_age_hours between 1 and 9600");
        }
        jobs.push(Job {
            name,
            kind: s.kind,
            repository: s.repository,
            secret,
            program: s.program,
            cache_dir: s.cache_dir,
            source_root: s.source_root,
            unit: s.unit,
            path: s.path,
            min_bytes: s.min_bytes,
            command: s.command,
            max_age_hours,
            timeout: Duration::from_secs(s.timeout_secs.unwrap_or(120).clamp(1, 6 * 3600)),
            rescan: rescan(s.rescan_minutes, s.kind),
            restore: s.restore_test,
        });
    }
    if jobs.len() > steward_proto::MAX_BACKUP_JOBS {
        return Err(format!(
            "at most {} backup jobs",
            steward_proto::MAX_BACKUP_JOBS
        ));
    }
    Ok(jobs)
}

/// The slow interval: six hours for a repository (read sooner when it
/// changed), five minutes for the others; at least a second.
fn rescan(minutes: Option<f64>, kind: Kind) -> Duration {
    let default = match kind {
        Kind::Restic | Kind::Borg => 360.0,
        _ => 5.0,
    };
    let minutes = minutes.filter(|m| m.is_finite()).unwrap_or(default);
    Duration::from_secs_f64((minutes * 60.0).clamp(1.0, 7.0 * 86_400.0))
}

fn unit_ok(unit: &str) -> bool {
    !unit.is_empty()
        && unit.len() <= 256
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@:\\".contains(c))
}

/// Reads the configuration file.
pub fn load(path: &Path) -> Result<Vec<Job>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text, |var| std::env::var(var).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_keeps_secrets_out_of_debug() {
        let text = r#"{"jobs":[
            {"name":"home","kind":"restic","repository":"/r","password_env":"PW","restore_test":{"sample":3}},
            {"name":"mail","kind":"borg","repository":"/b","password_file":"/etc/pw"},
            {"name":"db","kind":"systemd","unit":"db-backup.service"},
            {"name":"dumps","kind":"freshness","path":"/var/backups","max_age_hours":2,"min_bytes":10},
            {"name":"tape","kind":"script","command":"true","timeout_secs":5}]}"#;
        let jobs = parse(text, |v| (v == "PW").then(|| "hunter2".to_string())).unwrap();
        assert_eq!(jobs.len(), 5);
        assert_eq!(jobs[0].secret, Some(Secret::Value("hunter2".into())));
        assert!(!format!("{jobs:?}").contains("hunter2"));
        assert_eq!(jobs[0].restore.as_ref().unwrap().read_data_subset, "1/20");
        assert_eq!(jobs[0].rescan, Duration::from_secs(6 * 3600));
        assert_eq!(jobs[3].max_age_hours, 2);
        assert_eq!(jobs[4].timeout, Duration::from_secs(5));
    }

    #[test]
    fn refuses_incomplete_jobs() {
        let env = |_: &str| None;
        for (text, why) in [
            (
                r#"{"jobs":[{"name":"a","kind":"restic"}]}"#,
                "needs a repository",
            ),
            (
                r#"{"jobs":[{"name":"a","kind":"systemd","unit":"x; rm -rf /"}]}"#,
                "needs a unit",
            ),
            (
                r#"{"jobs":[{"name":"a","kind":"restic","repository":"/r","password_env":"NOPE"}]}"#,
                "NOPE is not set",
            ),
            (
                r#"{"jobs":[{"name":"a","kind":"freshness","path":"/x"},{"name":"a","kind":"freshness","path":"/y"}]}"#,
                "named twice",
            ),
            (
                r#"{"jobs":[{"name":"a","kind":"script","command":"x","restore_test":{}}]}"#,
                "restore tests are for",
            ),
            (
                r#"{"jobs":[{"name":"a","kind":"tape"}]}"#,
                "unknown variant",
            ),
            (
                r#"{"jobs":[{"name":"a","kind":"script","command":"x","pasword":"typo"}]}"#,
                "unknown field",
            ),
        ] {
            let error = parse(text, env).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
