//! Inbound email (`/api/v1/email-routes`, lifecycle convention) and the
//! public route a mail provider's inbound route or an MTA pipe posts a
//! raw RFC 822 message to (`POST /api/v1/inbound-email/{id}`).
//!
//! A delivery carries the route's secret (`X-Steward-Key`, or HTTP Basic
//! with it as the password, as providers' inbound URLs allow), at most
//! [`MAX_MESSAGE`] bytes (413 beyond). The message is parsed with
//! `mail-parser`; what it does is decided by `steward_incident::email`:
//! only senders the route's rules name (addresses, `@domains`) are taken
//! (others: 403 and an audit entry), HTML is made plain text, attachments
//! are never kept (their names and sizes are noted), a Message-ID seen
//! before is refused (409, claimed in the database so on every replica),
//! and a subject naming an incident (`[incident <id>]`, as Steward's
//! incident emails carry) adds a note to it; any other opens one. A
//! delivery acts under the route's creator, whose grants are read again
//! each time. The sender's address is what the message says: the MTA in
//! front should check SPF/DKIM before it hands a message on.

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
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use steward_incident::email::{self, Action, Refusal};
use steward_store::{
    INCIDENT_PRIORITIES, InboundEmailRouteRecord, IncidentRecord, Scope, Store, TimelineEntry,
};
use uuid::Uuid;

/// The largest message: 256 KiB (attachments count; they are not kept).
pub const MAX_MESSAGE: usize = 256 * 1024;
/// The header with the route's secret.
pub const KEY_HEADER: &str = "x-steward-key";
/// How long a Message-ID is kept against replays: 30 days.
const REPLAY_MS: i64 = 30 * 86_400_000;
/// What the audit names as the source of a delivery.
const SOURCE: &str = "inbound-email";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRoute {
    #[serde(default)]
    org: Option<String>,
    name: String,
    senders: Vec<String>,
    #[serde(default)]
    priority: Option<String>,
}

pub fn view(r: &InboundEmailRouteRecord) -> Value {
    json!({ "name": r.name, "senders": r.senders, "priority": r.priority })
}

fn answer(r: &InboundEmailRouteRecord) -> Value {
    let mut body = super::lifecycle::with_fields(r, view(r));
    body["url"] = json!(format!("/api/v1/inbound-email/{}", r.id));
    body
}

struct Checked {
    name: String,
    senders: Vec<String>,
    priority: String,
}

fn check(body: NewRoute) -> Result<Checked, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a route needs a name of 1-100 characters, without control characters",
        ));
    }
    let priority = body.priority.unwrap_or_else(|| "p3".into());
    if !INCIDENT_PRIORITIES.contains(&priority.as_str()) {
        return Err(ApiError::bad_request(format!(
            "priority is one of {}, not {priority:?}",
            INCIDENT_PRIORITIES.join(", ")
        )));
    }
    Ok(Checked {
        name: name.to_string(),
        senders: email::check_rules(&body.senders).map_err(ApiError::bad_request)?,
        priority,
    })
}

fn allowed(caller: &Caller, org: Uuid, what: &str) -> Result<(), ApiError> {
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(format!(
            "email routes belong to the whole organisation: {what} one needs devices.manage there, not at one site"
        )));
    }
    Ok(())
}

pub async fn create_email_route(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewRoute>,
) -> ApiResult<Value> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    allowed(&caller, org, "creating")?;
    // Deliveries act later under the creator's authority.
    may_leave_standing_work(&caller.principal).map_err(ApiError::forbidden)?;
    caller.acting_in(org);
    let checked = check(body)?;
    let now = crate::now_ms();
    let record = InboundEmailRouteRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: checked.name,
        secret: random_secret(32),
        senders: checked.senders,
        priority: checked.priority,
        created_by: caller.principal.username.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    state.store.create_email_route(&record).await?;
    caller.changed(Value::Null, view(&record));
    let mut answered = answer(&record);
    // Shown this once.
    answered["secret"] = json!(record.secret);
    Ok(Json(answered))
}

pub async fn list_email_routes(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_email_routes(&caller.scope).await?;
    Ok(Json(records.iter().map(answer).collect()))
}

pub async fn get_email_route(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "email route")?;
    let record = state.store.get_email_route(&caller.scope, id).await?;
    Ok(tagged(record.version, answer(&record)))
}

pub async fn patch_email_route(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "email route")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_email_route(&caller.scope, id).await?;
    allowed(&caller, current.org_id, "changing")?;
    caller.acting_in(current.org_id);
    let body: NewRoute = read_as(overlay(view(&current), patch)?, "email route")?;
    if body.org.is_some() {
        return Err(ApiError::bad_request(
            "a route cannot move to another organisation",
        ));
    }
    let checked = check(body)?;
    let mut record = InboundEmailRouteRecord {
        name: checked.name,
        senders: checked.senders,
        priority: checked.priority,
        updated_at: crate::now_ms(),
        ..current.clone()
    };
    record.version = state
        .store
        .update_email_route(&caller.scope, &record, expected.or(Some(current.version)))
        .await?;
    caller.changed(view(&current), view(&record));
    Ok(tagged(record.version, answer(&record)))
}

pub async fn delete_email_route(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "email route")?;
    let current = state.store.get_email_route(&caller.scope, id).await?;
    allowed(&caller, current.org_id, "deleting")?;
    caller.acting_in(current.org_id);
    state.store.delete_email_route(&caller.scope, id).await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

/// The secret a delivery carries: `X-Steward-Key`, or HTTP Basic's
/// password.
fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(key) = headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(key.to_string());
    }
    let basic = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split_once(':')?.1.to_string())
}

/// Compares secrets by their SHA-256 (constant time over equal lengths).
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The message as `steward_incident::email` reads it.
fn read_message(raw: &[u8]) -> Result<email::Message, ApiError> {
    let malformed =
        || ApiError::bad_request("the body is not an RFC 822 message (no header block was found)");
    if raw.is_empty() {
        return Err(malformed());
    }
    let parsed = MessageParser::default().parse(raw).ok_or_else(malformed)?;
    let text = parsed.text_bodies().find_map(|p| match &p.body {
        PartType::Text(t) => Some(t.to_string()),
        _ => None,
    });
    let html = parsed.html_bodies().find_map(|p| match &p.body {
        PartType::Html(t) => Some(t.to_string()),
        _ => None,
    });
    Ok(email::Message {
        from: parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_string),
        subject: parsed.subject().map(str::to_string),
        message_id: parsed.message_id().map(str::to_string),
        text,
        html,
        attachments: parsed
            .attachments()
            .map(|a| {
                (
                    a.attachment_name().unwrap_or("unnamed").to_string(),
                    a.len(),
                )
            })
            .collect(),
    })
}

/// Whether the route's creator may still manage every device of its
/// organisation; why not.
async fn creator_allowed(store: &dyn Store, route: &InboundEmailRouteRecord) -> Result<(), String> {
    let who = &route.created_by;
    crate::jobs::authority::org_manager(store, who, route.org_id, "the email route")
        .await
        .map(drop)
}

async fn audit(
    store: &dyn Store,
    route: &InboundEmailRouteRecord,
    action: &str,
    target: String,
    detail: Value,
) {
    let (org, actor) = (Some(route.org_id), &route.created_by);
    crate::audit::write_to(store, org, actor, SOURCE, action, &target, detail).await;
}

/// `POST /api/v1/inbound-email/{id}`: a raw message opens an incident or
/// adds a note to the one its subject names.
pub async fn receive(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Value> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a message is at most {} KiB", MAX_MESSAGE / 1024),
            )
        } else {
            ApiError::bad_request(format!("the message could not be read: {e}"))
        }
    })?;
    let store = state.store.as_ref();
    let id = id_param(&id, "email route")?;
    let route = store
        .get_email_route(&Scope::all(), id)
        .await
        .map_err(|_| ApiError::not_found("no such email route"))?;
    match presented(&headers) {
        Some(key) if same_secret(&key, &route.secret) => {}
        _ => {
            return Err(ApiError::unauthorized(format!(
                "a delivery carries the route's secret in {KEY_HEADER} (or as HTTP Basic's password)"
            )));
        }
    }
    let message = read_message(&body)?;
    let action = match email::decide(&route.senders, &message) {
        Ok(action) => action,
        Err(Refusal::Malformed(why)) => return Err(ApiError::bad_request(why)),
        Err(Refusal::Sender(why)) => {
            audit(
                store,
                &route,
                "inbound_email.refused",
                route.id.to_string(),
                json!({ "why": why }),
            )
            .await;
            return Err(ApiError::forbidden(why));
        }
    };
    if let Err(why) = creator_allowed(store, &route).await {
        audit(
            store,
            &route,
            "inbound_email.refused",
            route.id.to_string(),
            json!({ "why": why }),
        )
        .await;
        return Err(ApiError::forbidden(why));
    }
    let now = crate::now_ms();
    let message_id = message.message_id.clone().unwrap_or_default();
    if !store
        .claim_email_message(route.id, &message_id, now, now - REPLAY_MS)
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("message {message_id:?} was received already (replayed Message-ID)"),
        ));
    }
    let from = message.from.clone().unwrap_or_default();
    let via = json!({ "email_route": route.id, "name": route.name, "from": from, "message_id": message_id });
    let entry = |kind: &str, mut body: Value| {
        body["via"] = via.clone();
        TimelineEntry {
            at: now,
            actor: route.created_by.clone(),
            kind: kind.into(),
            body,
        }
    };
    let scope = Scope::org(route.org_id);
    let (incident, created) = match action {
        Action::Note { incident, note } => {
            let id = Uuid::parse_str(&incident).map_err(|_| {
                ApiError::bad_request(format!("{incident:?} is not an incident id"))
            })?;
            let record = store.get_incident(&scope, id).await.map_err(|_| {
                ApiError::not_found(format!(
                    "the subject names incident {id}, which this organisation does not have"
                ))
            })?;
            store
                .append_timeline(&scope, id, &entry("note", json!({ "text": note })))
                .await?;
            events::send(
                store,
                &record,
                "incident.note",
                &route.created_by,
                now,
                Some(note.as_str()),
            )
            .await;
            (record, false)
        }
        Action::Open { title, note } => {
            let record = IncidentRecord {
                id: Uuid::now_v7(),
                org_id: route.org_id,
                title,
                status: "open".into(),
                priority: route.priority.clone(),
                assignee: None,
                devices: Vec::new(),
                alerts: Vec::new(),
                time_spent_ms: 0,
                opened_at: now,
                opened_by: route.created_by.clone(),
                acknowledged_at: None,
                resolved_at: None,
                closed_at: None,
                last_activity: now,
                version: 1,
            };
            let timeline = [
                entry(
                    "opened",
                    json!({ "title": record.title, "priority": record.priority }),
                ),
                entry("note", json!({ "text": note })),
            ];
            store.create_incident(&record, &timeline).await?;
            events::send(
                store,
                &record,
                "incident.opened",
                &route.created_by,
                now,
                None,
            )
            .await;
            (record, true)
        }
    };
    audit(
        store,
        &route,
        if created {
            "inbound_email.opened"
        } else {
            "inbound_email.noted"
        },
        incident.id.to_string(),
        json!({ "route": route.id, "from": from, "message_id": message_id }),
    )
    .await;
    Ok(Json(json!({
        "incident_id": incident.id, "created": created, "status": incident.status,
    })))
}
