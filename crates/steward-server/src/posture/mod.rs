//! Security posture reports from agents: the stored view is updated by the
//! pure [`decide::apply`] (score, changes with before/after, the login
//! history), stored (`PostureStore`, one row per device), then judged into
//! checks the existing alerting path understands, like backups:
//! `posture.<id>` per item, `posture.login.failures` (a failed-login burst,
//! with its source addresses), `posture.login.unusual`, `posture.admins`,
//! `posture.files` and `posture.ports`. So monitors of kind `check` (the
//! default "Check failing" one included), silences, windows and channels
//! apply to them; there is no second alert system.
//!
//! A device is held by one replica (its connection), so the read, apply
//! and write of its row do not race with another replica.

pub mod decide;

use crate::AppState;
use steward_proto::PostureReport;
use steward_store::{CheckResultRecord, DeviceAuth, Scope};

fn state_text(state: steward_alert::plugin::PluginState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Stores a report's effect and feeds its judgement to the alerting path.
pub async fn on_report(state: &AppState, device: &DeviceAuth, report: PostureReport) {
    let now = crate::now_ms();
    let scope = Scope::org(device.org_id);
    let before: decide::State = match state.store.device_posture(&scope, device.id).await {
        Ok(Some(record)) => serde_json::from_value(record.detail).unwrap_or_default(),
        Ok(None) => decide::State::default(),
        Err(error) => {
            // Deciding from nothing would take a baseline again and miss
            // changes: wait for the next report.
            tracing::error!(device = %device.id, %error, "Cannot read the posture.");
            return;
        }
    };
    let after = decide::apply(&before, &report, now);
    let detail = serde_json::to_value(&after).unwrap_or_default();
    if let Err(error) = state
        .store
        .save_posture(device.id, device.org_id, after.score, &detail, now)
        .await
    {
        tracing::error!(device = %device.id, %error, "Cannot store the posture.");
    }
    let judged = decide::judge(&after, now);
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
        tracing::error!(device = %device.id, %error, "Cannot store posture checks.");
    }
}
