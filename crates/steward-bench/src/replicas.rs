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
    let stop_tx = steward_loadgen::spawn_fleet(
        identities,
        |index| steward_loadgen::Behaviour {
            server: servers[index % n].addr(),
            heartbeat: Duration::from_secs(30),
            metrics_every: Duration::from_millis(50),
            points: 100,
            source_ips: 4,
        },
        &stats,
    );
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

pub struct FleetOptions {
    pub replicas: usize,
    /// Agents in all, spread evenly over the replicas.
    pub agents: usize,
    /// Measured once every agent is connected (plus 5 s).
    pub window: Duration,
    /// The database's URL, the replicas' data and the simulated identities
    /// are kept here between runs.
    pub work_dir: std::path::PathBuf,
    pub postgres: String,
    pub nats: String,
    /// The `steward-loadgen` binary.
    pub loadgen: std::path::PathBuf,
}

/// A child process killed when dropped (a failed run leaves nothing behind).
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn stored(servers: &[BenchServer]) -> Result<(u64, u64)> {
    let (mut stored, mut duplicate) = (0, 0);
    for server in servers {
        let stats = server.api("/api/v1/server/stats", None).await?;
        stored += stats["batches_stored"].as_u64().unwrap_or(0);
        duplicate += stats["batches_duplicate"].as_u64().unwrap_or(0);
    }
    Ok((stored, duplicate))
}

/// `options.agents` simulated agents at 60 s metrics of 20 points and 30 s
/// heartbeats over `options.replicas` replicas on one PostgreSQL and one
/// NATS, each replica with its own `steward-loadgen` process: the batch →
/// durable-ack latency over a window once all are connected, and whether
/// every batch sent was stored once (the load generators stop sending at
/// the end and wait for what is in flight; the replicas count what they
/// stored).
pub async fn fleet(steward: &Path, options: &FleetOptions) -> Result<Value> {
    let work = &options.work_dir;
    std::fs::create_dir_all(work)?;
    // One database kept with the identities enrolled in it.
    let url_file = work.join("database-url");
    let kept = match std::fs::read_to_string(&url_file) {
        Ok(url) => {
            let url = url.trim().to_string();
            // Gone with a reset database server: start over.
            match steward_store_sql::SqlStore::connect_postgres(&url).await {
                Ok(store) => {
                    drop(store);
                    Some(url)
                }
                Err(_) => None,
            }
        }
        Err(_) => None,
    };
    let database = match kept {
        Some(url) => url,
        None => {
            // Identities enrolled in another database are unknown here.
            for i in 0..options.replicas.max(1) {
                let _ = std::fs::remove_dir_all(work.join(format!("loadgen-{i}")));
            }
            let db = steward_store_sql::testdb::create_on(&options.postgres).await;
            let url = db.url.clone();
            // Kept for the next run (its identities are enrolled in it).
            std::mem::forget(db);
            std::fs::write(&url_file, &url)?;
            url
        }
    };
    let n = options.replicas.max(1);
    let servers = replicas(steward, work, n, &database, &options.nats).await?;
    let share = |i: usize| options.agents / n + usize::from(i < options.agents % n);
    let have: usize = (0..n)
        .map(|i| {
            std::fs::read_dir(work.join(format!("loadgen-{i}")))
                .map(|d| d.count().min(share(i)))
                .unwrap_or(0)
        })
        .sum();
    let token = if have < options.agents {
        servers[0]
            .api(
                "/api/v1/enroll-tokens",
                Some(json!({ "uses": options.agents - have, "expires_in": "6h" })),
            )
            .await?["token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        String::new()
    };
    let started = Instant::now();
    let mut loadgens = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let log = std::fs::File::create(work.join(format!("loadgen-{i}.log")))?;
        let summary = work.join(format!("loadgen-{i}.json"));
        let _ = std::fs::remove_file(&summary);
        let child = std::process::Command::new(&options.loadgen)
            .args(["--server", &server.addr().to_string()])
            .args(["--enroll-token", &token])
            .args(["--agents", &share(i).to_string()])
            .arg("--state")
            .arg(work.join(format!("loadgen-{i}")))
            .args(["--heartbeat", "30s", "--metrics", "60s", "--points", "20"])
            .args(["--source-ips", "8", "--duration", "1800s"])
            .args(["--window", &format!("{}s", options.window.as_secs())])
            .args(["--drain", "60s", "--summary"])
            .arg(&summary)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", options.loadgen.display()))?;
        loadgens.push((Reaped(child), summary));
    }
    // The replicas' CPU and memory over the same stretch the load
    // generators measure: from all held (plus their 5 s) for the window.
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut all_held = None;
    while all_held.is_none() {
        anyhow::ensure!(Instant::now() < deadline, "agents did not all connect");
        for (child, _) in &mut loadgens {
            if let Some(status) = child.0.try_wait()? {
                anyhow::bail!("a load generator exited early ({status}); see its log");
            }
        }
        // A replica may fail to answer during the connection storm (its
        // pool busy with the agents' admissions): asked again, not fatal.
        match held(&servers).await {
            Ok(count) if count >= options.agents as u64 => {
                all_held = Some(started.elapsed().as_secs_f64());
            }
            Ok(count) => eprintln!(
                "{count} of {} agents connected after {:.0} s",
                options.agents,
                started.elapsed().as_secs_f64()
            ),
            Err(error) => eprintln!("a replica did not answer its stats yet: {error:#}"),
        }
        if all_held.is_none() {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let cpu0: f64 = servers.iter().map(|s| cpu_secs(s.pid())).sum();
    let lg_cpu0: f64 = loadgens.iter().map(|(c, _)| cpu_secs(c.0.id())).sum();
    let t0 = Instant::now();
    tokio::time::sleep(options.window).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = (servers.iter().map(|s| cpu_secs(s.pid())).sum::<f64>() - cpu0) / elapsed;
    let lg_cpu = (loadgens
        .iter()
        .map(|(c, _)| cpu_secs(c.0.id()))
        .sum::<f64>()
        - lg_cpu0)
        / elapsed;
    let rss: Vec<f64> = servers.iter().map(|s| rss_mib(s.pid())).collect();
    let agents_held = held(&servers).await?;
    // Their drain and summaries.
    let mut summaries = Vec::new();
    for (child, summary) in &mut loadgens {
        let status = loop {
            if let Some(status) = child.0.try_wait()? {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        anyhow::ensure!(status.success(), "a load generator failed ({status})");
        let text = std::fs::read_to_string(&*summary)
            .with_context(|| format!("no summary at {}", summary.display()))?;
        summaries.push(serde_json::from_str::<Value>(&text)?);
    }
    let (batches_stored, batches_duplicate) = stored(&servers).await?;
    let sum = |key: &str| {
        summaries
            .iter()
            .map(|s| s[key].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let mut rtts: Vec<u64> = summaries
        .iter()
        .flat_map(|s| s["ack_rtt_us"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_u64())
        .collect();
    rtts.sort_unstable();
    let pct = |p: f64| {
        if rtts.is_empty() {
            return f64::NAN;
        }
        rtts[((rtts.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
    };
    let sent = sum("batches_sent");
    let result = json!({
        "replicas": n,
        "agents": options.agents,
        "agents_held": agents_held,
        "all_connected_s": all_held,
        "window_s": elapsed,
        "ack_rtt_p50_ms": pct(0.5),
        "ack_rtt_p99_ms": pct(0.99),
        "acks_in_window": rtts.len(),
        "batches_sent": sent,
        "batches_acked": sum("batches_acked"),
        "batches_stored": batches_stored,
        "batches_duplicate": batches_duplicate,
        // Sent but never stored (each batch is stored at most once: a
        // resend is a duplicate).
        "batches_lost": sent.saturating_sub(batches_stored),
        "connect_failures": sum("connect_failures"),
        "disconnects": sum("disconnects"),
        "replicas_cpu_cores": cpu,
        "cpu_us_per_agent_s": cpu * 1e6 / options.agents.max(1) as f64,
        "replicas_rss_mib": &rss,
        "kib_per_agent": rss.iter().sum::<f64>() * 1024.0 / options.agents.max(1) as f64,
        "loadgens_cpu_cores": lg_cpu,
        "loadgens": summaries.iter().map(|s| {
            let mut s = s.clone();
            if let Some(o) = s.as_object_mut() { o.remove("ack_rtt_us"); }
            s
        }).collect::<Vec<_>>(),
    });
    drop(servers);
    Ok(result)
}
