//! Metric storage, in process on the SQLite store: bytes per stored sample
//! for seven days of a typical agent's series at 60 s, and the time to read
//! seven days of one series.

use anyhow::Result;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Instant;
use steward_proto::Point;
use steward_store_types::{
    DeviceStore, IngestBatch, MetricQuery, MetricStore, NewDevice, Scope, TenancyStore,
};
use uuid::Uuid;

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;
const STEP_MS: i64 = 60_000;

/// A small deterministic generator (no dependency for a benchmark).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 10_000) as f64 / 10_000.0
    }
}

pub async fn run() -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let store = steward_store_sql::SqlStore::open_sqlite(&dir.path().join("bench.db")).await?;
    let org = store.default_org().await?.id;
    let device = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id: device,
            org_id: org,
            site: "bench".into(),
            name: "bench".into(),
            hostname: "bench".into(),
            tags: Vec::new(),
            cert_fingerprint: "bench".into(),
            enrolled_at: 0,
        })
        .await?;
    let start = 1_800_000_000_000i64 / STEP_MS * STEP_MS;
    let mut samples = 0u64;
    let mut batches = Vec::new();
    for batch in week(device, org, start) {
        samples += batch.points.len() as u64;
        batches.push(batch);
        if batches.len() == 500 {
            store.ingest(&batches).await?;
            batches.clear();
        }
    }
    store.ingest(&batches).await?;
    let stats = store.storage_stats().await?;
    let query = MetricQuery {
        device_id: device,
        name: "system.cpu.utilization".into(),
        from_ms: start,
        to_ms: start + WEEK_MS,
    };
    let mut times = Vec::new();
    let mut read = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let series = store.query_metric(&Scope::all(), &query).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        read = series.iter().map(|s| s.samples.len()).sum::<usize>();
    }
    times.sort_by(f64::total_cmp);
    Ok(json!({
        "samples": samples,
        "stored_samples": stats.samples,
        "chunk_bytes": stats.chunk_bytes,
        "bytes_per_sample": stats.chunk_bytes as f64 / stats.samples.max(1) as f64,
        "read_7d_points": read,
        "read_7d_ms_median": times[times.len() / 2],
    }))
}

/// Seven days at 60 s from `start` of what an agent reports each minute:
/// CPU (noisy), memory (drifting), a filesystem (nearly flat), a network
/// counter (growing), load.
pub fn week(device: Uuid, org: Uuid, start: i64) -> impl Iterator<Item = IngestBatch> {
    let mut rng = Rng(0x5eed);
    let (mut memory, mut disk, mut rx) = (0.4f64, 0.6f64, 1e9f64);
    (start..start + WEEK_MS)
        .step_by(STEP_MS as usize)
        .enumerate()
        .map(move |(i, ts)| {
            memory = (memory + (rng.next() - 0.5) * 0.01).clamp(0.05, 0.95);
            disk = (disk + rng.next() * 0.00001).min(0.99);
            rx += 50_000.0 + rng.next() * 20_000.0;
            let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
            let labels = |pairs: &[(&str, &str)]| {
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            };
            let point = |name: &str, labels: BTreeMap<String, String>, value: f64| Point {
                name: name.into(),
                labels,
                value,
            };
            IngestBatch {
                device_id: device,
                org_id: org,
                seq: i as u64 + 1,
                ts_ms: ts,
                points: vec![
                    point(
                        "system.cpu.utilization",
                        BTreeMap::new(),
                        round(rng.next() * 0.3 + 0.05),
                    ),
                    point("system.memory.utilization", BTreeMap::new(), round(memory)),
                    point(
                        "system.filesystem.utilization",
                        labels(&[("mountpoint", "/")]),
                        round(disk),
                    ),
                    point(
                        "system.network.io",
                        labels(&[("device", "eth0"), ("direction", "receive")]),
                        rx.round(),
                    ),
                    point(
                        "system.cpu.load_average.1m",
                        BTreeMap::new(),
                        (rng.next() * 200.0).round() / 100.0,
                    ),
                ],
            }
        })
}
