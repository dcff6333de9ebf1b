//! Aging infrastructure: devices flagged by age signals. Each SMART report
//! (`disk_health`, sent every pass even where smartctl is missing, so the
//! age is re-judged at that pace) is judged with the device's stored
//! inventory (OS release, boot time) and the stored view of the reports
//! before by the pure [`decide::apply`] (`steward_intel::aging`), stored
//! (`AgingStore`, one row per device), then judged into the checks
//! `aging.eol`, `aging.uptime` and `aging.smart` on the existing alerting
//! path, like posture and backups. The end-of-life table is data with its
//! sources (`steward_intel::aging::eol`).
//!
//! A device is held by one replica (its connection), so the read, apply
//! and write of its row do not race with another replica.

pub use steward_intel::aging as decide;

use crate::AppState;
use steward_proto::DiskHealthReport;
use steward_store::{CheckResultRecord, DeviceAuth, Scope};

/// The plugin state of a severity.
fn plugin_state(severity: decide::Severity) -> steward_alert::plugin::PluginState {
    use steward_alert::plugin::PluginState;
    match severity {
        decide::Severity::Ok => PluginState::Ok,
        decide::Severity::Warning => PluginState::Warning,
        decide::Severity::Critical => PluginState::Critical,
    }
}

fn state_text(state: steward_alert::plugin::PluginState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The stored number of a severity.
pub fn worst_number(severity: decide::Severity) -> i64 {
    match severity {
        decide::Severity::Ok => 0,
        decide::Severity::Warning => 1,
        decide::Severity::Critical => 2,
    }
}

/// Judges a SMART report with the device's inventory and stored view,
/// stores the new view and feeds its checks to the alerting path.
pub async fn on_report(state: &AppState, device: &DeviceAuth, report: DiskHealthReport) {
    let now = crate::now_ms();
    let scope = Scope::org(device.org_id);
    let before: decide::State = match state.store.device_aging(&scope, device.id).await {
        Ok(Some(record)) => serde_json::from_value(record.detail).unwrap_or_default(),
        Ok(None) => decide::State::default(),
        Err(error) => {
            // Deciding from nothing would lose the counters compared
            // against: wait for the next report.
            tracing::error!(device = %device.id, %error, "Cannot read the aging view.");
            return;
        }
    };
    let inventory = match state.store.get_device(&scope, device.id).await {
        Ok(detail) => detail.inventory,
        Err(error) => {
            tracing::warn!(device = %device.id, %error, "Cannot read the inventory for aging.");
            None
        }
    };
    let after = decide::apply(
        &before,
        inventory.as_ref(),
        Some(&report),
        now,
        &decide::Policy::default(),
    );
    let detail = serde_json::to_value(&after).unwrap_or_default();
    if let Err(error) = state
        .store
        .save_aging(
            device.id,
            device.org_id,
            worst_number(after.worst),
            &detail,
            now,
        )
        .await
    {
        tracing::error!(device = %device.id, %error, "Cannot store the aging view.");
    }
    let judged = decide::judge(&after);
    let mut records = Vec::with_capacity(judged.len());
    for j in judged {
        let level = plugin_state(j.severity);
        state
            .alerting
            .on_check(device.id, j.check, level, &j.message, now)
            .await;
        records.push(CheckResultRecord {
            name: j.check.to_string(),
            state: state_text(level),
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
        tracing::error!(device = %device.id, %error, "Cannot store aging checks.");
    }
}
