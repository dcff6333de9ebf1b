//! Incidents as people work them: opened by hand or by alerting
//! (`crate::incidents`), listed (`?status=`, `?priority=`, `?devices=ID`,
//! paged), read with their timeline, edited under a version (status,
//! priority, assignee, devices, time spent; each status change stamps its
//! time and goes on the timeline with who), noted, deleted.

use super::lifecycle::{expected_version, overlay, read_as, tagged};
use super::{ApiError, ApiResult, id_param, org_named};
use crate::AppState;
use crate::auth::Caller;
use crate::incident_events as events;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_incident::status::{Stamps, stamp};
use steward_store::{INCIDENT_PRIORITIES, INCIDENT_STATUSES, IncidentRecord, TimelineEntry};
use uuid::Uuid;

/// Longest note, in bytes.
const MAX_NOTE: usize = 16 * 1024;
/// Most devices one incident links.
const MAX_DEVICES: usize = 1000;
/// Most time spent one incident records (ten years, in milliseconds).
const MAX_TIME_SPENT_MS: i64 = 10 * 365 * 86_400_000;

/// An incident as it is opened by hand and edited (`PATCH` fields).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    title: String,
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    devices: Vec<Uuid>,
    #[serde(default)]
    time_spent_ms: Option<i64>,
}

/// A stored incident in the shape [`NewIncident`] reads.
pub fn view(record: &IncidentRecord) -> Value {
    json!({
        "title": record.title,
        "status": record.status,
        "priority": record.priority,
        "assignee": record.assignee,
        "devices": record.devices,
        "time_spent_ms": record.time_spent_ms,
    })
}

fn answer(record: &IncidentRecord) -> Value {
    super::lifecycle::with_fields(record, view(record))
}

/// Checks the fields and lays them over `current` (or a new incident of
/// `org`), stamping the times a status change makes.
async fn build(
    state: &AppState,
    caller: &Caller,
    current: Option<&IncidentRecord>,
    org: Uuid,
    body: NewIncident,
) -> Result<IncidentRecord, ApiError> {
    let title = body.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "an incident needs a title of 1-200 characters, without control characters",
        ));
    }
    let status = body.status.unwrap_or_else(|| "open".into());
    if !INCIDENT_STATUSES.contains(&status.as_str()) {
        return Err(ApiError::bad_request(format!(
            "status is one of {}, not {status:?}",
            INCIDENT_STATUSES.join(", ")
        )));
    }
    let priority = body.priority.unwrap_or_else(|| "p3".into());
    if !INCIDENT_PRIORITIES.contains(&priority.as_str()) {
        return Err(ApiError::bad_request(format!(
            "priority is one of {}, not {priority:?}",
            INCIDENT_PRIORITIES.join(", ")
        )));
    }
    if let Some(assignee) = &body.assignee
        && (assignee.is_empty()
            || assignee.len() > 64
            || !assignee
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c)))
    {
        return Err(ApiError::bad_request(format!(
            "assignee is a username (letters, digits, . _ @ -), not {assignee:?}"
        )));
    }
    let time_spent_ms = body.time_spent_ms.unwrap_or(0);
    if !(0..=MAX_TIME_SPENT_MS).contains(&time_spent_ms) {
        return Err(ApiError::bad_request(
            "time_spent_ms is from 0 to ten years in milliseconds",
        ));
    }
    let mut devices = current.map(|c| c.devices.clone()).unwrap_or_default();
    if body.devices.len() > MAX_DEVICES {
        return Err(ApiError::bad_request(format!(
            "an incident links at most {MAX_DEVICES} devices"
        )));
    }
    for device in body.devices {
        if devices.contains(&device) {
            continue;
        }
        let found = state.store.get_device(&caller.scope, device).await;
        match found {
            Ok(d) if d.summary.org_id == org => devices.push(device),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "no device {device} in this incident's organisation"
                )));
            }
        }
    }
    let now = crate::now_ms();
    let before = current.map_or(Stamps::default(), |c| Stamps {
        acknowledged_at: c.acknowledged_at,
        resolved_at: c.resolved_at,
        closed_at: c.closed_at,
    });
    let changed = current.is_none_or(|c| c.status != status);
    let stamps = if changed {
        stamp(&status, before, now)
    } else {
        before
    };
    Ok(IncidentRecord {
        id: current.map_or_else(Uuid::now_v7, |c| c.id),
        org_id: org,
        title,
        status,
        priority,
        assignee: body.assignee,
        devices,
        alerts: current.map(|c| c.alerts.clone()).unwrap_or_default(),
        time_spent_ms,
        opened_at: current.map_or(now, |c| c.opened_at),
        opened_by: current.map_or_else(
            || caller.principal.username.clone(),
            |c| c.opened_by.clone(),
        ),
        acknowledged_at: stamps.acknowledged_at,
        resolved_at: stamps.resolved_at,
        closed_at: stamps.closed_at,
        last_activity: now,
        version: current.map_or(1, |c| c.version),
    })
}

fn entry(caller: &Caller, kind: &str, body: Value) -> TimelineEntry {
    TimelineEntry {
        at: crate::now_ms(),
        actor: caller.principal.username.clone(),
        kind: kind.into(),
        body,
    }
}

pub async fn create_incident(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewIncident>,
) -> ApiResult<Value> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(
            "incidents belong to the whole organisation: opening one needs devices.manage there, not at one site",
        ));
    }
    let record = build(&state, &caller, None, org, body).await?;
    let opened = entry(
        &caller,
        "opened",
        json!({ "title": record.title, "priority": record.priority }),
    );
    state.store.create_incident(&record, &[opened]).await?;
    caller.changed(Value::Null, view(&record));
    let who = &caller.principal.username;
    events::send(
        state.store.as_ref(),
        &record,
        "incident.opened",
        who,
        record.opened_at,
        None,
    )
    .await;
    Ok(Json(answer(&record)))
}

pub async fn list_incidents(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state
        .store
        .list_incidents(&caller.scope, &Default::default())
        .await?;
    Ok(Json(records.iter().map(answer).collect()))
}

pub async fn get_incident(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "incident")?;
    let record = state.store.get_incident(&caller.scope, id).await?;
    let timeline = state.store.incident_timeline(&caller.scope, id).await?;
    let mut body = answer(&record);
    body["timeline"] = json!(timeline);
    Ok(tagged(record.version, body))
}

pub async fn patch_incident(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "incident")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_incident(&caller.scope, id).await?;
    let body: NewIncident = read_as(overlay(view(&current), patch)?, "incident")?;
    if let Some(org) = body.org.as_deref()
        && org_named(&state, &caller, Some(org)).await? != current.org_id
    {
        return Err(ApiError::bad_request(
            "an incident cannot move to another organisation",
        ));
    }
    let mut record = build(&state, &caller, Some(&current), current.org_id, body).await?;
    let mut timeline = Vec::new();
    if record.status != current.status {
        timeline.push(entry(
            &caller,
            "status",
            json!({ "from": current.status, "to": record.status }),
        ));
    }
    let (before, after) = (view(&current), view(&record));
    let edited: Vec<&str> = ["title", "priority", "assignee", "devices", "time_spent_ms"]
        .into_iter()
        .filter(|f| before[*f] != after[*f])
        .collect();
    if !edited.is_empty() {
        let changes: serde_json::Map<String, Value> = edited
            .iter()
            .map(|f| (f.to_string(), after[*f].clone()))
            .collect();
        timeline.push(entry(&caller, "edit", Value::Object(changes)));
    }
    record.version = state
        .store
        .update_incident(
            &caller.scope,
            &record,
            expected.or(Some(current.version)),
            &timeline,
        )
        .await?;
    caller.changed(before, after);
    if record.status != current.status {
        let event = events::status_event(&record.status);
        let who = &caller.principal.username;
        events::send(
            state.store.as_ref(),
            &record,
            event,
            who,
            record.last_activity,
            None,
        )
        .await;
    }
    let mut answered = answer(&record);
    answered["timeline"] = json!(state.store.incident_timeline(&caller.scope, id).await?);
    Ok(tagged(record.version, answered))
}

pub async fn delete_incident(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "incident")?;
    let current = state.store.get_incident(&caller.scope, id).await?;
    if !caller.scope.allows_org(current.org_id) {
        return Err(ApiError::forbidden(
            "this incident belongs to the whole organisation: deleting it needs devices.manage there, not at one site",
        ));
    }
    state.store.delete_incident(&caller.scope, id).await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    text: String,
    /// Time worked, added to the incident's time spent.
    #[serde(default)]
    time_spent_ms: Option<i64>,
}

pub async fn add_note(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(note): Json<NewNote>,
) -> ApiResult<Value> {
    let id = id_param(&id, "incident")?;
    let text = note.text.trim();
    if text.is_empty() || text.len() > MAX_NOTE {
        return Err(ApiError::bad_request(format!(
            "a note is 1 to {MAX_NOTE} bytes of text"
        )));
    }
    let spent = note.time_spent_ms.unwrap_or(0);
    if !(0..=MAX_TIME_SPENT_MS).contains(&spent) {
        return Err(ApiError::bad_request(
            "time_spent_ms is from 0 to ten years in milliseconds",
        ));
    }
    let mut body = json!({ "text": text });
    if spent > 0 {
        body["time_spent_ms"] = json!(spent);
        let mut current = state.store.get_incident(&caller.scope, id).await?;
        current.time_spent_ms = (current.time_spent_ms + spent).min(MAX_TIME_SPENT_MS);
        current.last_activity = crate::now_ms();
        state
            .store
            .update_incident(&caller.scope, &current, Some(current.version), &[])
            .await?;
    }
    let note = entry(&caller, "note", body);
    state
        .store
        .append_timeline(&caller.scope, id, &note)
        .await?;
    caller.changed(Value::Null, json!({ "note": note.body }));
    if let Ok(incident) = state.store.get_incident(&caller.scope, id).await {
        let who = &caller.principal.username;
        events::send(
            state.store.as_ref(),
            &incident,
            "incident.note",
            who,
            note.at,
            Some(text),
        )
        .await;
    }
    Ok(Json(json!({ "incident_id": id, "entry": note })))
}
