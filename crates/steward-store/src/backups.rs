//! Backup monitoring: each device's jobs as last reported, every outcome
//! (backup run or restore test) once, and the success rate over a period,
//! counted from outcomes (not from snapshot counts).

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;
use steward_proto::{BackupJob, BackupResult};
use uuid::Uuid;

/// A device's job as it last reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupJobRecord {
    pub device_id: Uuid,
    #[serde(flatten)]
    pub job: BackupJob,
    /// When the report holding this state arrived (Unix seconds).
    pub updated_at: i64,
}

/// What an outcome is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Backup,
    RestoreTest,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Backup => "backup",
            RunKind::RestoreTest => "restore_test",
        }
    }
}

/// One recorded outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupRun {
    pub device_id: Uuid,
    pub job: String,
    pub kind: RunKind,
    /// Unix ms.
    pub run_at: i64,
    pub result: BackupResult,
    pub reason: String,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    pub file_count: Option<i64>,
}

/// A backup outcome with the places it counts for (success rates).
#[derive(Debug, Clone, PartialEq)]
pub struct BackupOutcome {
    pub device_id: Uuid,
    pub device_name: String,
    pub org_id: Uuid,
    pub site: String,
    pub job: String,
    pub run_at: i64,
    pub result: BackupResult,
}

#[async_trait]
pub trait BackupStore: Send + Sync {
    /// Stores a device's report at `at` (Unix seconds): the jobs' current
    /// state (jobs it no longer reports are dropped; their history stays)
    /// and each outcome and restore test not recorded yet. Returns how many
    /// outcomes were new.
    async fn record_backups(
        &self,
        device: Uuid,
        org: Uuid,
        jobs: &[BackupJob],
        at: i64,
    ) -> Result<usize>;
    /// The device's jobs, by name; empty outside the scope.
    async fn device_backups(&self, scope: &Scope, device: Uuid) -> Result<Vec<BackupJobRecord>>;
    /// The device's outcomes at or after `since` (Unix ms), newest first,
    /// at most `limit`; `job` narrows to one job.
    async fn backup_runs(
        &self,
        scope: &Scope,
        device: Uuid,
        job: Option<&str>,
        since: i64,
        limit: u32,
    ) -> Result<Vec<BackupRun>>;
    /// Every backup outcome (not restore tests) in scope in `[since,
    /// until)` (Unix ms), for success rates.
    async fn backup_outcomes(
        &self,
        scope: &Scope,
        since: i64,
        until: i64,
    ) -> Result<Vec<BackupOutcome>>;
}

/// Counts of outcomes and the share that succeeded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub ok: u64,
    /// Completed with a warning (restic's incomplete snapshot, borg's
    /// exit 1): a copy exists, so it counts as a success.
    pub warning: u64,
    pub failed: u64,
    /// (ok + warning) / (ok + warning + failed); `None` without outcomes.
    pub success_rate: Option<f64>,
}

impl Tally {
    fn add(&mut self, result: BackupResult) {
        match result {
            BackupResult::Ok => self.ok += 1,
            BackupResult::Warning => self.warning += 1,
            BackupResult::Failed => self.failed += 1,
            BackupResult::Unknown => {}
        }
        let good = self.ok + self.warning;
        let all = good + self.failed;
        self.success_rate = (all > 0).then(|| good as f64 / all as f64);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRate {
    pub device_id: Uuid,
    pub name: String,
    pub org_id: Uuid,
    pub site: String,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteRate {
    pub org_id: Uuid,
    pub site: String,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgRate {
    pub org_id: Uuid,
    #[serde(flatten)]
    pub tally: Tally,
}

/// Success rates per device, site and organisation (each sorted by its
/// key); outcomes of unknown result count for nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SuccessRates {
    pub devices: Vec<DeviceRate>,
    pub sites: Vec<SiteRate>,
    pub orgs: Vec<OrgRate>,
}

pub fn success_rates(outcomes: &[BackupOutcome]) -> SuccessRates {
    let mut devices: BTreeMap<Uuid, DeviceRate> = BTreeMap::new();
    let mut sites: BTreeMap<(Uuid, String), Tally> = BTreeMap::new();
    let mut orgs: BTreeMap<Uuid, Tally> = BTreeMap::new();
    for o in outcomes
        .iter()
        .filter(|o| o.result != BackupResult::Unknown)
    {
        devices
            .entry(o.device_id)
            .or_insert_with(|| DeviceRate {
                device_id: o.device_id,
                name: o.device_name.clone(),
                org_id: o.org_id,
                site: o.site.clone(),
                tally: Tally::default(),
            })
            .tally
            .add(o.result);
        sites
            .entry((o.org_id, o.site.clone()))
            .or_default()
            .add(o.result);
        orgs.entry(o.org_id).or_default().add(o.result);
    }
    SuccessRates {
        devices: devices.into_values().collect(),
        sites: sites
            .into_iter()
            .map(|((org_id, site), tally)| SiteRate {
                org_id,
                site,
                tally,
            })
            .collect(),
        orgs: orgs
            .into_iter()
            .map(|(org_id, tally)| OrgRate { org_id, tally })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded history: two organisations, three devices, two sites.
    #[test]
    fn success_rates_are_exact_over_a_seeded_history() {
        let (o1, o2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (d1, d2, d3) = (
            Uuid::from_u128(11),
            Uuid::from_u128(12),
            Uuid::from_u128(13),
        );
        let outcome = |device, org, site: &str, result| BackupOutcome {
            device_id: device,
            device_name: format!("dev{}", device.as_u128()),
            org_id: org,
            site: site.into(),
            job: "home".into(),
            run_at: 0,
            result,
        };
        use BackupResult::*;
        let mut history = Vec::new();
        // d1 at o1/paris: 27 ok, 2 warnings, 1 failure: 29/30.
        history.extend((0..27).map(|_| outcome(d1, o1, "paris", Ok)));
        history.extend((0..2).map(|_| outcome(d1, o1, "paris", Warning)));
        history.push(outcome(d1, o1, "paris", Failed));
        // d2 at o1/lyon: 3 ok, 7 failed, 4 unknown (not counted): 3/10.
        history.extend((0..3).map(|_| outcome(d2, o1, "lyon", Ok)));
        history.extend((0..7).map(|_| outcome(d2, o1, "lyon", Failed)));
        history.extend((0..4).map(|_| outcome(d2, o1, "lyon", Unknown)));
        // d3 at o2, no site: only unknowns, so no rate at all.
        history.push(outcome(d3, o2, "", Unknown));
        let rates = success_rates(&history);
        assert_eq!(rates.devices.len(), 2);
        assert_eq!(
            rates.devices[0].tally,
            Tally {
                ok: 27,
                warning: 2,
                failed: 1,
                success_rate: Some(29.0 / 30.0)
            }
        );
        assert_eq!(
            rates.devices[1].tally,
            Tally {
                ok: 3,
                warning: 0,
                failed: 7,
                success_rate: Some(0.3)
            }
        );
        assert_eq!(
            rates
                .sites
                .iter()
                .map(|s| (s.site.as_str(), s.tally.success_rate))
                .collect::<Vec<_>>(),
            vec![("lyon", Some(0.3)), ("paris", Some(29.0 / 30.0))]
        );
        assert_eq!(
            rates.orgs,
            vec![OrgRate {
                org_id: o1,
                tally: Tally {
                    ok: 30,
                    warning: 2,
                    failed: 8,
                    success_rate: Some(0.8)
                }
            }]
        );
        assert_eq!(success_rates(&[]), SuccessRates::default());
    }
}
