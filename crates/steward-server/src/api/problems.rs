//! Problems as people work them: listed, read, and edited under a
//! version (status, root cause, workaround, permanent fix, known error).
//! What the rules found (count, times, devices, incidents) is theirs to
//! keep up to date (`crate::problems`), not an edit's.

use super::lifecycle::{expected_version, overlay, read_as, tagged};
use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::ProblemRecord;

/// Longest text field, in bytes.
const MAX_TEXT: usize = 16 * 1024;

/// What people edit of a problem (`PATCH` fields).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemFields {
    status: String,
    #[serde(default)]
    root_cause: Option<String>,
    #[serde(default)]
    workaround: Option<String>,
    #[serde(default)]
    fix: Option<String>,
    #[serde(default)]
    known_error: bool,
}

pub fn view(record: &ProblemRecord) -> Value {
    json!({
        "status": record.status,
        "root_cause": record.root_cause,
        "workaround": record.workaround,
        "fix": record.fix,
        "known_error": record.known_error,
    })
}

fn answer(record: &ProblemRecord) -> Value {
    super::lifecycle::with_fields(record, view(record))
}

pub async fn list_problems(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_problems(&caller.scope).await?;
    Ok(Json(records.iter().map(answer).collect()))
}

pub async fn get_problem(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "problem")?;
    let record = state.store.get_problem(&caller.scope, id).await?;
    Ok(tagged(record.version, answer(&record)))
}

pub async fn patch_problem(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "problem")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_problem(&caller.scope, id).await?;
    let body: ProblemFields = read_as(overlay(view(&current), patch)?, "problem")?;
    if !["open", "known_error", "resolved"].contains(&body.status.as_str()) {
        return Err(ApiError::bad_request(format!(
            "status is one of open, known_error, resolved, not {:?}",
            body.status
        )));
    }
    for text in [&body.root_cause, &body.workaround, &body.fix]
        .into_iter()
        .flatten()
    {
        if text.len() > MAX_TEXT {
            return Err(ApiError::bad_request(format!(
                "root_cause, workaround and fix are at most {MAX_TEXT} bytes each"
            )));
        }
    }
    let mut record = current.clone();
    record.resolved_at = match (current.status.as_str(), body.status.as_str()) {
        (_, "resolved") => current.resolved_at.or(Some(crate::now_ms())),
        _ => None,
    };
    record.status = body.status;
    record.root_cause = body.root_cause;
    record.workaround = body.workaround;
    record.fix = body.fix;
    record.known_error = body.known_error;
    record.version = state
        .store
        .update_problem(&caller.scope, &record, expected.or(Some(current.version)))
        .await?;
    caller.changed(view(&current), view(&record));
    Ok(tagged(record.version, answer(&record)))
}
