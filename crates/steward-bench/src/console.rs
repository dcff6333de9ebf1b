//! The console at fleet scale: a server whose store holds `devices` devices
//! (a mix of online and offline, tags, sites, some alerts, utilisation
//! figures) and one device with 7 days of metrics at 60 s. Measures the
//! server time of what the devices page and the device page ask for, then
//! first paint and ready time in headless chromium (e2e/browser/render.mjs).

use crate::server::BenchServer;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use steward_proto::Point;
use steward_store_types::{
    AlertChange, AlertStore, DeviceStore, IngestBatch, MetricStore, NewDevice, Status, TenancyStore,
};
use uuid::Uuid;

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// Fills the store at `db` with the fleet; returns the id of the device with
/// a week of metrics.
async fn seed(db: &Path, devices: usize) -> Result<Uuid> {
    let store = steward_store_sql::SqlStore::open_sqlite(db).await?;
    let org = store.default_org().await?.id;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let sites = ["hq", "branch-1", "branch-2", "warehouse", "remote"];
    let mut ids = Vec::with_capacity(devices);
    for i in 0..devices {
        let id = Uuid::now_v7();
        ids.push(id);
        store
            .create_device(&NewDevice {
                id,
                org_id: org,
                site: sites[i % sites.len()].into(),
                name: format!("host-{i:05}"),
                hostname: format!("host-{i:05}.corp.example"),
                tags: vec![if i % 3 == 0 { "server" } else { "workstation" }.into()],
                cert_fingerprint: format!("bench-{i}"),
                enrolled_at: now / 1000,
            })
            .await?;
        if i % 10 != 0 {
            store.set_status(id, Status::Online, now / 1000).await?;
        }
    }
    // Current utilisation of every device but the first (whose week follows).
    let mut batches = Vec::new();
    for (i, id) in ids.iter().enumerate().skip(1) {
        let value = (i % 97) as f64 / 100.0;
        let point = |name: &str, labels: &[(&str, &str)]| Point {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            value,
        };
        batches.push(IngestBatch {
            device_id: *id,
            org_id: org,
            seq: 1,
            ts_ms: now,
            points: vec![
                point("system.cpu.utilization", &[]),
                point("system.memory.utilization", &[]),
                point("system.filesystem.utilization", &[("mountpoint", "/")]),
            ],
        });
        if batches.len() == 500 {
            store.ingest(&batches).await?;
            batches.clear();
        }
    }
    store.ingest(&batches).await?;
    // One device in thirty has an open alert.
    for id in ids.iter().step_by(30) {
        store
            .record_alert_change(&AlertChange {
                org_id: org,
                monitor_id: "bench".into(),
                monitor_name: "disk almost full".into(),
                device_id: *id,
                subject: "/".into(),
                severity: "critical".into(),
                at: now,
                summary: "/ is 96% full".into(),
                notify: false,
                flapping: false,
                suppressed: None,
            })
            .await?;
    }
    // The detailed device: a week at 60 s, ending now.
    let detailed = ids[0];
    let start = (now - WEEK_MS) / 60_000 * 60_000;
    let mut batches = Vec::new();
    for batch in crate::storage::week(detailed, org, start) {
        batches.push(batch);
        if batches.len() == 500 {
            store.ingest(&batches).await?;
            batches.clear();
        }
    }
    store.ingest(&batches).await?;
    Ok(detailed)
}

/// Median and maximum milliseconds of `runs` calls of `call`.
async fn timed<F, Fut>(runs: usize, mut call: F) -> Result<(f64, f64)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        call().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[times.len() - 1]))
}

pub async fn run(steward: &Path, devices: usize) -> Result<Value> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("server");
    std::fs::create_dir_all(&data)?;
    let seeding = Instant::now();
    let detailed = seed(&data.join("steward.db"), devices).await?;
    let seed_s = seeding.elapsed().as_secs_f64();
    let server = BenchServer::start(steward, root.path()).await?;

    // What the devices page asks for: one page of 50, by default and
    // sorted/searched/filtered the ways a technician does.
    let mut list = serde_json::Map::new();
    for (name, query) in [
        ("default", "limit=50"),
        ("sorted_by_cpu", "limit=50&sort=cpu&desc=true"),
        ("searched", "limit=50&q=host-09"),
        ("offline_with_alerts", "limit=50&status=offline&alerts=any"),
        (
            "last_page",
            &format!("limit=50&offset={}", devices.saturating_sub(50)),
        ),
    ] {
        let path = format!("/api/v1/fleet/devices?{query}");
        let page = server.api(&path, None).await?;
        if page["items"]
            .as_array()
            .is_none_or(|items| items.is_empty())
        {
            bail!("{path} returned no devices: {page}");
        }
        let (median, max) =
            timed(20, || async { server.api(&path, None).await.map(|_| ()) }).await?;
        list.insert(name.into(), json!({ "median_ms": median, "max_ms": max }));
    }
    // What the device page's health tab asks for: the device, then four
    // metrics over 7 days at once.
    let metrics = [
        "system.cpu.utilization",
        "system.memory.utilization",
        "system.filesystem.utilization",
        "system.network.io",
    ];
    let week = server
        .api(
            &format!(
                "/api/v1/devices/{detailed}/metrics/system.cpu.utilization?since=7d&points=720"
            ),
            None,
        )
        .await?;
    let points = week[0]["samples"].as_array().map_or(0, Vec::len);
    if points < 700 {
        bail!("7 days of CPU came back as {points} points, not about 720");
    }
    let (device_median, device_max) = timed(20, || async {
        server
            .api(&format!("/api/v1/devices/{detailed}"), None)
            .await?;
        let calls = metrics.iter().map(|m| {
            let path = format!("/api/v1/devices/{detailed}/metrics/{m}?since=7d&points=720");
            let server = &server;
            async move { server.api(&path, None).await }
        });
        for result in futures_util::future::join_all(calls).await {
            result?;
        }
        Ok(())
    })
    .await?;
    let summary_ms = timed(20, || async {
        server.api("/api/v1/fleet/summary", None).await.map(|_| ())
    })
    .await?;

    // In the browser.
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/browser");
    let out = std::process::Command::new("node")
        .current_dir(&browser_dir)
        .args([
            "render.mjs",
            &format!("https://127.0.0.1:{}/", server.port),
            "admin",
            "bench-admin-password",
            &detailed.to_string(),
        ])
        .output()
        .context("cannot run node (the browser measurements need Node.js, chromium and `npm ci --prefix e2e/browser`)")?;
    if !out.status.success() {
        bail!(
            "render.mjs failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let browser: Value = serde_json::from_slice(&out.stdout).context("render.mjs output")?;
    Ok(json!({
        "devices": devices,
        "seed_s": seed_s,
        "devices_page_server_ms": list,
        "device_page_7d_server_ms": { "median_ms": device_median, "max_ms": device_max },
        "fleet_summary_server_ms": { "median_ms": summary_ms.0, "max_ms": summary_ms.1 },
        "browser": browser,
    }))
}
