//! `steward-loadgen`: N simulated agents against a running server.
//!
//! ```sh
//! steward-loadgen --server 127.0.0.1:8443 --enroll-token STW1... --agents 10000 \
//!     --state /var/tmp/loadgen --heartbeat 30s --metrics 60s --duration 5m
//! ```

use anyhow::Result;
use clap::Parser;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "steward-loadgen",
    about = "Simulated Steward agents for load tests"
)]
struct Cli {
    /// The server's address (IP:port).
    #[arg(long)]
    server: std::net::SocketAddr,
    /// An enrollment token with at least --agents uses (only needed for
    /// agents not enrolled yet under --state).
    #[arg(long, default_value = "")]
    enroll_token: String,
    #[arg(long, default_value_t = 100)]
    agents: usize,
    /// Where simulated identities are kept between runs.
    #[arg(long, default_value = "/var/tmp/steward-loadgen")]
    state: std::path::PathBuf,
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    heartbeat: Duration,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    metrics: Duration,
    /// Points per metric batch (0: heartbeats only).
    #[arg(long, default_value_t = 20)]
    points: usize,
    /// Loopback source addresses to spread connections over.
    #[arg(long, default_value_t = 8)]
    source_ips: u8,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    steward_pki::install_default_provider();
    let cli = Cli::parse();
    eprintln!("open-file limit: {}", steward_loadgen::open_file_limit());
    let started = std::time::Instant::now();
    let identities = steward_loadgen::enroll(&cli.state, &cli.enroll_token, cli.agents, 32).await?;
    eprintln!(
        "{} identities ready in {:.1?}",
        identities.len(),
        started.elapsed()
    );
    let behaviour = steward_loadgen::Behaviour {
        server: cli.server,
        heartbeat: cli.heartbeat,
        metrics_every: cli.metrics,
        points: cli.points,
        source_ips: cli.source_ips,
    };
    let stats = steward_loadgen::Stats::new();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    for (index, identity) in identities.into_iter().enumerate() {
        tokio::spawn(steward_loadgen::run_agent(
            identity,
            behaviour.clone(),
            index,
            stats.clone(),
            stop.clone(),
        ));
    }
    let end = tokio::time::Instant::now() + cli.duration;
    let mut last_sent = 0;
    while tokio::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let sent = stats.sent.load(Relaxed);
        println!(
            "connected {:>6}  sent/s {:>8.0}  acked in 5 s {:>8}  ack p50 {:>7.1} ms  p99 {:>7.1} ms  orders {:>6}  connect failures {}",
            stats.connected.load(Relaxed),
            (sent - last_sent) as f64 / 5.0,
            stats.batches_acked.load(Relaxed),
            stats.ack_rtt_ms(0.5),
            stats.ack_rtt_ms(0.99),
            stats.orders.load(Relaxed),
            stats.connect_failures.load(Relaxed),
        );
        stats.reset_rtt();
        last_sent = sent;
    }
    let _ = stop_tx.send(true);
    Ok(())
}
