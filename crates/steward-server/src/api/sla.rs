//! SLA targets per organisation and priority (`/api/v1/sla-targets`):
//! time to acknowledge and time to resolve, each optional. Warnings go out
//! later (`crate::sla`) under the name and authority of whoever set the
//! target last, so setting one needs `devices.manage` for the whole
//! organisation and a credential that may leave standing work.

use super::lifecycle::{expected_version, overlay, read_as, tagged};
use super::{ApiError, ApiResult, id_param, org_named};
use crate::AppState;
use crate::auth::Caller;
use crate::jobs::authority::may_leave_standing_work;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{INCIDENT_PRIORITIES, SlaTargetRecord};
use uuid::Uuid;

/// The longest target: a year, in milliseconds.
const MAX_TARGET_MS: i64 = 365 * 86_400_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSlaTarget {
    #[serde(default)]
    org: Option<String>,
    priority: String,
    #[serde(default)]
    acknowledge_ms: Option<i64>,
    #[serde(default)]
    resolve_ms: Option<i64>,
}

pub fn view(t: &SlaTargetRecord) -> Value {
    json!({ "priority": t.priority, "acknowledge_ms": t.acknowledge_ms, "resolve_ms": t.resolve_ms })
}

fn answer(t: &SlaTargetRecord) -> Value {
    super::lifecycle::with_fields(t, view(t))
}

fn check(body: &NewSlaTarget) -> Result<(), ApiError> {
    if !INCIDENT_PRIORITIES.contains(&body.priority.as_str()) {
        return Err(ApiError::bad_request(format!(
            "priority is one of {}, not {:?}",
            INCIDENT_PRIORITIES.join(", "),
            body.priority
        )));
    }
    for (what, value) in [
        ("acknowledge_ms", body.acknowledge_ms),
        ("resolve_ms", body.resolve_ms),
    ] {
        if value.is_some_and(|v| !(1_000..=MAX_TARGET_MS).contains(&v)) {
            return Err(ApiError::bad_request(format!(
                "{what} is from 1 second to a year, in milliseconds"
            )));
        }
    }
    Ok(())
}

fn allowed(caller: &Caller, org: Uuid) -> Result<(), ApiError> {
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(
            "SLA targets belong to the whole organisation: setting one needs devices.manage there, not at one site",
        ));
    }
    may_leave_standing_work(&caller.principal).map_err(ApiError::forbidden)
}

pub async fn create_sla_target(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewSlaTarget>,
) -> ApiResult<Value> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    allowed(&caller, org)?;
    caller.acting_in(org);
    check(&body)?;
    let record = SlaTargetRecord {
        id: Uuid::now_v7(),
        org_id: org,
        priority: body.priority,
        acknowledge_ms: body.acknowledge_ms,
        resolve_ms: body.resolve_ms,
        updated_by: caller.principal.username.clone(),
        updated_at: crate::now_ms(),
        version: 1,
    };
    state.store.create_sla_target(&record).await?;
    caller.changed(Value::Null, view(&record));
    Ok(Json(answer(&record)))
}

pub async fn list_sla_targets(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_sla_targets(&caller.scope).await?;
    Ok(Json(records.iter().map(answer).collect()))
}

pub async fn get_sla_target(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "SLA target")?;
    let record = state.store.get_sla_target(&caller.scope, id).await?;
    Ok(tagged(record.version, answer(&record)))
}

pub async fn patch_sla_target(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "SLA target")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_sla_target(&caller.scope, id).await?;
    allowed(&caller, current.org_id)?;
    caller.acting_in(current.org_id);
    let body: NewSlaTarget = read_as(overlay(view(&current), patch)?, "SLA target")?;
    check(&body)?;
    if body.priority != current.priority {
        return Err(ApiError::bad_request(
            "an SLA target keeps its priority: delete it and set one for the other priority",
        ));
    }
    let mut record = SlaTargetRecord {
        acknowledge_ms: body.acknowledge_ms,
        resolve_ms: body.resolve_ms,
        // Warnings go out under the name of who set it last.
        updated_by: caller.principal.username.clone(),
        updated_at: crate::now_ms(),
        ..current.clone()
    };
    record.version = state
        .store
        .update_sla_target(&caller.scope, &record, expected.or(Some(current.version)))
        .await?;
    caller.changed(view(&current), view(&record));
    Ok(tagged(record.version, answer(&record)))
}

pub async fn delete_sla_target(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "SLA target")?;
    let current = state.store.get_sla_target(&caller.scope, id).await?;
    if !caller.scope.allows_org(current.org_id) {
        return Err(ApiError::forbidden(
            "SLA targets belong to the whole organisation: deleting one needs devices.manage there",
        ));
    }
    caller.acting_in(current.org_id);
    state.store.delete_sla_target(&caller.scope, id).await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}
