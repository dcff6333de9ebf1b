//! Inbound incident webhooks (`/api/v1/incident-webhooks`, lifecycle
//! convention) and the public route a helpdesk or monitoring tool posts
//! to (`POST /api/v1/inbound/incidents/{id}`).
//!
//! A delivery is signed: `X-Steward-Timestamp` (Unix seconds) and
//! `X-Steward-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`
//! with the secret answered once when the webhook was created. A timestamp
//! older than [`WINDOW_SECS`] or in the future is refused, a signature
//! seen within the window is refused as a replay (claimed in the
//! database, so on every replica), a body over [`MAX_INBOUND_BODY`] gets
//! 413. A delivery acts under the name of the webhook's creator, whose
//! grants are read again each time: no longer managing the whole
//! organisation, the delivery gets 403 and an audit entry.

use super::lifecycle::{expected_version, overlay, read_as, tagged};
use super::{ApiError, ApiResult, id_param, org_named};
use crate::AppState;
use crate::auth::{Caller, random_secret};
use crate::incident_events as events;
use crate::jobs::authority::may_leave_standing_work;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use steward_incident::status::{Stamps, stamp};
use steward_store::{
    INCIDENT_PRIORITIES, INCIDENT_STATUSES, IncidentRecord, IncidentWebhookRecord, Scope, Store,
    TimelineEntry,
};
use uuid::Uuid;

/// The largest delivery body: 64 KiB.
pub const MAX_INBOUND_BODY: usize = 64 * 1024;
/// How old a delivery's timestamp may be, and how long its signature is
/// kept against replays.
pub const WINDOW_SECS: i64 = 300;
/// How far ahead of the server's clock a timestamp may be (clock skew).
const SKEW_SECS: i64 = 5;
/// The header with the delivery's time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-steward-timestamp";
/// The header with `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-steward-signature";
/// Longest description, in bytes.
const MAX_DESCRIPTION: usize = 16 * 1024;
/// What the audit names as the source of a delivery.
const SOURCE: &str = "inbound";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    #[serde(default)]
    org: Option<String>,
    name: String,
}

pub fn view(w: &IncidentWebhookRecord) -> Value {
    json!({ "name": w.name })
}

fn answer(w: &IncidentWebhookRecord) -> Value {
    let mut body = super::lifecycle::with_fields(w, view(w));
    body["url"] = json!(format!("/api/v1/inbound/incidents/{}", w.id));
    body
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a webhook needs a name of 1-100 characters, without control characters",
        ));
    }
    Ok(name.to_string())
}

fn allowed(caller: &Caller, org: Uuid, what: &str) -> Result<(), ApiError> {
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(format!(
            "incident webhooks belong to the whole organisation: {what} one needs devices.manage there, not at one site"
        )));
    }
    Ok(())
}

pub async fn create_incident_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewWebhook>,
) -> ApiResult<Value> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    allowed(&caller, org, "creating")?;
    // Deliveries act later under the creator's authority.
    may_leave_standing_work(&caller.principal).map_err(ApiError::forbidden)?;
    caller.acting_in(org);
    let now = crate::now_ms();
    let record = IncidentWebhookRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: check_name(&body.name)?,
        secret: random_secret(32),
        created_by: caller.principal.username.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    state.store.create_incident_webhook(&record).await?;
    caller.changed(Value::Null, view(&record));
    let mut answered = answer(&record);
    // Shown this once.
    answered["secret"] = json!(record.secret);
    Ok(Json(answered))
}

pub async fn list_incident_webhooks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_incident_webhooks(&caller.scope).await?;
    Ok(Json(records.iter().map(answer).collect()))
}

pub async fn get_incident_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "incident webhook")?;
    let record = state.store.get_incident_webhook(&caller.scope, id).await?;
    Ok(tagged(record.version, answer(&record)))
}

pub async fn patch_incident_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "incident webhook")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_incident_webhook(&caller.scope, id).await?;
    allowed(&caller, current.org_id, "changing")?;
    caller.acting_in(current.org_id);
    let body: NewWebhook = read_as(overlay(view(&current), patch)?, "incident webhook")?;
    if body.org.is_some() {
        return Err(ApiError::bad_request(
            "a webhook cannot move to another organisation",
        ));
    }
    let mut record = IncidentWebhookRecord {
        name: check_name(&body.name)?,
        updated_at: crate::now_ms(),
        ..current.clone()
    };
    record.version = state
        .store
        .update_incident_webhook(&caller.scope, &record, expected.or(Some(current.version)))
        .await?;
    caller.changed(view(&current), view(&record));
    Ok(tagged(record.version, answer(&record)))
}

pub async fn delete_incident_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "incident webhook")?;
    let current = state.store.get_incident_webhook(&caller.scope, id).await?;
    allowed(&caller, current.org_id, "deleting")?;
    caller.acting_in(current.org_id);
    state
        .store
        .delete_incident_webhook(&caller.scope, id)
        .await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

/// What a delivery says.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `sha256=<hex>` of `"{timestamp}.{body}"`, compared in constant time.
fn signed(secret: &str, timestamp: &str, body: &[u8], given: &str) -> bool {
    let Some(hex_part) = given.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_part) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized(format!("the delivery has no {name} header")))
}

/// Checks the delivery's time and signature; claims the signature.
async fn authentic(
    store: &dyn Store,
    hook: &IncidentWebhookRecord,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<(), ApiError> {
    let timestamp = header(headers, TIMESTAMP_HEADER)?;
    let signature = header(headers, SIGNATURE_HEADER)?;
    let at: i64 = timestamp.parse().map_err(|_| {
        ApiError::unauthorized(format!(
            "{TIMESTAMP_HEADER} is Unix seconds, not {timestamp:?}"
        ))
    })?;
    if at < now_secs - WINDOW_SECS {
        return Err(ApiError::unauthorized(format!(
            "the delivery's timestamp is more than {WINDOW_SECS} seconds old"
        )));
    }
    if at > now_secs + SKEW_SECS {
        return Err(ApiError::unauthorized(
            "the delivery's timestamp is in the future",
        ));
    }
    if !signed(&hook.secret, timestamp, body, signature) {
        return Err(ApiError::unauthorized(format!(
            "{SIGNATURE_HEADER} is not the HMAC-SHA256 of \"timestamp.body\" with this webhook's secret"
        )));
    }
    let now_ms = now_secs * 1000;
    let fresh = store
        .claim_inbound_delivery(hook.id, signature, now_ms, now_ms - 2 * WINDOW_SECS * 1000)
        .await?;
    if !fresh {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this delivery was received already (replayed signature)",
        ));
    }
    Ok(())
}

/// Whether the webhook's creator may still manage every device of its
/// organisation; why not.
async fn creator_allowed(store: &dyn Store, hook: &IncidentWebhookRecord) -> Result<(), String> {
    let who = &hook.created_by;
    crate::jobs::authority::org_manager(store, who, hook.org_id, "the webhook")
        .await
        .map(drop)
}

fn text(value: Option<String>, what: &str, max: usize) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim().to_string();
    let bad = value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t');
    if value.is_empty() || value.len() > max || bad {
        return Err(ApiError::bad_request(format!(
            "{what} is 1 to {max} bytes of text without control characters"
        )));
    }
    Ok(Some(value))
}

fn one_of(value: Option<String>, what: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(ApiError::bad_request(format!(
            "{what} is one of {}, not {v:?}",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

/// A delivery's fields, checked.
struct Checked {
    title: Option<String>,
    description: Option<String>,
    priority: Option<String>,
    external_id: Option<String>,
    status: Option<String>,
}

fn check_delivery(body: &[u8]) -> Result<Checked, ApiError> {
    let d: Delivery = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the delivery is not a valid payload: {e}")))?;
    let title = text(d.title, "title", 200)?;
    if title.as_ref().is_some_and(|t| t.contains(['\n', '\t'])) {
        return Err(ApiError::bad_request("title is one line"));
    }
    let external_id = text(d.external_id, "external_id", 200)?;
    if external_id
        .as_ref()
        .is_some_and(|t| t.contains(['\n', '\t']))
    {
        return Err(ApiError::bad_request("external_id is one line"));
    }
    Ok(Checked {
        title,
        description: text(d.description, "description", MAX_DESCRIPTION)?,
        priority: one_of(d.priority, "priority", &INCIDENT_PRIORITIES)?,
        status: one_of(d.status, "status", &INCIDENT_STATUSES)?,
        external_id,
    })
}

fn entry(hook: &IncidentWebhookRecord, at: i64, kind: &str, mut body: Value) -> TimelineEntry {
    body["via"] = json!({ "webhook": hook.id, "name": hook.name });
    TimelineEntry {
        at,
        actor: hook.created_by.clone(),
        kind: kind.into(),
        body,
    }
}

async fn audit(
    store: &dyn Store,
    hook: &IncidentWebhookRecord,
    action: &str,
    target: String,
    detail: Value,
) {
    let (org, actor) = (Some(hook.org_id), &hook.created_by);
    crate::audit::write_to(store, org, actor, SOURCE, action, &target, detail).await;
}

/// `POST /api/v1/inbound/incidents/{id}`: opens an incident, or updates
/// the one its `external_id` opened before.
pub async fn deliver(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Value> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a delivery is at most {} KiB", MAX_INBOUND_BODY / 1024),
            )
        } else {
            ApiError::bad_request(format!("the delivery's body could not be read: {e}"))
        }
    })?;
    let store = state.store.as_ref();
    let id = id_param(&id, "incident webhook")?;
    let hook = store
        .get_incident_webhook(&Scope::all(), id)
        .await
        .map_err(|_| ApiError::not_found("no such incident webhook"))?;
    let now = crate::now_ms();
    authentic(store, &hook, &headers, &body, now / 1000).await?;
    let delivery = check_delivery(&body)?;
    if let Err(why) = creator_allowed(store, &hook).await {
        audit(
            store,
            &hook,
            "inbound.refused",
            hook.id.to_string(),
            json!({ "why": why }),
        )
        .await;
        return Err(ApiError::forbidden(why));
    }
    let scope = Scope::org(hook.org_id);
    let existing = match &delivery.external_id {
        Some(external) => store.external_incident(hook.id, external).await?,
        None => None,
    };
    let (incident, created) = match existing {
        Some(incident) => (
            update(store, &hook, &scope, incident, delivery, now).await?,
            false,
        ),
        None => (open(store, &hook, delivery, now).await?, true),
    };
    audit(
        store,
        &hook,
        if created {
            "inbound.opened"
        } else {
            "inbound.updated"
        },
        incident.id.to_string(),
        json!({ "webhook": hook.id, "status": incident.status, "priority": incident.priority }),
    )
    .await;
    Ok(Json(json!({
        "incident_id": incident.id, "created": created,
        "status": incident.status, "priority": incident.priority,
    })))
}

async fn open(
    store: &dyn Store,
    hook: &IncidentWebhookRecord,
    d: Checked,
    now: i64,
) -> Result<IncidentRecord, ApiError> {
    let title = d
        .title
        .ok_or_else(|| ApiError::bad_request("a delivery that opens an incident needs a title"))?;
    let status = d.status.unwrap_or_else(|| "open".into());
    let stamps = stamp(&status, Stamps::default(), now);
    let record = IncidentRecord {
        id: Uuid::now_v7(),
        org_id: hook.org_id,
        title,
        status,
        priority: d.priority.unwrap_or_else(|| "p3".into()),
        assignee: None,
        devices: Vec::new(),
        alerts: Vec::new(),
        time_spent_ms: 0,
        opened_at: now,
        opened_by: hook.created_by.clone(),
        acknowledged_at: stamps.acknowledged_at,
        resolved_at: stamps.resolved_at,
        closed_at: stamps.closed_at,
        last_activity: now,
        version: 1,
    };
    let mut timeline = vec![entry(
        hook,
        now,
        "opened",
        json!({ "title": record.title, "priority": record.priority, "external_id": d.external_id }),
    )];
    if let Some(text) = d.description {
        timeline.push(entry(hook, now, "note", json!({ "text": text })));
    }
    store.create_incident(&record, &timeline).await?;
    if let Some(external) = &d.external_id
        && !store
            .link_external_incident(hook.id, external, record.id)
            .await?
    {
        // Another delivery of the same external id won the race: this
        // incident goes, theirs stays.
        store
            .delete_incident(&Scope::org(hook.org_id), record.id)
            .await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "another delivery of this external_id is being handled: send it again",
        ));
    }
    events::send(
        store,
        &record,
        "incident.opened",
        &hook.created_by,
        now,
        None,
    )
    .await;
    Ok(record)
}

async fn update(
    store: &dyn Store,
    hook: &IncidentWebhookRecord,
    scope: &Scope,
    id: Uuid,
    d: Checked,
    now: i64,
) -> Result<IncidentRecord, ApiError> {
    let current = store.get_incident(scope, id).await?;
    let mut record = current.clone();
    let mut timeline = Vec::new();
    if let Some(status) = d.status.filter(|s| *s != current.status) {
        let before = Stamps {
            acknowledged_at: current.acknowledged_at,
            resolved_at: current.resolved_at,
            closed_at: current.closed_at,
        };
        let stamps = stamp(&status, before, now);
        record.acknowledged_at = stamps.acknowledged_at;
        record.resolved_at = stamps.resolved_at;
        record.closed_at = stamps.closed_at;
        timeline.push(entry(
            hook,
            now,
            "status",
            json!({ "from": current.status, "to": status }),
        ));
        record.status = status;
    }
    let mut edits = serde_json::Map::new();
    if let Some(title) = d.title.filter(|t| *t != current.title) {
        edits.insert("title".into(), json!(title));
        record.title = title;
    }
    if let Some(priority) = d.priority.filter(|p| *p != current.priority) {
        edits.insert("priority".into(), json!(priority));
        record.priority = priority;
    }
    if !edits.is_empty() {
        timeline.push(entry(hook, now, "edit", Value::Object(edits)));
    }
    if let Some(text) = d.description {
        timeline.push(entry(hook, now, "note", json!({ "text": text })));
    }
    record.last_activity = now;
    record.version = store
        .update_incident(scope, &record, Some(current.version), &timeline)
        .await?;
    if record.status != current.status {
        let event = events::status_event(&record.status);
        events::send(store, &record, event, &hook.created_by, now, None).await;
    }
    Ok(record)
}
