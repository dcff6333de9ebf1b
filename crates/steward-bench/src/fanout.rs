//! `fanout`: a trivial job (the built-in `ping`) to N simulated agents
//! (steward-loadgen, real protocol) connected to a real `steward serve`
//! process; measures the time until every agent has its signed order and
//! until every result is stored.
//!
//! The server and its simulated fleet are kept under `--work-dir` so a
//! second run skips enrolling N agents.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

pub struct Options {
    pub agents: usize,
    pub work_dir: PathBuf,
    pub steward: PathBuf,
    pub source_ips: u8,
    pub json: Option<PathBuf>,
}

struct ServerProc(Child);

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

async fn api(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value> {
    let request = match body {
        Some(body) => http.post(format!("{base}{path}")).json(&body),
        None => http.get(format!("{base}{path}")),
    };
    let response = request.bearer_auth(token).send().await?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{path}: {status} {value}");
    }
    Ok(value)
}

pub async fn run(options: Options) -> Result<()> {
    let n = options.agents;
    let root = options.work_dir.join(format!("fanout-{n}"));
    let data = root.join("server");
    let fresh = !data.join("steward.db").exists();
    std::fs::create_dir_all(&root)?;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let log = std::fs::File::create(root.join("server.log"))?;
    let server = ServerProc(
        Command::new(&options.steward)
            .args(["serve", "--data-dir"])
            .arg(&data)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--no-default-policy",
            ])
            .env("STEWARD_ADMIN_PASSWORD", "bench-admin-password")
            .env("STEWARD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", options.steward.display()))?,
    );
    let pid = server.0.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "the server did not start; see {}",
                root.join("server.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token_out = Command::new(&options.steward)
        .args(["token", "create", "--json", "--data-dir"])
        .arg(&data)
        .output()?;
    let token: Value = serde_json::from_slice(&token_out.stdout).context("token create")?;
    let token = token["token"].as_str().context("no token")?.to_string();
    let ca = std::fs::read_to_string(data.join("ca.pem"))?;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(steward_pki::client_config(&ca, None)?)
        .timeout(Duration::from_secs(120))
        .build()?;
    let base = format!("https://127.0.0.1:{port}");

    let started = Instant::now();
    let enroll_token = if fresh || !root.join("agents").exists() {
        api(
            &http,
            &base,
            &token,
            "/api/v1/enroll-tokens",
            Some(json!({ "uses": n, "expires_in": "1h" })),
        )
        .await?["token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        String::new()
    };
    let identities = steward_loadgen::enroll(&root.join("agents"), &enroll_token, n, 16).await?;
    eprintln!("{n} agents enrolled or loaded in {:.1?}", started.elapsed());

    let stats = steward_loadgen::Stats::new();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let behaviour = steward_loadgen::Behaviour {
        server: format!("127.0.0.1:{port}").parse()?,
        heartbeat: Duration::from_secs(30),
        metrics_every: Duration::from_secs(60),
        points: 0,
        source_ips: options.source_ips,
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
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let server_side =
            api(&http, &base, &token, "/api/v1/server/stats", None).await?["connected_agents"]
                .as_u64()
                .unwrap_or(0);
        if server_side as usize >= n && stats.connected.load(Relaxed) as usize >= n {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {server_side} of {n} agents connected");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
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
    let created = api(
        &http,
        &base,
        &token,
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
        let job = api(&http, &base, &token, &format!("/api/v1/jobs/{job}"), None).await?;
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
    let _ = Path::new(&root);
    Ok(())
}
