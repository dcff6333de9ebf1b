//! Security posture: a device's score with its failing items and how to fix
//! each, what changed, unusual logins; and the fleet summary (worst
//! devices, most failed checks) over the caller's scope.

use super::*;
use crate::posture::decide;
use axum::extract::Path;
use serde::Serialize;
use std::collections::BTreeMap;
use steward_proto::{FileState, GroupMember, ListeningPort, PostureCheck, PostureStatus};

#[derive(Serialize)]
pub struct DevicePosture {
    device_id: uuid::Uuid,
    /// 0–100, the weighted share of applicable checks that pass; null
    /// before a report or when none applies.
    score: Option<f64>,
    /// Unix ms of the report; null before one.
    updated_at: Option<i64>,
    /// The failing items, heaviest first, each with its fix.
    failing: Vec<PostureCheck>,
    checks: Vec<PostureCheck>,
    ports: Vec<ListeningPort>,
    admins: Vec<GroupMember>,
    files: Vec<FileState>,
    /// Newest first.
    changes: Vec<decide::Change>,
    unusual_logins: Vec<decide::Unusual>,
    /// Failed logins in the burst window.
    recent_failed_logins: usize,
    logins_dropped: u64,
}

fn failing(checks: &[PostureCheck]) -> Vec<PostureCheck> {
    let mut out: Vec<PostureCheck> = checks
        .iter()
        .filter(|c| c.status == PostureStatus::Fail)
        .cloned()
        .collect();
    out.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.id.cmp(&b.id)));
    out
}

/// `GET /api/v1/devices/{id}/posture`
pub async fn device(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<DevicePosture> {
    let id = id_param(&id, "device")?;
    super::device_in_scope(&state, &caller, id).await?;
    let record = state.store.device_posture(&caller.scope, id).await?;
    let updated_at = record.as_ref().map(|r| r.updated_at);
    let view: decide::State = record
        .and_then(|r| serde_json::from_value(r.detail).ok())
        .unwrap_or_default();
    Ok(Json(DevicePosture {
        device_id: id,
        score: view.score,
        updated_at,
        failing: failing(&view.checks),
        recent_failed_logins: view.failures.len(),
        logins_dropped: view.logins_dropped,
        checks: view.checks,
        ports: view.ports,
        admins: view.admins,
        files: view.files,
        changes: view.changes,
        unusual_logins: view.unusual,
    }))
}

#[derive(Serialize)]
pub struct DeviceScore {
    device_id: uuid::Uuid,
    name: String,
    site: String,
    score: Option<f64>,
    failing: usize,
    updated_at: i64,
}

#[derive(Serialize)]
pub struct FailedCheck {
    id: String,
    title: String,
    fix: String,
    /// Devices on which it fails.
    devices: usize,
}

#[derive(Serialize)]
pub struct FleetPosture {
    /// Devices that reported a posture.
    devices: usize,
    /// Mean of the devices' scores; null when none has one.
    mean_score: Option<f64>,
    /// Lowest scores first (at most 20).
    worst: Vec<DeviceScore>,
    /// Checks failing on most devices first (at most 20).
    most_failed: Vec<FailedCheck>,
}

/// `GET /api/v1/posture`
pub async fn fleet(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult<FleetPosture> {
    let records = state.store.list_posture(&caller.scope).await?;
    let mut failed: BTreeMap<String, FailedCheck> = BTreeMap::new();
    let mut worst = Vec::new();
    let scores: Vec<f64> = records.iter().filter_map(|r| r.score).collect();
    for record in &records {
        let checks: Vec<PostureCheck> = record
            .detail
            .get("checks")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        let failing = failing(&checks);
        for check in &failing {
            failed
                .entry(check.id.clone())
                .or_insert_with(|| FailedCheck {
                    id: check.id.clone(),
                    title: check.title.clone(),
                    fix: check.fix.clone(),
                    devices: 0,
                })
                .devices += 1;
        }
        if worst.len() < 20 {
            worst.push(DeviceScore {
                device_id: record.device_id,
                name: record.device_name.clone(),
                site: record.site.clone(),
                score: record.score,
                failing: failing.len(),
                updated_at: record.updated_at,
            });
        }
    }
    let mut most_failed: Vec<FailedCheck> = failed.into_values().collect();
    most_failed.sort_by(|a, b| b.devices.cmp(&a.devices).then(a.id.cmp(&b.id)));
    most_failed.truncate(20);
    Ok(Json(FleetPosture {
        devices: records.len(),
        mean_score: (!scores.is_empty())
            .then(|| (scores.iter().sum::<f64>() / scores.len() as f64 * 10.0).round() / 10.0),
        worst,
        most_failed,
    }))
}
