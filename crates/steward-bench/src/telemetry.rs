//! `steward-bench otlp`: OTLP data points one server ingests per second
//! (protobuf requests of gauges over HTTPS from concurrent clients, each
//! acknowledged after its points are durably stored), against an
//! in-process server on SQLite. `steward-bench probes`: probes per second
//! one agent sustains (its probe runner, at most 16 at once as in the
//! agent, TCP and HTTP probes against loopback servers).

use anyhow::{Context, Result, bail};
use prost::Message;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use steward_server::otlp::wire;

pub struct OtlpLoad {
    pub devices: usize,
    /// Concurrent clients (each posts one request at a time).
    pub clients: usize,
    /// Gauges per request (series per device).
    pub points: usize,
    pub seconds: u64,
}

fn string_kv(key: &str, value: &str) -> wire::KeyValue {
    wire::KeyValue {
        key: key.into(),
        value: Some(wire::AnyValue {
            value: Some(wire::any_value::Value::StringValue(value.into())),
        }),
    }
}

/// One request: `points` gauges of one device at `time_ns`.
fn request(device: &str, points: usize, time_ns: u64) -> Vec<u8> {
    let metrics = (0..points)
        .map(|i| wire::Metric {
            name: format!("app.gauge.g{i}"),
            unit: String::new(),
            data: Some(wire::metric::Data::Gauge(wire::Gauge {
                data_points: vec![wire::NumberDataPoint {
                    attributes: vec![string_kv("pool", "main")],
                    start_time_unix_nano: 0,
                    time_unix_nano: time_ns,
                    value: Some(wire::number_data_point::Value::AsDouble(
                        (time_ns / 1_000_000 % 1000) as f64 + i as f64,
                    )),
                }],
            })),
        })
        .collect();
    wire::ExportMetricsServiceRequest {
        resource_metrics: vec![wire::ResourceMetrics {
            resource: Some(wire::Resource {
                attributes: vec![
                    string_kv("steward.device.id", device),
                    string_kv("service.name", "bench"),
                ],
            }),
            scope_metrics: vec![wire::ScopeMetrics {
                scope: None,
                metrics,
            }],
        }],
    }
    .encode_to_vec()
}

pub async fn otlp(load: &OtlpLoad) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut config = steward_server::Config::new(dir.path().join("server"), listener.local_addr()?);
    config.default_policy = false;
    let (server, _) = steward_server::launch_with_listener(config, listener).await?;
    let store = server.state.store.clone();
    let org = store.default_org().await?.id;
    let mut devices = Vec::new();
    for i in 0..load.devices {
        let id = uuid::Uuid::now_v7();
        store
            .create_device(&steward_store_types::NewDevice {
                id,
                org_id: org,
                site: "bench".into(),
                name: format!("otlp-{i}"),
                hostname: format!("otlp-{i}"),
                tags: vec![],
                cert_fingerprint: format!("otlp-bench-{i}-{id}"),
                enrolled_at: 0,
            })
            .await?;
        devices.push(id.to_string());
    }
    let token = format!(
        "{}bench{}",
        steward_server::otlp::TOKEN_PREFIX,
        uuid::Uuid::now_v7()
    );
    store
        .create_otlp_token(&steward_store_types::OtlpTokenRecord {
            id: uuid::Uuid::now_v7(),
            org_id: org,
            name: "bench".into(),
            secret_hash: steward_server::auth::hash_secret(&token),
            created_by: "bench".into(),
            created_at: 0,
        })
        .await?;
    let tls = steward_pki::client_config(&server.state.authority.cert_pem, None)?;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()?;
    let url = format!(
        "{}{}",
        server.state.public_url,
        steward_server::otlp::METRICS_PATH
    );
    let stored = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(load.seconds);
    let now_ns = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    };
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..load.clients {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        let device = devices[client % devices.len()].clone();
        let (stored, failed, points) = (stored.clone(), failed.clone(), load.points);
        tasks.spawn(async move {
            let mut last = 0u64;
            while Instant::now() < until {
                // A fresh time per request: each series moves forward.
                let t = now_ns().max(last + 1_000_000);
                last = t;
                let answer = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/x-protobuf")
                    .body(request(&device, points, t))
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status().is_success() => {
                        let body = r.bytes().await.unwrap_or_default();
                        let rejected = wire::ExportMetricsServiceResponse::decode(&body[..])
                            .ok()
                            .and_then(|a| a.partial_success)
                            .map_or(0, |p| p.rejected as u64);
                        stored.fetch_add(points as u64 - rejected, Ordering::Relaxed);
                        failed.fetch_add(rejected, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(points as u64, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let stored = stored.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    if stored == 0 {
        bail!("no OTLP data point was stored ({failed} failed)");
    }
    Ok(json!({
        "devices": load.devices, "clients": load.clients, "points_per_request": load.points,
        "seconds": elapsed, "points_stored": stored, "points_failed": failed,
        "points_per_s": stored as f64 / elapsed,
    }))
}

/// Probes per second through the agent's runner: `count` probes (half
/// TCP connects, half HTTP GETs of a loopback server), run again and
/// again for `seconds`.
pub async fn probes(count: usize, seconds: u64) -> Result<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                // TCP probes close at once; HTTP ones get an answer.
                if let Ok(n) = stream.read(&mut buf).await
                    && n > 0
                {
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                }
            });
        }
    });
    let specs: Vec<steward_agent::probes::Probe> = (0..count)
        .map(|i| {
            let spec = if i % 2 == 0 {
                format!("t{i}=tcp://127.0.0.1:{port}?timeout=5s")
            } else {
                format!("h{i}=http://127.0.0.1:{port}/?match=ok&timeout=5s")
            };
            steward_agent::probes::parse(&spec).map_err(anyhow::Error::msg)
        })
        .collect::<Result<_>>()
        .context("bench probe specs")?;
    let mut counters = steward_agent::probes::snmp::Counters::new();
    let started = Instant::now();
    let (mut runs, mut failed, mut rounds) = (0u64, 0u64, 0u64);
    while started.elapsed() < Duration::from_secs(seconds) {
        let (checks, _) = steward_agent::probes::run_all(&specs, &mut counters).await;
        runs += checks.len() as u64;
        failed += checks.iter().filter(|c| c.exit_code != 0).count() as u64;
        rounds += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if failed > 0 {
        bail!("{failed} of {runs} bench probes failed");
    }
    Ok(json!({
        "probes": count, "rounds": rounds, "seconds": elapsed, "runs": runs,
        "probes_per_s": runs as f64 / elapsed,
        "parallel": steward_agent::probes::PARALLEL,
    }))
}
