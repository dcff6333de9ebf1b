//! A fleet of simulated agents in one process, speaking the real protocol:
//! each enrolls with the real enrollment code (identities are cached in a
//! directory, so later runs skip it), dials the server over mutual TLS from
//! one of several loopback source addresses (127.0.0.2, .3, ...: 100,000
//! connections do not run out of ports), says hello, sends heartbeats and
//! small metric batches, and answers signed orders after verifying them.

use anyhow::{Context, Result, anyhow};
use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::ServerName;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use steward_agent::state::AgentState;
use steward_proto::{
    AgentMessage, Heartbeat, Hello, MetricBatch, Point, RunResult, RunStatus, ServerMessage,
};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

/// One simulated agent's identity.
pub struct Identity {
    pub device_id: String,
    pub config: Arc<rustls::ClientConfig>,
}

/// Counters for the whole fleet.
#[derive(Default, Debug)]
pub struct Stats {
    pub connected: AtomicU64,
    pub connect_failures: AtomicU64,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub batches_acked: AtomicU64,
    pub orders: AtomicU64,
    pub orders_refused: AtomicU64,
    pub results_acked: AtomicU64,
    /// Unix ms of the first and last order received.
    pub first_order_ms: AtomicI64,
    pub last_order_ms: AtomicI64,
    pub samples_acked: AtomicU64,
    /// Metric batches sent and acks received since the start (never reset:
    /// their difference after a drain is what was lost).
    pub batches_sent_total: AtomicU64,
    pub batches_acked_total: AtomicU64,
    /// Set to stop sending new metric batches (heartbeats go on), so what
    /// is in flight can be acked before counting.
    pub draining: std::sync::atomic::AtomicBool,
    /// Round trips metric batch → durable ack, in microseconds.
    pub ack_rtt_us: std::sync::Mutex<Vec<u32>>,
    /// Sessions that were welcomed and then ended while the fleet was not
    /// stopping, with why (the server's close frame or the socket error).
    pub disconnects: AtomicU64,
    pub disconnect_reasons: std::sync::Mutex<BTreeMap<String, u64>>,
    /// The current epoch (see `new_epoch`) and how many agents have had a
    /// metric batch acked in it: after a server restart, the agents that
    /// are back and acknowledged.
    pub epoch: AtomicU64,
    pub acked_in_epoch: AtomicU64,
}

impl Stats {
    pub fn new() -> Arc<Self> {
        let stats = Self::default();
        stats.first_order_ms.store(i64::MAX, Relaxed);
        Arc::new(stats)
    }

    /// Percentile `p` (0..1) of the ack round trips so far, in ms.
    pub fn ack_rtt_ms(&self, p: f64) -> f64 {
        let mut rtts = self
            .ack_rtt_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if rtts.is_empty() {
            return f64::NAN;
        }
        rtts.sort_unstable();
        rtts[((rtts.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
    }

    /// Takes the ack round trips so far (µs), leaving none.
    pub fn take_rtts(&self) -> Vec<u32> {
        std::mem::take(&mut *self.ack_rtt_us.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn reset_rtt(&self) {
        self.ack_rtt_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.samples_acked.store(0, Relaxed);
        self.batches_acked.store(0, Relaxed);
    }

    /// Starts a new epoch: from now on each agent counts once in
    /// `acked_in_epoch`, at its first acked batch.
    pub fn new_epoch(&self) {
        self.acked_in_epoch.store(0, Relaxed);
        self.epoch.fetch_add(1, Relaxed);
    }

    fn disconnected(&self, reason: String) {
        self.disconnects.fetch_add(1, Relaxed);
        let mut reasons = self
            .disconnect_reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *reasons.entry(reason).or_default() += 1;
    }

    /// Disconnects so far by reason, most frequent first.
    pub fn disconnect_reasons(&self) -> Vec<(String, u64)> {
        let mut reasons: Vec<(String, u64)> = self
            .disconnect_reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(reason, n)| (reason.clone(), *n))
            .collect();
        reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        reasons
    }

    pub fn reset_orders(&self) {
        self.orders.store(0, Relaxed);
        self.results_acked.store(0, Relaxed);
        self.first_order_ms.store(i64::MAX, Relaxed);
        self.last_order_ms.store(0, Relaxed);
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Enrolls `count` agents with `token` (identities under `dir`, reused
/// when present), `parallel` at a time.
pub async fn enroll(
    dir: &Path,
    token: &str,
    count: usize,
    parallel: usize,
) -> Result<Vec<Identity>> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let state_dir: PathBuf = dir.join(format!("sim-{i:06}"));
        let token = token.to_string();
        let permit = semaphore.clone().acquire_owned().await?;
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            if !state_dir.join("agent.json").exists() {
                steward_agent::enroll::enroll(&state_dir, &token, Some(format!("sim-{i:06}")))
                    .await
                    .with_context(|| format!("enrolling sim-{i:06}"))?;
            }
            let state = AgentState::load(&state_dir)?;
            let config = steward_pki::client_config(&state.ca_pem, Some(&state.identity))?;
            Ok::<_, anyhow::Error>(Identity {
                device_id: state.config.device_id,
                config: Arc::new(config),
            })
        }));
    }
    let mut identities = Vec::with_capacity(count);
    for task in tasks {
        identities.push(task.await??);
    }
    Ok(identities)
}

#[derive(Clone, Debug)]
pub struct Behaviour {
    pub server: SocketAddr,
    pub heartbeat: Duration,
    pub metrics_every: Duration,
    /// Points per metric batch.
    pub points: usize,
    /// Source addresses 127.0.0.2 .. 127.0.0.(1+source_ips).
    pub source_ips: u8,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn dial(identity: &Identity, behaviour: &Behaviour, index: usize) -> Result<Socket> {
    let source = Ipv4Addr::new(
        127,
        0,
        0,
        2 + (index % behaviour.source_ips.max(1) as usize) as u8,
    );
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    let tcp = socket.connect(behaviour.server).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(behaviour.server.ip().to_string())?;
    let tls = tokio_rustls::TlsConnector::from(identity.config.clone())
        .connect(name, tcp)
        .await?;
    // Small buffers: one process holds tens of thousands of these.
    let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    config.read_buffer_size = 4096;
    config.write_buffer_size = 0;
    let (socket, _) = tokio_tungstenite::client_async_with_config(
        format!("wss://{}{}", behaviour.server, steward_proto::AGENT_WS_PATH),
        tls,
        Some(config),
    )
    .await?;
    Ok(socket)
}

async fn send(socket: &mut Socket, stats: &Stats, message: &AgentMessage) -> Result<()> {
    socket
        .send(Message::text(steward_proto::encode(message)))
        .await?;
    stats.sent.fetch_add(1, Relaxed);
    Ok(())
}

/// Starts one simulated agent per identity (agent `index` behaves as
/// `behaviour(index)`), counting into `stats`. They run until the returned
/// sender sends `true` or is dropped: keep it while they should run.
pub fn spawn_fleet(
    identities: Vec<Identity>,
    behaviour: impl Fn(usize) -> Behaviour,
    stats: &Arc<Stats>,
) -> tokio::sync::watch::Sender<bool> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    for (index, identity) in identities.into_iter().enumerate() {
        tokio::spawn(run_agent(
            identity,
            behaviour(index),
            index,
            stats.clone(),
            stop.clone(),
        ));
    }
    stop_tx
}

/// Runs one simulated agent until `stop` fires. A session that fails is
/// retried after the real agent's backoff (exponential from 1 s, full
/// jitter, capped at 60 s, reset once welcomed); a reconnected agent sends
/// a metric batch at once, as a real one replays its spool.
pub async fn run_agent(
    identity: Identity,
    behaviour: Behaviour,
    index: usize,
    stats: Arc<Stats>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut attempt = 0u32;
    let mut first = true;
    let counted_epoch = AtomicU64::new(u64::MAX);
    loop {
        let result = tokio::select! {
            result = session(&identity, &behaviour, index, &stats, &mut attempt, first, &counted_epoch) => result,
            _ = stop.changed() => return,
        };
        if let Err(error) = result {
            tracing::debug!(index, error = %format!("{error:#}"), "Simulated agent disconnected.");
        }
        first = false;
        let pause = steward_agent::connection::backoff(attempt, Duration::from_secs(60));
        attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn session(
    identity: &Identity,
    behaviour: &Behaviour,
    index: usize,
    stats: &Stats,
    attempt: &mut u32,
    first: bool,
    counted_epoch: &AtomicU64,
) -> Result<()> {
    let mut socket = match dial(identity, behaviour, index).await {
        Ok(socket) => socket,
        Err(error) => {
            stats.connect_failures.fetch_add(1, Relaxed);
            return Err(error);
        }
    };
    send(
        &mut socket,
        stats,
        &AgentMessage::Hello(Hello {
            protocol_version: steward_proto::PROTOCOL_VERSION,
            agent_version: "loadgen".into(),
            refuses: Vec::new(),
            target: String::new(),
        }),
    )
    .await?;
    let welcome = loop {
        match next(&mut socket, stats).await {
            Ok(ServerMessage::Welcome(welcome)) => break welcome,
            Ok(ServerMessage::Error { message, .. }) => {
                stats.connect_failures.fetch_add(1, Relaxed);
                return Err(anyhow!("refused: {message}"));
            }
            Ok(_) => {}
            Err(error) => {
                stats.connect_failures.fetch_add(1, Relaxed);
                return Err(error);
            }
        }
    };
    *attempt = 0;
    let verifier = steward_sign::Verifier::new(&welcome.job_keys)?;
    stats.connected.fetch_add(1, Relaxed);
    let session = Session {
        identity,
        behaviour,
        index,
        stats,
        stored_seq: welcome.stored_seq,
        verifier: &verifier,
        first,
        counted_epoch,
    };
    // Dropped by `stop` mid-session: not a disconnect, so nothing counted.
    struct Connected<'a>(&'a Stats);
    impl Drop for Connected<'_> {
        fn drop(&mut self) {
            self.0.connected.fetch_sub(1, Relaxed);
        }
    }
    let _connected = Connected(stats);
    let error = session.run(&mut socket).await;
    stats.disconnected(reason(&error));
    Err(error)
}

/// A short, countable reason: the close frame's code and text, or the
/// error's outermost message.
fn reason(error: &anyhow::Error) -> String {
    let text = error.to_string();
    text.chars().take(80).collect()
}

struct Session<'a> {
    identity: &'a Identity,
    behaviour: &'a Behaviour,
    index: usize,
    stats: &'a Stats,
    stored_seq: u64,
    verifier: &'a steward_sign::Verifier,
    /// The agent's first session (its ticks are spread over the interval);
    /// a reconnected agent sends a batch at once.
    first: bool,
    /// The last epoch this agent counted itself in (across sessions).
    counted_epoch: &'a AtomicU64,
}

async fn next(socket: &mut Socket, stats: &Stats) -> Result<ServerMessage> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                stats.received.fetch_add(1, Relaxed);
                return Ok(ServerMessage::decode(&text)?);
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                return Err(anyhow!(
                    "closed by the server: {} {}",
                    frame.code,
                    frame.reason
                ));
            }
            Some(Ok(Message::Close(None))) | None => return Err(anyhow!("closed")),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
        }
    }
}

impl Session<'_> {
    /// Runs until the connection fails; returns why.
    async fn run(&self, socket: &mut Socket) -> anyhow::Error {
        match self.exchange(socket).await {
            Ok(never) => match never {},
            Err(error) => error,
        }
    }

    async fn exchange(&self, socket: &mut Socket) -> Result<std::convert::Infallible> {
        let Self {
            identity,
            behaviour,
            index,
            stats,
            stored_seq,
            verifier,
            first,
            counted_epoch,
        } = *self;
        let session_epoch = stats.epoch.load(Relaxed);
        // Spread the fleet's ticks over the interval.
        let phase = |every: Duration| every.mul_f64((index % 997) as f64 / 997.0);
        let start = tokio::time::Instant::now();
        let mut heartbeat =
            tokio::time::interval_at(start + phase(behaviour.heartbeat), behaviour.heartbeat);
        let metrics_start = if first {
            start + phase(behaviour.metrics_every)
        } else {
            start
        };
        let mut metrics = tokio::time::interval_at(metrics_start, behaviour.metrics_every);
        let mut seq = stored_seq;
        let mut seen = std::collections::HashSet::new();
        let mut in_flight: std::collections::VecDeque<(u64, tokio::time::Instant)> =
            Default::default();
        loop {
            tokio::select! {
                _ = heartbeat.tick() => send(socket, stats, &AgentMessage::Heartbeat(Heartbeat { ts_ms: now_ms() })).await?,
                _ = metrics.tick(), if behaviour.points > 0 && !stats.draining.load(Relaxed) => {
                    seq += 1;
                    let points = (0..behaviour.points)
                        .map(|i| Point {
                            name: format!("loadgen.metric_{i}"),
                            labels: Default::default(),
                            value: ((seq as usize * 7 + i) % 100) as f64 / 100.0,
                        })
                        .collect();
                    in_flight.push_back((seq, tokio::time::Instant::now()));
                    send(socket, stats, &AgentMessage::Metrics(MetricBatch { seq, ts_ms: now_ms(), points })).await?;
                    stats.batches_sent_total.fetch_add(1, Relaxed);
                }
                message = next(socket, stats) => match message? {
                    ServerMessage::Ack { seq: acked } => {
                        // Only a session begun in this epoch counts: an
                        // old one may still read acks its server sent
                        // before a restart began the epoch.
                        let epoch = stats.epoch.load(Relaxed);
                        if session_epoch == epoch && counted_epoch.swap(epoch, Relaxed) != epoch {
                            stats.acked_in_epoch.fetch_add(1, Relaxed);
                        }
                        stats.batches_acked.fetch_add(1, Relaxed);
                        stats.batches_acked_total.fetch_add(1, Relaxed);
                        stats.samples_acked.fetch_add(behaviour.points as u64, Relaxed);
                        while let Some((sent_seq, at)) = in_flight.front().copied() {
                            if sent_seq > acked {
                                break;
                            }
                            in_flight.pop_front();
                            if sent_seq == acked {
                                let us = at.elapsed().as_micros().min(u32::MAX as u128) as u32;
                                stats.ack_rtt_us.lock().unwrap_or_else(|e| e.into_inner()).push(us);
                            }
                        }
                    }
                    ServerMessage::RunAck { .. } => { stats.results_acked.fetch_add(1, Relaxed); }
                    ServerMessage::Order(signed) => {
                        let now = now_ms();
                        stats.orders.fetch_add(1, Relaxed);
                        stats.first_order_ms.fetch_min(now, Relaxed);
                        stats.last_order_ms.fetch_max(now, Relaxed);
                        match verifier.verify(&signed, &identity.device_id, now, |run| seen.contains(run)) {
                            Ok(order) => {
                                seen.insert(order.run_id.clone());
                                send(socket, stats, &AgentMessage::RunStarted { run_id: order.run_id.clone(), started_at: now }).await?;
                                send(socket, stats, &AgentMessage::RunResult(RunResult {
                                    run_id: order.run_id,
                                    status: RunStatus::Succeeded,
                                    exit_code: Some(0),
                                    stdout: "pong".into(),
                                    stderr: String::new(),
                                    truncated: false,
                                    started_at: Some(now),
                                    duration_ms: Some(0),
                                    message: String::new(),
                                })).await?;
                            }
                            Err(_) => { stats.orders_refused.fetch_add(1, Relaxed); }
                        }
                    }
                    _ => {}
                },
            }
        }
    }
}

/// This process's open-file limit (each simulated agent holds one socket;
/// raise it with `ulimit -n` before large runs).
pub fn open_file_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}
