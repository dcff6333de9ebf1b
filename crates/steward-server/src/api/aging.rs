//! Aging infrastructure: the fleet list of devices with their age signals
//! and reasons (`GET /api/v1/aging`, a list: `?worst=critical`, `?q=`,
//! `?sort=`, `?limit=` with a cursor, like the other lists) and one
//! device's view with its disks (`GET /api/v1/devices/{id}/aging`), both
//! within the caller's scope.

use super::*;
use crate::aging::decide;
use axum::extract::Path;
use serde::Serialize;

fn severity_of(worst: i64) -> decide::Severity {
    match worst {
        2.. => decide::Severity::Critical,
        1 => decide::Severity::Warning,
        _ => decide::Severity::Ok,
    }
}

#[derive(Serialize)]
pub struct DeviceAging {
    device_id: uuid::Uuid,
    worst: decide::Severity,
    /// Unix ms of the judgement; null before one.
    updated_at: Option<i64>,
    findings: Vec<decide::Finding>,
    os: decide::OsAge,
    boot_time: i64,
    uptime_days: Option<i64>,
    /// `ok`, `not_available`, `timed_out`, `failed`; null before a report.
    smart_state: Option<steward_proto::SmartState>,
    smart_error: String,
    smart_checked_at: i64,
    disks: Vec<decide::DiskView>,
}

/// `GET /api/v1/devices/{id}/aging`
pub async fn device(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<DeviceAging> {
    let id = id_param(&id, "device")?;
    super::device_in_scope(&state, &caller, id).await?;
    let record = state.store.device_aging(&caller.scope, id).await?;
    let updated_at = record.as_ref().map(|r| r.updated_at);
    let view: decide::State = record
        .and_then(|r| serde_json::from_value(r.detail).ok())
        .unwrap_or_default();
    Ok(Json(DeviceAging {
        device_id: id,
        worst: view.worst,
        updated_at,
        findings: view.findings,
        os: view.os,
        boot_time: view.boot_time,
        uptime_days: view.uptime_days,
        smart_state: view.smart_state,
        smart_error: view.smart_error,
        smart_checked_at: view.smart_checked_at,
        disks: view.disks,
    }))
}

#[derive(Serialize)]
pub struct AgingItem {
    /// The device's id.
    id: uuid::Uuid,
    name: String,
    site: String,
    worst: decide::Severity,
    /// The reasons, worst first.
    findings: Vec<decide::Finding>,
    /// The release as the end-of-life table names it (empty: unknown).
    os: String,
    /// When its support ends (`YYYY-MM-DD`; empty: unknown).
    eol: String,
    uptime_days: Option<i64>,
    disks: usize,
    updated_at: i64,
}

/// `GET /api/v1/aging`: every device judged, worst first.
pub async fn fleet(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<AgingItem>> {
    let records = state.store.list_aging(&caller.scope).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|record| {
                let view: decide::State = serde_json::from_value(record.detail).unwrap_or_default();
                let mut findings = view.findings;
                findings.sort_by_key(|b| std::cmp::Reverse(b.severity));
                let eol = if view.os.extended_ends.is_empty() {
                    view.os.ends
                } else {
                    view.os.extended_ends
                };
                AgingItem {
                    id: record.device_id,
                    name: record.device_name,
                    site: record.site,
                    worst: severity_of(record.worst),
                    findings,
                    os: view.os.label,
                    eol,
                    uptime_days: view.uptime_days,
                    disks: view.disks.len(),
                    updated_at: record.updated_at,
                }
            })
            .collect(),
    ))
}
