//! Steward benchmarks. `nab`: the anomaly detector on the Numenta Anomaly
//! Benchmark. `alert-latency`: sample-to-notification latency of
//! threshold alerts while simulated agents send a steady load of monitored
//! series, measured end to end (agent socket → ingest → evaluation → outbox
//! → webhook receiver) against an in-process server on loopback.

mod capacity;
mod console;
mod fanout;
mod nab;
mod patching;
mod replicas;
mod server;
mod storage;
mod storm;
mod suite;
mod telemetry;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(name = "steward-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sample-to-notification latency at a given load of monitored series.
    AlertLatency {
        #[arg(long, default_value_t = 100)]
        agents: usize,
        #[arg(long, default_value_t = 100)]
        series_per_agent: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Crossings per second, spread over random series.
        #[arg(long, default_value_t = 20)]
        crossings_per_second: usize,
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Every benchmark, side by side with peers where they exist; writes
    /// benchmarks.json and BENCHMARKS.md into --out.
    All {
        /// A short run (under 5 minutes) for CI.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "target/bench")]
        out: std::path::PathBuf,
        /// Fail when a figure regressed beyond its margin against this
        /// baseline (ratios, not absolute times).
        #[arg(long)]
        check: Option<std::path::PathBuf>,
        /// Write this run's normalised figures as the new baseline.
        #[arg(long)]
        write_baseline: Option<std::path::PathBuf>,
        /// Add this run's normalised figures to a baseline for the keys it
        /// does not have yet (new benchmarks), keeping every other key.
        #[arg(long)]
        add_to_baseline: Option<std::path::PathBuf>,
    },
    /// The console at fleet scale: server time and browser render time of
    /// the devices page and of a device page charting 7 days.
    Console {
        #[arg(long, default_value_t = 10_000)]
        devices: usize,
        /// The steward binary (default: next to this one).
        #[arg(long)]
        steward: Option<std::path::PathBuf>,
    },
    /// Per-agent cost: one server holding N simulated agents at 60 s
    /// metrics of 20 points and 30 s heartbeats: server CPU per agent per
    /// second, memory per connection, batch → durable-ack latency.
    Capacity {
        #[arg(long, default_value_t = 19_000)]
        agents: usize,
        /// Seconds measured once every agent is connected.
        #[arg(long, default_value_t = 125)]
        window: u64,
        /// Points per metric batch (0: heartbeats only).
        #[arg(long, default_value_t = 20)]
        points: usize,
        /// Keeps the server and the simulated identities between runs.
        #[arg(long, default_value = "/var/tmp/steward-bench")]
        work_dir: std::path::PathBuf,
        /// The steward binary (default: next to this one).
        #[arg(long)]
        steward: Option<std::path::PathBuf>,
    },
    /// Many agents over several replicas on one PostgreSQL and one NATS,
    /// each replica with its own load generator process (one process may
    /// hold 20,000 open files here): batch → durable-ack latency and
    /// whether every batch sent was stored once.
    Fleet {
        #[arg(long, default_value_t = 5)]
        replicas: usize,
        /// Agents in all (spread evenly over the replicas).
        #[arg(long, default_value_t = 100_000)]
        agents: usize,
        /// Seconds measured once every agent is connected.
        #[arg(long, default_value_t = 120)]
        window: u64,
        /// Keeps the database, the replicas' CA and the simulated
        /// identities between runs (enrolling 100,000 agents takes a while).
        #[arg(long, default_value = "/var/tmp/steward-bench/fleet")]
        work_dir: std::path::PathBuf,
        #[arg(
            long,
            env = "STEWARD_TEST_POSTGRES",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        postgres: String,
        #[arg(
            long,
            env = "STEWARD_TEST_NATS",
            default_value = "nats://127.0.0.1:4222"
        )]
        nats: String,
        /// The steward binary (default: next to this one).
        #[arg(long)]
        steward: Option<std::path::PathBuf>,
    },
    /// Ingest and agents held with one replica and with three, on one
    /// PostgreSQL and one NATS.
    Replicas {
        #[arg(long, default_value_t = 300)]
        agents: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(
            long,
            env = "STEWARD_TEST_POSTGRES",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        postgres: String,
        #[arg(
            long,
            env = "STEWARD_TEST_NATS",
            default_value = "nats://127.0.0.1:4222"
        )]
        nats: String,
        /// The steward binary (default: next to this one).
        #[arg(long)]
        steward: Option<std::path::PathBuf>,
    },
    /// Ingest throughput (durably acked samples/s) of one server on one
    /// back end: agents send 100-point batches as fast as they are acked.
    Ingest {
        #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
        backend: String,
        #[arg(long, default_value_t = 500)]
        agents: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(
            long,
            env = "STEWARD_TEST_POSTGRES",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        postgres: String,
        #[arg(long, default_value = "/var/tmp/steward-bench")]
        work_dir: std::path::PathBuf,
        #[arg(long)]
        steward: Option<std::path::PathBuf>,
    },
    /// Stored bytes per sample and the time to read 7 days of one series.
    Storage,
    /// The anomaly detector on the Numenta Anomaly Benchmark: the three
    /// NAB scores, samples/s on one core and state bytes per series.
    Nab {
        /// The NAB corpus (`data/`, `labels/combined_windows.json`).
        #[arg(long)]
        data: Option<std::path::PathBuf>,
    },
    /// One patch detection pass of the agent against an isolated apt root
    /// with N packages pending as security updates: wall and CPU time.
    Patching {
        #[arg(long, default_value_t = 200)]
        packages: usize,
        #[arg(long, default_value_t = 5)]
        passes: usize,
    },
    /// The suite's CPU calibration (milliseconds to hash 256 MiB with
    /// SHA-256), to normalise a figure measured alone as `all` does for
    /// `bench/baseline.json` (times divided by it, rates multiplied).
    Calibrate,
    /// OTLP data points one server ingests per second (protobuf gauges
    /// from concurrent clients, acknowledged once stored).
    Otlp {
        #[arg(long, default_value_t = 8)]
        devices: usize,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 500)]
        points: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Probes per second one agent sustains (TCP and HTTP probes of a
    /// loopback server through the agent's probe runner).
    Probes {
        #[arg(long, default_value_t = 200)]
        probes: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Reconnect storm: N agents held by one server, the server restarted;
    /// time until every agent is back with a batch acked, peak memory
    /// against the steady state, and disconnects outside the restart.
    Storm {
        #[arg(long, default_value_t = 10_000)]
        agents: usize,
        /// Seconds the fleet runs before the restart and after the storm.
        #[arg(long, default_value_t = 65)]
        settle: u64,
        /// Keeps the server and the simulated identities between runs.
        #[arg(long, default_value = "/var/tmp/steward-bench")]
        work_dir: std::path::PathBuf,
        /// The steward binary (default: next to this one).
        #[arg(long)]
        steward: Option<std::path::PathBuf>,
    },
    /// A trivial job to N simulated agents: time until all have it and
    /// until all results are stored.
    Fanout {
        #[arg(long, default_value_t = 10_000)]
        agents: usize,
        /// Keeps the server and the simulated identities between runs.
        #[arg(long, default_value = "/var/tmp/steward-bench")]
        work_dir: std::path::PathBuf,
        /// The steward binary (default: next to this one).
        #[arg(long)]
        steward: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 8)]
        source_ips: u8,
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
}

/// The steward binary: the one given, or the one next to this binary.
fn steward_bin(given: Option<std::path::PathBuf>) -> Result<std::path::PathBuf> {
    match given {
        Some(path) => Ok(path),
        None => Ok(std::env::current_exe()?.with_file_name("steward")),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<()> {
    steward_pki::install_default_provider();
    match Cli::parse().command {
        Command::AlertLatency {
            agents,
            series_per_agent,
            seconds,
            crossings_per_second,
            json,
        } => alert_latency(
            agents,
            series_per_agent,
            seconds,
            crossings_per_second,
            json,
        )
        .await
        .map(drop),
        Command::All {
            quick,
            out,
            check,
            write_baseline,
            add_to_baseline,
        } => {
            suite::run(suite::Options {
                quick,
                out,
                check,
                write_baseline,
                add_to_baseline,
            })
            .await
        }
        Command::Capacity {
            agents,
            window,
            points,
            work_dir,
            steward,
        } => {
            let steward = steward_bin(steward)?;
            let load = capacity::Load {
                agents,
                heartbeat: Duration::from_secs(30),
                metrics_every: Duration::from_secs(60),
                points,
                window: Duration::from_secs(window),
                source_ips: 8,
            };
            let result = capacity::measure(&steward, &work_dir, "capacity", &load).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Fleet {
            replicas,
            agents,
            window,
            work_dir,
            postgres,
            nats,
            steward,
        } => {
            let steward = steward_bin(steward)?;
            let options = replicas::FleetOptions {
                replicas,
                agents,
                window: Duration::from_secs(window),
                work_dir,
                postgres,
                nats,
                loadgen: steward.with_file_name("steward-loadgen"),
            };
            let result = replicas::fleet(&steward, &options).await?;
            let mut shown = result.clone();
            if let Some(o) = shown.as_object_mut() {
                o.remove("loadgens");
            }
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(())
        }
        Command::Replicas {
            agents,
            seconds,
            postgres,
            nats,
            steward,
        } => {
            let steward = steward_bin(steward)?;
            let options = replicas::Options {
                agents,
                seconds,
                postgres,
                nats,
            };
            let result = replicas::run(&steward, &options).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Ingest {
            backend,
            agents,
            seconds,
            postgres,
            work_dir,
            steward,
        } => {
            let steward = steward_bin(steward)?;
            let postgres = (backend == "postgres").then_some(postgres.as_str());
            let result = capacity::ingest(&steward, &work_dir, postgres, agents, seconds).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Storage => {
            let result = storage::run().await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Nab { data } => {
            let dir = data.unwrap_or_else(nab::default_dir);
            nab::print(&nab::run(&dir)?);
            Ok(())
        }
        Command::Patching { packages, passes } => {
            let result = patching::run(packages, passes).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Console { devices, steward } => {
            let steward = steward_bin(steward)?;
            let result = console::run(&steward, devices).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Calibrate => {
            println!("{:.1}", suite::calibrate());
            Ok(())
        }
        Command::Otlp {
            devices,
            clients,
            points,
            seconds,
        } => {
            let load = telemetry::OtlpLoad {
                devices,
                clients,
                points,
                seconds,
            };
            let result = telemetry::otlp(&load).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Probes { probes, seconds } => {
            let result = telemetry::probes(probes, seconds).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Storm {
            agents,
            settle,
            work_dir,
            steward,
        } => {
            let steward = steward_bin(steward)?;
            let result = storm::run(storm::Options {
                steward: &steward,
                work_dir: &work_dir,
                agents,
                settle: Duration::from_secs(settle),
                timeout: Duration::from_secs(300),
            })
            .await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        Command::Fanout {
            agents,
            work_dir,
            steward,
            source_ips,
            json,
        } => {
            let steward = steward_bin(steward)?;
            fanout::run(fanout::Options {
                agents,
                work_dir,
                steward,
                source_ips,
                json,
            })
            .await
            .map(drop)
        }
    }
}

/// Key: (device index, series index) → when the crossing sample was sent.
type Sent = Arc<Mutex<HashMap<(usize, usize), Instant>>>;

pub(crate) async fn alert_latency(
    agents: usize,
    per_agent: usize,
    seconds: u64,
    crossings: usize,
    json_out: Option<std::path::PathBuf>,
) -> Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut config = steward_server::Config::new(dir.path().join("server"), listener.local_addr()?);
    config.alert_group_wait = Duration::from_secs(1);
    config.default_policy = false;
    // The webhook receiver below is on loopback.
    config.allow_private_targets = vec!["127.0.0.0/8".parse()?];
    let (server, _) = steward_server::launch_with_listener(config, listener).await?;
    let url = server.state.public_url.clone();

    // Webhook receiver: notes when each alert's notification arrives.
    let received: Arc<Mutex<Vec<(String, String, Instant)>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let device = v["device_id"].as_str().unwrap_or("").to_string();
                let subject = v["subject"].as_str().unwrap_or("").to_string();
                if v["state"] == "open" {
                    sink.lock().unwrap().push((device, subject, Instant::now()));
                }
                "ok"
            }
        }),
    );
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/hook", hook.local_addr()?);
    tokio::spawn(async move { axum::serve(hook, app).await });

    // Monitor, channel and enrollment through the API, as an admin would.
    let token = steward_server::auth::new_api_token();
    let admin = server.state.store.user_by_name("admin").await?;
    server
        .state
        .store
        .create_api_token(&steward_store_types::NewApiToken {
            id: uuid_v7(),
            user_id: admin.id,
            name: "bench".into(),
            token_hash: steward_server::auth::hash_secret(&token),
            created_at: 0,
            expires_at: None,
            role_id: None,
            scope_org: None,
            scope_site: None,
        })
        .await?;
    let tls = steward_pki::client_config(&server.state.authority.cert_pem, None)?;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()?;
    let post = |path: &str, body: serde_json::Value| {
        let (http, url, token, path) = (http.clone(), url.clone(), token.clone(), path.to_string());
        async move {
            let r = http
                .post(format!("{url}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            let status = r.status();
            let v: serde_json::Value = r.json().await?;
            anyhow::ensure!(status.is_success(), "{path}: {status} {v}");
            Ok::<_, anyhow::Error>(v)
        }
    };
    post("/api/v1/channels", json!({ "name": "bench", "kind": "webhook", "url": hook_url, "secret": "bench-secret-0123456789" })).await?;
    post(
        "/api/v1/monitors",
        json!({ "name": "bench", "spec": { "kind": "threshold", "metric": "bench.value", "threshold": { "direction": "above", "critical": { "trigger": 0.9, "clear": 0.5 } } } }),
    )
    .await?;
    let enroll = post("/api/v1/enroll-tokens", json!({ "uses": agents })).await?["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    eprintln!("Enrolling {agents} simulated agents...");
    let mut ids = Vec::new();
    let mut sockets = Vec::new();
    for i in 0..agents {
        let state_dir = dir.path().join(format!("agent-{i}"));
        let id = steward_agent::enroll::enroll(&state_dir, &enroll, Some(format!("sim-{i}")))
            .await
            .context("enroll")?;
        let state = steward_agent::state::AgentState::load(&state_dir)?;
        let identity = Arc::new(steward_pki::client_config(
            &state.ca_pem,
            Some(&state.identity),
        )?);
        let mut socket =
            steward_agent::transport::open(&url, steward_proto::AGENT_WS_PATH, identity).await?;
        socket
            .send(Message::text(
                r#"{"type":"hello","protocol_version":1,"agent_version":"bench"}"#,
            ))
            .await?;
        ids.push(id);
        sockets.push(socket);
    }

    let sent: Sent = Arc::default();
    let start = Instant::now();
    let series_per_second = agents * per_agent;
    eprintln!(
        "Sending {series_per_second} series/s for {seconds} s with {crossings} crossings/s..."
    );
    let mut tasks = Vec::new();
    for (index, mut socket) in sockets.into_iter().enumerate() {
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut seq = 0u64;
            for second in 0..seconds {
                tick.tick().await;
                seq += 1;
                let crossing = (second as usize * crossings + index) % agents < crossings;
                let pick = (second as usize * 7919 + index * 104_729) % per_agent;
                let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
                let points: Vec<serde_json::Value> = (0..per_agent)
                    .map(|s| {
                        let value = if crossing && s == pick { 0.95 } else { 0.1 };
                        json!({ "name": "bench.value", "labels": { "series": s.to_string() }, "value": value })
                    })
                    .collect();
                let frame = json!({ "type": "metrics", "seq": seq, "ts_ms": ts, "points": points }).to_string();
                if crossing {
                    sent.lock().unwrap().insert((index, pick), Instant::now());
                }
                if socket.send(Message::text(frame)).await.is_err() {
                    break;
                }
                // Drain acks without blocking the schedule.
                while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_millis(1), socket.next()).await {}
            }
            socket
        }));
    }
    let mut keep = Vec::new();
    for task in tasks {
        keep.push(task.await?);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let elapsed = start.elapsed();

    let index_of: HashMap<String, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    let sent = sent.lock().unwrap().clone();
    let mut latencies: Vec<f64> = received
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(device, subject, at)| {
            let key = (*index_of.get(device)?, subject.parse::<usize>().ok()?);
            sent.get(&key)
                .map(|t| at.duration_since(*t).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    println!("| figure | value |\n|---|---:|");
    println!("| monitored series per second | {series_per_second} |");
    println!(
        "| crossings sent / notified | {} / {} |",
        sent.len(),
        latencies.len()
    );
    println!("| sample-to-notification p50 | {p50:.1} ms |");
    println!("| sample-to-notification p99 | {p99:.1} ms |");
    println!("| max | {max:.1} ms |");
    println!("| run | {:.0} s, `{command}` |", elapsed.as_secs_f64());
    let result = json!({ "command": command, "series_per_second": series_per_second, "crossings": sent.len(), "notified": latencies.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max });
    if let Some(path) = json_out {
        std::fs::write(path, serde_json::to_string_pretty(&result)?)?;
    }
    drop(keep);
    server.shutdown().await;
    Ok(result)
}

fn uuid_v7() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
