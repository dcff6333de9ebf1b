//! Reconnect storm: one server holding N simulated agents (60 s metrics of
//! 20 points, 30 s heartbeats) is restarted as an operator restarts it
//! (SIGTERM: every connection closed with "server restarting", then started
//! again on the same port and data). Measured: how long until every agent
//! is back and has had a metric batch durably acked (a reconnected agent
//! replays at once, as a real one does its spool), the new server's peak
//! memory during the storm against the old one's steady state, and the
//! agents' disconnects outside the restart, which must be 0.

use crate::server::{BenchServer, peak_rss_mib, rss_mib};
use anyhow::Result;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

pub struct Options<'a> {
    pub steward: &'a Path,
    pub work_dir: &'a Path,
    pub agents: usize,
    /// How long the fleet runs before the restart (and after the storm,
    /// for the settled figures): at least one metric interval gives the
    /// steady state.
    pub settle: Duration,
    /// Give up waiting for the fleet to come back after this long.
    pub timeout: Duration,
}

pub async fn run(options: Options<'_>) -> Result<Value> {
    let root = options.work_dir.join(format!("storm-{}", options.agents));
    let mut server = BenchServer::start(options.steward, &root).await?;
    let identities = server.fleet(&root, options.agents).await?;
    let stats = steward_loadgen::Stats::new();
    let behaviour = steward_loadgen::Behaviour {
        server: server.addr(),
        heartbeat: Duration::from_secs(30),
        metrics_every: Duration::from_secs(60),
        points: 20,
        source_ips: 8,
    };
    let stop_tx = steward_loadgen::spawn_fleet(identities, |_| behaviour.clone(), &stats);
    server
        .wait_connected(options.agents, Duration::from_secs(900))
        .await?;
    tokio::time::sleep(options.settle).await;
    let steady_rss = rss_mib(server.pid());
    let disconnects_before = stats.disconnects.load(Relaxed);

    // The restart.
    let stopping = Instant::now();
    server.stop()?;
    let stop_s = stopping.elapsed().as_secs_f64();
    stats.new_epoch();
    stats.reset_rtt();
    let failures_before = stats.connect_failures.load(Relaxed);
    server.start_again().await?;
    let listening = Instant::now();
    let down_s = stopping.elapsed().as_secs_f64() - stop_s;
    // Polled for the figure only; the peak comes from the kernel's
    // high-water mark, which a poll could miss.
    let mut back_s = None;
    let mut half_back_s = None;
    while listening.elapsed() < options.timeout {
        let back = stats.acked_in_epoch.load(Relaxed) as usize;
        if half_back_s.is_none() && back * 2 >= options.agents {
            half_back_s = Some(listening.elapsed().as_secs_f64());
        }
        if back >= options.agents {
            back_s = Some(listening.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let storm_peak = peak_rss_mib(server.pid());
    let storm_rtt_p99 = stats.ack_rtt_ms(0.99);
    let restart_disconnects = stats.disconnects.load(Relaxed) - disconnects_before;
    let failures = stats.connect_failures.load(Relaxed) - failures_before;
    let back = stats.acked_in_epoch.load(Relaxed);

    // After the storm: the fleet runs on; nothing may drop.
    let mark = stats.disconnects.load(Relaxed);
    tokio::time::sleep(options.settle).await;
    let settled_rss = rss_mib(server.pid());
    let after = stats.disconnects.load(Relaxed) - mark;
    let _ = stop_tx.send(true);
    Ok(json!({
        "agents": options.agents,
        "settle_s": options.settle.as_secs_f64(),
        "stop_s": stop_s,
        "down_s": down_s,
        "back_all_s": back_s,
        "back_half_s": half_back_s,
        "back_acked": back,
        "steady_rss_mib": steady_rss,
        "storm_peak_rss_mib": storm_peak,
        "peak_vs_steady": storm_peak / steady_rss,
        "settled_rss_mib": settled_rss,
        "storm_ack_p99_ms": storm_rtt_p99,
        "restart_disconnects": restart_disconnects,
        "connect_failures_during_storm": failures,
        // Outside the restart: before it and after every agent was back.
        "disconnects": disconnects_before + after,
        "disconnect_reasons": stats.disconnect_reasons(),
    }))
}
