//! Noise rules: maintenance windows (alerts recorded, not notified) and
//! silences (the same, for a while, with a reason). Created, read, edited
//! in place (a silence extended, a window moved), deleted (a silence
//! lifted early).

use super::lifecycle::{expected_version, overlay, read_as, tagged};
use super::matching::{self, Known};
use super::monitors::{org_for, reload};
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
use steward_alert::noise::{MaintenanceWindow, Matcher, Schedule, Silence};
use steward_store::{NoiseKind, NoiseRule};
use uuid::Uuid;

/// A maintenance window as it is created and edited.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    org: Option<String>,
    name: String,
    matcher: Matcher,
    schedule: Schedule,
}

/// A silence as it is created and edited: for `duration` from now, or
/// until `until` (milliseconds since the epoch).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    org: Option<String>,
    matcher: Matcher,
    /// Only this monitor (its id); every monitor when absent.
    monitor: Option<String>,
    /// How long, e.g. "2h".
    duration: Option<String>,
    until: Option<i64>,
    reason: String,
}

fn window(body: NewWindow) -> Result<MaintenanceWindow, ApiError> {
    if body.name.is_empty() || body.name.len() > 128 {
        return Err(ApiError::bad_request(
            "a maintenance window needs a name of 1-128 characters",
        ));
    }
    match &body.schedule {
        Schedule::Once { start, end } if end <= start => {
            return Err(ApiError::bad_request(
                "a maintenance window must end after it starts",
            ));
        }
        Schedule::Weekly {
            days,
            start_minute,
            duration_minutes,
            ..
        } => {
            if days.is_empty() || days.iter().any(|d| *d > 6) {
                return Err(ApiError::bad_request(
                    "a weekly window needs days from 0 (Monday) to 6 (Sunday)",
                ));
            }
            if *start_minute >= 24 * 60 {
                return Err(ApiError::bad_request(
                    "start_minute is the minute of the day it starts, 0 to 1439",
                ));
            }
            if !(1..=7 * 24 * 60).contains(duration_minutes) {
                return Err(ApiError::bad_request(
                    "duration_minutes is 1 to 10080 (a week)",
                ));
            }
        }
        Schedule::Once { .. } => {}
    }
    Ok(MaintenanceWindow {
        name: body.name,
        matcher: body.matcher,
        schedule: body.schedule,
    })
}

fn silence(caller: &Caller, body: NewSilence) -> Result<Silence, ApiError> {
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_request("a silence needs a reason"));
    }
    let until = match (&body.duration, body.until) {
        (Some(duration), _) => crate::now_ms().saturating_add(
            super::parse_duration(duration)?
                .as_millis()
                .min(i64::MAX as u128) as i64,
        ),
        (None, Some(until)) => until,
        (None, None) => {
            return Err(ApiError::bad_request(
                "a silence needs a duration (\"2h\") or an end (until)",
            ));
        }
    };
    Ok(Silence {
        matcher: body.matcher,
        monitor: body.monitor,
        until,
        reason: body.reason,
        by: caller.principal.username.clone(),
    })
}

/// A stored rule in the shape its `New…` reads (who made a silence left
/// out: the server writes it).
pub fn view(rule: &NoiseRule) -> Value {
    let mut fields = rule.definition.clone();
    if let Some(map) = fields.as_object_mut() {
        map.remove("by");
        map.retain(|_, v| !v.is_null());
    }
    fields
}

/// The rule as answered: with its editable `fields`.
fn answer(rule: &NoiseRule) -> Value {
    super::lifecycle::with_fields(rule, view(rule))
}

/// The devices of organisation `org` the caller sees, as matchers see them.
async fn known_devices(
    state: &AppState,
    caller: &Caller,
    org: Option<Uuid>,
) -> Result<Vec<(Uuid, Known)>, ApiError> {
    Ok(state
        .store
        .list_devices(&caller.scope)
        .await?
        .into_iter()
        .filter(|d| org.is_none_or(|o| d.org_id == o))
        .map(|d| {
            (
                d.org_id,
                Known {
                    id: d.id.to_string(),
                    name: d.name,
                    hostname: d.hostname,
                    site: d.site,
                    tags: d.tags,
                    os: d.os,
                },
            )
        })
        .collect())
}

/// The definition made exact for organisation `org`: devices named become
/// ids, a silence's monitor named becomes its id; refused when it names
/// what does not exist or several things, and a silence when it covers no
/// device today. A window covering none is kept: the warning says so.
/// `kept`: the device ids the rule held before (an edit).
async fn exact(
    state: &AppState,
    caller: &Caller,
    (org, kind): (Uuid, NoiseKind),
    mut definition: Value,
    kept: &[String],
) -> Result<(Value, Option<String>), ApiError> {
    let matcher: Matcher = serde_json::from_value(definition["matcher"].clone())
        .map_err(|e| ApiError::bad_request(format!("invalid matcher: {e}")))?;
    let devices: Vec<Known> = known_devices(state, caller, Some(org))
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let what = format!("this {}", kind_named(kind));
    let resolved =
        matching::resolve(matcher, &devices, kept, &what).map_err(ApiError::bad_request)?;
    if let (NoiseKind::Silence, Some(nothing)) = (kind, &resolved.nothing) {
        return Err(ApiError::bad_request(format!(
            "{nothing}; it would silence nothing"
        )));
    }
    definition["matcher"] = json!(resolved.matcher);
    if let Some(given) = definition["monitor"].as_str().map(str::to_string) {
        let monitors = monitors_of(state, caller, Some(org)).await?;
        definition["monitor"] =
            json!(matching::monitor(&given, &monitors).map_err(ApiError::bad_request)?);
    }
    Ok((definition, resolved.nothing))
}

/// The monitors (id, name) the caller sees, of organisation `org` if given.
async fn monitors_of(
    state: &AppState,
    caller: &Caller,
    org: Option<Uuid>,
) -> Result<Vec<(String, String)>, ApiError> {
    Ok(state
        .store
        .list_monitors(&caller.scope)
        .await?
        .into_iter()
        .filter(|m| org.is_none_or(|o| m.org_id == o))
        .map(|m| (m.id.to_string(), m.name))
        .collect())
}

/// The rules as the API answers them: each with what it `covers` today
/// (how many devices, the first names), and its `fields` naming devices
/// and the monitor as people do (what `steward export` writes and `apply`
/// compares; the definition keeps the ids).
async fn answers(
    state: &AppState,
    caller: &Caller,
    rules: &[NoiseRule],
) -> Result<Vec<Value>, ApiError> {
    // One rule (a read, a save): only its organisation's devices.
    let org = match rules {
        [one] => Some(one.org_id),
        _ => None,
    };
    let devices = known_devices(state, caller, org).await?;
    let monitors = monitors_of(state, caller, org).await?;
    Ok(rules
        .iter()
        .map(|rule| {
            let mut value = answer(rule);
            let of_org: Vec<Known> = devices
                .iter()
                .filter(|(org, _)| *org == rule.org_id)
                .map(|(_, d)| d.clone())
                .collect();
            let matcher = serde_json::from_value::<Matcher>(rule.definition["matcher"].clone())
                .unwrap_or_default();
            let covered = matching::covered(&matcher, &of_org);
            value["covers"] = json!({
                "count": covered.len(),
                "devices": covered.iter().take(10).collect::<Vec<_>>(),
            });
            if value["fields"]["matcher"]["devices"].is_array() {
                value["fields"]["matcher"]["devices"] =
                    json!(matching::names_for(&matcher.devices, &of_org));
            }
            if let Some(id) = value["fields"]["monitor"].as_str() {
                value["fields"]["monitor"] = json!(matching::monitor_name(id, &monitors));
            }
            value
        })
        .collect())
}

/// One rule as answered, with `warning` when there is one.
async fn answered(
    state: &AppState,
    caller: &Caller,
    rule: NoiseRule,
    warning: Option<String>,
) -> Result<Value, ApiError> {
    let mut value = answers(state, caller, std::slice::from_ref(&rule))
        .await?
        .pop()
        .unwrap_or_default();
    if let Some(warning) = warning {
        value["warning"] = json!(warning);
    }
    Ok(value)
}

fn kind_named(kind: NoiseKind) -> &'static str {
    match kind {
        NoiseKind::Maintenance => "maintenance window",
        NoiseKind::Silence => "silence",
    }
}

/// The rule's definition from a body of its kind (for `org`, the
/// organisation it names, if any).
fn definition(
    caller: &Caller,
    kind: NoiseKind,
    body: Value,
) -> Result<(Value, Option<String>), ApiError> {
    let what = kind_named(kind);
    let (value, org) = match kind {
        NoiseKind::Maintenance => {
            let body: NewWindow = read_as(body, what)?;
            let org = body.org.clone();
            (serde_json::to_value(window(body)?), org)
        }
        NoiseKind::Silence => {
            let body: NewSilence = read_as(body, what)?;
            let org = body.org.clone();
            (serde_json::to_value(silence(caller, body)?), org)
        }
    };
    Ok((
        value.map_err(|e| ApiError::bad_request(e.to_string()))?,
        org,
    ))
}

async fn create(
    state: &AppState,
    caller: &Caller,
    kind: NoiseKind,
    body: Value,
) -> ApiResult<Value> {
    let (definition, org) = definition(caller, kind, body)?;
    let org = org_for(state, caller, org.as_deref()).await?;
    let (definition, warning) = exact(state, caller, (org, kind), definition, &[]).await?;
    let rule = NoiseRule {
        id: Uuid::now_v7(),
        org_id: org,
        kind: Some(kind),
        definition,
        created_by: caller.principal.username.clone(),
        created_at: crate::now_secs(),
        version: 1,
    };
    state.store.create_noise_rule(&rule).await?;
    reload(state).await?;
    caller.changed(Value::Null, view(&rule));
    Ok(Json(answered(state, caller, rule, warning).await?))
}

async fn get(
    state: &AppState,
    caller: &Caller,
    kind: NoiseKind,
    id: &str,
) -> Result<Response, ApiError> {
    let id = id_param(id, kind_named(kind))?;
    let rule = state.store.get_noise_rule(&caller.scope, kind, id).await?;
    Ok(tagged(
        rule.version,
        answered(state, caller, rule, None).await?,
    ))
}

async fn patch(
    state: &AppState,
    caller: &Caller,
    kind: NoiseKind,
    (id, headers, patch): (&str, &HeaderMap, Value),
) -> Result<Response, ApiError> {
    let id = id_param(id, kind_named(kind))?;
    let expected = expected_version(headers)?;
    let current = state.store.get_noise_rule(&caller.scope, kind, id).await?;
    let (definition, org) = definition(caller, kind, overlay(view(&current), patch)?)?;
    if let Some(org) = org.as_deref()
        && org_for(state, caller, Some(org)).await? != current.org_id
    {
        return Err(ApiError::bad_request(format!(
            "a {} cannot move to another organisation",
            kind_named(kind)
        )));
    }
    let kept: Vec<String> =
        serde_json::from_value::<Matcher>(current.definition["matcher"].clone())
            .map(|m| m.devices)
            .unwrap_or_default();
    let (definition, warning) =
        exact(state, caller, (current.org_id, kind), definition, &kept).await?;
    let version = state
        .store
        .update_noise_rule(
            &caller.scope,
            kind,
            id,
            &definition,
            expected.or(Some(current.version)),
        )
        .await?;
    reload(state).await?;
    let rule = NoiseRule {
        definition,
        version,
        ..current.clone()
    };
    caller.changed(view(&current), view(&rule));
    Ok(tagged(
        version,
        answered(state, caller, rule, warning).await?,
    ))
}

async fn delete(state: &AppState, caller: &Caller, kind: NoiseKind, id: &str) -> ApiResult<Value> {
    let id = id_param(id, kind_named(kind))?;
    let current = state.store.get_noise_rule(&caller.scope, kind, id).await?;
    state
        .store
        .delete_noise_rule(&caller.scope, kind, id)
        .await?;
    reload(state).await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

/// A maintenance window: alerts are still recorded, not notified.
pub async fn create_maintenance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<Value>,
) -> ApiResult<Value> {
    create(&state, &caller, NoiseKind::Maintenance, body).await
}

pub async fn create_silence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<Value>,
) -> ApiResult<Value> {
    create(&state, &caller, NoiseKind::Silence, body).await
}

pub async fn list_maintenance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let rules = state
        .store
        .list_noise_rules(&caller.scope, NoiseKind::Maintenance)
        .await?;
    Ok(Json(answers(&state, &caller, &rules).await?))
}

pub async fn list_silences(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let rules = state
        .store
        .list_noise_rules(&caller.scope, NoiseKind::Silence)
        .await?;
    Ok(Json(answers(&state, &caller, &rules).await?))
}

pub async fn get_maintenance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get(&state, &caller, NoiseKind::Maintenance, &id).await
}

pub async fn get_silence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get(&state, &caller, NoiseKind::Silence, &id).await
}

pub async fn patch_maintenance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    patch(
        &state,
        &caller,
        NoiseKind::Maintenance,
        (&id, &headers, body),
    )
    .await
}

pub async fn patch_silence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    patch(&state, &caller, NoiseKind::Silence, (&id, &headers, body)).await
}

pub async fn delete_maintenance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    delete(&state, &caller, NoiseKind::Maintenance, &id).await
}

pub async fn delete_silence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    delete(&state, &caller, NoiseKind::Silence, &id).await
}
