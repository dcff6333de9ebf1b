//! One replica against three, on one PostgreSQL and one NATS: simulated
//! agents spread over the replicas send metric batches as fast as they are
//! acked; reports durably acked samples per second, agents held, ack
//! latency and the replicas' CPU and memory. (SQLite's single-server figure
//! is the ingest benchmark of the suite.)

use crate::server::{BenchServer, cpu_secs, rss_mib};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

pub struct Options {
    pub agents: usize,
    pub seconds: u64,
    pub postgres: String,
    pub nats: String,
}

/// Starts `n` replicas sharing the first one's CA and job-signing key.
async fn replicas(
    steward: &Path,
    root: &Path,
    n: usize,
    database: &str,
    nats: &str,
) -> Result<Vec<BenchServer>> {
    let env = [("STEWARD_DATABASE", database), ("STEWARD_BUS", nats)];
    let mut servers = vec![BenchServer::start_with_env(steward, &root.join("r0"), &env).await?];
    for i in 1..n {
        let data = root.join(format!("r{i}")).join("server");
        std::fs::create_dir_all(&data)?;
        for file in ["ca.pem", "ca.key", "job-signing.key"] {
            std::fs::copy(root.join("r0/server").join(file), data.join(file))
                .with_context(|| format!("copy {file} to replica {i}"))?;
        }
        servers
            .push(BenchServer::start_with_env(steward, &root.join(format!("r{i}")), &env).await?);
    }
    Ok(servers)
}

async fn held(servers: &[BenchServer]) -> Result<u64> {
    let mut total = 0;
    for server in servers {
        total += server.api("/api/v1/server/stats", None).await?["connected_agents"]
            .as_u64()
            .unwrap_or(0);
    }
    Ok(total)
}

/// Runs the load against `n` replicas.
async fn measure(steward: &Path, n: usize, options: &Options) -> Result<Value> {
    let db = steward_store_sql::testdb::create_on(&options.postgres).await;
    let root = tempfile::tempdir()?;
    let servers = replicas(steward, root.path(), n, &db.url, &options.nats).await?;
    let identities = servers[0].fleet(root.path(), options.agents).await?;
    let stats = steward_loadgen::Stats::new();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    for (index, identity) in identities.into_iter().enumerate() {
        let behaviour = steward_loadgen::Behaviour {
            server: servers[index % n].addr(),
            heartbeat: Duration::from_secs(30),
            metrics_every: Duration::from_millis(50),
            points: 100,
            source_ips: 4,
        };
        tokio::spawn(steward_loadgen::run_agent(
            identity,
            behaviour,
            index,
            stats.clone(),
            stop.clone(),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while held(&servers).await? < options.agents as u64 {
        anyhow::ensure!(Instant::now() < deadline, "agents did not all connect");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stats.reset_rtt();
    let cpu0: f64 = servers.iter().map(|s| cpu_secs(s.pid())).sum();
    let acked0 = stats.samples_acked.load(Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(options.seconds)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let samples = (stats.samples_acked.load(Relaxed) - acked0) as f64 / elapsed;
    let cpu: f64 = servers.iter().map(|s| cpu_secs(s.pid())).sum::<f64>() - cpu0;
    let result = json!({
        "replicas": n,
        "agents": options.agents,
        "agents_held": held(&servers).await?,
        "samples_per_s": samples,
        "ack_rtt_p50_ms": stats.ack_rtt_ms(0.5),
        "ack_rtt_p99_ms": stats.ack_rtt_ms(0.99),
        "replicas_cpu_cores": cpu / elapsed,
        "replicas_rss_mib": servers.iter().map(|s| rss_mib(s.pid())).sum::<f64>(),
        "window_s": elapsed,
    });
    let _ = stop_tx.send(true);
    drop(servers);
    Ok(result)
}

pub async fn run(steward: &Path, options: &Options) -> Result<Value> {
    let one = measure(steward, 1, options).await?;
    let three = measure(steward, 3, options).await?;
    Ok(json!({ "one": one, "three": three }))
}
