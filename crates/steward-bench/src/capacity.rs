//! Server capacity with simulated agents (steward-loadgen) against a real
//! `steward serve`: how many agents it holds at a given metric and
//! heartbeat interval with what round-trip latency, memory and CPU; and
//! ingest throughput with agents sending as fast as they are acked.

use crate::server::{BenchServer, cpu_secs, peak_rss_mib, rss_mib};
use anyhow::Result;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

pub struct Load {
    pub agents: usize,
    pub heartbeat: Duration,
    pub metrics_every: Duration,
    pub points: usize,
    /// How long to measure once every agent is connected.
    pub window: Duration,
    pub source_ips: u8,
}

/// Runs `load` and reports what the server did meanwhile.
pub async fn measure(steward: &Path, work_dir: &Path, name: &str, load: &Load) -> Result<Value> {
    let root = work_dir.join(format!("{name}-{}", load.agents));
    let server = BenchServer::start(steward, &root).await?;
    let identities = server.fleet(&root, load.agents).await?;
    // What the server holds before any agent connects: the rest is the
    // agents' (connections, sessions, their devices' state).
    let idle_rss = rss_mib(server.pid());
    let stats = steward_loadgen::Stats::new();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let behaviour = steward_loadgen::Behaviour {
        server: server.addr(),
        heartbeat: load.heartbeat,
        metrics_every: load.metrics_every,
        points: load.points,
        source_ips: load.source_ips,
    };
    let connecting = Instant::now();
    for (index, identity) in identities.into_iter().enumerate() {
        tokio::spawn(steward_loadgen::run_agent(
            identity,
            behaviour.clone(),
            index,
            stats.clone(),
            stop.clone(),
        ));
    }
    server
        .wait_connected(load.agents, Duration::from_secs(900))
        .await?;
    let connect_s = connecting.elapsed().as_secs_f64();
    // Settle after the connection storm, then measure a clean window.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stats.reset_rtt();
    let cpu0 = cpu_secs(server.pid());
    let t0 = Instant::now();
    let sent0 = stats.sent.load(Relaxed);
    tokio::time::sleep(load.window).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = (cpu_secs(server.pid()) - cpu0) / elapsed;
    let messages = (stats.sent.load(Relaxed) - sent0) as f64 / elapsed;
    let rss = rss_mib(server.pid());
    let result = json!({
        "agents": load.agents,
        "connected": stats.connected.load(Relaxed),
        "heartbeat_s": load.heartbeat.as_secs_f64(),
        "metrics_every_s": load.metrics_every.as_secs_f64(),
        "points_per_batch": load.points,
        "window_s": elapsed,
        "connect_all_s": connect_s,
        "messages_per_s": messages,
        "batches_acked": stats.batches_acked.load(Relaxed),
        "samples_per_s": stats.samples_acked.load(Relaxed) as f64 / elapsed,
        "ack_rtt_p50_ms": stats.ack_rtt_ms(0.5),
        "ack_rtt_p99_ms": stats.ack_rtt_ms(0.99),
        "server_rss_mib": rss,
        "server_idle_rss_mib": idle_rss,
        // The per-agent cost: server CPU per connected agent per
        // second, and server memory per connection (above the idle server).
        "cpu_us_per_agent_s": cpu * 1e6 / load.agents as f64,
        "kib_per_agent": (rss - idle_rss) * 1024.0 / load.agents as f64,
        "server_peak_rss_mib": peak_rss_mib(server.pid()),
        "server_cpu_cores": cpu,
        "connect_failures": stats.connect_failures.load(Relaxed),
    });
    let _ = stop_tx.send(true);
    Ok(result)
}
