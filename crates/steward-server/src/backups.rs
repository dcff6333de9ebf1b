//! Backup reports from agents: stored (`BackupStore`), then judged into
//! checks that the existing alerting path understands, so backup alerts
//! are ordinary check alerts (monitors of kind `check`, the default
//! "Check failing" one included; silences, windows and channels apply):
//!
//! - `backup.<job>`: CRITICAL when the last run failed or the newest good
//!   copy is older than the job's policy (`max_age_hours`, by default 26),
//!   WARNING when it completed with a warning or its size dropped below
//!   half of its own recent history (the median of up to 10 earlier good
//!   runs, at least 3);
//! - `backup.<job>.restore`: the latest restore test, CRITICAL when it failed;
//! - `backup.configured`: on devices tagged [`REQUIRED_TAG`], CRITICAL
//!   while the device reports no backup job.
//!
//! Staleness needs no timer here: an agent re-sends its report at least
//! every 10 minutes, and each report is judged at the server's time.

use crate::AppState;
use steward_alert::plugin::PluginState;
use steward_proto::{BackupJob, BackupReport, BackupResult};
use steward_store::{CheckResultRecord, DeviceAuth, RunKind, Scope};

/// The device tag that says a backup is required.
pub const REQUIRED_TAG: &str = "backup-required";
/// The policy when the agent sends none.
pub const DEFAULT_MAX_AGE_HOURS: u32 = 26;
/// Earlier good runs a size is compared with.
pub const SIZE_HISTORY: u32 = 10;

/// One check's state from a backup job.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub check: String,
    pub state: PluginState,
    pub message: String,
}

/// `backup.<job>` with the job's name made a check name (lowercase
/// letters, digits, `_` and `.`).
pub fn check_name(job: &str) -> String {
    let cleaned: String = job
        .chars()
        .take(48)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("backup.{cleaned}")
}

fn hours(ms: i64) -> String {
    format!("{:.1} h", ms as f64 / 3_600_000.0)
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn median(values: &[u64]) -> Option<u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(sorted[n / 2 - 1] / 2 + sorted[n / 2] / 2),
    }
}

/// Judges one job at `now_ms`; `earlier_sizes` are the sizes of earlier
/// good runs (not this one).
pub fn judge(job: &BackupJob, earlier_sizes: &[u64], now_ms: i64) -> Vec<Judged> {
    let policy = job.max_age_hours.unwrap_or(DEFAULT_MAX_AGE_HOURS);
    let check = check_name(&job.name);
    let mut findings: Vec<(PluginState, String)> = Vec::new();
    match job.result {
        BackupResult::Failed => findings.push((
            PluginState::Critical,
            format!("last run failed: {}", job.reason),
        )),
        BackupResult::Warning => findings.push((
            PluginState::Warning,
            format!("last run completed with a warning: {}", job.reason),
        )),
        BackupResult::Ok | BackupResult::Unknown => {}
    }
    match job.newest_good_ms {
        Some(good) if now_ms - good > i64::from(policy) * 3_600_000 => findings.push((
            PluginState::Critical,
            format!(
                "newest good copy is {} old (policy: {policy} h)",
                hours(now_ms - good)
            ),
        )),
        None => findings.push((PluginState::Critical, "no good copy known".to_string())),
        Some(_) => {}
    }
    if let (BackupResult::Ok | BackupResult::Warning, Some(size)) = (job.result, job.size_bytes)
        && earlier_sizes.len() >= 3
        && let Some(typical) = median(earlier_sizes).filter(|m| size < m / 2)
    {
        findings.push((
            PluginState::Warning,
            format!(
                "size dropped to {} from a typical {} ({} earlier runs)",
                bytes(size),
                bytes(typical),
                earlier_sizes.len()
            ),
        ));
    }
    let worst = findings.iter().map(|(s, _)| *s).max_by_key(|s| match s {
        PluginState::Ok => 0,
        PluginState::Unknown | PluginState::Warning => 1,
        PluginState::Critical => 2,
    });
    let mut judged = vec![match worst {
        None => Judged {
            check: check.clone(),
            state: PluginState::Ok,
            message: match job.newest_good_ms {
                Some(good) => format!(
                    "{}; newest good copy {} old",
                    job.reason,
                    hours(now_ms - good)
                ),
                None => job.reason.clone(),
            },
        },
        Some(state) => Judged {
            check: check.clone(),
            state,
            message: findings
                .into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join("; "),
        },
    }];
    if let Some(test) = &job.restore_test {
        let (state, verdict) = match test.result {
            BackupResult::Ok => (PluginState::Ok, "passed"),
            BackupResult::Warning => (PluginState::Warning, "passed with a warning"),
            BackupResult::Failed => (PluginState::Critical, "failed"),
            BackupResult::Unknown => (PluginState::Unknown, "unknown"),
        };
        judged.push(Judged {
            check: format!("{check}.restore"),
            state,
            message: format!(
                "restore test of {} {verdict}: {}",
                test.snapshot, test.reason
            ),
        });
    }
    judged
}

/// OK for the checks of jobs stored before and missing from `reported`
/// (taken out of the agent's configuration), so their alerts resolve.
pub fn dropped(stored: &[String], reported: &[BackupJob]) -> Vec<Judged> {
    stored
        .iter()
        .filter(|name| !reported.iter().any(|j| &j.name == *name))
        .flat_map(|name| {
            let check = check_name(name);
            [check.clone(), format!("{check}.restore")].map(|check| Judged {
                check,
                state: PluginState::Ok,
                message: format!("backup job {name} is no longer configured"),
            })
        })
        .collect()
}

/// `backup.configured` for a device whose tags require a backup.
pub fn configured(tags: &[String], jobs: usize) -> Option<Judged> {
    tags.iter().any(|t| t == REQUIRED_TAG).then(|| Judged {
        check: "backup.configured".into(),
        state: if jobs == 0 {
            PluginState::Critical
        } else {
            PluginState::Ok
        },
        message: if jobs == 0 {
            format!("no backup job is configured on this device (tagged {REQUIRED_TAG})")
        } else {
            format!("{jobs} backup jobs configured")
        },
    })
}

fn state_text(state: PluginState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Stores a report and feeds its judgement to the alerting path.
pub async fn on_report(state: &AppState, device: &DeviceAuth, report: BackupReport) {
    let now = crate::now_ms();
    let scope = Scope::org(device.org_id);
    // Jobs the device no longer reports: their checks clear.
    let before = state
        .store
        .device_backups(&scope, device.id)
        .await
        .unwrap_or_default();
    let gone = dropped(
        &before
            .iter()
            .map(|j| j.job.name.clone())
            .collect::<Vec<_>>(),
        &report.jobs,
    );
    if let Err(error) = state
        .store
        .record_backups(device.id, device.org_id, &report.jobs, crate::now_secs())
        .await
    {
        tracing::error!(device = %device.id, %error, "Cannot store backup outcomes.");
    }
    let mut judged = Vec::new();
    for job in &report.jobs {
        let earlier: Vec<u64> = match state
            .store
            .backup_runs(&scope, device.id, Some(&job.name), 0, SIZE_HISTORY + 1)
            .await
        {
            Ok(runs) => runs
                .iter()
                .filter(|r| r.kind == RunKind::Backup && Some(r.run_at) != job.last_run_ms)
                .filter(|r| matches!(r.result, BackupResult::Ok | BackupResult::Warning))
                .filter_map(|r| r.size_bytes.and_then(|s| u64::try_from(s).ok()))
                .take(SIZE_HISTORY as usize)
                .collect(),
            Err(_) => Vec::new(),
        };
        judged.extend(judge(job, &earlier, now));
    }
    judged.extend(gone);
    if let Ok(detail) = state.store.get_device(&scope, device.id).await {
        judged.extend(configured(&detail.summary.tags, report.jobs.len()));
    }
    let mut records = Vec::with_capacity(judged.len());
    for j in judged {
        state
            .alerting
            .on_check(device.id, &j.check, j.state, &j.message, now)
            .await;
        records.push(CheckResultRecord {
            name: j.check,
            state: state_text(j.state),
            message: j.message,
            long_output: String::new(),
            perfdata: serde_json::Value::Array(Vec::new()),
            at: now,
        });
    }
    if let Err(error) = state
        .store
        .save_check_results(device.id, device.org_id, &records)
        .await
    {
        tracing::error!(device = %device.id, %error, "Cannot store backup checks.");
    }
}

#[cfg(test)]
#[path = "backups_tests.rs"]
mod tests;
