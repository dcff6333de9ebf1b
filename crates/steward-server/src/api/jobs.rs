//! Jobs: run, approved, cancelled and followed. Running needs
//! `scripts.run`; what a job reaches is limited to the caller's scope.

use super::{ApiError, ApiResult, id_param, org_named, transfer};
use crate::AppState;
use crate::auth::Caller;
use crate::jobs::{self, JobRequest};
use axum::Json;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

pub async fn create_job(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<JobRequest>,
) -> ApiResult<jobs::Created> {
    let org = org_named(&state, &caller, request.org.as_deref()).await?;
    Ok(Json(
        jobs::create_job(
            &state,
            org,
            &caller.scope,
            &request,
            &caller.principal.username,
            None,
        )
        .await?,
    ))
}

#[derive(Deserialize)]
pub struct ListParams {
    limit: Option<u32>,
}

/// The newest jobs, each with `progress` (running, completed, stopped...)
/// worked out from its runs, as on the job itself.
pub async fn list_jobs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> ApiResult<Vec<Value>> {
    let jobs = state
        .store
        .list_jobs(&caller.scope, params.limit.unwrap_or(200))
        .await?;
    Ok(Json(
        jobs.iter()
            .map(|job| {
                let mut value = serde_json::to_value(job).unwrap_or_default();
                value["action"] = transfer::without_content(&job.action);
                value["progress"] =
                    steward_jobs::progress::job_state(&jobs::counts_of(&job.counts)).into();
                value
            })
            .collect(),
    ))
}

/// A job with every run in the caller's scope; runs still going carry
/// their output so far. A file transfer's output shows only to callers
/// who may transfer files on its device.
pub async fn show_job(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "job")?;
    let job = state.store.get_job(&caller.scope, id).await?;
    let mut runs = state.store.job_runs(&caller.scope, id).await?;
    for run in runs.iter_mut().filter(|r| r.status == "running") {
        if let Some((stdout, stderr)) = state.jobs.live_output(run.run_id) {
            run.stdout = stdout;
            run.stderr = stderr;
        }
    }
    transfer::hide_job_runs(&state, &caller, &job.action, &mut runs).await;
    let mut value = serde_json::to_value(&job).unwrap_or_default();
    value["action"] = transfer::without_content(&job.action);
    value["runs"] = serde_json::to_value(runs).unwrap_or_default();
    value["progress"] = steward_jobs::progress::job_state(&jobs::counts_of(&job.counts)).into();
    Ok(Json(value))
}

/// A second person approves a job that reaches many devices.
pub async fn approve_job(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "job")?;
    let job = state.store.get_job(&caller.scope, id).await?;
    caller.acting_in(job.org_id);
    if job.created_by == caller.principal.username {
        return Err(ApiError::forbidden(
            "a job must be approved by someone other than its author",
        ));
    }
    // The approver answers for every device the job reaches: all of them
    // must be in their scope (the scoped counts cover only those).
    let everything = state
        .store
        .get_job(&steward_store::Scope::all(), id)
        .await?;
    let total: u64 = everything.counts.values().sum();
    let visible: u64 = job.counts.values().sum();
    if visible < total {
        return Err(ApiError::forbidden(
            "this job reaches devices outside your scope; someone who may run scripts on all of them must approve it",
        ));
    }
    if job.state != "pending_approval" {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!("the job is {}, not waiting for approval", job.state),
        ));
    }
    state
        .store
        .set_job_state(
            &caller.scope,
            id,
            "active",
            Some(&caller.principal.username),
        )
        .await?;
    let policy = serde_json::from_value(job.policy).unwrap_or_default();
    jobs::start_job(&state, id, policy).await;
    Ok(Json(json!({ "approved": id })))
}

pub async fn cancel_job(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "job")?;
    let job = state.store.get_job(&caller.scope, id).await?;
    caller.acting_in(job.org_id);
    state
        .store
        .set_job_state(&caller.scope, id, "cancelled", None)
        .await?;
    let message = format!("cancelled by {}", caller.principal.username);
    let cancelled = state
        .store
        .cancel_queued(id, &message, crate::now_ms())
        .await?;
    Ok(Json(
        json!({ "cancelled": id, "runs_cancelled": cancelled }),
    ))
}

/// `GET /api/v1/jobs/{id}/events`: the job's live output and status
/// changes, as JSON text messages.
pub async fn job_events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // Browsers send cookies with cross-site WebSocket upgrades.
    if headers.contains_key(axum::http::header::ORIGIN) && !crate::auth::same_origin(&headers) {
        return ApiError::forbidden("cross-origin WebSocket refused").into_response();
    }
    let id = match id_param(&id, "job") {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    let job = match state.store.get_job(&caller.scope, id).await {
        Ok(job) => job,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) => return ApiError::bad_request("this is a WebSocket").into_response(),
    };
    let (mut visible, mut output_visible) = stream_views(&state, &caller, &job).await;
    let mut events = state.jobs.events.subscribe();
    let mut revoked = state.revocations.subscribe();
    let needs = crate::revocation::Needs::Anywhere(crate::authz::Permission::ScriptsRun);
    ws.on_upgrade(move |mut socket| async move {
        let mut recheck = tokio::time::interval(crate::revocation::RECHECK_EVERY);
        loop {
            // Credentials changed somewhere, or time passed: the stream
            // shows only what its caller may see now, or closes.
            let check = tokio::select! {
                changed = revoked.changed() => changed.is_ok(),
                _ = recheck.tick() => true,
                event = events.recv() => match event {
                    Ok(event) => {
                        let (job, device, shown) = match &event {
                            jobs::JobEvent::Output { job_id, device_id, .. } => (*job_id, *device_id, &output_visible),
                            jobs::JobEvent::Status { job_id, device_id, .. } => (*job_id, *device_id, &visible),
                        };
                        if job != id || !shown.contains(&device) {
                            continue;
                        }
                        let text = serde_json::to_string(&event).unwrap_or_default();
                        if socket.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                },
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    _ => continue,
                },
            };
            let now = match crate::revocation::still_allowed(&state, &headers, &needs).await {
                Ok(principal) if check => principal,
                _ => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            };
            let fresh = Caller {
                scope: crate::authz::scope_for(&now, crate::authz::Permission::ScriptsRun),
                principal: Arc::new(now),
                ..caller.clone()
            };
            (visible, output_visible) = stream_views(&state, &fresh, &job).await;
            if visible.is_empty() {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    })
}

/// What a job's stream may show its caller: the devices of its runs in
/// their scope, and the devices whose output they may see (a file
/// transfer's only where they may transfer files).
async fn stream_views(
    state: &AppState,
    caller: &Caller,
    job: &steward_store::JobRecord,
) -> (
    std::collections::HashSet<Uuid>,
    std::collections::HashSet<Uuid>,
) {
    let visible: std::collections::HashSet<Uuid> = state
        .store
        .job_runs(&caller.scope, job.id)
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.device_id)
        .collect();
    let output_visible = if transfer::is_transfer(&job.action) {
        transfer::transfer_devices(state, caller, visible.iter().copied()).await
    } else {
        visible.clone()
    };
    (visible, output_visible)
}

/// The public keys agents verify orders with.
pub async fn job_keys(State(state): State<Arc<AppState>>, _: Caller) -> ApiResult<Value> {
    Ok(Json(json!({
        "keys": state.jobs.public_keys(),
        "key_id": state.jobs.signer.key_id(),
    })))
}
