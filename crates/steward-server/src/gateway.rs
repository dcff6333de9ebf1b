//! The agent gateway: the enrollment socket and the long-lived agent socket.
//!
//! The device of every frame is the device whose certificate the TLS layer
//! verified ([`crate::tls::PeerCert`]); nothing in a payload can name
//! another device. Bad frames get an `error` reply and are dropped; a peer
//! that keeps sending them is disconnected; other agents never notice.

use crate::api::ApiError;
use crate::tls::{PeerCert, RemoteAddr};
use crate::{AppState, auth};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_proto::{
    AgentMessage, EnrollRequest, EnrollResponse, ErrorCode, MAX_FRAME_BYTES, ProtoError,
    ServerMessage, Welcome,
};
use steward_store::{DeviceAuth, IngestBatch, IngestOutcome, NewDevice, StoreError};
use uuid::Uuid;

/// Bad frames tolerated on one connection before it is closed.
const MAX_BAD_FRAMES: u32 = 20;
/// Metric batches awaiting their commit per connection.
const MAX_IN_FLIGHT: usize = 64;
/// Messages queued for one connection at most.
const CONTROL_QUEUE: usize = 1024;
/// The WebSocket read buffer a connection starts with.
const READ_BUFFER: usize = 1024;
/// Agent certificates are valid this long; they are renewed before expiry.
const AGENT_CERT_DAYS: i64 = 825;

/// What the server can ask of a live agent connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Close(&'static str),
    Rotate,
    /// A server message for the agent (orders, acks, shell input).
    Send(Utf8Bytes),
}

type Live = HashMap<Uuid, (u64, flume::Sender<Control>)>;

/// Live agent connections, so a revocation, a rotation request or a newer
/// connection of the same device reaches the right socket.
#[derive(Default)]
pub struct Connections {
    live: Mutex<Live>,
    next_id: AtomicU64,
}

impl Connections {
    fn register(&self, device: Uuid) -> (u64, flume::Receiver<Control>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = flume::bounded(CONTROL_QUEUE);
        let old = self.lock().insert(device, (id, tx));
        if let Some((_, old)) = old {
            let _ = old.try_send(Control::Close(
                "replaced by a newer connection of this device",
            ));
        }
        (id, rx)
    }

    fn unregister(&self, device: Uuid, id: u64) {
        let mut live = self.lock();
        if live.get(&device).is_some_and(|(current, _)| *current == id) {
            live.remove(&device);
        }
    }

    /// Closes the device's connection, if any.
    pub fn kick(&self, device: Uuid, reason: &'static str) {
        if let Some((_, tx)) = self.lock().remove(&device) {
            let _ = tx.try_send(Control::Close(reason));
        }
    }

    /// Asks a connected device to rotate its credential; false if offline.
    pub fn rotate(&self, device: Uuid) -> bool {
        self.lock()
            .get(&device)
            .is_some_and(|(_, tx)| tx.try_send(Control::Rotate).is_ok())
    }

    /// Queues a message for the device's connection; false when it is not
    /// connected or its queue is full (the caller retries later).
    pub fn send(&self, device: Uuid, message: &ServerMessage) -> bool {
        self.lock().get(&device).is_some_and(|(_, tx)| {
            tx.try_send(Control::Send(Utf8Bytes::from(steward_proto::encode(
                message,
            ))))
            .is_ok()
        })
    }

    pub fn is_connected(&self, device: Uuid) -> bool {
        self.lock().contains_key(&device)
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn text(message: &ServerMessage) -> Message {
    Message::Text(Utf8Bytes::from(steward_proto::encode(message)))
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_string()),
    }))
}

/// `GET /agent/v1/connect`: an enrolled agent's socket (client certificate
/// required).
pub async fn connect(
    State(state): State<Arc<AppState>>,
    Extension(peer): Extension<PeerCert>,
    Extension(RemoteAddr(remote)): Extension<RemoteAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let refuse = |error: ApiError| {
        state
            .metrics
            .connections_refused
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%remote, error = %error.message, "Agent connection refused.");
        error.into_response()
    };
    let not_after = peer.not_after;
    let Some(fingerprint) = peer.fingerprint else {
        return refuse(ApiError::unauthorized("agent client certificate required"));
    };
    let device = match state.store.device_by_fingerprint(&fingerprint).await {
        Ok(device) if !device.revoked => device,
        Ok(_) => return refuse(ApiError::forbidden("device is revoked")),
        Err(StoreError::NotFound) => {
            return refuse(ApiError::forbidden("unknown device certificate"));
        }
        Err(error) => return refuse(error.into()),
    };
    // Small buffers: tens of thousands of mostly idle sockets. The read
    // buffer grows for a large frame (and keeps that size); the defaults
    // (128 KiB each) would cost ~150 KiB per agent (1.5 GiB at 10,000
    // agents). 1 KiB holds a heartbeat; a metric batch grows it to its size.
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| agent_session(state, device, not_after, socket))
}

type Pending = std::pin::Pin<Box<dyn Future<Output = (u64, Result<IngestOutcome, String>)> + Send>>;

async fn agent_session(
    state: Arc<AppState>,
    device: DeviceAuth,
    not_after: Option<i64>,
    mut socket: WebSocket,
) {
    let (conn_id, control) = state.connections.register(device.id);
    // Boxed: what runs once per connection (and per frame, below) is
    // allocated while it runs, not kept in every idle session's task.
    if !Box::pin(admit(&state, &device)).await {
        let _ = socket.send(close(1008, "device revoked")).await;
        state.connections.unregister(device.id, conn_id);
        return;
    }
    let mut shutdown = state.shutdown.clone();
    let mut pending: FuturesOrdered<Pending> = FuturesOrdered::new();
    let mut bad_frames = 0u32;
    let mut greeted = false;
    tracing::debug!(device = %device.id, "Agent connected.");
    loop {
        let can_read = pending.len() < MAX_IN_FLIGHT;
        tokio::select! {
            command = control.recv_async() => match command.ok() {
                Some(Control::Rotate) => {
                    if socket.send(text(&ServerMessage::RotateCredentials)).await.is_err() { break; }
                }
                Some(Control::Send(message)) => {
                    if socket.send(Message::Text(message)).await.is_err() { break; }
                }
                Some(Control::Close(reason)) => {
                    let _ = socket.send(close(1008, reason)).await;
                    break;
                }
                None => break,
            },
            _ = shutdown.changed() => {
                let _ = socket.send(close(1012, "server restarting")).await;
                break;
            }
            Some((seq, result)) = pending.next(), if !pending.is_empty() => {
                let reply = match result {
                    Ok(IngestOutcome::Stored | IngestOutcome::Duplicate) => ServerMessage::Ack { seq },
                    Ok(IngestOutcome::Refused) => {
                        let _ = socket.send(close(1008, "device refused")).await;
                        break;
                    }
                    Err(message) => ServerMessage::Error { code: ErrorCode::Internal, message },
                };
                if socket.send(text(&reply)).await.is_err() {
                    break;
                }
            }
            frame = socket.recv(), if can_read => {
                let frame = match frame {
                    Some(Ok(frame)) => frame,
                    Some(Err(error)) => {
                        // Oversized frames end here: the frame cannot be skipped.
                        state.metrics.frames_rejected.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(device = %device.id, %error, "Agent socket error.");
                        let _ = socket.send(close(1009, &format!("{error}"))).await;
                        break;
                    }
                    None => break,
                };
                let body = match frame {
                    Message::Text(body) => body,
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                    Message::Binary(_) => {
                        bad_frames += 1;
                        reject(&state, &mut socket, &device, ProtoError::Malformed("binary frames are not supported".into())).await;
                        if bad_frames > MAX_BAD_FRAMES { break; }
                        continue;
                    }
                };
                match AgentMessage::decode(&body, &state.config.limits) {
                    Ok(message) => {
                        state.status.touch(device.id).await;
                        match Box::pin(handle(&state, &device, not_after, message, &mut greeted, &mut pending)).await {
                            Ok(Some(reply)) => {
                                if socket.send(text(&reply)).await.is_err() { break; }
                            }
                            Ok(None) => {}
                            Err(error) => {
                                bad_frames += 1;
                                reject(&state, &mut socket, &device, error).await;
                            }
                        }
                    }
                    Err(error) => {
                        bad_frames += 1;
                        reject(&state, &mut socket, &device, error).await;
                    }
                }
                if bad_frames > MAX_BAD_FRAMES {
                    let _ = socket.send(close(1008, "too many bad frames")).await;
                    break;
                }
            }
        }
    }
    state.connections.unregister(device.id, conn_id);
    tracing::debug!(device = %device.id, "Agent disconnected.");
}

/// What a new connection does before its first frame; false when the
/// device was revoked meanwhile.
async fn admit(state: &Arc<AppState>, device: &DeviceAuth) -> bool {
    // A revocation between the check before the upgrade and this
    // registration would have found no connection to close: check again now
    // that any later one will.
    let stored = state
        .store
        .get_device(&steward_store::Scope::all(), device.id)
        .await
        .ok()
        .filter(|d| !d.summary.revoked);
    let Some(stored) = stored else {
        return false;
    };
    // This replica evaluates the device from now on: rebuild what the
    // engine holds of it from the store before its first frame counts.
    state.alerting.take_over(&stored.summary).await;
    if device.rotated {
        // First connection with a rotated certificate: retire the old one.
        if let Err(error) = state.store.promote_fingerprint(device.id).await {
            tracing::error!(device = %device.id, %error, "Cannot retire the old certificate.");
        }
        crate::audit::write(
            state,
            Some(device.org_id),
            &format!("device:{}", device.id),
            "agent",
            "device.credential.activated",
            &device.id.to_string(),
            serde_json::json!({}),
        )
        .await;
    }
    true
}

async fn reject(state: &AppState, socket: &mut WebSocket, device: &DeviceAuth, error: ProtoError) {
    state
        .metrics
        .frames_rejected
        .fetch_add(1, Ordering::Relaxed);
    tracing::warn!(device = %device.id, %error, "Rejected a frame from an agent.");
    let code = match error {
        ProtoError::TooLarge { .. } => ErrorCode::TooLarge,
        ProtoError::Malformed(_) => ErrorCode::Malformed,
        ProtoError::Invalid { .. } => ErrorCode::Invalid,
    };
    let _ = socket
        .send(text(&ServerMessage::Error {
            code,
            message: error.to_string(),
        }))
        .await;
}

async fn handle(
    state: &Arc<AppState>,
    device: &DeviceAuth,
    not_after: Option<i64>,
    message: AgentMessage,
    greeted: &mut bool,
    pending: &mut FuturesOrdered<Pending>,
) -> Result<Option<ServerMessage>, ProtoError> {
    match message {
        AgentMessage::Hello(hello) => {
            if hello.protocol_version < steward_proto::MIN_PROTOCOL_VERSION {
                return Err(ProtoError::Invalid {
                    field: "protocol_version",
                    reason: format!("{} is too old; upgrade the agent", hello.protocol_version),
                });
            }
            *greeted = true;
            let refuses: Vec<String> = hello
                .refuses
                .iter()
                .map(|c| c.as_str().to_string())
                .collect();
            if let Err(error) = state.store.set_device_refuses(device.id, &refuses).await {
                tracing::error!(device = %device.id, %error, "Cannot store the device's refused capabilities.");
            }
            crate::agent_updates::on_hello(state, device.id, &hello.agent_version, &hello.target)
                .await;
            let stored_seq = state.store.stored_seq(device.id).await.unwrap_or(0);
            // Runs waiting for this device go out right after the welcome.
            let (state2, id) = (state.clone(), device.id);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                // The probes it runs for agentless devices, then its runs.
                crate::agentless::take_over(&state2, id).await;
                crate::agentless::push(&state2, id).await;
                crate::jobs::on_connect(state2, id).await;
            });
            Ok(Some(ServerMessage::Welcome(Welcome {
                protocol_version: steward_proto::PROTOCOL_VERSION,
                device_id: device.id.to_string(),
                heartbeat_interval_secs: state.config.heartbeat_interval.as_secs().max(1) as u32,
                stored_seq,
                cert_not_after: not_after,
                job_keys: state.jobs.public_keys(),
            })))
        }
        _ if !*greeted => Err(ProtoError::Invalid {
            field: "type",
            reason: "the first message must be hello".into(),
        }),
        AgentMessage::Heartbeat(_) | AgentMessage::Unknown => Ok(None),
        AgentMessage::UpdateFetch { version, offset } => {
            Ok(crate::agent_updates::on_fetch(state, device, &version, offset).await)
        }
        AgentMessage::UpdateReport(report) => {
            crate::agent_updates::on_report(state, device, report).await;
            Ok(None)
        }
        AgentMessage::RunStarted { run_id, started_at } => {
            crate::jobs::on_started(state, device.id, &run_id, started_at);
            Ok(None)
        }
        AgentMessage::RunOutput {
            run_id,
            stream,
            data,
        } => {
            crate::jobs::on_output(state, device.id, &run_id, stream, data);
            Ok(None)
        }
        AgentMessage::RunResult(result) => {
            crate::jobs::on_result(state, device.id, result);
            Ok(None)
        }
        // A session opened on another replica gets its output over the bus.
        AgentMessage::ShellOutput { session, data_b64 } => {
            if state.jobs.shells.is_local(&session) {
                state.jobs.shells.output(device.id, &session, &data_b64);
            } else {
                let device = device.id;
                crate::bus::tell(
                    state,
                    crate::bus::BusEvent::ShellOutput {
                        device,
                        session,
                        data_b64,
                    },
                );
            }
            Ok(None)
        }
        AgentMessage::ShellClosed { session, reason } => {
            if state.jobs.shells.is_local(&session) {
                state.jobs.shells.closed(device.id, &session, reason);
            } else {
                let device = device.id;
                crate::bus::tell(
                    state,
                    crate::bus::BusEvent::ShellClosed {
                        device,
                        session,
                        reason,
                    },
                );
            }
            Ok(None)
        }
        AgentMessage::Inventory(inventory) => {
            crate::inventory::offer(state, device.id, inventory).await;
            Ok(None)
        }
        AgentMessage::Checks(checks) => {
            // Results of assigned probes belong to their agentless device.
            let mut records = Vec::with_capacity(checks.runs.len());
            let mut theirs: std::collections::BTreeMap<
                Uuid,
                Vec<steward_store::CheckResultRecord>,
            > = Default::default();
            for run in &checks.runs {
                let owner = match &run.device {
                    None => device.id,
                    Some(target) => {
                        match crate::agentless::is_target(state, device.id, target).await {
                            Some(target) => target,
                            None => {
                                tracing::warn!(device = %device.id, %target, "Dropped a probe result for a device this agent does not probe.");
                                continue;
                            }
                        }
                    }
                };
                let parsed = steward_alert::plugin::parse(run.exit_code, &run.output);
                state
                    .alerting
                    .on_check(owner, &run.name, parsed.state, &parsed.message, run.ts_ms)
                    .await;
                let record = steward_store::CheckResultRecord {
                    name: run.name.clone(),
                    state: serde_json::to_value(parsed.state)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    message: parsed.message,
                    long_output: parsed.long_output,
                    perfdata: serde_json::to_value(&parsed.perfdata).unwrap_or_default(),
                    at: run.ts_ms,
                };
                if owner == device.id {
                    records.push(record);
                } else {
                    theirs.entry(owner).or_default().push(record);
                }
            }
            for (target, records) in theirs {
                crate::agentless::seen(state, target).await;
                if let Err(error) = state
                    .store
                    .save_check_results(target, device.org_id, &records)
                    .await
                {
                    tracing::error!(device = %target, %error, "Cannot store probe results.");
                }
            }
            if let Err(error) = state
                .store
                .save_check_results(device.id, device.org_id, &records)
                .await
            {
                tracing::error!(device = %device.id, %error, "Cannot store check results.");
            }
            Ok(None)
        }
        AgentMessage::Backups(report) => {
            crate::backups::on_report(state, device, report).await;
            Ok(None)
        }
        AgentMessage::LogPatterns(report) => {
            if report.dropped > 0 {
                tracing::debug!(device = %device.id, rule = %report.rule, dropped = report.dropped, "The agent's log template miner is full; lines beyond it are counted, not mined.");
            }
            state.alerting.on_log_patterns(device.id, &report).await;
            Ok(None)
        }
        AgentMessage::DiskHealth(report) => {
            crate::aging::on_report(state, device, report).await;
            Ok(None)
        }
        AgentMessage::Posture(report) => {
            crate::posture::on_report(state, device, *report).await;
            Ok(None)
        }
        AgentMessage::Renew { csr_pem } => {
            steward_pki::check_csr(&csr_pem).map_err(|e| ProtoError::Invalid {
                field: "csr_pem",
                reason: e.to_string(),
            })?;
            let signed = state
                .authority
                .sign_agent_csr(&csr_pem, &device.id.to_string(), AGENT_CERT_DAYS)
                .and_then(|pem| {
                    steward_pki::cert_der_from_pem(&pem)
                        .map(|der| (pem, steward_pki::fingerprint(&der)))
                });
            let (cert_pem, fingerprint) = signed.map_err(|e| ProtoError::Invalid {
                field: "csr_pem",
                reason: e.to_string(),
            })?;
            if let Err(error) = state
                .store
                .set_next_fingerprint(device.id, &fingerprint)
                .await
            {
                tracing::error!(device = %device.id, %error, "Cannot store a rotated certificate.");
                return Ok(Some(ServerMessage::Error {
                    code: ErrorCode::Internal,
                    message: "cannot rotate now".into(),
                }));
            }
            crate::audit::write(
                state,
                Some(device.org_id),
                &format!("device:{}", device.id),
                "agent",
                "device.credential.issued",
                &device.id.to_string(),
                serde_json::json!({ "fingerprint": fingerprint }),
            )
            .await;
            Ok(Some(ServerMessage::Renewed { cert_pem }))
        }
        AgentMessage::Metrics(batch) => {
            batch.check_clock(crate::now_ms())?;
            let mut batch = batch;
            // Points of assigned probes go to their agentless devices,
            // stored before this batch is acked.
            let (own, theirs) = crate::agentless::ingest_points(
                state,
                device,
                batch.ts_ms,
                std::mem::take(&mut batch.points),
            )
            .await;
            batch.points = own;
            // Evaluated on receipt, not after the group commit: alert
            // latency does not wait for storage. The engine ignores samples
            // not newer than the last one of their series, so a batch resent
            // after a lost ack changes nothing.
            state
                .alerting
                .on_batch(device.id, batch.ts_ms, &batch.points)
                .await;
            let seq = batch.seq;
            let batch = IngestBatch {
                device_id: device.id,
                org_id: device.org_id,
                seq: batch.seq,
                ts_ms: batch.ts_ms,
                points: batch.points,
            };
            // Queued here, in frame order; only the wait for the commit is
            // left to `pending` (see `IngestQueue::enqueue`).
            let stored = state.ingest.enqueue(batch).await;
            pending.push_back(Box::pin(async move {
                for wait in theirs {
                    // An agentless device's batch refused (retired
                    // meanwhile) must not close its agent's connection.
                    if let Err(error) = wait.await {
                        return (seq, Err(error));
                    }
                }
                match stored {
                    Ok(stored) => (seq, stored.await),
                    Err(error) => (seq, Err(error)),
                }
            }));
            Ok(None)
        }
    }
}

/// `GET /agent/v1/enroll`: trades an enrollment token and a CSR for a device
/// certificate. No client certificate needed.
pub async fn enroll(
    State(state): State<Arc<AppState>>,
    Extension(RemoteAddr(remote)): Extension<RemoteAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |mut socket| async move {
            let response = match tokio::time::timeout(Duration::from_secs(30), socket.recv()).await
            {
                Ok(Some(Ok(Message::Text(text)))) => enroll_device(&state, &text).await,
                _ => Err("expected an enrollment request".to_string()),
            };
            let response = response.unwrap_or_else(|message| {
                tracing::warn!(%remote, %message, "Enrollment refused.");
                EnrollResponse::Refused { message }
            });
            let _ = socket
                .send(Message::Text(Utf8Bytes::from(steward_proto::encode(
                    &response,
                ))))
                .await;
            let _ = socket.send(close(1000, "done")).await;
        })
}

async fn enroll_device(state: &AppState, text: &str) -> Result<EnrollResponse, String> {
    let request: EnrollRequest = steward_proto::decode_json(text).map_err(|e| e.to_string())?;
    for (field, value) in [("name", &request.name), ("hostname", &request.hostname)] {
        if value.is_empty() || value.len() > 253 || value.chars().any(char::is_control) {
            return Err(format!("invalid {field}"));
        }
    }
    // Check the CSR before spending a token use, sign only after.
    steward_pki::check_csr(&request.csr_pem).map_err(|e| e.to_string())?;
    let token = state
        .store
        .consume_enroll_token(&auth::hash_secret(&request.secret), crate::now_secs())
        .await
        .map_err(|e| e.to_string())?;
    let device_id = Uuid::now_v7();
    let cert_pem = state
        .authority
        .sign_agent_csr(&request.csr_pem, &device_id.to_string(), AGENT_CERT_DAYS)
        .map_err(|e| e.to_string())?;
    let der = steward_pki::cert_der_from_pem(&cert_pem).map_err(|e| e.to_string())?;
    state
        .store
        .create_device(&NewDevice {
            id: device_id,
            org_id: token.org_id,
            site: token.site.clone(),
            name: request.name.clone(),
            hostname: request.hostname.clone(),
            tags: token.tags.clone(),
            cert_fingerprint: steward_pki::fingerprint(&der),
            enrolled_at: crate::now_secs(),
        })
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(device = %device_id, "Device enrolled.");
    crate::audit::write(
        state,
        Some(token.org_id),
        &format!("enrollment-token:{}", token.id),
        "agent",
        "device.enrolled",
        &device_id.to_string(),
        serde_json::json!({"name": &request.name, "hostname": &request.hostname}),
    )
    .await;
    Ok(EnrollResponse::Enrolled {
        device_id: device_id.to_string(),
        cert_pem,
        job_keys: state.jobs.public_keys(),
    })
}
