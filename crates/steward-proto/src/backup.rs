//! Backup monitoring: one model for every source (restic, BorgBackup,
//! systemd units, a freshness check, a script hook). The agent sends a
//! [`BackupReport`] with the current outcome of each configured job; an
//! outcome is identified by its job and `last_run_ms`, so the same outcome
//! sent again records nothing new.

use serde::{Deserialize, Serialize};

/// The agent's backup jobs as it last saw them (`jobs` empty: none is
/// configured on this device).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupReport {
    pub jobs: Vec<BackupJob>,
}

/// Where a job's outcome comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupSource {
    Restic,
    Borg,
    Systemd,
    Freshness,
    Script,
    /// A source this build does not know (sent by a newer agent).
    #[default]
    #[serde(other)]
    Other,
}

impl BackupSource {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupSource::Restic => "restic",
            BackupSource::Borg => "borg",
            BackupSource::Systemd => "systemd",
            BackupSource::Freshness => "freshness",
            BackupSource::Script => "script",
            BackupSource::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(text.to_string())).unwrap_or_default()
    }
}

/// How a run (or a restore test) ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupResult {
    Ok,
    /// Completed, but not cleanly (restic exit 3: snapshot incomplete;
    /// borg exit 1; a locked repository that could not be read).
    Warning,
    Failed,
    /// Nothing to judge yet (never ran), or a value this build does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl BackupResult {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupResult::Ok => "ok",
            BackupResult::Warning => "warning",
            BackupResult::Failed => "failed",
            BackupResult::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(text.to_string())).unwrap_or_default()
    }
}

/// One job's latest outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupJob {
    /// The job's name in the agent's configuration.
    pub name: String,
    pub source: BackupSource,
    /// When the run this outcome describes happened (Unix ms); for a failure
    /// seen while reading the repository, when it was first seen.
    pub last_run_ms: Option<i64>,
    pub result: BackupResult,
    /// Why it is not `ok` (or what it saw), one line.
    pub reason: String,
    pub duration_ms: Option<i64>,
    /// Bytes the backup covers (the source's size).
    pub size_bytes: Option<u64>,
    pub file_count: Option<u64>,
    /// Time of the newest good copy (Unix ms).
    pub newest_good_ms: Option<i64>,
    /// The device's policy: the newest good copy may be at most this old.
    pub max_age_hours: Option<u32>,
    /// The latest restore test of this job, if any ran.
    pub restore_test: Option<RestoreTest>,
}

/// A restore test: a sample of files restored from the newest copy into a
/// temporary directory and compared with the source, plus the tool's own
/// integrity check on a subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestoreTest {
    pub at_ms: i64,
    pub result: BackupResult,
    pub reason: String,
    /// The snapshot or archive restored from.
    pub snapshot: String,
    pub files_restored: u32,
    /// Restored files whose checksum was compared with the source (files
    /// changed or gone since the backup are not compared).
    pub files_compared: u32,
    pub duration_ms: i64,
}

/// Most jobs one report carries.
pub const MAX_BACKUP_JOBS: usize = 64;
/// Longest reason text.
pub const MAX_BACKUP_REASON: usize = 512;

#[cfg(test)]
mod tests {
    use crate::{AgentMessage, BackupResult, BackupSource, Limits, ProtoError};

    fn decode(frame: &str) -> Result<AgentMessage, ProtoError> {
        AgentMessage::decode(frame, &Limits::default())
    }

    #[test]
    fn a_report_decodes_with_defaults_and_unknown_values() {
        let frame = r#"{"type":"backups","jobs":[
            {"name":"home","source":"restic","last_run_ms":1700000000000,"result":"ok","size_bytes":12,"file_count":3,"newest_good_ms":1700000000000},
            {"name":"new","source":"tape","result":"exploded","future_field":1}]}"#;
        let Ok(AgentMessage::Backups(report)) = decode(frame) else {
            panic!("not a backup report")
        };
        assert_eq!(report.jobs[0].source, BackupSource::Restic);
        assert_eq!(report.jobs[0].result, BackupResult::Ok);
        assert_eq!(report.jobs[1].source, BackupSource::Other);
        assert_eq!(report.jobs[1].result, BackupResult::Unknown);
        assert_eq!(report.jobs[1].restore_test, None);
        // An older server sees an unknown message, not an error.
        assert_eq!(
            serde_json::from_str::<AgentMessage>(r#"{"type":"backups_v9"}"#).unwrap(),
            AgentMessage::Unknown
        );
    }

    #[test]
    fn hostile_reports_are_refused() {
        let job = |fields: &str| format!(r#"{{"type":"backups","jobs":[{{"name":"a"{fields}}}]}}"#);
        for (fields, field) in [
            (r#","reason":"x\u0000y""#, "backups.reason"),
            (r#","last_run_ms":-5"#, "backups.last_run_ms"),
            (
                r#","newest_good_ms":99999999999999999"#,
                "backups.newest_good_ms",
            ),
            (r#","duration_ms":-1"#, "backups.duration_ms"),
            (
                r#","size_bytes":18446744073709551615"#,
                "backups.size_bytes",
            ),
            (r#","max_age_hours":0"#, "backups.max_age_hours"),
            (
                r#","restore_test":{"at_ms":1,"reason":"\u001b[2J"}"#,
                "backups.restore_test.reason",
            ),
        ] {
            match decode(&job(fields)) {
                Err(ProtoError::Invalid { field: got, .. }) => assert_eq!(got, field, "{fields}"),
                other => panic!("{fields}: {other:?}"),
            }
        }
        let long = format!(r#",\"reason\":\"{}\""#, "r".repeat(600)).replace('\\', "");
        assert!(decode(&job(&long)).is_err());
        let twice = r#"{"type":"backups","jobs":[{"name":"a"},{"name":"a"}]}"#;
        assert!(matches!(
            decode(twice),
            Err(ProtoError::Invalid {
                field: "backups.name",
                ..
            })
        ));
        let many: Vec<String> = (0..65).map(|i| format!(r#"{{"name":"j{i}"}}"#)).collect();
        let many = format!(r#"{{"type":"backups","jobs":[{}]}}"#, many.join(","));
        assert!(matches!(
            decode(&many),
            Err(ProtoError::Invalid {
                field: "backups.jobs",
                ..
            })
        ));
    }
}
