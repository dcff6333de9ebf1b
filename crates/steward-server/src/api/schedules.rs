//! Schedules: a job request that runs on a timing. Created, read, edited
//! in place (whoever edits one last is who it runs as, so they need the
//! authority it uses), paused and resumed (`enabled`), deleted.

use super::lifecycle::{expected_version, named_conflict, overlay, read_as, tagged};
use super::{ApiError, ApiResult, id_param, org_named};
use crate::AppState;
use crate::auth::Caller;
use crate::jobs::JobRequest;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::ScheduleRecord;
use uuid::Uuid;

/// A schedule as it is created, edited (`PATCH` fields) and exported.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    name: String,
    #[serde(default)]
    org: Option<String>,
    timing: steward_jobs::schedule::Timing,
    job: JobRequest,
    /// False pauses it (default true).
    #[serde(default = "super::lifecycle::yes")]
    enabled: bool,
}

/// A stored schedule in the shape [`NewSchedule`] reads.
pub fn view(record: &ScheduleRecord) -> Value {
    json!({
        "name": record.name,
        "timing": record.timing,
        "job": record.job,
        "enabled": record.enabled,
    })
}

/// Checks a schedule as its author may set it up and builds the record
/// (next run from now; version as given).
fn build(
    caller: &Caller,
    id: Uuid,
    org: Uuid,
    body: NewSchedule,
) -> Result<ScheduleRecord, ApiError> {
    if body.name.is_empty() || body.name.len() > 128 || body.name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a schedule needs a name of 1-128 characters",
        ));
    }
    crate::jobs::authority::may_leave_standing_work(&caller.principal)
        .map_err(ApiError::forbidden)?;
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(
            "you cannot schedule jobs for that organisation",
        ));
    }
    body.timing
        .validate()
        .map_err(|e| ApiError::bad_request(format!("invalid schedule: {}", e.0)))?;
    let mut selector = steward_jobs::target::Selector::default();
    for target in &body.job.targets {
        selector
            .add(target)
            .map_err(|e| ApiError::bad_request(e.0))?;
    }
    if selector.is_empty() {
        return Err(ApiError::bad_request("the scheduled job has no targets"));
    }
    let next_run_at = body
        .timing
        .next_after(crate::now_ms())
        .map_err(|e| ApiError::bad_request(e.0))?;
    Ok(ScheduleRecord {
        id,
        org_id: org,
        name: body.name,
        timing: serde_json::to_value(&body.timing).unwrap_or_default(),
        job: serde_json::to_value(&body.job).unwrap_or_default(),
        enabled: body.enabled,
        next_run_at,
        last_run_at: None,
        created_by: caller.principal.username.clone(),
        version: 1,
    })
}

pub async fn create_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewSchedule>,
) -> ApiResult<ScheduleRecord> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    let record = build(&caller, Uuid::now_v7(), org, body)?;
    state
        .store
        .create_schedule(&record)
        .await
        .map_err(|e| named_conflict(e, "schedule", &record.name))?;
    caller.changed(Value::Null, view(&record));
    Ok(Json(record))
}

/// The record as answered: with its editable `fields`.
fn answer(record: &ScheduleRecord) -> Value {
    super::lifecycle::with_fields(record, view(record))
}

pub async fn list_schedules(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_schedules(&caller.scope).await?;
    Ok(Json(records.iter().map(answer).collect()))
}

pub async fn get_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "schedule")?;
    let record = state.store.get_schedule(&caller.scope, id).await?;
    Ok(tagged(record.version, answer(&record)))
}

pub async fn patch_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "schedule")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_schedule(&caller.scope, id).await?;
    let body: NewSchedule = read_as(overlay(view(&current), patch)?, "schedule")?;
    if let Some(org) = body.org.as_deref()
        && org_named(&state, &caller, Some(org)).await? != current.org_id
    {
        return Err(ApiError::bad_request(
            "a schedule cannot move to another organisation: create it there and delete this one",
        ));
    }
    let mut record = build(&caller, id, current.org_id, body)?;
    record.last_run_at = current.last_run_at;
    record.version = state
        .store
        .update_schedule(&caller.scope, &record, expected.or(Some(current.version)))
        .await
        .map_err(|e| named_conflict(e, "schedule", &record.name))?;
    caller.changed(view(&current), view(&record));
    Ok(tagged(record.version, answer(&record)))
}

pub async fn delete_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "schedule")?;
    let current = state.store.get_schedule(&caller.scope, id).await?;
    if !caller.scope.allows_org(current.org_id) {
        return Err(ApiError::forbidden(
            "this schedule belongs to the whole organisation: deleting it needs scripts.run there, not at one site",
        ));
    }
    state.store.delete_schedule(&caller.scope, id).await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}
