//! Patch compliance: the pure tally of devices' patch figures into shares
//! (a device is compliant when its package manager answered recently and
//! no security update has been pending longer than the grace), shared by
//! `GET /api/v1/patching/compliance` and the recorder that keeps each
//! day's figures per site for the trend.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use steward_store::{ComplianceDay, DevicePatchFigures, Scope};
use uuid::Uuid;

/// Default grace for a pending security update, in days (the trend is
/// recorded at it).
pub const DEFAULT_DAYS: u32 = 14;
/// How often today's figures are recorded again (the day keeps its last).
pub const RECORD_EVERY: Duration = Duration::from_secs(600);

/// One group's figures.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub devices: u64,
    pub reporting: u64,
    pub compliant: u64,
    /// Reported once, but not within `PATCH_STALE_AFTER_SECS`.
    pub stale: u64,
    /// Devices whose last report said they need a reboot.
    pub reboot_required: u64,
    /// The earliest time a still-pending security update was first seen
    /// as one, on a reporting device.
    pub oldest_security_since: Option<i64>,
}

/// Whether `device` has no security update pending since before `cutoff`.
pub fn compliant(device: &DevicePatchFigures, cutoff: i64) -> bool {
    device.oldest_security_since.is_none_or(|t| t > cutoff)
}

/// The cutoff for a grace of `days` at `now` (Unix seconds).
pub fn cutoff(now: i64, days: u32) -> i64 {
    now - i64::from(days) * 86_400
}

impl Tally {
    pub fn add(&mut self, device: &DevicePatchFigures, compliant: bool, now: i64) {
        let current = device.reporting(now);
        self.devices += 1;
        self.reporting += u64::from(current);
        self.compliant += u64::from(current && compliant);
        self.stale += u64::from(device.reported && !current);
        self.reboot_required += u64::from(device.reboot_required == Some(true));
        if current && let Some(since) = device.oldest_security_since {
            self.oldest_security_since =
                Some(self.oldest_security_since.map_or(since, |t| t.min(since)));
        }
    }

    /// The share of reporting devices that are compliant (4 decimals).
    pub fn share(&self) -> Option<f64> {
        share(self.compliant, self.reporting)
    }

    pub fn json(&self) -> Value {
        json!({
            "devices": self.devices, "reporting": self.reporting,
            "compliant": self.compliant, "stale": self.stale, "share": self.share(),
            "reboot_required": self.reboot_required,
            "oldest_security_since": self.oldest_security_since,
        })
    }
}

pub fn share(compliant: u64, reporting: u64) -> Option<f64> {
    (reporting > 0).then(|| ((compliant as f64 / reporting as f64) * 10_000.0).round() / 10_000.0)
}

/// Each site's tally (by organisation and site) at `now` with a grace of
/// `days`.
pub fn by_site(
    figures: &[DevicePatchFigures],
    days: u32,
    now: i64,
) -> BTreeMap<(Uuid, String), Tally> {
    let cutoff = cutoff(now, days);
    let mut sites: BTreeMap<(Uuid, String), Tally> = BTreeMap::new();
    for device in figures {
        sites
            .entry((device.org_id, device.site.clone()))
            .or_default()
            .add(device, compliant(device, cutoff), now);
    }
    sites
}

/// The rows recorded for `day` from the figures at `now` (seconds).
pub fn day_rows(figures: &[DevicePatchFigures], day: i64, now: i64) -> Vec<ComplianceDay> {
    by_site(figures, DEFAULT_DAYS, now)
        .into_iter()
        .map(|((org_id, site), t)| ComplianceDay {
            day,
            org_id,
            site,
            devices: t.devices,
            reporting: t.reporting,
            compliant: t.compliant,
            stale: t.stale,
            reboot_required: t.reboot_required,
        })
        .collect()
}

/// Records today's figures now and then every [`RECORD_EVERY`] (every
/// replica may: the day's row is replaced, not added).
pub fn spawn_recorder(
    state: Arc<crate::AppState>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECORD_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = crate::now_secs();
                    let recorded = match state.store.patch_figures(&Scope::all()).await {
                        Ok(figures) => {
                            let rows = day_rows(&figures, now.div_euclid(86_400), now);
                            state.store.record_compliance_days(&rows).await
                        }
                        Err(error) => Err(error),
                    };
                    if let Err(error) = recorded {
                        tracing::warn!(%error, "Could not record today's patch compliance.");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_store::PATCH_STALE_AFTER_SECS;

    fn device(
        org: Uuid,
        site: &str,
        updates_at: Option<i64>,
        oldest: Option<i64>,
    ) -> DevicePatchFigures {
        DevicePatchFigures {
            device_id: Uuid::now_v7(),
            device_name: "d".into(),
            org_id: org,
            site: site.into(),
            reported: updates_at.is_some(),
            updates_at,
            pending: 1,
            security_pending: u32::from(oldest.is_some()),
            oldest_security_since: oldest,
            reboot_required: Some(oldest.is_some()),
        }
    }

    #[test]
    fn sites_are_tallied_with_stale_and_never_reported_devices_apart() {
        let now = 100 * 86_400;
        let org = Uuid::now_v7();
        let figures = [
            // Compliant: a security update for 3 days only.
            device(org, "hq", Some(now), Some(now - 3 * 86_400)),
            // Not: 20 days.
            device(org, "hq", Some(now), Some(now - 20 * 86_400)),
            // Stale: its answer is too old to judge.
            device(org, "hq", Some(now - PATCH_STALE_AFTER_SECS - 1), Some(1)),
            // Never reported.
            device(org, "branch", None, None),
        ];
        let sites = by_site(&figures, DEFAULT_DAYS, now);
        let hq = &sites[&(org, "hq".to_string())];
        assert_eq!(
            (
                hq.devices,
                hq.reporting,
                hq.compliant,
                hq.stale,
                hq.reboot_required
            ),
            (3, 2, 1, 1, 3)
        );
        assert_eq!(hq.share(), Some(0.5));
        // The oldest missing update of a reporting device, not the stale one's.
        assert_eq!(hq.oldest_security_since, Some(now - 20 * 86_400));
        let branch = &sites[&(org, "branch".to_string())];
        assert_eq!(
            (branch.devices, branch.reporting, branch.share()),
            (1, 0, None)
        );

        let rows = day_rows(&figures, 100, now);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[1].site.as_str(),
                rows[1].compliant,
                rows[1].reporting,
                rows[1].day
            ),
            ("hq", 1, 2, 100)
        );
    }

    #[test]
    fn shares_round_to_four_decimals() {
        assert_eq!(share(1, 3), Some(0.3333));
        assert_eq!(share(0, 0), None);
        assert_eq!(share(2, 2), Some(1.0));
    }
}
