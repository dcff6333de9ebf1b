//! Device routes. The caller's scope (for the route's permission) goes into
//! every store call: a device outside it is "not found".

use super::lifecycle::{expected_version, tagged};
use super::{ApiError, ApiResult, id_param, parse_duration};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;
use steward_store::{DeviceSummary, MetricQuery, Series, StatusChange};

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<DeviceSummary>> {
    Ok(Json(state.store.list_devices(&caller.scope).await?))
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let device = state
        .store
        .get_device(&caller.scope, id_param(&id, "device")?)
        .await?;
    Ok(tagged(device.version, device))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    name: Option<String>,
    /// Moving a device needs devices.manage where it goes too.
    site: Option<String>,
}

/// Renames a device or moves it to another site of its organisation.
pub async fn patch(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<DevicePatch>,
) -> Result<Response, ApiError> {
    let expected = expected_version(&headers)?;
    let id = id_param(&id, "device")?;
    let read = state.store.get_device(&caller.scope, id).await?;
    // Without If-Match, still no lost update: the version just read.
    let expected = expected.or(Some(read.version));
    let before = read.summary;
    if body.name.is_none() && body.site.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: a device's fields are {\"name\": …, \"site\": …}",
        ));
    }
    let name = body.name.unwrap_or_else(|| before.name.clone());
    let site = body.site.unwrap_or_else(|| before.site.clone());
    super::place::valid_label("a device's name", &name)?;
    super::place::valid_label("a site", &site)?;
    if !caller.scope.allows(before.org_id, Some(&site)) {
        return Err(ApiError::forbidden(format!(
            "you may not manage devices at site {site:?}, so you cannot move one there"
        )));
    }
    let version = state
        .store
        .edit_device(&caller.scope, id, &name, &site, expected)
        .await?;
    caller.acting_in(before.org_id);
    caller.changed(
        serde_json::json!({ "name": before.name, "site": before.site }),
        serde_json::json!({ "name": name, "site": site }),
    );
    if site != before.site {
        // Monitors, silences and windows match on sites: on every replica.
        state.alerting.forget(id);
        crate::bus::tell(
            &state,
            crate::bus::BusEvent::DevicesChanged { devices: vec![id] },
        );
    }
    let device = state.store.get_device(&caller.scope, id).await;
    match device {
        Ok(device) => Ok(tagged(version, device)),
        // Moved out of the caller's reach (a site-limited scope).
        Err(_) => Ok(tagged(
            version,
            serde_json::json!({ "id": id, "name": name, "site": site, "version": version }),
        )),
    }
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<serde_json::Value> {
    let id = id_param(&id, "device")?;
    super::device_in_scope(&state, &caller, id).await?;
    let before = state.store.get_device(&caller.scope, id).await?;
    state.store.revoke_device(&caller.scope, id).await?;
    caller.changed(
        serde_json::json!({ "name": before.summary.name, "revoked": before.summary.revoked }),
        serde_json::json!({ "name": before.summary.name, "revoked": true }),
    );
    state.connections.kick(id, "device revoked");
    crate::bus::tell(
        &state,
        crate::bus::BusEvent::Kick {
            device: id,
            reason: "device revoked".into(),
        },
    );
    state.status.drop_device(id).await;
    tracing::info!(device = %id, by = %caller.principal.username, "Device revoked.");
    Ok(Json(serde_json::json!({ "revoked": id })))
}

/// Retires a decommissioned device: revoked and disconnected like
/// [`revoke`], gone from the lists, its open alerts resolved; its metrics,
/// alerts and runs stay for reports.
pub async fn retire(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<serde_json::Value> {
    let id = id_param(&id, "device")?;
    super::device_in_scope(&state, &caller, id).await?;
    let before = state.store.get_device(&caller.scope, id).await?;
    state
        .store
        .retire_device(&caller.scope, id, crate::now_secs())
        .await?;
    state.connections.kick(id, "device retired");
    crate::bus::tell(
        &state,
        crate::bus::BusEvent::Kick {
            device: id,
            reason: "device retired".into(),
        },
    );
    state.status.drop_device(id).await;
    for alert in state.store.device_open_alerts(id).await? {
        super::alerts::resolve_by_hand(
            &state,
            &caller.scope,
            alert.id,
            &caller.principal.username,
            false,
        )
        .await?;
    }
    caller.changed(
        serde_json::json!({ "name": before.summary.name, "hostname": before.summary.hostname, "site": before.summary.site }),
        serde_json::Value::Null,
    );
    tracing::info!(device = %id, by = %caller.principal.username, "Device retired.");
    Ok(Json(serde_json::json!({ "retired": id })))
}

#[derive(Deserialize)]
pub struct Upstream {
    /// The device this one depends on; null to clear.
    upstream: Option<String>,
}

/// Sets the device this one depends on (its site gateway, say).
pub async fn set_upstream(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Upstream>,
) -> ApiResult<serde_json::Value> {
    let id = id_param(&id, "device")?;
    let upstream = body
        .upstream
        .as_deref()
        .map(|u| id_param(u, "device"))
        .transpose()?;
    super::device_in_scope(&state, &caller, id).await?;
    let was = state
        .store
        .upstreams()
        .await?
        .into_iter()
        .find(|(device, _)| *device == id)
        .map(|(_, upstream)| upstream);
    state
        .store
        .set_upstream(&caller.scope, id, upstream)
        .await?;
    caller.changed(
        serde_json::json!({ "upstream": was }),
        serde_json::json!({ "upstream": upstream }),
    );
    state
        .alerting
        .reload()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The other replicas' evaluators too.
    crate::bus::tell(&state, crate::bus::BusEvent::Reload);
    Ok(Json(
        serde_json::json!({ "device": id, "upstream": upstream }),
    ))
}

/// The latest results of the device's local script checks.
pub async fn checks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<steward_store::CheckResultRecord>> {
    let id = id_param(&id, "device")?;
    super::device_in_scope(&state, &caller, id).await?;
    Ok(Json(state.store.check_results(&caller.scope, id).await?))
}

/// Asks a connected device to rotate its certificate now.
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<serde_json::Value> {
    let id = id_param(&id, "device")?;
    super::device_in_scope(&state, &caller, id).await?;
    caller.changed(
        serde_json::Value::Null,
        serde_json::json!({ "rotation_requested": true }),
    );
    if !state.connections.rotate(id) && state.bus.is_shared() {
        // Another replica may hold the device.
        crate::bus::tell(&state, crate::bus::BusEvent::Rotate { device: id });
        return Ok(Json(
            serde_json::json!({ "rotation_requested": id, "via": "bus" }),
        ));
    }
    if !state.connections.is_connected(id) {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "the device is not connected; it rotates when asked while online",
        ));
    }
    Ok(Json(serde_json::json!({ "rotation_requested": id })))
}

pub async fn status_history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<StatusChange>> {
    let id = id_param(&id, "device")?;
    // A device out of scope is "not found", not an empty history.
    super::device_in_scope(&state, &caller, id).await?;
    Ok(Json(state.store.status_history(&caller.scope, id).await?))
}

#[derive(Deserialize)]
pub struct RangeParams {
    /// How far back, e.g. `1h` (default).
    since: Option<String>,
    /// Or explicit bounds in Unix milliseconds.
    from: Option<i64>,
    to: Option<i64>,
    /// At most this many points per series (bucket means), for charts.
    points: Option<u32>,
}

pub async fn metrics(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    Query(range): Query<RangeParams>,
) -> ApiResult<Vec<Series>> {
    let id = id_param(&id, "device")?;
    if !steward_proto::validate::is_metric_name(&name, 128) {
        return Err(ApiError::bad_request(format!(
            "{name:?} is not a metric name"
        )));
    }
    let now = crate::now_ms();
    // Open-ended unless asked: an agent's clock may run a little ahead of
    // the server's, and its newest samples must not vanish from "the last
    // hour".
    let to = range.to.unwrap_or(i64::MAX);
    let from = match (range.from, range.since) {
        (Some(from), _) => from,
        (None, since) => range.to.unwrap_or(now).saturating_sub(
            parse_duration(since.as_deref().unwrap_or("1h"))?
                .as_millis()
                .min(i64::MAX as u128) as i64,
        ),
    };
    // The device must be visible to the caller, else it is "not found".
    super::device_in_scope(&state, &caller, id).await?;
    let query = MetricQuery {
        device_id: id,
        name,
        from_ms: from,
        to_ms: to,
    };
    let mut series = state.store.query_metric(&caller.scope, &query).await?;
    if let Some(points) = range.points.filter(|p| *p > 0) {
        let end = if to == i64::MAX { now } else { to };
        for s in &mut series {
            s.samples =
                steward_tsdb::downsample(&s.samples, from, end, points.min(10_000) as usize);
        }
    }
    Ok(Json(series))
}
