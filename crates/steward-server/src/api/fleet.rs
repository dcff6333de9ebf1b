//! The console's fleet views: a filtered, sorted page of devices, the
//! headline figures with their 30-day history, tags in bulk, a device's job
//! history, and a channel's test message. Every store call carries the
//! caller's scope.

use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use steward_store::{DevicePage, DeviceQuery, RunRecord};
use uuid::Uuid;

/// Days of history the dashboard shows.
const TREND_DAYS: i64 = 30;
/// How often today's figures are recorded.
pub const RECORD_EVERY: Duration = Duration::from_secs(600);
/// Most devices one bulk change takes.
const MAX_BULK: usize = 10_000;

pub fn today(now_ms: i64) -> i64 {
    now_ms.div_euclid(86_400_000)
}

/// `GET /api/v1/fleet/devices`: one page of devices (see [`DeviceQuery`]).
pub async fn devices(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<DeviceQuery>,
) -> ApiResult<DevicePage> {
    Ok(Json(state.store.device_page(&caller.scope, &query).await?))
}

/// `GET /api/v1/fleet/summary`: today's figures and the last 30 days.
pub async fn summary(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult<Value> {
    let now = crate::now_ms();
    let counts = state.store.fleet_counts(&caller.scope).await?;
    let history = state
        .store
        .fleet_history(&caller.scope, today(now) - TREND_DAYS + 1)
        .await?;
    Ok(Json(json!({
        "at": now,
        "counts": counts,
        "history": history,
        "connected": state.connections.count(),
    })))
}

#[derive(Deserialize)]
pub struct TagChange {
    devices: Vec<String>,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 64
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))
}

/// `POST /api/v1/devices/tags`: adds and removes tags on many devices.
pub async fn change_tags(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<TagChange>,
) -> ApiResult<Value> {
    if body.devices.is_empty() || body.devices.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "devices: give 1 to {MAX_BULK} device ids"
        )));
    }
    if body.add.is_empty() && body.remove.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: give add or remove",
        ));
    }
    if let Some(bad) = body.add.iter().chain(&body.remove).find(|t| !valid_tag(t)) {
        return Err(ApiError::bad_request(format!(
            "tag {bad:?}: use 1 to 64 letters, digits and - _ . : /"
        )));
    }
    let ids = body
        .devices
        .iter()
        .map(|d| id_param(d, "device"))
        .collect::<Result<Vec<Uuid>, _>>()?;
    let changed = state
        .store
        .change_tags(&caller.scope, &ids, &body.add, &body.remove)
        .await?;
    crate::audit::record(
        &state,
        &caller,
        "devices.tagged",
        &format!("{} devices", ids.len()),
        json!({ "add": body.add, "remove": body.remove, "changed": changed }),
    )
    .await;
    // Monitors and selectors match on tags: what alerting cached of these
    // devices goes, here and on the other replicas.
    for id in &ids {
        state.alerting.forget(*id);
    }
    crate::bus::tell(
        &state,
        crate::bus::BusEvent::DevicesChanged {
            devices: ids.clone(),
        },
    );
    Ok(Json(json!({ "changed": changed })))
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<u32>,
}

/// `GET /api/v1/devices/{id}/runs`: the device's job history (file
/// transfers' output only for callers who may transfer files there).
pub async fn device_runs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(limit): Query<Limit>,
) -> ApiResult<Vec<RunRecord>> {
    let id = id_param(&id, "device")?;
    // A device out of scope is "not found", not an empty history.
    state.store.get_device(&caller.scope, id).await?;
    let mut runs = state
        .store
        .device_runs(&caller.scope, id, limit.limit.unwrap_or(50))
        .await?;
    super::transfer::hide_device_runs(&state, &caller, id, &mut runs).await;
    Ok(Json(runs))
}

/// `POST /api/v1/channels/{id}/test`: sends a test message through the
/// channel now. Answers `delivered` and, when the far end refused or could
/// not be reached, its `error` (a 200 either way: the test itself ran).
pub async fn test_channel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "channel")?;
    let channel = state
        .store
        .list_channels(&caller.scope)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(ApiError::from(steward_store::StoreError::NotFound))?;
    // The shape of a real alert's notification, names and link included.
    let payload = json!({
        "test": true,
        "alert_id": null,
        "org_id": channel.org_id,
        "monitor": "Steward test message",
        "monitor_id": null,
        "device_id": null,
        "device": "(test)",
        "subject": "",
        "state": "test",
        "severity": "info",
        "flapping": false,
        "summary": format!("A test message from Steward, sent by {} from the console.", caller.principal.username),
        "at": crate::now_ms(),
    })
    .to_string();
    let payload = crate::notify::names::name(&*state.store, &state.public_url, &payload).await;
    let result = state.outbound.deliver(&channel, &payload, 0).await;
    crate::audit::record(
        &state,
        &caller,
        "channel.tested",
        &channel.name,
        json!({ "delivered": result.is_ok() }),
    )
    .await;
    Ok(Json(match result {
        Ok(()) => json!({ "delivered": true }),
        Err(error) => json!({ "delivered": false, "error": error }),
    }))
}

/// Records today's figures now and then every [`RECORD_EVERY`].
pub fn spawn_recorder(state: Arc<AppState>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECORD_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(error) = state.store.record_fleet_day(today(crate::now_ms())).await {
                        tracing::warn!(%error, "Could not record today's fleet figures.");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    });
}
