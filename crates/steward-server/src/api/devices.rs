//! Device routes.

use super::{ApiError, ApiResult, parse_duration};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use std::sync::Arc;
use steward_store::{DeviceDetail, DeviceSummary, MetricQuery, Series, StatusChange};
use uuid::Uuid;

fn device_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::bad_request(format!("{text:?} is not a device id")))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
) -> ApiResult<Vec<DeviceSummary>> {
    Ok(Json(state.store.list_devices(&who.scope).await?))
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<DeviceDetail> {
    Ok(Json(
        state.store.get_device(&who.scope, device_id(&id)?).await?,
    ))
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<serde_json::Value> {
    let id = device_id(&id)?;
    state.store.revoke_device(&who.scope, id).await?;
    state.connections.kick(id, "device revoked");
    state.status.drop_device(id).await;
    tracing::info!(device = %id, by = %who.username, "Device revoked.");
    Ok(Json(serde_json::json!({ "revoked": id })))
}

pub async fn status_history(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<StatusChange>> {
    Ok(Json(
        state
            .store
            .status_history(&who.scope, device_id(&id)?)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct RangeParams {
    /// How far back, e.g. `1h` (default).
    since: Option<String>,
    /// Or explicit bounds in Unix milliseconds.
    from: Option<i64>,
    to: Option<i64>,
}

pub async fn metrics(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path((id, name)): Path<(String, String)>,
    Query(range): Query<RangeParams>,
) -> ApiResult<Vec<Series>> {
    let id = device_id(&id)?;
    if !steward_proto::validate::is_metric_name(&name, 128) {
        return Err(ApiError::bad_request(format!(
            "{name:?} is not a metric name"
        )));
    }
    let now = crate::now_ms();
    let to = range.to.unwrap_or(now);
    let from = match (range.from, range.since) {
        (Some(from), _) => from,
        (None, since) => to - parse_duration(since.as_deref().unwrap_or("1h"))?.as_millis() as i64,
    };
    // The device must be visible to the caller, else it is "not found".
    state.store.get_device(&who.scope, id).await?;
    let query = MetricQuery {
        device_id: id,
        name,
        from_ms: from,
        to_ms: to,
    };
    Ok(Json(state.store.query_metric(&who.scope, &query).await?))
}
