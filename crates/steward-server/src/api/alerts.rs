//! Alerts as people handle them: listed, their history, acknowledged,
//! resolved (what raises them: `monitors.rs`; where they go:
//! `channels.rs`; what keeps them quiet: `noise.rs`).

use super::{ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{AlertEventRecord, AlertRecord};
use uuid::Uuid;

#[derive(Deserialize)]
pub struct AlertFilter {
    /// Only open and acknowledged alerts (default true).
    active: Option<bool>,
    /// Only alerts in this state (open, acknowledged, resolved).
    state: Option<String>,
    /// Only the alerts of this device.
    device: Option<Uuid>,
}

pub async fn list_alerts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(filter): Query<AlertFilter>,
) -> ApiResult<Vec<AlertRecord>> {
    let active = filter.active.unwrap_or(filter.state.is_none());
    let mut alerts = state.store.list_alerts(&caller.scope, active).await?;
    if let Some(wanted) = &filter.state {
        alerts.retain(|a| &a.state == wanted);
    }
    if let Some(device) = filter.device {
        alerts.retain(|a| a.device_id == device);
    }
    Ok(Json(alerts))
}

pub async fn alert_history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<AlertEventRecord>> {
    Ok(Json(
        state
            .store
            .alert_history(&caller.scope, id_param(&id, "alert")?)
            .await?,
    ))
}

pub async fn acknowledge(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "alert")?;
    state
        .store
        .acknowledge_alert(
            &caller.scope,
            id,
            &caller.principal.username,
            crate::now_ms(),
        )
        .await?;
    Ok(Json(
        json!({ "acknowledged": id, "by": caller.principal.username }),
    ))
}

pub async fn resolve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "alert")?;
    state
        .store
        .resolve_alert(
            &caller.scope,
            id,
            &caller.principal.username,
            crate::now_ms(),
        )
        .await?;
    Ok(Json(
        json!({ "resolved": id, "by": caller.principal.username }),
    ))
}

/// How many alerts were kept quiet, and why (maintenance, silence,
/// dependency, grouping).
pub async fn suppressed(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult<Value> {
    let counts = state.store.suppression_counts(&caller.scope).await?;
    Ok(Json(json!(
        counts
            .into_iter()
            .map(|(reason, count)| json!({ "reason": reason, "count": count }))
            .collect::<Vec<_>>()
    )))
}
