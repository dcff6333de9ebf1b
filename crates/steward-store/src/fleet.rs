//! What the console's fleet views read: one page of a filtered, sorted
//! device list, the fleet's headline figures and their daily history, a
//! device's job history, and tags changed in bulk.

use crate::{DeviceSummary, Result, RunRecord, Scope};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most rows one page of the device list returns.
pub const MAX_PAGE: u32 = 500;

/// The columns the device list sorts by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSort {
    #[default]
    Name,
    Hostname,
    Os,
    Site,
    Status,
    LastSeen,
    Cpu,
    Memory,
    Disk,
    Alerts,
}

/// Whether devices have alerts that are not resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertFilter {
    /// At least one open or acknowledged alert.
    Any,
    /// At least one open or acknowledged critical alert.
    Critical,
    /// No open or acknowledged alert.
    None,
}

/// A filtered, sorted page of devices. Empty fields filter nothing.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DeviceQuery {
    /// Case-insensitive substring of the name, hostname, OS or a tag.
    pub q: Option<String>,
    pub status: Option<crate::Status>,
    /// Substring of the OS, case-insensitive ("debian", "ubuntu 24").
    pub os: Option<String>,
    pub org: Option<Uuid>,
    pub site: Option<String>,
    pub tag: Option<String>,
    pub alerts: Option<AlertFilter>,
    /// Devices failing a local check (warning or critical).
    pub failing_checks: bool,
    /// Devices with an open forecast alert (a disk filling up, say).
    pub forecast: bool,
    /// Devices whose package manager reports pending updates.
    pub missing_updates: bool,
    pub include_revoked: bool,
    pub sort: DeviceSort,
    pub desc: bool,
    /// 1..=MAX_PAGE; 0 means the default of 50.
    pub limit: u32,
    pub offset: u32,
}

/// One device of a page, with the number of its unresolved alerts.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    #[serde(flatten)]
    pub summary: DeviceSummary,
    pub open_alerts: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct DevicePage {
    /// Devices matching the filter, across all pages.
    pub total: u64,
    pub items: Vec<DeviceRow>,
}

/// Today's headline figures of the fleet the caller sees.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FleetCounts {
    pub devices: u64,
    pub online: u64,
    pub offline: u64,
    pub alerts_critical: u64,
    pub alerts_warning: u64,
    /// Devices with an open forecast alert.
    pub forecast_full: u64,
    /// Devices failing a local check.
    pub failing_checks: u64,
    /// Devices with pending updates, and those with security updates among
    /// them.
    pub missing_updates: u64,
    pub security_updates: u64,
}

/// The figures of one day (UTC), as last recorded that day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FleetDay {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    #[serde(flatten)]
    pub counts: FleetCounts,
}

#[async_trait]
pub trait FleetStore: Send + Sync {
    /// One page of the devices in scope matching the query.
    async fn device_page(&self, scope: &Scope, query: &DeviceQuery) -> Result<DevicePage>;
    /// Adds and removes tags on the devices in scope among `devices`;
    /// returns how many devices changed.
    async fn change_tags(
        &self,
        scope: &Scope,
        devices: &[Uuid],
        add: &[String],
        remove: &[String],
    ) -> Result<u64>;
    async fn fleet_counts(&self, scope: &Scope) -> Result<FleetCounts>;
    /// Records today's figures for every organisation and site (the latest
    /// recording of a day replaces the earlier ones).
    async fn record_fleet_day(&self, day: i64) -> Result<()>;
    /// The recorded days from `since_day` on, summed over the places in scope.
    async fn fleet_history(&self, scope: &Scope, since_day: i64) -> Result<Vec<FleetDay>>;
    /// The device's most recent job runs, newest first.
    async fn device_runs(&self, scope: &Scope, device: Uuid, limit: u32) -> Result<Vec<RunRecord>>;
}
