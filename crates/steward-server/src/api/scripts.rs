//! Scripts: saved (each save a new version), read with an `ETag` of their
//! version, edited in place (`PATCH`, a new version, under `If-Match`) and
//! deleted once nothing runs them. Editing scripts needs `scripts.run`.

use super::lifecycle::{expected_version, overlay, tagged};
use super::{ApiError, ApiResult, org_named};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_jobs::script::ScriptDef;
use steward_store::{ScriptRecord, ScriptVersion};

#[derive(Deserialize)]
pub struct SaveScript {
    #[serde(default)]
    org: Option<String>,
    /// A script file (header comments carry the settings)...
    #[serde(default)]
    file: Option<String>,
    /// ...named after this when its header does not name it.
    #[serde(default)]
    name: Option<String>,
    /// ...or the definition as JSON.
    #[serde(default)]
    script: Option<ScriptDef>,
}

pub async fn save_script(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<SaveScript>,
) -> ApiResult<ScriptRecord> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(
            "you cannot change the scripts of that organisation",
        ));
    }
    let script = match (body.file, body.script) {
        (Some(file), None) => ScriptDef::from_file(&file, body.name.as_deref().unwrap_or("script"))
            .map_err(|e| ApiError::bad_request(format!("invalid script file: {}", e.0)))?,
        (None, Some(script)) => {
            script
                .validate()
                .map_err(|e| ApiError::bad_request(format!("invalid script: {}", e.0)))?;
            script
        }
        _ => return Err(ApiError::bad_request("give either file or script")),
    };
    let definition = serde_json::to_value(&script).unwrap_or_default();
    let before = state
        .store
        .get_script(&steward_store::Scope::org(org), &script.name)
        .await
        .ok();
    let saved = state
        .store
        .save_script(
            org,
            &script.name,
            &definition,
            &caller.principal.username,
            crate::now_ms(),
            None,
        )
        .await?;
    caller.acting_in(org);
    caller.changed(json!(before), json!(saved));
    Ok(Json(saved))
}

/// A script as lists answer it: the record with its editable `fields`
/// (the definition, the shape `PATCH` takes and `steward apply` writes).
fn answer(record: &ScriptRecord) -> Value {
    super::lifecycle::with_fields(record, record.definition.clone())
}

pub async fn list_scripts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_scripts(&caller.scope).await?;
    Ok(Json(records.iter().map(answer).collect()))
}

/// One script by id or name, with its file form.
pub async fn show_script(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.store.get_script(&caller.scope, &id).await?;
    let file = serde_json::from_value::<ScriptDef>(record.definition.clone())
        .map(|s| s.to_file())
        .unwrap_or_default();
    let mut value = answer(&record);
    value["file"] = file.into();
    Ok(tagged(record.version, value))
}

/// What a script's definition holds, for `PATCH`: anything else is refused
/// by name.
const SCRIPT_FIELDS: [&str; 7] = [
    "name",
    "description",
    "interpreter",
    "body",
    "params",
    "timeout_secs",
    "run_as",
];

/// Changes fields of a script's definition, saved as its next version.
/// The name stays: schedules and remediations find the script by it.
pub async fn patch_script(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let expected = expected_version(&headers)?;
    let current = state.store.get_script(&caller.scope, &id).await?;
    // Scripts run organisation-wide: a grant for one site reads them but
    // does not change them (as saving one needs).
    if !caller.scope.allows_org(current.org_id) {
        return Err(ApiError::forbidden(
            "you cannot change the scripts of that organisation",
        ));
    }
    if let Some(unknown) = patch
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, _)| key)
        .find(|key| !SCRIPT_FIELDS.contains(&key.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "invalid script: unknown field `{unknown}`, expected one of {}",
            SCRIPT_FIELDS.join(", ")
        )));
    }
    let merged = overlay(current.definition.clone(), patch)?;
    let script: ScriptDef = super::lifecycle::read_as(merged, "script")?;
    script
        .validate()
        .map_err(|e| ApiError::bad_request(format!("invalid script: {}", e.0)))?;
    if script.name != current.name {
        return Err(ApiError::bad_request(format!(
            "a script keeps its name ({}): schedules and remediations find it by it; save it under the new name and delete this one",
            current.name
        )));
    }
    caller.acting_in(current.org_id);
    let saved = state
        .store
        .save_script(
            current.org_id,
            &script.name,
            &serde_json::to_value(&script).unwrap_or_default(),
            &caller.principal.username,
            crate::now_ms(),
            // Without If-Match, still no lost update: the version just read.
            expected.or(Some(current.version)),
        )
        .await?;
    caller.changed(json!(current), json!(saved));
    Ok(tagged(saved.version, answer(&saved)))
}

pub async fn script_versions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<ScriptVersion>> {
    let record = state.store.get_script(&caller.scope, &id).await?;
    Ok(Json(
        state
            .store
            .script_versions(&caller.scope, record.id)
            .await?,
    ))
}

pub async fn delete_script(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let record = state.store.get_script(&caller.scope, &id).await?;
    caller.acting_in(record.org_id);
    // What runs it later keeps it: named, not broken.
    let by = |name: &Value| name == record.name.as_str() || name == record.id.to_string().as_str();
    let mut users = Vec::new();
    for s in state
        .store
        .list_schedules(&steward_store::Scope::all())
        .await?
    {
        if s.org_id == record.org_id && by(&s.job["script"]) {
            users.push(format!("schedule {:?}", s.name));
        }
    }
    for m in state
        .store
        .list_monitors(&steward_store::Scope::all())
        .await?
    {
        if m.org_id == record.org_id && by(&m.definition["remediation"]["script"]) {
            users.push(format!("the self-healing of monitor {:?}", m.name));
        }
    }
    if !users.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!(
                "the script {} is run by {}: change or delete those first",
                record.name,
                users.join(", ")
            ),
        ));
    }
    state.store.delete_script(&caller.scope, record.id).await?;
    caller.changed(json!(record), Value::Null);
    Ok(Json(json!({ "deleted": record.id })))
}
