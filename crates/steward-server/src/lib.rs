//! The Steward server as a library. `steward serve` is a thin shell over
//! [`launch`]; tests use [`launch_with_listener`] with a listener they bound.
//!
//! Modules follow the data path: [`tls`] accepts connections and tells
//! handlers which certificate the peer presented; [`gateway`] speaks the
//! agent protocol; [`ingest`] group-commits metric batches before acking;
//! [`status`] turns heartbeat deadlines into online/offline transitions;
//! [`api`] is the versioned JSON API; [`auth`] resolves callers.

pub mod agent_updates;
pub mod agentless;
pub mod aging;
pub mod alerting;
pub mod api;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod backups;
pub mod bootstrap;
pub mod bus;
pub mod egress;
pub mod enrollment;
pub mod gateway;
pub mod incident_events;
pub mod incidents;
pub mod ingest;
pub mod installer;
pub mod inventory;
pub mod jobs;
pub mod memory;
pub mod notify;
pub mod otlp;
pub mod password;
pub mod patch_compliance;
pub mod posture;
pub mod problems;
pub mod prometheus;
pub mod report_mail;
pub mod reports;
pub mod revocation;
pub mod sla;
pub mod status;
pub mod throttle;
pub mod tls;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use steward_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Server settings; the CLI maps its flags onto this.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Extra DNS names or IP addresses for the server certificate.
    pub extra_names: Vec<String>,
    /// The URL agents and the CLI use (`https://host:port`); derived from the
    /// listen address and host name when absent.
    pub public_url: Option<String>,
    /// How often agents send a heartbeat.
    pub heartbeat_interval: Duration,
    /// Missed heartbeats before a device is offline.
    pub offline_after_missed: u32,
    /// How long metrics are kept raw, as 5-minute means and as hourly means.
    pub retention: steward_store::Retention,
    /// Agent input limits.
    pub limits: steward_proto::Limits,
    /// How long offline notifications of one site wait to go out together.
    pub alert_group_wait: Duration,
    /// How long after it was queued a notification that keeps failing is
    /// given up (kept, marked undelivered on its channel).
    pub notification_give_up: Duration,
    /// Create the default monitors on first start.
    pub default_policy: bool,
    /// Where the job-signing key lives (default: DATA_DIR/job-signing.key).
    pub job_signing_key: Option<PathBuf>,
    /// Jobs reaching more devices than this wait for a second person's
    /// approval; 0: never.
    pub approval_threshold: u32,
    /// A `postgres://` URL for the shared database of several replicas;
    /// SQLite in the data directory when absent.
    pub database: Option<String>,
    /// A `nats://` URL connecting the replicas; in-process when absent.
    pub bus: Option<String>,
    /// Networks notifications may reach although they are loopback,
    /// private or reserved (see [`egress`]); none by default.
    pub allow_private_targets: Vec<ipnet::IpNet>,
    /// API requests per second and burst per caller; None: no limit.
    pub api_rate: Option<api::RateLimit>,
}

impl Config {
    pub fn new(data_dir: PathBuf, listen: SocketAddr) -> Self {
        Self {
            data_dir,
            listen,
            extra_names: Vec::new(),
            public_url: None,
            heartbeat_interval: Duration::from_secs(30),
            offline_after_missed: 3,
            retention: steward_store::Retention::default(),
            limits: steward_proto::Limits::default(),
            alert_group_wait: Duration::from_secs(30),
            notification_give_up: Duration::from_secs(86_400),
            default_policy: true,
            job_signing_key: None,
            approval_threshold: 0,
            database: None,
            bus: None,
            allow_private_targets: Vec::new(),
            api_rate: Some(api::RateLimit::default()),
        }
    }

    /// How long a device may stay silent before it is offline.
    pub fn offline_after(&self) -> Duration {
        self.heartbeat_interval * self.offline_after_missed
    }
}

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub authority: steward_pki::Authority,
    /// `https://host:port` agents and the CLI use.
    pub public_url: String,
    pub ingest: ingest::IngestQueue,
    pub status: status::StatusTracker,
    pub connections: gateway::Connections,
    pub metrics: Arc<ServerCounters>,
    pub shutdown: watch::Receiver<bool>,
    pub throttle: throttle::Throttle,
    /// Bounds the memory and concurrency of password checks.
    pub passwords: password::Passwords,
    pub alerting: Arc<alerting::Alerting>,
    pub jobs: jobs::Jobs,
    /// What this replica tells the others, and hears from them.
    pub bus: Arc<dyn bus::Bus>,
    /// Open sockets re-check their credentials when this changes.
    pub revocations: revocation::Revocations,
    /// How notifications go out (the address policy included).
    pub outbound: notify::Outbound,
    /// Inventory writes, at most one per device per 10 s.
    pub inventories: inventory::Inventories,
    /// The agentless devices each probing agent may report for.
    pub agentless: agentless::Targets,
}

/// Counters about the server itself (errors both log and count).
#[derive(Default, Debug)]
pub struct ServerCounters {
    pub frames_rejected: std::sync::atomic::AtomicU64,
    /// Inventories replaced by a newer one before they were stored
    /// (`inventory::Gate`).
    pub inventories_coalesced: std::sync::atomic::AtomicU64,
    pub batches_stored: std::sync::atomic::AtomicU64,
    pub batches_duplicate: std::sync::atomic::AtomicU64,
    pub connections_refused: std::sync::atomic::AtomicU64,
    pub bus_published: std::sync::atomic::AtomicU64,
    pub bus_received: std::sync::atomic::AtomicU64,
    pub bus_failed: std::sync::atomic::AtomicU64,
    /// OTLP data points stored, and log records mined.
    pub otlp_points: std::sync::atomic::AtomicU64,
    pub otlp_log_records: std::sync::atomic::AtomicU64,
}

/// A running server; dropping it does not stop it, [`Server::shutdown`] does.
pub struct Server {
    pub local_addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    _lock: std::fs::File,
}

impl Server {
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops (it stops only on shutdown).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Opens the data directory (first-run setup included), then binds
/// `config.listen` and starts the server: once the port accepts
/// connections, the admin user, CA and database exist.
pub async fn launch(config: Config) -> anyhow::Result<(Server, bootstrap::FirstRun)> {
    steward_pki::install_default_provider();
    let boot = bootstrap::open(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    start(config, listener, boot).await
}

/// Starts the server on a listener the caller bound (tests bind port 0).
pub async fn launch_with_listener(
    mut config: Config,
    listener: TcpListener,
) -> anyhow::Result<(Server, bootstrap::FirstRun)> {
    steward_pki::install_default_provider();
    config.listen = listener.local_addr()?;
    let boot = bootstrap::open(&config).await?;
    start(config, listener, boot).await
}

async fn start(
    mut config: Config,
    listener: TcpListener,
    boot: bootstrap::Opened,
) -> anyhow::Result<(Server, bootstrap::FirstRun)> {
    let local_addr = listener.local_addr()?;
    config.listen = local_addr;
    let tls_config = Arc::new(boot.authority.server_config(&boot.server_cert)?);
    let store = boot.store;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let counters = Arc::new(ServerCounters::default());
    let outbound = notify::Outbound::new(egress::EgressPolicy::new(
        config.allow_private_targets.clone(),
    ));
    let (alerting, remediations) = alerting::Alerting::start(
        store.clone(),
        config.alert_group_wait,
        config.notification_give_up,
        outbound.clone(),
        bootstrap::public_url(&config),
        shutdown_rx.clone(),
    )
    .await?;
    let ingest = ingest::IngestQueue::start(store.clone(), counters.clone());
    let status = status::StatusTracker::start(
        store.clone(),
        config.offline_after(),
        shutdown_rx.clone(),
        alerting.clone(),
    )
    .await?;
    let bus = bus::open(config.bus.as_deref(), counters.clone()).await?;
    let state = Arc::new(AppState {
        public_url: bootstrap::public_url(&config),
        config,
        store,
        authority: boot.authority,
        ingest,
        status,
        connections: gateway::Connections::default(),
        metrics: counters,
        shutdown: shutdown_rx.clone(),
        throttle: throttle::Throttle::default(),
        passwords: password::Passwords::default(),
        alerting,
        jobs: jobs::Jobs::new(boot.signer),
        bus,
        revocations: revocation::Revocations::default(),
        outbound,
        inventories: inventory::Inventories::default(),
        agentless: agentless::Targets::default(),
    });
    bus::spawn_listener(state.clone(), shutdown_rx.clone());
    spawn_retention(state.clone(), shutdown_rx.clone());
    problems::spawn(state.store.clone(), shutdown_rx.clone());
    sla::spawn(state.store.clone(), shutdown_rx.clone());
    report_mail::spawn(state.clone(), shutdown_rx.clone());
    api::spawn_fleet_recorder(state.clone(), shutdown_rx.clone());
    patch_compliance::spawn_recorder(state.clone(), shutdown_rx.clone());
    jobs::start(state.clone(), remediations, shutdown_rx.clone());
    memory::spawn_trimmer(shutdown_rx.clone());
    let router = api::router(state.clone());
    let task = tokio::spawn(tls::serve(listener, tls_config, router, shutdown_rx));
    tracing::info!(addr = %local_addr, url = %state.public_url, "Steward server listening.");
    Ok((
        Server {
            local_addr,
            state,
            shutdown,
            task,
            _lock: boot.lock,
        },
        boot.first_run,
    ))
}

fn spawn_retention(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            match state
                .store
                .apply_retention(now_ms(), &state.config.retention)
                .await
            {
                Ok(done) if done.rolled_up + done.dropped > 0 => tracing::info!(
                    rolled_up = done.rolled_up,
                    dropped = done.dropped,
                    "Retention folded aged samples into coarser means."
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "Retention failed."),
            }
        }
    });
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn now_secs() -> i64 {
    now_ms() / 1000
}
