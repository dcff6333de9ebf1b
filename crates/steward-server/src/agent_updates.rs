//! Agent self-update, the server's part: remembers what each agent said
//! hello with, offers an organisation's active rollout to the devices
//! `steward_patch::rollout::plan` picks (pilot ring first), serves the
//! release in chunks over the agent's own connection (only a release
//! offered to that device's organisation), and records and audits every
//! answer. A rollout runs as its creator, whose authority is read again
//! each time it offers: someone who may no longer run scripts on a device
//! updates nothing there. The server holds no release key: it can offer
//! a release but not make one an agent accepts.

use crate::AppState;
use crate::gateway::Connections;
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use steward_patch::rollout::{self, Answer, Member, Phase, Rollout};
use steward_proto::update::UPDATE_CHUNK_BYTES;
use steward_proto::{ServerMessage, UpdateOffer, UpdateOutcome, UpdateReport};
use steward_store::{AgentReleaseRecord, AgentRolloutRecord, DeviceAuth, Scope, Status};
use uuid::Uuid;

const SOURCE: &str = "agent-update";

/// Remembers the version and platform a device's agent said hello with.
pub async fn on_hello(state: &AppState, device: Uuid, version: &str, target: &str) {
    if let Err(error) = state
        .store
        .set_agent_version(device, version, target, crate::now_ms())
        .await
    {
        tracing::error!(%device, %error, "Cannot store the agent's version.");
    }
}

/// The release `version` of an active rollout of the device's
/// organisation: the only one it may fetch.
async fn offered(
    state: &AppState,
    device: &DeviceAuth,
    version: &str,
) -> Option<AgentReleaseRecord> {
    let rollouts = state
        .store
        .list_agent_rollouts(&Scope::org(device.org_id), true)
        .await
        .ok()?;
    for rollout in rollouts {
        if let Ok(release) = state.store.get_agent_release(rollout.release_id).await
            && release.version == version
        {
            return Some(release);
        }
    }
    None
}

/// `update_fetch`: the next chunk of an offered release.
pub async fn on_fetch(
    state: &AppState,
    device: &DeviceAuth,
    version: &str,
    offset: u64,
) -> Option<ServerMessage> {
    let Some(release) = offered(state, device, version).await else {
        return Some(ServerMessage::Error {
            code: steward_proto::ErrorCode::Invalid,
            message: format!("no release {version:.64} is offered to this device"),
        });
    };
    let size = release.size.max(0) as u64;
    if offset >= size {
        return None;
    }
    let bytes = match state
        .store
        .agent_release_chunk(release.id, offset as i64, UPDATE_CHUNK_BYTES as i64)
        .await
    {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "Cannot read an agent release.");
            return None;
        }
    };
    Some(ServerMessage::UpdateChunk {
        version: release.version,
        offset,
        total: size,
        data_b64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// `update_report`: stored as the device's answer and audited under the
/// rollout creator's name.
pub async fn on_report(state: &AppState, device: &DeviceAuth, report: UpdateReport) {
    let Ok(rollout_id) = report.rollout_id.parse::<Uuid>() else {
        return;
    };
    let Ok(rollout) = state
        .store
        .get_agent_rollout(&Scope::org(device.org_id), rollout_id)
        .await
    else {
        tracing::warn!(device = %device.id, "An update report for an unknown rollout.");
        return;
    };
    let outcome = report.outcome.as_str();
    if let Err(error) = state
        .store
        .record_agent_answer(
            rollout.id,
            device.id,
            outcome,
            &report.detail,
            crate::now_ms(),
        )
        .await
    {
        tracing::error!(device = %device.id, %error, "Cannot store an update report.");
    }
    let level_warn = matches!(
        report.outcome,
        UpdateOutcome::RolledBack | UpdateOutcome::Refused | UpdateOutcome::Failed
    );
    if level_warn {
        tracing::warn!(device = %device.id, outcome, detail = %report.detail, "Agent update failed.");
    } else {
        tracing::info!(device = %device.id, outcome, version = %report.version, "Agent update.");
    }
    crate::audit::write(
        state,
        Some(rollout.org_id),
        &rollout.created_by,
        SOURCE,
        &format!("agent.update.{outcome}"),
        &format!("device:{}", device.id),
        json!({
            "rollout": rollout.id, "version": report.version,
            "from_version": report.from_version, "detail": report.detail,
        }),
    )
    .await;
}

fn answer(outcome: Option<&str>, at: Option<i64>) -> Option<(Answer, i64)> {
    let answer = match outcome? {
        "installing" => Answer::Installing,
        "succeeded" => Answer::Succeeded,
        "rolled_back" | "refused" | "failed" => Answer::Failed,
        _ => return None,
    };
    Some((answer, at.unwrap_or(0)))
}

/// Every active rollout, one step: finish it (done, stopped) or offer the
/// release to the devices due now that this replica holds.
pub async fn sweep(state: &Arc<AppState>, now: i64) {
    let rollouts = match state.store.list_agent_rollouts(&Scope::all(), true).await {
        Ok(rollouts) => rollouts,
        Err(error) => {
            tracing::error!(%error, "Cannot read agent rollouts.");
            return;
        }
    };
    for rollout in rollouts {
        if let Err(error) = step(state, &rollout, now).await {
            tracing::error!(rollout = %rollout.id, %error, "Agent rollout step failed.");
        }
    }
}

async fn finish(state: &AppState, r: &AgentRolloutRecord, to: &str, reason: String, now: i64) {
    let org = Scope::org(r.org_id);
    if let Ok(true) = state
        .store
        .finish_agent_rollout(&org, r.id, to, &reason, now)
        .await
    {
        crate::audit::write(
            state,
            Some(r.org_id),
            &r.created_by,
            SOURCE,
            &format!("agent.rollout.{to}"),
            &format!("agent-rollout:{}", r.id),
            json!({ "reason": reason }),
        )
        .await;
    }
}

async fn step(
    state: &Arc<AppState>,
    r: &AgentRolloutRecord,
    now: i64,
) -> Result<(), steward_store::StoreError> {
    let release = state.store.get_agent_release(r.release_id).await?;
    let org = Scope::org(r.org_id);
    let devices = state.store.list_devices(&org).await?;
    let versions: HashMap<Uuid, _> = state
        .store
        .agent_versions(r.org_id)
        .await?
        .into_iter()
        .map(|v| (v.device_id, v))
        .collect();
    let updates: HashMap<Uuid, _> = state
        .store
        .list_agent_updates(r.id)
        .await?
        .into_iter()
        .map(|u| (u.device_id, u))
        .collect();
    let sites: HashMap<Uuid, String> = devices.iter().map(|d| (d.id, d.site.clone())).collect();
    let members: Vec<Member> = devices
        .iter()
        .filter(|d| d.org_id == r.org_id && !d.revoked)
        .filter_map(|d| {
            let v = versions.get(&d.id).filter(|v| v.target == release.target)?;
            let u = updates.get(&d.id);
            Some(Member {
                id: d.id.to_string(),
                tags: d.tags.clone(),
                version: v.version.clone(),
                online: d.status == Status::Online,
                offered_at: u.and_then(|u| u.offered_at),
                answer: u.and_then(|u| answer(u.outcome.as_deref(), u.answered_at)),
            })
        })
        .collect();
    let plan = rollout::plan(
        &Rollout {
            version: release.version.clone(),
            pilot_tags: r.pilot_tags.clone(),
            ring_delay_ms: r.ring_delay_ms,
            max_failures: r.max_failures.clamp(1, u32::MAX as i64) as u32,
        },
        &members,
        now,
    );
    match &plan.phase {
        Phase::Done => {
            let why = format!(
                "every device on {} runs {}",
                release.target, release.version
            );
            finish(state, r, "done", why, now).await;
            return Ok(());
        }
        Phase::Stopped { failed } => {
            let why = format!(
                "{} device(s) failed to update: {}",
                failed.len(),
                failed.join(", ")
            );
            finish(state, r, "stopped", why, now).await;
            return Ok(());
        }
        _ => {}
    }
    if plan.offer.is_empty() {
        return Ok(());
    }
    // The creator's authority now: a rollout reaches only devices where
    // they may still run scripts.
    let owner = match crate::jobs::authority::owner(state, &r.created_by).await {
        Ok(owner) => owner,
        Err(reason) => {
            finish(state, r, "stopped", reason, now).await;
            return Ok(());
        }
    };
    let offer = UpdateOffer {
        rollout_id: r.id.to_string(),
        target: release.target.clone(),
        version: release.version.clone(),
        sha256: release.sha256.clone(),
        size: release.size.max(0) as u64,
        signature: release.signature.clone(),
        key_id: release.key_id.clone(),
    };
    for id in plan.offer.iter().filter_map(|id| id.parse::<Uuid>().ok()) {
        let site = sites.get(&id).map(String::as_str);
        if !owner.scripts.allows(r.org_id, site) {
            continue;
        }
        if offer_to(&state.connections, id, &offer) {
            state.store.record_agent_offer(r.id, id, now).await?;
            crate::audit::write(
                state,
                Some(r.org_id),
                &r.created_by,
                SOURCE,
                "agent.update.offered",
                &format!("device:{id}"),
                json!({ "rollout": r.id, "version": release.version }),
            )
            .await;
        }
    }
    Ok(())
}

/// Sends the offer to a device this replica holds (another replica offers
/// its own devices in its own sweep).
fn offer_to(connections: &Connections, device: Uuid, offer: &UpdateOffer) -> bool {
    connections.is_connected(device)
        && connections.send(device, &ServerMessage::UpdateOffer(offer.clone()))
}
