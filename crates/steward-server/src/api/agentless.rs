//! Agentless devices (`/api/v1/agentless-devices`): switches, printers,
//! UPSs, websites, certificates… checked by another device's agent (the
//! probing agent, chosen by whoever manages devices there), and the probes
//! assigned to them. An agentless device is a device: it is read, renamed,
//! moved and retired through `/api/v1/devices/{id}` too, and its metrics,
//! checks and alerts are its own. Probes run later with the authority of
//! whoever set them up (re-checked each time they are handed to the agent),
//! so setting one up needs a credential that may leave standing work.

use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use crate::jobs::authority::may_leave_standing_work;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{AgentlessFields, DeviceSummary, NewDevice, ProbeRecord};
use uuid::Uuid;

/// Categories an agentless device may have.
pub const CATEGORIES: &[&str] = &[
    "switch",
    "router",
    "firewall",
    "access-point",
    "printer",
    "ups",
    "storage",
    "server",
    "website",
    "certificate",
    "database",
    "other",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgentless {
    name: String,
    category: String,
    /// Host name or IP address.
    address: String,
    /// The id of the device whose agent probes this one.
    probe_agent: String,
    /// Default: the probing agent's site.
    #[serde(default)]
    site: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentlessPatch {
    name: Option<String>,
    category: Option<String>,
    address: Option<String>,
    probe_agent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProbe {
    name: String,
    url: String,
}

fn valid_fields(category: &str, address: &str) -> Result<(), ApiError> {
    if !CATEGORIES.contains(&category) {
        return Err(ApiError::bad_request(format!(
            "category is one of {}, not {category:?}",
            CATEGORIES.join(", ")
        )));
    }
    let ok = !address.is_empty()
        && address.len() <= 253
        && address
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    if !ok {
        return Err(ApiError::bad_request(format!(
            "address is a host name or an IP address, not {address:?}"
        )));
    }
    Ok(())
}

/// The probing agent: a device in the caller's scope that runs an agent.
async fn probing_agent(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<DeviceSummary, ApiError> {
    let id = id_param(id, "device")?;
    let agent = state
        .store
        .get_device(&caller.scope, id)
        .await
        .map_err(|_| ApiError::not_found(format!("no device {id} to probe from")))?
        .summary;
    if agent.kind != "agent" || agent.revoked {
        return Err(ApiError::bad_request(format!(
            "{} cannot probe: only an enrolled device running the agent can",
            agent.name
        )));
    }
    Ok(agent)
}

fn view(device: &DeviceSummary, probes: &[ProbeRecord]) -> Value {
    json!({
        "id": device.id,
        "org_id": device.org_id,
        "site": device.site,
        "name": device.name,
        "kind": device.kind,
        "category": device.category,
        "address": device.address,
        "probe_agent": device.probe_agent,
        "status": device.status,
        "status_since": device.status_since,
        "last_seen": device.last_seen,
        "probes": probes,
    })
}

async fn agentless(state: &AppState, caller: &Caller, id: Uuid) -> Result<DeviceSummary, ApiError> {
    let device = super::device_in_scope(state, caller, id).await?.summary;
    if device.kind != "agentless" {
        return Err(ApiError::not_found(format!("no agentless device {id}")));
    }
    Ok(device)
}

/// Tells the agents concerned (the old and the new probing agent).
async fn push(state: &AppState, agents: &[Option<Uuid>]) {
    for agent in agents.iter().flatten() {
        crate::agentless::push(state, *agent).await;
    }
}

pub async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult<Vec<Value>> {
    let devices = state.store.list_devices(&caller.scope).await?;
    let mut out = Vec::new();
    for device in devices.iter().filter(|d| d.kind == "agentless") {
        let probes = state.store.device_probes(&caller.scope, device.id).await?;
        out.push(view(device, &probes));
    }
    Ok(Json(out))
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let device = agentless(&state, &caller, id_param(&id, "device")?).await?;
    let probes = state.store.device_probes(&caller.scope, device.id).await?;
    Ok(Json(view(&device, &probes)))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewAgentless>,
) -> ApiResult<Value> {
    super::place::valid_label("a device's name", &body.name)?;
    valid_fields(&body.category, &body.address)?;
    let agent = probing_agent(&state, &caller, &body.probe_agent).await?;
    let site = body.site.unwrap_or_else(|| agent.site.clone());
    super::place::valid_label("a site", &site)?;
    caller.acting_in(agent.org_id);
    if !caller.scope.allows(agent.org_id, Some(&site)) {
        return Err(ApiError::forbidden(format!(
            "you may not manage devices at site {site:?}"
        )));
    }
    let id = Uuid::now_v7();
    let device = NewDevice {
        id,
        org_id: agent.org_id,
        site,
        name: body.name,
        hostname: body.address.clone(),
        tags: Vec::new(),
        cert_fingerprint: String::new(),
        enrolled_at: crate::now_secs(),
    };
    let fields = AgentlessFields {
        category: body.category,
        address: body.address,
        probe_agent: agent.id,
    };
    state.store.create_agentless(&device, &fields).await?;
    let created = agentless(&state, &caller, id).await?;
    caller.changed(Value::Null, view(&created, &[]));
    Ok(Json(view(&created, &[])))
}

pub async fn patch(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<AgentlessPatch>,
) -> ApiResult<Value> {
    let expected = super::lifecycle::expected_version(&headers)?;
    let before = agentless(&state, &caller, id_param(&id, "device")?).await?;
    let name = body.name.unwrap_or_else(|| before.name.clone());
    let category = body
        .category
        .or_else(|| before.category.clone())
        .unwrap_or_default();
    let address = body
        .address
        .or_else(|| before.address.clone())
        .unwrap_or_default();
    super::place::valid_label("a device's name", &name)?;
    valid_fields(&category, &address)?;
    let agent = match body.probe_agent {
        Some(agent) => {
            let agent = probing_agent(&state, &caller, &agent).await?;
            if agent.org_id != before.org_id {
                return Err(ApiError::bad_request(
                    "the probing agent must be a device of the same organisation",
                ));
            }
            agent.id
        }
        None => before
            .probe_agent
            .ok_or_else(|| ApiError::bad_request("the device has no probing agent"))?,
    };
    let fields = AgentlessFields {
        category,
        address,
        probe_agent: agent,
    };
    state
        .store
        // If-Match: the device's version (as `/api/v1/devices/{id}` tags
        // it), checked in the same write.
        .edit_agentless(&caller.scope, before.id, &name, &fields, expected)
        .await?;
    let probes = state.store.device_probes(&caller.scope, before.id).await?;
    let after = agentless(&state, &caller, before.id).await?;
    caller.changed(view(&before, &probes), view(&after, &probes));
    state.alerting.forget(before.id);
    push(&state, &[before.probe_agent, Some(agent)]).await;
    Ok(Json(view(&after, &probes)))
}

/// Retires the device (its history stays, like any device's) and stops
/// its probes.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let before = agentless(&state, &caller, id_param(&id, "device")?).await?;
    let probes = state.store.device_probes(&caller.scope, before.id).await?;
    state
        .store
        .retire_device(&caller.scope, before.id, crate::now_secs())
        .await?;
    for alert in state.store.device_open_alerts(before.id).await? {
        super::alerts::resolve_by_hand(
            &state,
            &caller.scope,
            alert.id,
            &caller.principal.username,
            false,
        )
        .await?;
    }
    caller.changed(view(&before, &probes), Value::Null);
    push(&state, &[before.probe_agent]).await;
    Ok(Json(json!({ "retired": before.id })))
}

pub async fn list_probes(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<ProbeRecord>> {
    let device = agentless(&state, &caller, id_param(&id, "device")?).await?;
    Ok(Json(
        state.store.device_probes(&caller.scope, device.id).await?,
    ))
}

pub async fn add_probe(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<NewProbe>,
) -> ApiResult<ProbeRecord> {
    let device = agentless(&state, &caller, id_param(&id, "device")?).await?;
    may_leave_standing_work(&caller.principal).map_err(ApiError::forbidden)?;
    crate::agentless::check_probe(&body.name, &body.url).map_err(ApiError::bad_request)?;
    let probe = ProbeRecord {
        id: Uuid::now_v7(),
        org_id: device.org_id,
        device_id: device.id,
        name: body.name,
        url: body.url,
        created_by: caller.principal.username.clone(),
        created_at: crate::now_ms(),
    };
    state.store.add_probe(&caller.scope, &probe).await?;
    caller.changed(
        Value::Null,
        json!({ "device": device.id, "name": probe.name, "url": probe.url }),
    );
    push(&state, &[device.probe_agent]).await;
    Ok(Json(probe))
}

pub async fn delete_probe(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, probe)): Path<(String, String)>,
) -> ApiResult<Value> {
    let device = agentless(&state, &caller, id_param(&id, "device")?).await?;
    let probe = id_param(&probe, "probe")?;
    let before = state
        .store
        .device_probes(&caller.scope, device.id)
        .await?
        .into_iter()
        .find(|p| p.id == probe)
        .ok_or_else(|| ApiError::not_found(format!("no probe {probe} on this device")))?;
    state
        .store
        .delete_probe(&caller.scope, device.id, probe)
        .await?;
    caller.changed(
        json!({ "device": device.id, "name": before.name, "url": before.url }),
        Value::Null,
    );
    push(&state, &[device.probe_agent]).await;
    Ok(Json(json!({ "deleted": probe })))
}
