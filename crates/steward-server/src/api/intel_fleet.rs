//! The fleet's intelligence views: `GET /api/v1/fleet/outliers` (each
//! device against its peers: devices of the same tag or OS; decided by
//! `steward_intel::peers`) and `GET /api/v1/capacity?within=7d|30d|90d`
//! (devices whose filesystems or memory reach 90 % within the horizon;
//! decided by `steward_intel::capacity`). Both read only what the caller's
//! scope holds.

use super::{ApiError, ApiResult, parse_duration};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use steward_intel::peers::{self, Member};
use steward_store::{DeviceSummary, MetricQuery};
use uuid::Uuid;

/// The measures compared with peers, and the least spread a group is
/// taken to have (two points of a ratio).
const MEASURES: [&str; 3] = ["cpu", "memory", "disk"];
const RATIO_FLOOR: f64 = 0.02;

#[derive(Serialize)]
pub struct Outlier {
    /// `device:measure`, for paging.
    id: String,
    device_id: Uuid,
    device_name: String,
    group: String,
    measure: &'static str,
    value: f64,
    peer_median: f64,
    distance: f64,
    peers: usize,
}

fn member(d: &DeviceSummary) -> Member {
    let mut groups: Vec<String> = d.tags.iter().map(|t| format!("tag:{t}")).collect();
    if !d.os.is_empty() {
        groups.push(format!("os:{}", d.os));
    }
    let values = [d.cpu_utilization, d.memory_utilization, d.disk_utilization];
    Member {
        device: d.id.to_string(),
        groups,
        measures: MEASURES
            .iter()
            .zip(values)
            .filter_map(|(m, v)| Some((m.to_string(), v?)))
            .collect(),
    }
}

/// `GET /api/v1/fleet/outliers`: devices far from their peers, furthest
/// first (latest CPU, memory and fullest-disk utilisation; groups of at
/// least five; a robust distance of 3.5 or more).
pub async fn outliers(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Outlier>> {
    let devices: Vec<DeviceSummary> = state
        .store
        .list_devices(&caller.scope)
        .await?
        .into_iter()
        .filter(|d| !d.revoked)
        .collect();
    let names: BTreeMap<String, String> = devices
        .iter()
        .map(|d| (d.id.to_string(), d.name.clone()))
        .collect();
    let members: Vec<Member> = devices.iter().map(member).collect();
    let found = tokio::task::spawn_blocking(move || {
        peers::outliers(&members, peers::MIN_DISTANCE, |_| RATIO_FLOOR)
    })
    .await
    .map_err(internal)?;
    Ok(Json(
        found
            .into_iter()
            .filter_map(|o| {
                let measure = MEASURES.into_iter().find(|m| *m == o.measure)?;
                Some(Outlier {
                    id: format!("{}:{measure}", o.device),
                    device_id: o.device.parse().ok()?,
                    device_name: names.get(&o.device).cloned().unwrap_or_default(),
                    group: o.group,
                    measure,
                    value: o.value,
                    peer_median: o.peer_median,
                    distance: o.distance,
                    peers: o.peers,
                })
            })
            .collect(),
    ))
}

fn internal(error: tokio::task::JoinError) -> ApiError {
    tracing::error!(%error, "A fleet intelligence computation failed.");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the server log",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityParams {
    /// 7d, 30d or 90d (default 30d).
    within: Option<String>,
}

#[derive(Serialize)]
pub struct Filling {
    device_id: Uuid,
    device_name: String,
    metric: String,
    labels: BTreeMap<String, String>,
    /// Milliseconds until 90 %: estimate, soonest, latest.
    eta_ms: i64,
    soonest_ms: Option<i64>,
    latest_ms: Option<i64>,
    level: f64,
    rate_per_day: f64,
}

#[derive(Serialize)]
pub struct Capacity {
    within_ms: i64,
    level: f64,
    /// Devices whose history was read, and those left out (beyond
    /// `MAX_DEVICES`: ask per site or organisation).
    considered: usize,
    skipped: usize,
    items: Vec<Filling>,
}

/// The level whose reaching is listed.
const LEVEL: f64 = 0.9;
/// History read per series.
const HISTORY_MS: i64 = 14 * 86_400_000;
/// Most devices read per request (each costs two series reads).
pub const MAX_DEVICES: usize = 2_000;

/// `GET /api/v1/capacity?within=7d|30d|90d`: filesystems and memory that
/// reach 90 % within the horizon, soonest first.
pub async fn capacity(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<CapacityParams>,
) -> ApiResult<Capacity> {
    let within = params.within.as_deref().unwrap_or("30d");
    if !["7d", "30d", "90d"].contains(&within) {
        return Err(ApiError::bad_request("within is 7d, 30d or 90d"));
    }
    let within_ms = parse_duration(within)?.as_millis() as i64;
    let mut devices: Vec<DeviceSummary> = state
        .store
        .list_devices(&caller.scope)
        .await?
        .into_iter()
        .filter(|d| !d.revoked)
        .collect();
    devices.sort_by_key(|d| std::cmp::Reverse(d.disk_utilization.unwrap_or(0.0).to_bits()));
    let skipped = devices.len().saturating_sub(MAX_DEVICES);
    devices.truncate(MAX_DEVICES);
    let now = crate::now_ms();
    let mut items = Vec::new();
    for d in &devices {
        for metric in ["system.filesystem.utilization", "system.memory.utilization"] {
            let query = MetricQuery {
                device_id: d.id,
                name: metric.into(),
                from_ms: now - HISTORY_MS,
                to_ms: i64::MAX,
            };
            for series in state.store.query_metric(&caller.scope, &query).await? {
                let Some(r) = steward_intel::capacity::reaches(&series.samples, LEVEL, within_ms)
                else {
                    continue;
                };
                items.push(Filling {
                    device_id: d.id,
                    device_name: d.name.clone(),
                    metric: metric.into(),
                    labels: series.labels,
                    eta_ms: r.eta_ms,
                    soonest_ms: r.soonest_ms,
                    latest_ms: r.latest_ms,
                    level: r.level,
                    rate_per_day: r.rate_per_day,
                });
            }
        }
    }
    items.sort_by_key(|f| (f.eta_ms, f.device_id));
    Ok(Json(Capacity {
        within_ms,
        level: LEVEL,
        considered: devices.len(),
        skipped,
        items,
    }))
}
