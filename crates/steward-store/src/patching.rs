//! Patching: each device's installed packages (for fleet-wide software
//! search) and pending updates with the time each was first seen pending
//! (for compliance: how long a security update has been missing). The
//! agent's full report (origins, rules, reboot state) stays in the
//! device's inventory; these tables hold what is searched across devices.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// Most rows one software search returns.
pub const MAX_SOFTWARE_ROWS: u32 = 10_000;

/// One installed package on one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoftwareRow {
    pub device_id: Uuid,
    pub device_name: String,
    pub org_id: Uuid,
    pub site: String,
    pub name: String,
    pub version: String,
    /// `dpkg`, `rpm`: whose rules order its versions.
    pub manager: String,
}

/// A pending update as stored: when it was first seen pending (any
/// version of the package) and since when it is a security one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingRecord {
    pub name: String,
    pub arch: String,
    pub current: String,
    pub available: String,
    pub security: bool,
    pub rule: String,
    pub first_seen: i64,
    pub security_since: Option<i64>,
}

/// One device's patch figures, for compliance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevicePatchFigures {
    pub device_id: Uuid,
    pub device_name: String,
    pub org_id: Uuid,
    pub site: String,
    /// Whether the device has ever reported its pending updates.
    pub reported: bool,
    /// When its package manager last answered (Unix seconds): a device
    /// whose detection has failed since (locked, timed out) keeps its last
    /// list, which says nothing of today.
    pub updates_at: Option<i64>,
    pub pending: u32,
    pub security_pending: u32,
    /// When the oldest pending security update was first seen as one.
    pub oldest_security_since: Option<i64>,
    /// Whether its last report said it needs a reboot (`None`: it could
    /// not tell, or never said).
    pub reboot_required: Option<bool>,
}

/// A device whose package manager last answered longer ago than this is
/// "stale": counted apart from compliant and non-compliant ones.
pub const PATCH_STALE_AFTER_SECS: i64 = 3 * 86_400;

impl DevicePatchFigures {
    /// Whether the device's pending updates are current enough to judge
    /// it by at `now` (Unix seconds).
    pub fn reporting(&self, now: i64) -> bool {
        self.updates_at
            .is_some_and(|at| at >= now.saturating_sub(PATCH_STALE_AFTER_SECS))
    }
}

/// At most this many versions of one package name are kept per device (a
/// multi-arch library has two; a hostile agent's thousands of one name
/// would crowd every other device out of a fleet search).
pub const MAX_VERSIONS_PER_NAME: usize = 4;

/// One site's patch compliance on one day (UTC), as last recorded that
/// day: the figures of `GET /api/v1/patching/compliance` at the default
/// grace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplianceDay {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub org_id: Uuid,
    pub site: String,
    pub devices: u64,
    pub reporting: u64,
    pub compliant: u64,
    pub stale: u64,
    pub reboot_required: u64,
}

#[async_trait]
pub trait PatchingStore: Send + Sync {
    /// Records what a device's inventory says of its software: its
    /// packages (rewritten only when they changed) and, when the agent
    /// could tell, its pending updates (first-seen times kept for packages
    /// still pending). `at` is the server's time.
    async fn record_software(
        &self,
        device: Uuid,
        inventory: &steward_proto::Inventory,
        at: i64,
    ) -> Result<()>;
    /// A device's pending updates in scope (not found outside it).
    async fn pending_updates(&self, scope: &Scope, device: Uuid) -> Result<Vec<PendingRecord>>;
    /// Devices in scope (not retired) with a package of exactly this name,
    /// at most `limit` rows, by device name.
    async fn find_software(
        &self,
        scope: &Scope,
        name: &str,
        limit: u32,
    ) -> Result<Vec<SoftwareRow>>;
    /// Every device in scope (not retired) with its patch figures.
    async fn patch_figures(&self, scope: &Scope) -> Result<Vec<DevicePatchFigures>>;
    /// Records a day's compliance per site (a later recording of the same
    /// day and site replaces the earlier one).
    async fn record_compliance_days(&self, days: &[ComplianceDay]) -> Result<()>;
    /// The recorded days from `since_day` on of the sites in scope, by
    /// day, organisation and site.
    async fn compliance_history(&self, scope: &Scope, since_day: i64)
    -> Result<Vec<ComplianceDay>>;
}
