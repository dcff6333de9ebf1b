//! `fanout`: a trivial job (the built-in `ping`) to N simulated agents
//! (steward-loadgen, real protocol) connected to a real `steward serve`
//! process; measures the time until every agent has its signed order and
//! until every result is stored.
//!
//! The server and its simulated fleet are kept under `--work-dir` so a
//! second run skips enrolling N agents.

use crate::server::{BenchServer, rss_mib};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

pub struct Options {
    pub agents: usize,
    pub work_dir: PathBuf,
    pub steward: PathBuf,
    pub source_ips: u8,
    pub json: Option<PathBuf>,
}

pub async fn run(options: Options) -> Result<Value> {
    let n = options.agents;
    let root = options.work_dir.join(format!("fanout-{n}"));
    let server = BenchServer::start(&options.steward, &root).await?;
    let pid = server.pid();
    let started = Instant::now();
    let identities = server.fleet(&root, n).await?;
    eprintln!("{n} agents enrolled or loaded in {:.1?}", started.elapsed());

    let stats = steward_loadgen::Stats::new();
    let behaviour = steward_loadgen::Behaviour {
        server: server.addr(),
        heartbeat: Duration::from_secs(30),
        metrics_every: Duration::from_secs(60),
        points: 0,
        source_ips: options.source_ips,
    };
    let connecting = Instant::now();
    let stop_tx = steward_loadgen::spawn_fleet(identities, |_| behaviour.clone(), &stats);
    server.wait_connected(n, Duration::from_secs(600)).await?;
    while (stats.connected.load(Relaxed) as usize) < n {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connect_secs = connecting.elapsed().as_secs_f64();
    eprintln!(
        "{n} agents connected in {connect_secs:.1} s; server RSS {:.0} MiB",
        rss_mib(pid)
    );
    // Let the connection storm's follow-up work (hello bookkeeping) settle.
    tokio::time::sleep(Duration::from_secs(3)).await;

    stats.reset_orders();
    let t0 = steward_loadgen::now_ms();
    let clock = Instant::now();
    let created = server
        .api(
            "/api/v1/jobs",
            Some(json!({ "action": { "kind": "ping" }, "targets": ["all"] })),
        )
        .await?;
    let created_ms = clock.elapsed().as_millis();
    let job = created["id"].as_str().context("no job id")?.to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    while (stats.orders.load(Relaxed) as usize) < n {
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} agents got the order",
                stats.orders.load(Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered_ms = stats.last_order_ms.load(Relaxed) - t0;
    let stored_ms = loop {
        let job = server.api(&format!("/api/v1/jobs/{job}"), None).await?;
        let succeeded = job["counts"]["succeeded"].as_u64().unwrap_or(0);
        if succeeded as usize >= n {
            break steward_loadgen::now_ms() - t0;
        }
        if Instant::now() > deadline {
            bail!("only {succeeded} of {n} results stored: {}", job["counts"]);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let rss = rss_mib(pid);
    let _ = stop_tx.send(true);
    let result = json!({
        "benchmark": "fanout",
        "agents": n,
        "job_created_ms": created_ms,
        "all_delivered_ms": delivered_ms,
        "first_delivered_ms": stats.first_order_ms.load(Relaxed) - t0,
        "all_results_stored_ms": stored_ms,
        "orders_refused": stats.orders_refused.load(Relaxed),
        "connect_all_s": connect_secs,
        "server_rss_mib": rss,
        "targets": { "delivered_ms": 2000, "stored_ms": 5000 },
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    println!(
        "\n| agents | job created | all delivered | all results stored | server RSS |\n|---:|---:|---:|---:|---:|\n| {n} | {created_ms} ms | {delivered_ms} ms | {stored_ms} ms | {rss:.0} MiB |"
    );
    if let Some(path) = options.json {
        std::fs::write(&path, serde_json::to_string_pretty(&result)?)?;
    }
    drop(server);
    Ok(result)
}
