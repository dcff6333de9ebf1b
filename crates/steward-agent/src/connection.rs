//! `steward-agent run`: the collector loop and the connection loop.
//!
//! The collector never waits for the network: it spools every cycle. The
//! connection loop dials out, greets, and drains the spool oldest first
//! with up to [`WINDOW`] batches awaiting their ack; on any failure it
//! reconnects after an exponential backoff with full jitter, so a fleet
//! does not stampede a restarted server.

use crate::budget::{Budget, Pass};
use crate::collectors::{self, Host, inventory};
use crate::spool::Spool;
use crate::state::AgentState;
use crate::transport::{self, Socket};
use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_proto::logs::LogPatternReport;
use steward_proto::{
    AgentMessage, CheckRuns, Heartbeat, Hello, Inventory, Limits, ServerMessage, Validate,
};
use tokio::sync::Notify;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

/// Batches sent but not yet acked, at most.
const WINDOW: usize = 32;
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// How often the inventory is re-collected (sent only when it changed).
const INVENTORY_EVERY: Duration = Duration::from_secs(3600);

mod loops;
use loops::*;

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub interval: Duration,
    pub spool_max_bytes: u64,
    /// Cap of the reconnection backoff.
    pub reconnect_max: Duration,
    /// Mountpoints always reported.
    pub filesystems: Vec<String>,
    /// Local script checks and how often they run.
    pub checks: Vec<crate::checks::Check>,
    pub check_interval: Duration,
    /// Other hosts this agent probes, run with the checks.
    pub probes: Vec<crate::probes::Probe>,
    /// Log files watched for a pattern.
    pub log_rules: Vec<crate::collectors::logs::LogRule>,
    /// Capabilities this device refuses whatever the server signs.
    pub refuses: Vec<steward_proto::Capability>,
    /// Patching detection: how often, how long at most, where.
    pub patching: collectors::patching::Config,
    /// Backup jobs watched, and how often they are looked at.
    pub backups: Vec<crate::collectors::backup::config::Job>,
    pub backup_interval: Duration,
    /// Security posture: checks, ports, files, logins.
    pub posture: collectors::posture::Config,
    /// Disk health: where smartctl is and how often it is asked.
    pub smart: collectors::smart::Config,
    /// What the agent allows itself (CPU, memory) before heavy passes wait.
    pub budget: crate::budget::Limits,
    /// Self-update: pinned release keys, deadline, this binary.
    pub update: crate::update::Config,
}

pub async fn run(dir: &Path, options: RunOptions) -> Result<()> {
    let RunOptions {
        interval,
        spool_max_bytes,
        reconnect_max,
        filesystems,
        checks,
        check_interval,
        probes,
        log_rules,
        refuses,
        patching,
        backups,
        backup_interval,
        posture,
        smart,
        budget,
        update,
    } = options;
    let state = AgentState::load(dir)?;
    crate::notify::ready();
    let spool = Arc::new(Mutex::new(Spool::open(
        &dir.join("spool"),
        spool_max_bytes,
    )?));
    let mut host = Host::new().context("cannot read host information")?;
    host.extra_mounts = filesystems;
    host.log_rules = log_rules;
    host.package_root = patching.root.clone();
    let host = Arc::new(Mutex::new(host));
    let budget = Arc::new(Budget::new(budget));
    tokio::spawn(budget.clone().watch());
    let spooled = Arc::new(Notify::new());
    let log_patterns: Shared<Vec<LogPatternReport>> = Arc::default();
    let logs_ready = Arc::new(Notify::new());
    tracing::info!(device = %state.config.device_id, server = %state.config.url, "Steward agent starting.");
    // Probe results wait here for the next metric batch.
    let probe_points: Shared<Vec<steward_proto::Point>> = Arc::default();
    tokio::spawn(collect_loop(
        host.clone(),
        spool.clone(),
        spooled.clone(),
        interval,
        (log_patterns.clone(), logs_ready.clone()),
        probe_points.clone(),
    ));

    let latest_checks: Shared<Option<steward_proto::CheckRuns>> = Arc::default();
    let checks_ready = Arc::new(Notify::new());
    // Probes the server assigns (agentless devices), replaced whole by
    // each `probes` message; the checks task picks them up at once.
    let assigned: Shared<Vec<crate::probes::assigned::Group>> = Arc::default();
    let assigned_changed = Arc::new(Notify::new());
    tokio::spawn(checks_loop(
        (checks, probes),
        check_interval,
        latest_checks.clone(),
        checks_ready.clone(),
        probe_points,
        (assigned.clone(), assigned_changed.clone()),
    ));
    // Pending updates are detected in their own task (the package manager
    // takes seconds, and may hang); the inventory goes again when a pass
    // changes it.
    let patched = Arc::new(Notify::new());
    let rescan = Arc::new(Notify::new());
    tokio::spawn(collectors::patching::run_loop(
        patching.clone(),
        patched.clone(),
        rescan.clone(),
        budget.clone(),
    ));
    // With no job configured the report is empty (sent at once): the
    // server learns that this device has no backup (a policy may require
    // one). A device with jobs reports once they were first looked at.
    let latest_backups: Shared<Option<steward_proto::BackupReport>> = Arc::new(Mutex::new(
        backups
            .is_empty()
            .then(steward_proto::BackupReport::default),
    ));
    let backups_ready = Arc::new(Notify::new());
    tokio::spawn(backups_loop(
        backups,
        backup_interval,
        latest_backups.clone(),
        backups_ready.clone(),
    ));
    let latest_posture: Shared<steward_proto::PostureReport> = Arc::default();
    let posture_ready = Arc::new(Notify::new());
    if !posture.interval.is_zero() {
        tokio::spawn(posture_loop(
            posture,
            latest_posture.clone(),
            posture_ready.clone(),
            budget.clone(),
        ));
    }
    let latest_disks: Shared<Option<steward_proto::DiskHealthReport>> = Arc::default();
    let disks_ready = Arc::new(Notify::new());
    tokio::spawn(collectors::smart::run_loop(
        smart,
        latest_disks.clone(),
        disks_ready.clone(),
    ));
    let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Arc::new(
        crate::jobs::Runner::open(dir, &state.config.device_id, refuses, out_tx)?
            .with_patching(patching, rescan),
    );
    let local = Local {
        spool,
        spooled,
        host,
        latest_checks,
        checks_ready,
        patched,
        latest_backups,
        backups_ready,
        latest_posture,
        posture_ready,
        latest_disks,
        disks_ready,
        runner,
        outgoing: tokio::sync::Mutex::new(out_rx),
        log_patterns,
        logs_ready,
        budget,
        assigned,
        assigned_changed,
        updater: Mutex::new(crate::update::Updater::new(update)),
    };
    let mut attempt = 0u32;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        // Reloaded every time: the identity changes when it is rotated.
        let state = AgentState::load(dir)?;
        let config = Arc::new(steward_pki::client_config(
            &state.ca_pem,
            Some(&state.identity),
        )?);
        let session = session(dir, &state, config, &local, &mut attempt);
        tokio::select! {
            result = session => match result {
                Ok(Rotated) => {
                    tracing::info!("Credential rotated; reconnecting with the new certificate.");
                    continue;
                }
                Err(error) => tracing::warn!(error = %format!("{error:#}"), "Connection to the server failed."),
            },
            _ = &mut stop => {
                crate::notify::notify("STOPPING=1");
                tracing::info!("Stopping.");
                return Ok(());
            }
        }
        let delay = backoff(attempt, reconnect_max);
        attempt = attempt.saturating_add(1);
        tracing::info!(
            retry_in_ms = delay.as_millis() as u64,
            "Reconnecting after a pause."
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = &mut stop => return Ok(()),
        }
    }
}

/// SIGTERM or Ctrl-C; on Windows Ctrl-C or the service control manager's
/// stop (`os::windows_service`).
#[cfg(windows)]
async fn shutdown_signal() {
    tokio::select! {
        _ = crate::os::windows_service::stopped() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(unix)]
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Full jitter: uniform in [0, min(cap, base·2^attempt)]. Public so the
/// load generator's simulated agents pause as real ones do.
pub fn backoff(attempt: u32, cap: Duration) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(cap);
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    let fraction = u64::from_le_bytes(bytes) as f64 / u64::MAX as f64;
    ceiling.mul_f64(fraction).max(Duration::from_millis(100))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A digest of the inventory without the fields that change every minute:
/// what the session keeps to tell whether it changed (the inventory itself,
/// a package list, would stay resident between hourly checks).
fn fingerprint(inventory: &Inventory) -> String {
    use sha2::Digest;
    let stable = serde_json::to_vec(&stable(inventory)).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(&stable))
}

/// The inventory, with the fields that change every minute zeroed, to tell
/// whether it changed.
fn stable(inventory: &Inventory) -> Inventory {
    let mut stable = inventory.clone();
    stable.uptime_secs = 0;
    stable
        .filesystems
        .iter_mut()
        .for_each(|f| f.available_bytes = 0);
    if let Some(patching) = &mut stable.patching {
        patching.checked_at = 0;
        patching.duration_ms = 0;
    }
    stable
}

async fn collect_inventory(host: &Shared<Host>) -> Result<Inventory> {
    let host = host.clone();
    let (mut inventory, package_root) = tokio::task::spawn_blocking(move || {
        let mut host = lock(&host);
        (inventory::collect(&mut host), host.package_root.clone())
    })
    .await
    .map_err(|e| anyhow!("inventory collection failed: {e}"))?;
    inventory::complete(&mut inventory, &package_root).await;
    inventory::fit(&mut inventory, steward_proto::MAX_FRAME_BYTES);
    Ok(inventory)
}

/// Collects the inventory again and sends it when it changed.
async fn refresh_inventory(
    socket: &mut Socket,
    host: &Shared<Host>,
    last: &mut String,
) -> Result<()> {
    let inventory = collect_inventory(host).await?;
    let now = fingerprint(&inventory);
    if now != *last {
        send(socket, &AgentMessage::Inventory(Box::new(inventory))).await?;
        *last = now;
    }
    crate::memory::trim();
    Ok(())
}

async fn send(socket: &mut Socket, message: &AgentMessage) -> Result<()> {
    socket
        .send(Message::text(steward_proto::encode(message)))
        .await?;
    Ok(())
}

/// A session ends without an error only when a new certificate was saved:
/// reconnect with it now.
struct Rotated;

/// Renew the certificate when it has less than this left.
const RENEW_BEFORE_SECS: i64 = 30 * 24 * 3600;

/// What a session shares with the collector and check loops.
struct Local {
    spool: Shared<Spool>,
    spooled: Arc<Notify>,
    host: Shared<Host>,
    latest_checks: Shared<Option<steward_proto::CheckRuns>>,
    checks_ready: Arc<Notify>,
    /// Woken after each patching detection pass.
    patched: Arc<Notify>,
    latest_backups: Shared<Option<steward_proto::BackupReport>>,
    backups_ready: Arc<Notify>,
    /// The posture view; its logins are taken out as they are sent.
    latest_posture: Shared<steward_proto::PostureReport>,
    posture_ready: Arc<Notify>,
    /// The latest SMART pass, sent after each pass and at each connection.
    latest_disks: Shared<Option<steward_proto::DiskHealthReport>>,
    disks_ready: Arc<Notify>,
    runner: Arc<crate::jobs::Runner>,
    /// Messages from running jobs and shells for the server.
    outgoing: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<AgentMessage>>,
    /// Log templates mined since they were last sent (at most
    /// [`MAX_PENDING_PATTERNS`] reports; older ones are dropped, counted).
    log_patterns: Shared<Vec<LogPatternReport>>,
    logs_ready: Arc<Notify>,
    /// The agent's own budget; its check goes once it throttled.
    budget: Arc<Budget>,
    /// The server's probe assignments, and the bell rung when they change.
    assigned: Shared<Vec<crate::probes::assigned::Group>>,
    assigned_changed: Arc<Notify>,
    updater: Mutex<crate::update::Updater>,
}

/// Log pattern reports kept while disconnected.
const MAX_PENDING_PATTERNS: usize = 32;

async fn session(
    dir: &Path,
    state: &AgentState,
    config: Arc<rustls::ClientConfig>,
    local: &Local,
    attempt: &mut u32,
) -> Result<Rotated> {
    let Local {
        spool,
        spooled,
        host,
        latest_checks,
        checks_ready,
        patched,
        latest_backups,
        backups_ready,
        latest_posture,
        posture_ready,
        latest_disks,
        disks_ready,
        runner,
        outgoing,
        log_patterns,
        logs_ready,
        budget,
        assigned,
        assigned_changed,
        updater,
    } = local;
    let mut outgoing = outgoing.lock().await;
    let mut socket =
        transport::open(&state.config.url, steward_proto::AGENT_WS_PATH, config).await?;
    send(
        &mut socket,
        &AgentMessage::Hello(Hello {
            protocol_version: steward_proto::PROTOCOL_VERSION,
            agent_version: crate::update::version().into(),
            target: crate::update::target(),
            refuses: runner.refuses().to_vec(),
        }),
    )
    .await?;
    let welcome = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match next_message(&mut socket).await? {
                ServerMessage::Welcome(welcome) => return Ok(welcome),
                ServerMessage::Error { message, .. } => bail!("server refused hello: {message}"),
                _ => continue,
            }
        }
    })
    .await
    .map_err(|_| anyhow!("no welcome from the server"))??;
    *attempt = 0;
    tracing::info!(stored_seq = welcome.stored_seq, "Connected.");
    {
        let mut spool = lock(spool);
        spool.raise_floor(welcome.stored_seq)?;
        spool.ack(welcome.stored_seq)?;
    }
    runner.pin_keys_once(dir, &welcome.job_keys);
    // Connected and acknowledged: a new version confirms its update here.
    for report in crate::update::connected(dir) {
        send(&mut socket, &report).await?;
    }
    crate::update::reported(dir);
    // What jobs said while we were away is stale, except their results,
    // which the journal keeps until acked: resend those.
    while outgoing.try_recv().is_ok() {}
    for result in runner.unacked() {
        send(&mut socket, &AgentMessage::RunResult(result)).await?;
    }
    let backups = lock(latest_backups).clone();
    if let Some(backups) = backups {
        send(&mut socket, &AgentMessage::Backups(backups)).await?;
    }
    if let Some(run) = budget.report(now_ms()) {
        send(
            &mut socket,
            &AgentMessage::Checks(CheckRuns { runs: vec![run] }),
        )
        .await?;
    }
    let inventory = collect_inventory(host).await?;
    let mut last_inventory = fingerprint(&inventory);
    send(&mut socket, &AgentMessage::Inventory(Box::new(inventory))).await?;
    // After the inventory: the server judges the device's age from both.
    let disks = lock(latest_disks).clone();
    if let Some(disks) = disks {
        send(&mut socket, &AgentMessage::DiskHealth(disks)).await?;
    }
    crate::memory::trim();
    // An inventory refresh deferred while over budget, done once back.
    let mut inventory_owed = false;
    let heartbeat_every = Duration::from_secs(u64::from(welcome.heartbeat_interval_secs.max(1)));
    let mut heartbeat = tokio::time::interval_at(Instant::now() + heartbeat_every, heartbeat_every);
    let mut inventory_tick =
        tokio::time::interval_at(Instant::now() + INVENTORY_EVERY, INVENTORY_EVERY);
    let mut sent_through = welcome.stored_seq;
    // A key waiting for its certificate during a rotation.
    let mut pending_key: Option<String> = None;
    // The server tells when our certificate expires (no certificate parsing
    // in the agent).
    let expires = welcome.cert_not_after.unwrap_or(i64::MAX);
    if expires.saturating_sub(now_ms() / 1000) < RENEW_BEFORE_SECS {
        pending_key = Some(request_renewal(&mut socket, &state.config.name).await?);
    }
    loop {
        // Fill the window with the oldest unsent batches.
        loop {
            let next = {
                let spool = lock(spool);
                if spool.in_flight(sent_through) >= WINDOW {
                    None
                } else {
                    spool
                        .next_after(sent_through)
                        .map(|seq| (seq, spool.frame(seq)))
                }
            };
            let Some((seq, frame)) = next else { break };
            sent_through = seq;
            match frame {
                Ok(frame) => socket.send(Message::text(frame)).await?,
                Err(error) => {
                    tracing::error!(seq, error = %format!("{error:#}"), "Dropping an unreadable spooled batch.");
                    lock(spool).ack_one(seq);
                }
            }
        }
        tokio::select! {
            _ = heartbeat.tick() => send(&mut socket, &AgentMessage::Heartbeat(Heartbeat { ts_ms: now_ms() })).await?,
            _ = spooled.notified() => {}
            Some(message) = outgoing.recv() => send(&mut socket, &message).await?,
            _ = runner.inventory_now.notified() => {
                let inventory = collect_inventory(host).await?;
                last_inventory = fingerprint(&inventory);
                send(&mut socket, &AgentMessage::Inventory(Box::new(inventory))).await?;
                crate::memory::trim();
            }
            _ = budget.changed.notified() => {
                if let Some(run) = budget.report(now_ms()) {
                    send(&mut socket, &AgentMessage::Checks(CheckRuns { runs: vec![run] })).await?;
                }
                if inventory_owed && !budget.throttled() {
                    inventory_owed = false;
                    refresh_inventory(&mut socket, host, &mut last_inventory).await?;
                }
            }
            _ = checks_ready.notified() => {
                let runs = lock(latest_checks).clone();
                if let Some(runs) = runs {
                    send(&mut socket, &AgentMessage::Checks(runs)).await?;
                }
            }
            _ = logs_ready.notified() => {
                let mut reports = std::mem::take(&mut *lock(log_patterns)).into_iter();
                while let Some(report) = reports.next() {
                    let message = AgentMessage::LogPatterns(report);
                    if let Err(error) = send(&mut socket, &message).await {
                        // Not sent: it and the rest wait for the next
                        // connection, ahead of newer reports.
                        if let AgentMessage::LogPatterns(report) = message {
                            let mut pending = lock(log_patterns);
                            let newer = std::mem::take(&mut *pending);
                            pending.push(report);
                            pending.extend(reports);
                            pending.extend(newer);
                        }
                        return Err(error);
                    }
                }
            }
            _ = posture_ready.notified() => {
                // Login events go once: taken out as they are sent, and
                // put back ahead of newer ones if the send fails.
                let report = {
                    let mut latest = lock(latest_posture);
                    let report = latest.clone();
                    latest.logins.clear();
                    latest.logins_dropped = 0;
                    report
                };
                let message = AgentMessage::Posture(Box::new(report));
                if let Err(error) = send(&mut socket, &message).await {
                    if let AgentMessage::Posture(report) = message {
                        collectors::posture::requeue_logins(&mut lock(latest_posture), *report);
                    }
                    return Err(error);
                }
            }
            _ = disks_ready.notified() => {
                let disks = lock(latest_disks).clone();
                if let Some(disks) = disks {
                    send(&mut socket, &AgentMessage::DiskHealth(disks)).await?;
                }
            }
            _ = backups_ready.notified() => {
                let backups = lock(latest_backups).clone();
                if let Some(backups) = backups {
                    send(&mut socket, &AgentMessage::Backups(backups)).await?;
                }
            }
            _ = async {
                tokio::select! {
                    _ = inventory_tick.tick() => {}
                    _ = patched.notified() => {}
                }
            } => {
                if budget.allow(Pass::Inventory) {
                    refresh_inventory(&mut socket, host, &mut last_inventory).await?;
                } else {
                    inventory_owed = true;
                }
            }
            message = next_message(&mut socket) => match message? {
                ServerMessage::Ack { seq } => lock(spool).ack(seq)?,
                ServerMessage::RotateCredentials => {
                    pending_key = Some(request_renewal(&mut socket, &state.config.name).await?);
                }
                ServerMessage::Renewed { cert_pem } => {
                    let Some(key_pem) = pending_key.take() else { continue };
                    crate::state::save_identity(dir, &steward_pki::CertifiedKey { cert_pem, key_pem })?;
                    let _ = socket.close(None).await;
                    return Ok(Rotated);
                }
                ServerMessage::Error { code, message } => tracing::warn!(?code, %message, "The server rejected a message."),
                ServerMessage::Order(signed) => runner.on_order(signed),
                ServerMessage::RunAck { run_id } => runner.acked(&run_id),
                ServerMessage::UpdateOffer(offer) => {
                    let step = lock(updater).on_offer(offer);
                    update_step(&mut socket, updater, step).await?;
                }
                ServerMessage::UpdateChunk { version, offset, data_b64, .. } => {
                    let step = lock(updater).on_chunk(&version, offset, &data_b64);
                    update_step(&mut socket, updater, step).await?;
                }
                ServerMessage::ShellInput { session, data_b64 } => {
                    use base64::Engine;
                    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data_b64) {
                        runner.shell_input(&session, crate::jobs::shell::Input::Data(bytes));
                    }
                }
                ServerMessage::ShellResize { session, cols, rows } => {
                    runner.shell_input(&session, crate::jobs::shell::Input::Resize(cols, rows));
                }
                ServerMessage::ShellClose { session } => {
                    runner.shell_input(&session, crate::jobs::shell::Input::Close);
                }
                ServerMessage::Probes { probes } => {
                    let groups = crate::probes::assigned::prepare(&probes);
                    tracing::info!(probes = probes.len(), devices = groups.len(), "The server assigned probes.");
                    *lock(assigned) = groups;
                    assigned_changed.notify_one();
                }
                _ => {}
            },
        }
    }
}

/// Sends what the updater asks; on `Restart`, closes the connection and
/// starts the new binary in this process's place.
async fn update_step(
    socket: &mut Socket,
    updater: &Mutex<crate::update::Updater>,
    step: crate::update::Step,
) -> Result<()> {
    use crate::update::Step;
    match step {
        Step::Nothing => Ok(()),
        Step::Send(messages) => {
            for message in &messages {
                send(socket, message).await?;
            }
            Ok(())
        }
        Step::Restart(messages) => {
            for message in &messages {
                send(socket, message).await?;
            }
            let _ = socket.close(None).await;
            let error = lock(updater).restart();
            Err(error.context("the new agent version did not start; the guard rolls it back"))
        }
    }
}

/// Sends a CSR for a fresh key; returns the key (kept until the
/// certificate arrives).
async fn request_renewal(socket: &mut Socket, name: &str) -> Result<String> {
    let (csr_pem, key_pem) = steward_pki::agent_csr(name)?;
    send(socket, &AgentMessage::Renew { csr_pem }).await?;
    tracing::info!("Requested a new certificate.");
    Ok(key_pem)
}

/// The next server message; errors when the connection ends.
async fn next_message(socket: &mut Socket) -> Result<ServerMessage> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => match ServerMessage::decode(&text) {
                Ok(message) => return Ok(message),
                Err(error) => tracing::warn!(%error, "Ignoring a malformed server message."),
            },
            Some(Ok(Message::Close(frame))) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                bail!("the server closed the connection: {reason}");
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => bail!("the connection ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_stay_on_the_grid_and_increase() {
        assert_eq!(next_timestamp(10_400, None, 1000), 10_000);
        assert_eq!(next_timestamp(11_499, Some(11_000), 1000), 11_000);
        // A 5 s stall re-lays the grid, still after the previous sample.
        assert_eq!(next_timestamp(17_600, Some(12_000), 1000), 18_000);
        // The clock stepped back: never repeat or go back past the last one.
        assert_eq!(next_timestamp(1_000, Some(12_000), 1000), 11_001);
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let cap = Duration::from_secs(60);
        let delays: Vec<Duration> = (0..50).map(|_| backoff(10, cap)).collect();
        assert!(delays.iter().all(|d| *d <= cap));
        assert!(delays.iter().any(|d| *d != delays[0]), "no jitter");
    }
}
