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
    measure_in(steward, &root, &[], load).await
}

/// Ingest throughput on one back end: agents send 100-point batches every
/// 50 ms (as fast as they are acked); on PostgreSQL against a database of
/// its own made for the run.
pub async fn ingest(
    steward: &Path,
    work_dir: &Path,
    postgres: Option<&str>,
    agents: usize,
    seconds: u64,
) -> Result<Value> {
    let load = Load {
        agents,
        heartbeat: Duration::from_secs(30),
        metrics_every: Duration::from_millis(50),
        points: 100,
        window: Duration::from_secs(seconds),
        source_ips: 4,
    };
    match postgres {
        None => measure(steward, work_dir, "ingest", &load).await,
        Some(url) => {
            let db = steward_store_sql::testdb::create_on(url).await;
            // A new database each run: new agents too.
            let root = work_dir.join(format!("ingest-postgres-{agents}"));
            let _ = std::fs::remove_dir_all(&root);
            let mut result = measure_in(
                steward,
                &root,
                &[("STEWARD_DATABASE", db.url.as_str())],
                &load,
            )
            .await?;
            result["backend"] = json!("postgres");
            Ok(result)
        }
    }
}

async fn measure_in(
    steward: &Path,
    root: &Path,
    env: &[(&str, &str)],
    load: &Load,
) -> Result<Value> {
    let server = BenchServer::start_with_env(steward, root, env).await?;
    let identities = server.fleet(root, load.agents).await?;
    // What the server holds before any agent connects: the rest is the
    // agents' (connections, sessions, their devices' state).
    let idle_rss = rss_mib(server.pid());
    let stats = steward_loadgen::Stats::new();
    let behaviour = steward_loadgen::Behaviour {
        server: server.addr(),
        heartbeat: load.heartbeat,
        metrics_every: load.metrics_every,
        points: load.points,
        source_ips: load.source_ips,
    };
    let connecting = Instant::now();
    let stop_tx = steward_loadgen::spawn_fleet(identities, |_| behaviour.clone(), &stats);
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
    let acked0 = stats.samples_acked.load(Relaxed);
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
        "samples_per_s": (stats.samples_acked.load(Relaxed) - acked0) as f64 / elapsed,
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
        // Overload must slow agents (acks later), never drop them.
        "disconnects": stats.disconnects.load(Relaxed),
        "disconnect_reasons": stats.disconnect_reasons(),
    });
    let _ = stop_tx.send(true);
    Ok(result)
}
