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
    state
        .alerting
        .incidents
        .note(crate::incidents::AlertNote {
            alert: id,
            at: crate::now_ms(),
            actor: caller.principal.username.clone(),
            state: "acknowledged".into(),
            summary: String::new(),
        })
        .await?;
    Ok(Json(
        json!({ "acknowledged": id, "by": caller.principal.username }),
    ))
}

/// Resolves an alert by hand. Its condition is evaluated again: still
/// true, a new alert opens at the next evaluation (nothing hides a live
/// problem). The resolve is notified like an automatic one, naming who.
pub async fn resolve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "alert")?;
    resolve_by_hand(&state, &caller.scope, id, &caller.principal.username, true).await?;
    Ok(Json(
        json!({ "resolved": id, "by": caller.principal.username }),
    ))
}

/// Resolves alert `id` in `scope` as `by` did, and its channels hear
/// "resolved" (routed as the alert was: by its severity and the device's
/// tags) unless it was kept quiet. Every resolve by a person (an alert, a
/// monitor disabled or deleted, a device retired) goes through here. With
/// `release`, the evaluators let go of it (on every replica) so a
/// condition still true opens a new alert; a monitor disabled or deleted,
/// or a device retired, evaluates nothing more, so there is nothing to let
/// go of (and letting go before the monitor leaves would open one).
pub async fn resolve_by_hand(
    state: &AppState,
    scope: &steward_store::Scope,
    id: Uuid,
    by: &str,
    release: bool,
) -> Result<(), super::ApiError> {
    let now = crate::now_ms();
    let alert = state.store.resolve_alert(scope, id, by, now).await?;
    state
        .alerting
        .incidents
        .note(crate::incidents::AlertNote {
            alert: id,
            at: now,
            actor: by.into(),
            state: "resolved".into(),
            summary: "by hand".into(),
        })
        .await?;
    if release {
        let key = steward_alert::lifecycle::AlertKey {
            monitor: alert.monitor_id.clone(),
            device: alert.device_id.to_string(),
            subject: alert.subject.clone(),
        };
        state.alerting.release(&key);
        crate::bus::tell(
            state,
            crate::bus::BusEvent::AlertReleased {
                monitor: key.monitor,
                device: key.device,
                subject: key.subject,
            },
        );
    }
    if alert.suppressed.is_none() {
        let tags = state
            .store
            .get_device(&steward_store::Scope::all(), alert.device_id)
            .await
            .map(|d| d.summary.tags)
            .unwrap_or_default();
        let change = steward_store::AlertChange {
            org_id: alert.org_id,
            monitor_id: alert.monitor_id.clone(),
            monitor_name: alert.monitor_name.clone(),
            device_id: alert.device_id,
            subject: alert.subject.clone(),
            severity: "ok".into(),
            at: now,
            summary: format!("resolved by {by}"),
            notify: true,
            flapping: false,
            suppressed: None,
        };
        let mut payload: Value = serde_json::from_str(&change.payload(id)).unwrap_or_default();
        payload["resolved_by"] = json!(by);
        state
            .store
            .enqueue_notification(
                alert.org_id,
                id,
                &alert.severity,
                Some(&tags),
                &payload.to_string(),
                now,
            )
            .await?;
        state.alerting.wake_outbox();
    }
    Ok(())
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
