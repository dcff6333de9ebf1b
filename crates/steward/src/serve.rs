//! `steward serve`: the server's settings on the command line, and running
//! it until a signal.

use anyhow::Result;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ServeArgs {
    /// Where the database, CA and server certificate live.
    #[arg(long, env = "STEWARD_DATA_DIR", default_value = "./steward-data")]
    pub(crate) data_dir: PathBuf,
    #[arg(long, env = "STEWARD_LISTEN", default_value = "127.0.0.1:8443")]
    pub(crate) listen: SocketAddr,
    /// Extra DNS names or IPs for the server certificate (how agents reach it).
    #[arg(long = "san")]
    pub(crate) names: Vec<String>,
    /// The URL agents use to reach this server, e.g. https://rmm.example.com:8443
    /// (put into enrollment tokens and the server certificate).
    #[arg(long, env = "STEWARD_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// How often agents send a heartbeat.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) heartbeat_interval: Duration,
    /// Missed heartbeats before a device is marked offline.
    #[arg(long, default_value_t = 3)]
    pub(crate) offline_after_missed: u32,
    /// On first start, do not create the default monitors (offline, disk
    /// almost full, disk filling up, memory pressure, CPU saturated, failed
    /// login burst, check failing).
    #[arg(long)]
    pub(crate) no_default_policy: bool,
    /// How long offline notifications of one site wait to go out as one.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) alert_group_wait: Duration,
    /// How long a notification that keeps failing is retried (at most an
    /// hour apart) before it is given up and shown undelivered on its channel.
    #[arg(long, env = "STEWARD_NOTIFICATION_GIVE_UP", default_value = "24h", value_parser = humantime::parse_duration)]
    pub(crate) notification_give_up: Duration,
    /// How long raw metric samples are kept; older ones become 5-minute means.
    #[arg(long, default_value = "7days", value_parser = humantime::parse_duration)]
    pub(crate) retention: Duration,
    /// How long 5-minute means are kept; older ones become hourly means.
    #[arg(long, default_value = "90days", value_parser = humantime::parse_duration)]
    retention_5m: Duration,
    /// How long hourly means are kept.
    #[arg(long, default_value = "730days", value_parser = humantime::parse_duration)]
    retention_1h: Duration,
    /// The Ed25519 key that signs every job (default DATA_DIR/job-signing.key);
    /// keep it on another volume than the database if you can.
    #[arg(long, env = "STEWARD_JOB_SIGNING_KEY")]
    pub(crate) job_signing_key: Option<PathBuf>,
    /// Jobs reaching more devices than this wait for a second person's
    /// approval (0: never).
    #[arg(long, env = "STEWARD_APPROVAL_THRESHOLD", default_value_t = 0)]
    pub(crate) approval_threshold: u32,
    /// A shared PostgreSQL database for several replicas, e.g.
    /// postgres://steward@db/steward (default: SQLite in the data directory).
    #[arg(long, env = "STEWARD_DATABASE")]
    pub(crate) database: Option<String>,
    /// NATS connecting several replicas, e.g. nats://nats:4222 (default:
    /// none, a single server).
    #[arg(long, env = "STEWARD_BUS")]
    pub(crate) bus: Option<String>,
    /// Loopback, private or reserved networks notifications may reach,
    /// e.g. 10.0.0.0/8,fd00::/8 (default: none, public addresses only).
    #[arg(long, env = "STEWARD_ALLOW_PRIVATE_TARGETS", value_name = "CIDRS")]
    pub(crate) allow_private_targets: Option<steward_server::egress::Networks>,
    /// API requests per second per caller (per credential, or address); 0: no limit.
    #[arg(long, env = "STEWARD_API_RATE_LIMIT", default_value_t = 50)]
    pub(crate) api_rate_limit: u32,
    /// API requests a caller may send at once above that rate.
    #[arg(long, env = "STEWARD_API_BURST", default_value_t = 200)]
    pub(crate) api_burst: u32,
}

impl ServeArgs {
    pub(crate) fn config(&self) -> steward_server::Config {
        let mut config = steward_server::Config::new(self.data_dir.clone(), self.listen);
        config.extra_names = self.names.clone();
        config.public_url = self.public_url.clone();
        config.heartbeat_interval = self.heartbeat_interval;
        config.offline_after_missed = self.offline_after_missed.max(1);
        let ms = |d: Duration| d.as_millis().min(i64::MAX as u128) as i64;
        config.retention = steward_store::Retention {
            raw_ms: ms(self.retention),
            five_minute_ms: ms(self.retention_5m).max(ms(self.retention)),
            hourly_ms: ms(self.retention_1h).max(ms(self.retention_5m)),
        };
        config.alert_group_wait = self.alert_group_wait;
        config.notification_give_up = self.notification_give_up;
        config.default_policy = !self.no_default_policy;
        config.job_signing_key = self.job_signing_key.clone();
        config.approval_threshold = self.approval_threshold;
        config.database = self.database.clone();
        config.bus = self.bus.clone();
        config.allow_private_targets = self.allow_private_targets.clone().unwrap_or_default().0;
        config.api_rate = steward_server::api::RateLimit::new(self.api_rate_limit, self.api_burst);
        config
    }
}

pub(crate) async fn serve(args: ServeArgs) -> Result<()> {
    let (server, first_run) = steward_server::launch(args.config()).await?;
    if let Some(password) = &first_run.generated_admin_password {
        println!(
            "Created user 'admin' with password: {password}\n(shown once; set STEWARD_ADMIN_PASSWORD before the first start to choose it)"
        );
    }
    println!(
        "Steward is listening on {} (CA: {})",
        server.state.public_url,
        args.data_dir.join("ca.pem").display()
    );
    tokio::select! {
        _ = shutdown_signal() => {
            tracing::info!("Shutting down.");
            server.shutdown().await;
        }
    }
    Ok(())
}

pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
}
