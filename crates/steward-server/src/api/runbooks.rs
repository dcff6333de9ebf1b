//! Runbooks: documented procedures (Markdown), organisation-wide, each
//! edit a new version (old ones read at `…/versions`), attached to
//! monitors, alert kinds, scripts and problems, offering scripts to run
//! with one click from an incident (`run_from_incident`: a job created
//! with the clicking user's authority, put on the incident's timeline).
//! Reading needs `devices.view` anywhere in the organisation; changing one
//! needs `devices.manage` for the whole of it.

use super::lifecycle::{expected_version, overlay, read_as, tagged};
use super::{ApiError, ApiResult, id_param, org_named};
use crate::AppState;
use crate::auth::Caller;
use crate::jobs::{self, JobRequest};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_incident::runbooks::{Runbook, Subject, applies};
use steward_store::{IncidentRecord, RunbookRecord, Scope, TimelineEntry};
use uuid::Uuid;

/// The stored definition, read back as a [`Runbook`] (a corrupt one as
/// its title only, so it can still be read and fixed).
fn definition(record: &RunbookRecord) -> Runbook {
    serde_json::from_value(record.definition.clone()).unwrap_or(Runbook {
        title: record.title.clone(),
        body: String::new(),
        monitors: vec![],
        alert_kinds: vec![],
        scripts: vec![],
        problems: vec![],
        offers: vec![],
    })
}

/// A runbook as the API answers it: id, organisation, version and who
/// saved it last, the definition's fields at the top, and `fields`.
pub fn answer(record: &RunbookRecord) -> Value {
    let fields = serde_json::to_value(definition(record)).unwrap_or_default();
    let mut value = json!({
        "id": record.id,
        "org_id": record.org_id,
        "version": record.version,
        "updated_at": record.updated_at,
        "updated_by": record.updated_by,
    });
    if let (Some(out), Some(def)) = (value.as_object_mut(), fields.as_object()) {
        for (k, v) in def {
            out.insert(k.clone(), v.clone());
        }
    }
    value["fields"] = fields;
    value
}

/// Checks a definition: its own rules, and every script it offers exists
/// in the organisation.
async fn check(state: &AppState, org: Uuid, runbook: Runbook) -> Result<Runbook, ApiError> {
    let runbook = runbook
        .check()
        .map_err(|e| ApiError::bad_request(format!("invalid runbook: {e}")))?;
    for script in &runbook.offers {
        if state
            .store
            .get_script(&Scope::org(org), script)
            .await
            .is_err()
        {
            return Err(ApiError::bad_request(format!(
                "invalid runbook: it offers the script {script:?}, which this organisation does not have"
            )));
        }
    }
    Ok(runbook)
}

fn whole_org(caller: &Caller, org: Uuid) -> Result<(), ApiError> {
    if caller.scope.allows_org(org) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "runbooks belong to the whole organisation: changing one needs devices.manage there, not at one site",
        ))
    }
}

pub async fn create_runbook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(mut body): Json<Value>,
) -> ApiResult<Value> {
    // A runbook as it is created: its definition, plus the organisation.
    let org = match body.as_object_mut().and_then(|b| b.remove("org")) {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err(ApiError::bad_request("org is an organisation's name")),
    };
    let runbook: Runbook = read_as(body, "runbook")?;
    let org = org_named(&state, &caller, org.as_deref()).await?;
    whole_org(&caller, org)?;
    caller.acting_in(org);
    let runbook = check(&state, org, runbook).await?;
    let record = RunbookRecord {
        id: Uuid::now_v7(),
        org_id: org,
        title: runbook.title.clone(),
        definition: serde_json::to_value(&runbook).unwrap_or_default(),
        version: 1,
        updated_at: crate::now_ms(),
        updated_by: caller.principal.username.clone(),
    };
    state.store.create_runbook(&record).await?;
    caller.changed(Value::Null, record.definition.clone());
    Ok(Json(answer(&record)))
}

pub async fn list_runbooks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_runbooks(&caller.scope).await?;
    Ok(Json(records.iter().map(answer).collect()))
}

pub async fn get_runbook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "runbook")?;
    let record = state.store.get_runbook(&caller.scope, id).await?;
    Ok(tagged(record.version, answer(&record)))
}

/// Saves the fields laid over the current definition as the next
/// version.
pub async fn patch_runbook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "runbook")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_runbook(&caller.scope, id).await?;
    whole_org(&caller, current.org_id)?;
    caller.acting_in(current.org_id);
    let before = serde_json::to_value(definition(&current)).unwrap_or_default();
    let runbook: Runbook = read_as(overlay(before.clone(), patch)?, "runbook")?;
    let runbook = check(&state, current.org_id, runbook).await?;
    let defined = serde_json::to_value(&runbook).unwrap_or_default();
    let expected = expected.or(Some(current.version));
    let mut saved = RunbookRecord {
        title: runbook.title,
        definition: defined.clone(),
        updated_at: crate::now_ms(),
        updated_by: caller.principal.username.clone(),
        ..current
    };
    // Without If-Match, still no lost update: the version just read.
    saved.version = state
        .store
        .save_runbook_version(&caller.scope, &saved, expected)
        .await?;
    caller.changed(before, defined);
    Ok(tagged(saved.version, answer(&saved)))
}

pub async fn delete_runbook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "runbook")?;
    let current = state.store.get_runbook(&caller.scope, id).await?;
    whole_org(&caller, current.org_id)?;
    caller.acting_in(current.org_id);
    state.store.delete_runbook(&caller.scope, id).await?;
    caller.changed(current.definition, Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

/// Every saved version, newest first.
pub async fn runbook_versions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "runbook")?;
    Ok(Json(json!(
        state.store.runbook_versions(&caller.scope, id).await?
    )))
}

/// What an incident is about, as runbooks are attached: its alerts'
/// monitors (ids and names) and kinds, and the problems that list it.
/// Read organisation-wide (runbooks and monitors are org-wide rows; the
/// caller already reads the incident).
pub async fn subject_of(state: &AppState, incident: &IncidentRecord) -> Subject {
    let org = Scope::org(incident.org_id);
    let mut subject = Subject::default();
    let alerts = state
        .store
        .list_alerts(&org, false)
        .await
        .unwrap_or_default();
    let monitors = state.store.list_monitors(&org).await.unwrap_or_default();
    for alert in alerts.iter().filter(|a| incident.alerts.contains(&a.id)) {
        let mut names = vec![alert.monitor_id.clone(), alert.monitor_name.clone()];
        let kind = match monitors
            .iter()
            .find(|m| m.id.to_string() == alert.monitor_id)
        {
            Some(m) => {
                names.push(m.name.clone());
                m.definition["spec"]["kind"]
                    .as_str()
                    .unwrap_or(&alert.monitor_id)
                    .to_string()
            }
            // A built-in alert (offline, patching, …): its id is its kind.
            None => alert.monitor_id.clone(),
        };
        for name in names {
            if !subject.monitors.contains(&name) {
                subject.monitors.push(name);
            }
        }
        if !subject.alert_kinds.contains(&kind) {
            subject.alert_kinds.push(kind);
        }
    }
    for problem in state.store.list_problems(&org).await.unwrap_or_default() {
        if problem.incidents.contains(&incident.id) {
            subject.problems.push(problem.id.to_string());
            subject.problems.push(problem.signature.clone());
        }
    }
    subject
}

/// The runbooks of the incident's organisation that apply to it.
pub async fn for_incident(state: &AppState, incident: &IncidentRecord) -> Vec<RunbookRecord> {
    let subject = subject_of(state, incident).await;
    state
        .store
        .list_runbooks(&Scope::org(incident.org_id))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| applies(&definition(r), &subject))
        .collect()
}

pub async fn incident_runbooks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<Value>> {
    let id = id_param(&id, "incident")?;
    let incident = state.store.get_incident(&caller.scope, id).await?;
    Ok(Json(
        for_incident(&state, &incident)
            .await
            .iter()
            .map(answer)
            .collect(),
    ))
}

/// A one-click run: a script a runbook offers, on the incident's devices
/// (or some of them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookRun {
    runbook: Uuid,
    script: String,
    #[serde(default)]
    devices: Option<Vec<Uuid>>,
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
}

/// Runs a script a runbook offers on the incident's devices as the
/// caller (their `scripts.run` scope bounds which devices it reaches), and
/// puts the job on the incident's timeline.
pub async fn run_from_incident(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(run): Json<RunbookRun>,
) -> ApiResult<Value> {
    let id = id_param(&id, "incident")?;
    let incident = state.store.get_incident(&caller.scope, id).await?;
    caller.acting_in(incident.org_id);
    let runbook = state
        .store
        .get_runbook(&Scope::org(incident.org_id), run.runbook)
        .await
        .map_err(|_| ApiError::bad_request("no such runbook in this incident's organisation"))?;
    if !definition(&runbook).offers.contains(&run.script) {
        return Err(ApiError::bad_request(format!(
            "the runbook {:?} does not offer the script {:?}",
            runbook.title, run.script
        )));
    }
    let devices = match run.devices {
        Some(devices) => {
            if let Some(stranger) = devices.iter().find(|d| !incident.devices.contains(d)) {
                return Err(ApiError::bad_request(format!(
                    "the device {stranger} is not linked to this incident"
                )));
            }
            devices
        }
        None => incident.devices.clone(),
    };
    if devices.is_empty() {
        return Err(ApiError::bad_request(
            "this incident links no device to run the script on",
        ));
    }
    let request = JobRequest {
        name: Some(format!("{} (runbook {})", run.script, runbook.title)),
        script: Some(run.script.clone()),
        params: run.params,
        targets: devices.iter().map(|d| format!("device:{d}")).collect(),
        ..JobRequest::default()
    };
    let created = jobs::create_job(
        &state,
        incident.org_id,
        &caller.scope,
        &request,
        &caller.principal.username,
        None,
    )
    .await?;
    let entry = TimelineEntry {
        at: crate::now_ms(),
        actor: caller.principal.username.clone(),
        kind: "job".into(),
        body: json!({
            "job_id": created.id,
            "script": run.script,
            "runbook": runbook.id,
            "runbook_title": runbook.title,
            "targets": created.targets,
            "state": created.state,
        }),
    };
    state
        .store
        .append_timeline(&Scope::org(incident.org_id), id, &entry)
        .await?;
    caller.changed(Value::Null, entry.body.clone());
    Ok(Json(
        json!({ "incident_id": id, "job": created, "entry": entry }),
    ))
}
