//! The remote terminal and file transfer of one device. Both need
//! `shell.open` on the device. The audit trail keeps of each terminal who
//! opened it on which device, when and why it closed, how long it lasted
//! and the bytes each way; not its transcript. What a transfer's job keeps of
//! the file, and who sees it: [`super::transfer`].

use super::{ApiError, ApiResult, id_param, transfer};
use crate::AppState;
use crate::auth::{self, Caller};
use crate::authz::Permission;
use crate::jobs::shell::ShellEvent;
use crate::jobs::{self, JobRequest};
use crate::revocation::{Needs, RECHECK_EVERY, still_allowed};
use axum::Json;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use steward_proto::{Action, Order, ServerMessage};
use steward_store::DeviceDetail;
use uuid::Uuid;

/// A terminal nobody typed in for this long closes (agent side).
const IDLE_TIMEOUT_SECS: u32 = 15 * 60;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Held by this replica, or (several replicas) online on another one.
async fn reachable(state: &AppState, device: Uuid) -> bool {
    if state.connections.is_connected(device) {
        return true;
    }
    state.bus.is_shared()
        && state
            .store
            .get_device(&steward_store::Scope::all(), device)
            .await
            .is_ok_and(|d| d.summary.status == steward_store::Status::Online)
}

/// The device, in scope, online, and not refusing `capability`.
async fn usable_device(
    state: &AppState,
    caller: &Caller,
    id: &str,
    capability: &str,
) -> Result<DeviceDetail, ApiError> {
    let id = id_param(id, "device")?;
    let device = super::device_in_scope(state, caller, id).await?;
    if device.summary.refuses.iter().any(|c| c == capability) {
        return Err(ApiError::forbidden(format!(
            "the device's local configuration refuses {capability}"
        )));
    }
    if !reachable(state, id).await {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "the device is not connected",
        ));
    }
    Ok(device)
}

#[derive(Deserialize)]
pub struct Size {
    cols: Option<u16>,
    rows: Option<u16>,
}

/// Messages from the browser or CLI.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Input { data: String },
    Resize { cols: u16, rows: u16 },
}

/// `GET /api/v1/devices/{id}/shell`: a WebSocket carrying a terminal.
/// Client → server: `{"type":"input","data":"ls\r"}`,
/// `{"type":"resize","cols":120,"rows":40}`. Server → client: binary frames
/// of terminal output, then a close frame with the reason.
pub async fn open(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(size): Query<Size>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if headers.contains_key(axum::http::header::ORIGIN) && !auth::same_origin(&headers) {
        return ApiError::forbidden("cross-origin WebSocket refused").into_response();
    }
    let device = match usable_device(&state, &caller, &id, "shell").await {
        Ok(device) => device,
        Err(error) => return error.into_response(),
    };
    let Ok(ws) = ws else {
        return ApiError::bad_request("this is a WebSocket").into_response();
    };
    let (cols, rows) = (
        size.cols.unwrap_or(80).clamp(10, 500),
        size.rows.unwrap_or(24).clamp(5, 200),
    );
    ws.on_upgrade(move |socket| session(state, caller, headers, device, cols, rows, socket))
}

async fn session(
    state: Arc<AppState>,
    caller: Caller,
    headers: HeaderMap,
    device: DeviceDetail,
    cols: u16,
    rows: u16,
    mut socket: WebSocket,
) {
    let mut revoked = state.revocations.subscribe();
    let device_id = device.summary.id;
    let session = Uuid::now_v7().to_string();
    let mut events = state.jobs.shells.open(device_id, &session);
    let now = crate::now_ms();
    let order = Order {
        run_id: session.clone(),
        job_id: session.clone(),
        device_id: device_id.to_string(),
        issued_at: now,
        expires_at: now + 60_000,
        action: Action::Shell {
            session: session.clone(),
            cols,
            rows,
            idle_timeout_secs: IDLE_TIMEOUT_SECS,
        },
    };
    let audit = |action: &'static str, detail: Value| {
        let (state, caller) = (state.clone(), caller.clone());
        let target = device_id.to_string();
        async move {
            crate::audit::record(&state, &caller, action, &target, detail).await;
        }
    };
    audit(
        "shell.opened",
        json!({ "session": session, "device": device.summary.name }),
    )
    .await;
    tracing::info!(device = %device_id, user = %caller.principal.username, %session, "Remote shell opened.");
    let sent = crate::bus::send_to_device(
        &state,
        device_id,
        ServerMessage::Order(state.jobs.signer.sign(&order)),
    );
    let started = std::time::Instant::now();
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    // The terminal lives only as long as its caller may open it: a revoked
    // token, an ended session or a withdrawn grant closes it at once.
    let needs = Needs::At(
        Permission::ShellOpen,
        device.summary.org_id,
        device.summary.site.clone(),
    );
    // The first tick is at once: a revocation between the route's check
    // and this subscription is caught here.
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    let mut reason = if sent {
        String::new()
    } else {
        "the device disconnected".to_string()
    };
    while reason.is_empty() {
        tokio::select! {
            event = events.recv() => match event {
                Some(ShellEvent::Output(bytes)) => {
                    bytes_out += bytes.len() as u64;
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        reason = "the viewer went away".into();
                    }
                }
                Some(ShellEvent::Closed(why)) => reason = why,
                None => reason = "the session ended".into(),
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let message = match serde_json::from_str::<ClientMessage>(&text) {
                        Ok(ClientMessage::Input { data }) => {
                            bytes_in += data.len() as u64;
                            ServerMessage::ShellInput { session: session.clone(), data_b64: B64.encode(data.as_bytes()) }
                        }
                        Ok(ClientMessage::Resize { cols, rows }) => ServerMessage::ShellResize {
                            session: session.clone(),
                            cols: cols.clamp(10, 500),
                            rows: rows.clamp(5, 200),
                        },
                        Err(_) => continue,
                    };
                    if !crate::bus::send_to_device(&state, device_id, message) {
                        reason = "the device disconnected".into();
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    bytes_in += bytes.len() as u64;
                    let message = ServerMessage::ShellInput { session: session.clone(), data_b64: B64.encode(&bytes) };
                    if !crate::bus::send_to_device(&state, device_id, message) {
                        reason = "the device disconnected".into();
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => reason = "closed by the viewer".into(),
                Some(Ok(_)) => {}
            },
            changed = revoked.changed() => {
                if changed.is_err() {
                    reason = "the server is stopping".into();
                } else if let Err(why) = still_allowed(&state, &headers, &needs).await {
                    reason = why;
                }
            }
            _ = recheck.tick() => {
                if let Err(why) = still_allowed(&state, &headers, &needs).await {
                    reason = why;
                } else if !reachable(&state, device_id).await {
                    reason = "the device disconnected".into();
                }
            }
        }
    }
    state.jobs.shells.close(&session);
    crate::bus::send_to_device(
        &state,
        device_id,
        ServerMessage::ShellClose {
            session: session.clone(),
        },
    );
    audit(
        "shell.closed",
        json!({
            "session": session,
            "device": device.summary.name,
            "reason": reason,
            "seconds": started.elapsed().as_secs(),
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
        }),
    )
    .await;
    tracing::info!(device = %device_id, %session, %reason, "Remote shell closed.");
    // The viewer hears the session ended only once the audit trail holds it,
    // so whoever reads the log after "session ended" finds the close there.
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: Utf8Bytes::from(reason.chars().take(120).collect::<String>()),
        })))
        .await;
}

#[derive(Deserialize)]
pub struct FileRequest {
    #[serde(default)]
    path: Option<String>,
    /// For uploads: the file's bytes, base64.
    #[serde(default)]
    content_b64: Option<String>,
}

/// Runs a one-device file job and waits (up to 60 s) for its result. The
/// job then forgets the file's content (see [`super::transfer`]).
async fn file_job(
    state: &Arc<AppState>,
    caller: &Caller,
    device: &DeviceDetail,
    name: String,
    action: Action,
) -> ApiResult<Value> {
    let request = JobRequest {
        targets: vec![format!("device:{}", device.summary.id)],
        expires_in: Some("2m".into()),
        ..JobRequest::default()
    };
    let stored = serde_json::to_value(&action).unwrap_or_default();
    let created = jobs::create_with_action(
        state,
        device.summary.org_id,
        &caller.scope,
        &request,
        name,
        action,
        &caller.principal.username,
        None,
    )
    .await?;
    match jobs::wait_for_result(state, &caller.scope, created.id, Duration::from_secs(60)).await {
        Ok(Some(run)) => {
            let note = transfer::download_note(&run.stdout);
            transfer::forget(state, created.id, &stored, &note).await;
            Ok(Json(transfer::answer(created.id, &run)))
        }
        Ok(None) => {
            transfer::forget_later(state.clone(), created.id, stored);
            Err(ApiError::new(
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                format!("no answer from the device within 60 s (job {})", created.id),
            ))
        }
        Err(error) => {
            transfer::forget_later(state.clone(), created.id, stored);
            Err(error.into())
        }
    }
}

fn checked_path(path: Option<String>) -> Result<String, ApiError> {
    let path = path.unwrap_or_default();
    if !path.starts_with('/') || path.len() > 4096 || path.contains('\0') {
        return Err(ApiError::bad_request("path must be an absolute file path"));
    }
    Ok(path)
}

/// `POST /api/v1/devices/{id}/files/get {"path": "/etc/hosts"}`.
pub async fn file_get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<FileRequest>,
) -> ApiResult<Value> {
    let device = usable_device(&state, &caller, &id, "files").await?;
    caller.acted_on(&device.summary.name);
    let path = checked_path(body.path)?;
    let action = Action::FileGet {
        path: path.clone(),
        max_bytes: steward_proto::MAX_FILE_BYTES as u64,
    };
    file_job(&state, &caller, &device, format!("download {path}"), action).await
}

/// `POST /api/v1/devices/{id}/files/put {"path": ..., "content_b64": ...}`.
pub async fn file_put(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<FileRequest>,
) -> ApiResult<Value> {
    let device = usable_device(&state, &caller, &id, "files").await?;
    caller.acted_on(&device.summary.name);
    let path = checked_path(body.path)?;
    let content = body.content_b64.unwrap_or_default();
    let bytes = B64
        .decode(content.trim())
        .map_err(|_| ApiError::bad_request("content_b64 is not base64"))?;
    if bytes.len() > steward_proto::MAX_FILE_BYTES {
        return Err(too_large(bytes.len()));
    }
    let action = Action::FilePut {
        path: path.clone(),
        sha256: steward_sign::sha256_hex(&bytes),
        content_b64: B64.encode(&bytes),
    };
    file_job(&state, &caller, &device, format!("upload {path}"), action).await
}

/// The refusal of a file over the limit.
fn too_large(bytes: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the file is {:.1} MiB ({bytes} bytes); the limit is {}",
            bytes as f64 / (1 << 20) as f64,
            super::file_limit_text()
        ),
    )
}
