//! Notification channels (webhook, email, Slack, Teams): created, read,
//! edited in place (secrets kept unless replaced), disabled (nothing is
//! sent, notifications wait), deleted (with what still waits for them).

use super::lifecycle::{expected_version, named_conflict, overlay, read_as, tagged};
use super::monitors::{OrgNames, org_for, read_only_note, readable};
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
use steward_store::ChannelRecord;
use uuid::Uuid;

/// A channel as it is created, edited (`PATCH` fields) and exported.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    name: String,
    org: Option<String>,
    /// `webhook` or `email`.
    kind: String,
    /// Webhook: where to POST.
    url: Option<String>,
    /// Webhook: HMAC key for the `X-Steward-Signature` header.
    secret: Option<String>,
    /// Email: SMTP relay, port (587), `starttls` (default), `tls` or
    /// `none` (local relays only), sender, recipients, credentials.
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    tls: Option<String>,
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    username: Option<String>,
    password: Option<String>,
    /// `warning` (default) or `critical`.
    min_severity: Option<String>,
    /// Only alerts of devices with one of these tags (all devices when
    /// empty). Grouped offline notifications go to every channel.
    #[serde(default)]
    tags: Vec<String>,
    /// Also send incident events (opened, acknowledged, resolved, closed,
    /// reopened, notes; docs/incident-webhooks.md): for a helpdesk or PSA
    /// integration. Default false, so a critical alert that opens an
    /// incident pages once, not twice.
    #[serde(default)]
    incident_events: bool,
    /// False keeps it without sending anything (default true).
    #[serde(default = "super::lifecycle::yes")]
    enabled: bool,
}

/// Checks a channel's fields and builds the record to store.
fn build(
    state: &AppState,
    id: Uuid,
    org: Uuid,
    body: NewChannel,
) -> Result<ChannelRecord, ApiError> {
    if body.name.is_empty() || body.name.len() > 128 || body.name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a channel needs a name of 1-128 characters",
        ));
    }
    let config = match body.kind.as_str() {
        "webhook" => {
            let url = body.url.unwrap_or_default();
            let secret = body.secret.unwrap_or_default();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
                return Err(ApiError::bad_request("the webhook URL must be http(s)://"));
            }
            refuse_target(state.outbound.policy().check_url(&url))?;
            if secret.len() < 16 {
                return Err(ApiError::bad_request(
                    "the signing secret needs at least 16 characters",
                ));
            }
            json!({ "url": url, "secret": secret })
        }
        "email" => {
            let host = body.smtp_host.unwrap_or_default();
            let tls = body.tls.unwrap_or_else(|| "starttls".into());
            if host.is_empty()
                || host.len() > 253
                || !matches!(tls.as_str(), "starttls" | "tls" | "none")
            {
                return Err(ApiError::bad_request(
                    "email needs smtp_host and tls of starttls, tls or none",
                ));
            }
            let port = body.smtp_port.unwrap_or(587);
            let policy = state.outbound.policy();
            refuse_target(policy.check_host(&host))?;
            refuse_target(policy.check_smtp_port(crate::egress::literal(&host), port))?;
            let from = body.from.unwrap_or_default();
            let valid = |a: &str| a.parse::<lettre::message::Mailbox>().is_ok();
            if !valid(&from) || body.to.is_empty() || !body.to.iter().all(|t| valid(t)) {
                return Err(ApiError::bad_request(
                    "email needs a valid from address and at least one valid to address",
                ));
            }
            json!({ "smtp_host": host, "smtp_port": port, "tls": tls, "from": from, "to": body.to, "username": body.username, "password": body.password })
        }
        "slack" | "teams" => {
            let url = body.url.unwrap_or_default();
            if !url.starts_with("https://") || url.len() > 2048 {
                return Err(ApiError::bad_request(
                    "the incoming webhook URL must be https://",
                ));
            }
            refuse_target(state.outbound.policy().check_url(&url))?;
            json!({ "url": url })
        }
        _ => {
            return Err(ApiError::bad_request(
                "supported channel kinds: webhook, email, slack, teams",
            ));
        }
    };
    let mut config = config;
    config["tags"] = json!(body.tags);
    config["incident_events"] = json!(body.incident_events);
    let min_severity = body.min_severity.unwrap_or_else(|| "warning".into());
    if !matches!(min_severity.as_str(), "warning" | "critical") {
        return Err(ApiError::bad_request("min_severity is warning or critical"));
    }
    Ok(ChannelRecord {
        id,
        org_id: org,
        name: body.name,
        kind: body.kind,
        config,
        min_severity,
        enabled: body.enabled,
        version: 1,
        pending: 0,
        undelivered: 0,
        last_error: None,
    })
}

/// The fields of a stored channel in the shape [`NewChannel`] reads; with
/// `secrets` its signing secret and SMTP password too (never answered,
/// only laid under a `PATCH`).
fn fields(record: &ChannelRecord, secrets: bool) -> Value {
    let mut fields = record.config.clone();
    if !fields.is_object() {
        fields = json!({});
    }
    if !secrets && let Some(map) = fields.as_object_mut() {
        map.remove("secret");
        map.remove("password");
    }
    fields["name"] = json!(record.name);
    fields["kind"] = json!(record.kind);
    fields["min_severity"] = json!(record.min_severity);
    fields["enabled"] = json!(record.enabled);
    if let Some(map) = fields.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    fields
}

/// A stored channel as people read and export it: no secrets.
pub fn view(record: &ChannelRecord) -> Value {
    fields(record, false)
}

pub async fn create_channel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewChannel>,
) -> ApiResult<ChannelRecord> {
    let org = org_for(&state, &caller, body.org.as_deref()).await?;
    let channel = build(&state, Uuid::now_v7(), org, body)?;
    state
        .store
        .create_channel(&channel)
        .await
        .map_err(|e| named_conflict(e, "channel", &channel.name))?;
    caller.changed(Value::Null, view(&channel));
    Ok(Json(channel))
}

pub async fn get_channel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "channel")?;
    let record = state
        .store
        .get_channel(&readable(&caller.scope), id)
        .await?;
    let answer = if caller.scope.allows_org(record.org_id) {
        answer(&record)
    } else {
        let org = OrgNames::default().of(&state, record.org_id).await;
        read_only(&record, &org)
    };
    Ok(tagged(record.version, answer))
}

pub async fn patch_channel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "channel")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_channel(&caller.scope, id).await?;
    let body: NewChannel = read_as(overlay(fields(&current, true), patch)?, "channel")?;
    if let Some(org) = body.org.as_deref()
        && org_for(&state, &caller, Some(org)).await? != current.org_id
    {
        return Err(ApiError::bad_request(
            "a channel cannot move to another organisation: create it there and delete this one",
        ));
    }
    let mut record = build(&state, id, current.org_id, body)?;
    record.version = state
        .store
        .update_channel(&caller.scope, &record, expected.or(Some(current.version)))
        .await
        .map_err(|e| named_conflict(e, "channel", &record.name))?;
    caller.changed(view(&current), view(&record));
    let record = state.store.get_channel(&caller.scope, id).await?;
    Ok(tagged(record.version, answer(&record)))
}

pub async fn delete_channel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "channel")?;
    let current = state.store.get_channel(&caller.scope, id).await?;
    let dropped = state.store.delete_channel(&caller.scope, id).await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(
        json!({ "deleted": id, "dropped_notifications": dropped }),
    ))
}

/// A target the address policy refuses, as a 400 naming the reason. Only
/// what the text says is known here; names are checked when resolved.
fn refuse_target(checked: Result<(), crate::egress::EgressError>) -> Result<(), ApiError> {
    checked.map_err(|e| ApiError::bad_request(format!("cannot notify there: {e}")))
}

/// The record as answered: with its editable `fields` (no secrets).
fn answer(record: &ChannelRecord) -> Value {
    let mut value = super::lifecycle::with_fields(record, view(record));
    value["editable"] = json!(true);
    value
}

pub async fn list_channels(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_channels(&readable(&caller.scope)).await?;
    let mut names = OrgNames::default();
    let mut answers = Vec::new();
    for record in &records {
        answers.push(if caller.scope.allows_org(record.org_id) {
            answer(record)
        } else {
            read_only(record, &names.of(&state, record.org_id).await)
        });
    }
    Ok(Json(answers))
}

/// A channel as a caller limited to some sites reads it: that it exists,
/// its kind and what it sends, and who may change it; not where it sends
/// (addresses, URLs) nor its delivery errors.
fn read_only(record: &ChannelRecord, org: &str) -> Value {
    json!({
        "id": record.id,
        "org_id": record.org_id,
        "name": record.name,
        "kind": record.kind,
        "min_severity": record.min_severity,
        "tags": record.config.get("tags").cloned().unwrap_or(json!([])),
        "enabled": record.enabled,
        "pending": record.pending,
        "version": record.version,
        "editable": false,
        "note": read_only_note(org),
    })
}
