//! What replicas tell each other. An agent is connected to one replica;
//! a job, a revocation or a key rotation may be decided on another. The
//! deciding replica publishes a [`BusEvent`]; every replica receives it and
//! acts for the devices it holds. Without `--bus` the in-process bus has no
//! one else to tell. With `--bus nats://...` events go through NATS core
//! publish/subscribe (at most once: each event is also covered by a
//! periodic sweep, so a lost one only delays, e.g. queued runs are swept
//! every 15 s).

use crate::jobs::JobEvent;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Events between replicas.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusEvent {
    /// A job has runs to send now (created or approved).
    JobReady { job: Uuid },
    /// Disconnect the device (revoked).
    Kick { device: Uuid, reason: String },
    /// Ask the device to rotate its key now.
    Rotate { device: Uuid },
    /// Live job progress, for watchers on other replicas.
    Job(JobEvent),
    /// Monitors, noise rules, tags or dependencies changed: reload them.
    Reload,
    /// What alerting caches of these devices (site, tags) changed: forget
    /// it, so the next sample reads it again.
    DevicesChanged { devices: Vec<Uuid> },
    /// An alert was resolved by hand: let go of its key (the replica that
    /// holds the device evaluates it).
    AlertReleased {
        monitor: String,
        device: String,
        subject: String,
    },
    /// A token was revoked, a session ended or a grant changed: open
    /// sockets re-check their credentials.
    CredentialsChanged,
    /// Send this to the device, if you hold it (a remote shell opened on
    /// another replica: its order, keystrokes, resizes, close).
    ToDevice {
        device: Uuid,
        message: steward_proto::ServerMessage,
    },
    /// Terminal output of a device held here, for a session opened on
    /// another replica (the device is the one this replica authenticated).
    ShellOutput {
        device: Uuid,
        session: String,
        data_b64: String,
    },
    ShellClosed {
        device: Uuid,
        session: String,
        reason: String,
    },
}

/// Sends a message to a device held here, or asks the replica holding it;
/// false when no replica can (single server, device not connected).
pub fn send_to_device(
    state: &crate::AppState,
    device: Uuid,
    message: steward_proto::ServerMessage,
) -> bool {
    if state.connections.send(device, &message) {
        return true;
    }
    if !state.bus.is_shared() {
        return false;
    }
    tell(state, BusEvent::ToDevice { device, message });
    true
}

/// An event with the replica that published it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Envelope {
    origin: Uuid,
    event: BusEvent,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot reach the bus at {url}: {reason}")]
    Connect { url: String, reason: String },
}

pub trait Bus: Send + Sync {
    /// Events published by other replicas.
    fn subscribe(&self) -> broadcast::Receiver<BusEvent>;
    /// Whether other replicas share the installation (false: one server).
    fn is_shared(&self) -> bool;
    /// Tells every other replica, later and without waiting, in the order
    /// of the calls.
    fn enqueue(&self, event: BusEvent);
}

/// One server: nobody else to tell.
pub struct LocalBus {
    events: broadcast::Sender<BusEvent>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self {
            events: broadcast::channel(16).0,
        }
    }
}

impl Bus for LocalBus {
    fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.events.subscribe()
    }
    fn is_shared(&self) -> bool {
        false
    }
    fn enqueue(&self, _event: BusEvent) {}
}

/// Replicas connected through NATS, on subject `<prefix>.events`.
pub struct NatsBus {
    client: async_nats::Client,
    subject: String,
    events: broadcast::Sender<BusEvent>,
    /// Events to publish, in order (a shell's order before its keystrokes).
    outbox: tokio::sync::mpsc::UnboundedSender<BusEvent>,
}

impl NatsBus {
    /// Connects and starts receiving. `prefix` separates installations
    /// sharing one NATS (default `steward`).
    pub async fn connect(
        url: &str,
        prefix: &str,
        counters: std::sync::Arc<crate::ServerCounters>,
    ) -> Result<Self, BusError> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| BusError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        let subject = format!("{prefix}.events");
        let mut subscriber =
            client
                .subscribe(subject.clone())
                .await
                .map_err(|e| BusError::Connect {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
        let origin = Uuid::now_v7();
        let (events, _) = broadcast::channel(4096);
        let sender = events.clone();
        tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                match serde_json::from_slice::<Envelope>(&message.payload) {
                    Ok(envelope) if envelope.origin != origin => {
                        let _ = sender.send(envelope.event);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "Ignored a bus message that does not parse.")
                    }
                }
            }
            tracing::warn!("The bus subscription ended.");
        });
        tracing::info!(url, %origin, "Connected to the bus.");
        let (outbox, mut queue) = tokio::sync::mpsc::unbounded_channel::<BusEvent>();
        let bus = Self {
            client,
            subject,
            events,
            outbox,
        };
        let (client, subject) = (bus.client.clone(), bus.subject.clone());
        tokio::spawn(async move {
            use std::sync::atomic::Ordering::Relaxed;
            while let Some(event) = queue.recv().await {
                let published = match serde_json::to_vec(&Envelope { origin, event }) {
                    Ok(payload) => client
                        .publish(subject.clone(), payload.into())
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match published {
                    Ok(()) => counters.bus_published.fetch_add(1, Relaxed),
                    Err(error) => {
                        tracing::warn!(%error, "Could not tell the other replicas.");
                        counters.bus_failed.fetch_add(1, Relaxed)
                    }
                };
            }
        });
        Ok(bus)
    }
}

impl Bus for NatsBus {
    fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.events.subscribe()
    }
    fn is_shared(&self) -> bool {
        true
    }
    fn enqueue(&self, event: BusEvent) {
        let _ = self.outbox.send(event);
    }
}

/// The bus for `--bus URL`, or the in-process one.
pub async fn open(
    url: Option<&str>,
    counters: std::sync::Arc<crate::ServerCounters>,
) -> Result<std::sync::Arc<dyn Bus>, BusError> {
    match url.filter(|u| !u.is_empty()) {
        None => Ok(std::sync::Arc::new(LocalBus::default())),
        Some(url) => Ok(std::sync::Arc::new(
            NatsBus::connect(url, "steward", counters).await?,
        )),
    }
}

/// Publishes without holding up the caller, in order; a failure is logged
/// and counted (the periodic sweeps cover what a lost event would have done
/// sooner).
pub fn tell(state: &crate::AppState, event: BusEvent) {
    state.bus.enqueue(event);
}

/// Acts on what other replicas publish, for the devices this one holds.
pub fn spawn_listener(
    state: std::sync::Arc<crate::AppState>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut events = state.bus.subscribe();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = shutdown.changed() => return,
            };
            if event.is_ok() {
                state
                    .metrics
                    .bus_received
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            match event {
                Ok(BusEvent::JobReady { job }) => {
                    match state
                        .store
                        .runs_to_send(None, Some(job), crate::now_ms())
                        .await
                    {
                        Ok(runs) => crate::jobs::dispatch(&state, runs).await,
                        Err(error) => {
                            tracing::error!(%job, %error, "Cannot read the runs of a job.")
                        }
                    }
                }
                Ok(BusEvent::Kick { device, .. }) => {
                    state.connections.kick(device, "device revoked");
                }
                Ok(BusEvent::Rotate { device }) => {
                    state.connections.rotate(device);
                }
                Ok(BusEvent::Job(event)) => {
                    let _ = state.jobs.events.send(event);
                }
                Ok(BusEvent::ToDevice { device, message }) => {
                    state.connections.send(device, &message);
                }
                Ok(BusEvent::ShellOutput {
                    device,
                    session,
                    data_b64,
                }) => {
                    state.jobs.shells.output(device, &session, &data_b64);
                }
                Ok(BusEvent::ShellClosed {
                    device,
                    session,
                    reason,
                }) => {
                    state.jobs.shells.closed(device, &session, reason);
                }
                Ok(BusEvent::CredentialsChanged) => state.revocations.bump(),
                Ok(BusEvent::AlertReleased {
                    monitor,
                    device,
                    subject,
                }) => state.alerting.release(&steward_alert::lifecycle::AlertKey {
                    monitor,
                    device,
                    subject,
                }),
                Ok(BusEvent::DevicesChanged { devices }) => {
                    devices.iter().for_each(|d| state.alerting.forget(*d));
                }
                Ok(BusEvent::Reload) => {
                    if let Err(error) = state.alerting.reload().await {
                        tracing::error!(%error, "Cannot reload monitors after another replica changed them.");
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "Bus events were dropped (this replica fell behind)."
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}
