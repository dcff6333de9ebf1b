//! Agent releases and rollouts (`/api/v1/agent-releases`,
//! `/api/v1/agent-rollouts`).
//!
//! A release is the agent binary for one platform and version with the
//! release key's signature, made offline (`steward agent-release sign`):
//! installation-wide, so uploading one needs `orgs.manage` everywhere. The
//! server checks that the bytes are what the signed description says
//! (size, SHA-256) but cannot check the signature the agents will: it
//! holds no release key, so it cannot make a release they accept.
//!
//! A rollout offers one release to an organisation's devices by ring
//! (`steward_patch::rollout`; `crate::agent_updates` does the offering).
//! It runs later with its creator's authority, so creating one needs
//! `scripts.run` over the whole organisation (a new agent runs as root
//! everywhere) and a credential that may leave standing work.

use super::access::global;
use super::{ApiError, ApiResult, id_param, org_named, parse_duration};
use crate::AppState;
use crate::auth::Caller;
use crate::jobs::authority::{covers_org, may_leave_standing_work};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use steward_store::{AgentReleaseRecord, AgentRolloutRecord, Scope, StoreError};
use uuid::Uuid;

fn conflict(message: String) -> ApiError {
    StoreError::Conflict(message).into()
}

/// The largest release the API takes (the body is the binary).
pub const MAX_RELEASE_UPLOAD: usize = 64 * 1024 * 1024;
/// The longest ring delay: 30 days.
const MAX_RING_DELAY_MS: i64 = 30 * 86_400_000;

fn word(what: &str, value: Option<&String>, max: usize, extra: &str) -> Result<String, ApiError> {
    let value = value.ok_or_else(|| ApiError::bad_request(format!("{what} is required")))?;
    if value.is_empty()
        || value.len() > max
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(ApiError::bad_request(format!(
            "{what} is 1 to {max} letters, digits and {extra}"
        )));
    }
    Ok(value.clone())
}

fn release_view(r: &AgentReleaseRecord) -> Value {
    json!({
        "id": r.id, "target": r.target, "version": r.version, "sha256": r.sha256,
        "size": r.size, "key_id": r.key_id, "created_by": r.created_by, "created_at": r.created_at,
    })
}

/// `POST /api/v1/agent-releases?target=&version=&sha256=&key_id=&signature=`
/// with the binary as the body.
pub async fn upload_release(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Value> {
    if !global(&caller.scope) {
        return Err(ApiError::forbidden(
            "agent releases serve every organisation: uploading one needs orgs.manage everywhere",
        ));
    }
    let target = word("target", query.get("target"), 64, "_-")?;
    let version = word("version", query.get("version"), 48, ".-+_~")?;
    let key_id = word("key_id", query.get("key_id"), 64, "_-")?;
    let signature = word("signature", query.get("signature"), 200, "+/=")?;
    let sha256 = word("sha256", query.get("sha256"), 64, "")?.to_ascii_lowercase();
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body is the agent binary; it is empty",
        ));
    }
    let got = steward_sign::sha256_hex(&body);
    if got != sha256 {
        return Err(ApiError::bad_request(format!(
            "the binary's SHA-256 is {got}, its signed description says {sha256}: not the file that was signed"
        )));
    }
    let record = AgentReleaseRecord {
        id: Uuid::now_v7(),
        target,
        version,
        sha256,
        size: body.len() as i64,
        key_id,
        signature,
        created_by: caller.principal.username.clone(),
        created_at: crate::now_ms(),
    };
    state.store.create_agent_release(&record, &body).await?;
    caller.changed(Value::Null, release_view(&record));
    Ok(Json(release_view(&record)))
}

pub async fn list_releases(State(state): State<Arc<AppState>>) -> ApiResult<Vec<Value>> {
    let releases = state.store.list_agent_releases().await?;
    Ok(Json(releases.iter().map(release_view).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRollout {
    #[serde(default)]
    org: Option<String>,
    /// The release, by id...
    #[serde(default)]
    release: Option<String>,
    /// ...or by platform and version.
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    pilot_tags: Vec<String>,
    /// How long the rest waits after the pilot (`4h`, `2d`); needs pilot tags.
    #[serde(default)]
    ring_delay: Option<String>,
    /// Failed devices that stop the rollout (default 1).
    #[serde(default)]
    max_failures: Option<u32>,
}

fn rollout_view(r: &AgentRolloutRecord, release: Option<&AgentReleaseRecord>) -> Value {
    json!({
        "id": r.id, "org_id": r.org_id, "release_id": r.release_id,
        "target": release.map(|x| x.target.clone()), "version": release.map(|x| x.version.clone()),
        "pilot_tags": r.pilot_tags, "ring_delay_ms": r.ring_delay_ms, "max_failures": r.max_failures,
        "state": r.state, "reason": r.reason, "created_by": r.created_by,
        "created_at": r.created_at, "updated_at": r.updated_at,
    })
}

async fn find_release(state: &AppState, body: &NewRollout) -> Result<AgentReleaseRecord, ApiError> {
    let releases = state.store.list_agent_releases().await?;
    let found = match (&body.release, &body.target, &body.version) {
        (Some(id), None, None) => {
            let id = id_param(id, "release")?;
            releases.into_iter().find(|r| r.id == id)
        }
        (None, Some(target), Some(version)) => releases
            .into_iter()
            .find(|r| &r.target == target && &r.version == version),
        _ => {
            return Err(ApiError::bad_request(
                "name the release: release (its id), or target and version",
            ));
        }
    };
    found.ok_or_else(|| ApiError::not_found("no such agent release"))
}

pub async fn create_rollout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewRollout>,
) -> ApiResult<Value> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    if !covers_org(&caller.scope, org) {
        return Err(ApiError::forbidden(
            "a rollout replaces the agent (which runs as root) on every device of the organisation: it needs scripts.run over the whole organisation",
        ));
    }
    may_leave_standing_work(&caller.principal).map_err(ApiError::forbidden)?;
    caller.acting_in(org);
    let release = find_release(&state, &body).await?;
    if body.pilot_tags.len() > 100
        || body
            .pilot_tags
            .iter()
            .any(|t| t.is_empty() || t.len() > 200)
    {
        return Err(ApiError::bad_request(
            "pilot tags are 1 to 200 characters, at most 100 of them",
        ));
    }
    let ring_delay_ms = match &body.ring_delay {
        Some(text) => parse_duration(text)?.as_millis() as i64,
        None => 0,
    };
    if ring_delay_ms > MAX_RING_DELAY_MS {
        return Err(ApiError::bad_request("ring_delay is at most 30 days"));
    }
    if ring_delay_ms > 0 && body.pilot_tags.is_empty() {
        return Err(ApiError::bad_request("ring_delay needs pilot_tags"));
    }
    let max_failures = body.max_failures.unwrap_or(1);
    if !(1..=10_000).contains(&max_failures) {
        return Err(ApiError::bad_request("max_failures is 1 to 10000"));
    }
    // One active rollout per organisation and platform.
    for active in state
        .store
        .list_agent_rollouts(&Scope::org(org), true)
        .await?
    {
        if let Ok(other) = state.store.get_agent_release(active.release_id).await
            && other.target == release.target
        {
            return Err(conflict(format!(
                "rollout {} of {} is still active for {}: stop it first",
                active.id, other.version, other.target
            )));
        }
    }
    let now = crate::now_ms();
    let record = AgentRolloutRecord {
        id: Uuid::now_v7(),
        org_id: org,
        release_id: release.id,
        pilot_tags: body.pilot_tags,
        ring_delay_ms,
        max_failures: i64::from(max_failures),
        state: "active".into(),
        reason: String::new(),
        created_by: caller.principal.username.clone(),
        created_at: now,
        updated_at: now,
    };
    state.store.create_agent_rollout(&record).await?;
    let view = rollout_view(&record, Some(&release));
    caller.changed(Value::Null, view.clone());
    Ok(Json(view))
}

pub async fn list_rollouts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let releases: HashMap<Uuid, AgentReleaseRecord> = state
        .store
        .list_agent_releases()
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let rollouts = state
        .store
        .list_agent_rollouts(&caller.scope, false)
        .await?;
    Ok(Json(
        rollouts
            .iter()
            .map(|r| rollout_view(r, releases.get(&r.release_id)))
            .collect(),
    ))
}

/// A rollout with each device's offer and answer (devices in the caller's
/// scope only).
pub async fn get_rollout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "rollout")?;
    let rollout = state.store.get_agent_rollout(&caller.scope, id).await?;
    let release = state.store.get_agent_release(rollout.release_id).await.ok();
    let visible: HashSet<Uuid> = state
        .store
        .list_devices(&caller.scope)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    let devices: Vec<Value> = state
        .store
        .list_agent_updates(rollout.id)
        .await?
        .into_iter()
        .filter(|u| visible.contains(&u.device_id))
        .map(|u| {
            json!({
                "device_id": u.device_id, "offered_at": u.offered_at, "outcome": u.outcome,
                "detail": u.detail, "answered_at": u.answered_at,
            })
        })
        .collect();
    let mut view = rollout_view(&rollout, release.as_ref());
    view["devices"] = json!(devices);
    Ok(Json(view))
}

/// `POST /api/v1/agent-rollouts/{id}/stop`: no more offers.
pub async fn stop_rollout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "rollout")?;
    let rollout = state.store.get_agent_rollout(&caller.scope, id).await?;
    if !covers_org(&caller.scope, rollout.org_id) {
        return Err(ApiError::forbidden(
            "stopping a rollout needs scripts.run over its whole organisation",
        ));
    }
    caller.acting_in(rollout.org_id);
    let reason = format!("stopped by {}", caller.principal.username);
    let stopped = state
        .store
        .finish_agent_rollout(&caller.scope, id, "stopped", &reason, crate::now_ms())
        .await?;
    if !stopped {
        return Err(conflict(format!(
            "the rollout is already {}",
            rollout.state
        )));
    }
    let after = state.store.get_agent_rollout(&caller.scope, id).await?;
    let release = state.store.get_agent_release(after.release_id).await.ok();
    let view = rollout_view(&after, release.as_ref());
    caller.changed(rollout_view(&rollout, release.as_ref()), view.clone());
    Ok(Json(view))
}
