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
    /// How long to run; with --window, how long to wait for every agent
    /// to connect.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Measure ack round trips over this long once every agent has been
    /// connected for 5 s, then stop (instead of after --duration).
    #[arg(long, value_parser = humantime::parse_duration)]
    window: Option<Duration>,
    /// At the end, stop sending metric batches and wait up to this long
    /// for those in flight to be acked before counting what was lost.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    drain: Duration,
    /// Write a JSON summary here at the end (counts, the window's round
    /// trips).
    #[arg(long)]
    summary: Option<std::path::PathBuf>,
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
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
    let stop_tx = steward_loadgen::spawn_fleet(identities, |_| behaviour.clone(), &stats);
    let begin = tokio::time::Instant::now();
    let mut steady_since: Option<tokio::time::Instant> = None;
    let mut window_start: Option<tokio::time::Instant> = None;
    let mut window_rtts: Vec<u32> = Vec::new();
    let mut last_sent = 0;
    let mut tick = 0u64;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        tick += 1;
        let now = tokio::time::Instant::now();
        let connected = stats.connected.load(Relaxed);
        if connected as usize >= cli.agents && steady_since.is_none() {
            steady_since = Some(now);
            eprintln!("all {} agents connected in {:.1?}", cli.agents, now - begin);
        }
        let settled = steady_since.is_some_and(|t| now - t >= Duration::from_secs(5));
        let rtts = stats.take_rtts();
        if settled {
            if window_start.is_none() {
                window_start = Some(now);
                // The window starts now: what came before is the storm.
                stats.batches_acked.store(0, Relaxed);
                stats.samples_acked.store(0, Relaxed);
            } else {
                window_rtts.extend_from_slice(&rtts);
            }
        }
        if tick.is_multiple_of(5) {
            let sent = stats.sent.load(Relaxed);
            let mut sorted = rtts;
            sorted.sort_unstable();
            println!(
                "connected {:>6}  sent/s {:>8.0}  acked {:>8}  ack p50 {:>7.1} ms  p99 {:>7.1} ms  orders {:>6}  connect failures {}  disconnects {}",
                connected,
                (sent - last_sent) as f64 / 5.0,
                stats.batches_acked_total.load(Relaxed),
                percentile_ms(&sorted, 0.5),
                percentile_ms(&sorted, 0.99),
                stats.orders.load(Relaxed),
                stats.connect_failures.load(Relaxed),
                stats.disconnects.load(Relaxed),
            );
            last_sent = sent;
        }
        let done = match (cli.window, window_start) {
            (Some(window), Some(start)) => now - start >= window,
            (Some(_), None) => now - begin >= cli.duration,
            (None, _) => now - begin >= cli.duration,
        };
        if done {
            break;
        }
    }
    let window_s = window_start.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let batches_in_window = stats.batches_acked.load(Relaxed);
    // Drain: no new batches; wait for the acks of those in flight.
    stats.draining.store(true, Relaxed);
    let drain_end = tokio::time::Instant::now() + cli.drain;
    while stats.batches_acked_total.load(Relaxed) < stats.batches_sent_total.load(Relaxed)
        && tokio::time::Instant::now() < drain_end
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    window_rtts.extend_from_slice(&stats.take_rtts());
    window_rtts.sort_unstable();
    let sent = stats.batches_sent_total.load(Relaxed);
    let acked = stats.batches_acked_total.load(Relaxed);
    let summary = serde_json::json!({
        "agents": cli.agents,
        "connected": stats.connected.load(Relaxed),
        "all_connected_s": steady_since.map(|t| (t - begin).as_secs_f64()),
        "connect_failures": stats.connect_failures.load(Relaxed),
        // Welcomed sessions that ended before the stop (must be 0: overload
        // slows agents, it does not drop them), and why.
        "disconnects": stats.disconnects.load(Relaxed),
        "disconnect_reasons": stats.disconnect_reasons(),
        "window_s": window_s,
        "batches_acked_in_window": batches_in_window,
        "batches_sent": sent,
        "batches_acked": acked,
        "batches_unacked": sent.saturating_sub(acked),
        "ack_rtt_p50_ms": percentile_ms(&window_rtts, 0.5),
        "ack_rtt_p99_ms": percentile_ms(&window_rtts, 0.99),
        "ack_rtt_us": window_rtts,
    });
    eprintln!(
        "sent {sent} batches, {acked} acked; window p50 {} ms, p99 {} ms",
        summary["ack_rtt_p50_ms"], summary["ack_rtt_p99_ms"]
    );
    if let Some(path) = &cli.summary {
        std::fs::write(path, serde_json::to_vec(&summary)?)?;
    }
    let _ = stop_tx.send(true);
    Ok(())
}
