//! Two server replicas on one PostgreSQL database and one NATS: an agent on
//! each; a job created on one replica reaches the agent held by the other at
//! once (the bus, not the 15 s sweep), a terminal opened through one replica
//! works on a device held by the other, and a revocation decided on one
//! replica disconnects the device held by the other. Needs
//! STEWARD_TEST_POSTGRES and STEWARD_TEST_NATS (skips loudly without them,
//! fails without them when CI=true).

mod common;

use common::api::Api;
use common::lives::{alerts_of, memory_above};
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn nats_url() -> Option<String> {
    match std::env::var("STEWARD_TEST_NATS") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "STEWARD_TEST_NATS is not set: the replica test cannot run in CI without it"
            );
            eprintln!(
                "\n!!! SKIPPED replica test: set STEWARD_TEST_NATS=nats://127.0.0.1:4222 to run it\n"
            );
            None
        }
    }
}

async fn poll<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A replica: its own data directory holding the installation's shared keys.
fn replica(dir: &Path, port: u16, database: &str, bus: &str) -> Proc {
    Server::start_with_env(
        dir,
        port,
        ADMIN_PASSWORD,
        &[("STEWARD_DATABASE", database), ("STEWARD_BUS", bus)],
    )
}

/// `steward_bus_received_total` of a replica.
async fn bus_received(api: &Api) -> u64 {
    let text = api.get_text("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix("steward_bus_received_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no bus counter in {text}")) as u64
}

/// Two replicas on one database and one bus, and an admin token for each.
struct Pair {
    root: tempfile::TempDir,
    dir_a: std::path::PathBuf,
    port_a: u16,
    token: String,
    api_a: Api,
    api_b: Api,
    _procs: (Proc, Proc),
    _db: steward_store_sql::testdb::TestDb,
}

async fn pair() -> Option<Pair> {
    let nats = nats_url()?;
    let db = steward_store_sql::testdb::create().await?;
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (root.path().join("a"), root.path().join("b"));
    let (port_a, port_b) = (free_port(), free_port());
    let a = tokio::task::block_in_place(|| replica(&dir_a, port_a, &db.url, &nats));
    // The second replica gets the installation's CA and job-signing key (it
    // issues its own server certificate from that CA).
    std::fs::create_dir_all(&dir_b).unwrap();
    for file in ["ca.pem", "ca.key", "job-signing.key"] {
        std::fs::copy(dir_a.join(file), dir_b.join(file)).unwrap();
    }
    let b = tokio::task::block_in_place(|| replica(&dir_b, port_b, &db.url, &nats));
    let token = tokio::task::block_in_place(|| {
        let out = run(std::process::Command::new(STEWARD)
            .args(["token", "create", "--json", "--data-dir"])
            .arg(&dir_a)
            .env("STEWARD_DATABASE", &db.url));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let ca = std::fs::read_to_string(dir_a.join("ca.pem")).unwrap();
    let api_a = Api::new(&format!("https://127.0.0.1:{port_a}"), &ca).with_token(&token);
    let api_b = Api::new(&format!("https://127.0.0.1:{port_b}"), &ca).with_token(&token);
    Some(Pair {
        root,
        dir_a,
        port_a,
        token,
        api_a,
        api_b,
        _procs: (a, b),
        _db: db,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_jobs_and_revocations_over_the_bus() {
    let Some(Pair {
        root,
        dir_a,
        port_a,
        token,
        api_a,
        api_b,
        // Bound, so the replicas and the database live to the end.
        _procs,
        _db,
    }) = pair().await
    else {
        return;
    };

    // One agent enrolls through each replica (the token names its URL).
    let mut agents = Vec::new();
    for (name, api) in [("on-a", &api_a), ("on-b", &api_b)] {
        let (status, created) = api
            .post("/api/v1/enroll-tokens", json!({ "uses": 1 }))
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let secret = created["token"].as_str().unwrap().to_string();
        let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), name, &secret));
        // The agent on B sends metrics rarely: only the bus can tell B of a
        // revocation soon (ingest would refuse its next batch a minute on).
        let interval = if name == "on-b" { "60s" } else { "1s" };
        tokio::task::block_in_place(|| agent.start(interval));
        agents.push(agent);
    }
    let connected = |api: &Api| {
        let api = api.clone();
        async move { api.get("/api/v1/fleet/summary").await.1["connected"].as_u64() }
    };
    poll(
        "one agent on each replica",
        Duration::from_secs(20),
        async || {
            (connected(&api_a).await == Some(1) && connected(&api_b).await == Some(1)).then_some(())
        },
    )
    .await;

    // A job created on replica A reaches the agent held by B at once.
    let started = Instant::now();
    let (status, job) = api_a
        .post(
            "/api/v1/jobs",
            json!({ "action": { "kind": "ping" }, "targets": ["all"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let job = job["id"].as_str().unwrap().to_string();
    let runs = poll(
        "both runs to succeed",
        Duration::from_secs(20),
        async || {
            let (_, body) = api_a.get(&format!("/api/v1/jobs/{job}")).await;
            let runs = body["runs"].as_array()?.clone();
            (runs.len() == 2 && runs.iter().all(|r| r["status"] == "succeeded")).then_some(runs)
        },
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the run on the other replica waited for the sweep ({:?}): {runs:?}",
        started.elapsed()
    );
    // B sent its run because A told it over the bus.
    let on_b = runs
        .iter()
        .find(|r| r["device_id"] == agents[1].device_id.as_str())
        .unwrap();
    let (_, job_body) = api_a.get(&format!("/api/v1/jobs/{job}")).await;
    let delay = on_b["sent_at"].as_i64().unwrap() - job_body["created_at"].as_i64().unwrap();
    assert!(
        delay < 3000,
        "the run on B was sent {delay} ms after the job was created"
    );
    let received = bus_received(&api_b).await;
    assert!(received >= 1, "replica B heard nothing on the bus");
    // Replica B sees the same job and results (one database).
    let (_, seen_on_b) = api_b.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(seen_on_b["counts"]["succeeded"], 2, "{seen_on_b}");

    // A terminal opened through A on the device held by B.
    let out = tokio::task::block_in_place(|| {
        shell_session(
            &format!("https://127.0.0.1:{port_a}"),
            &token,
            &dir_a.join("ca.pem"),
            &agents[1].device_id,
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("steward-42"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Revoked on A, disconnected by B.
    let (status, body) = api_a
        .post(
            &format!("/api/v1/devices/{}/revoke", agents[1].device_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    poll(
        "replica B to drop the revoked device",
        Duration::from_secs(10),
        async || (connected(&api_b).await == Some(0)).then_some(()),
    )
    .await;
    assert_eq!(connected(&api_a).await, Some(1), "the other agent stays");
}

/// A device moved through replica A while replica B holds its agent: B
/// evaluates it at its new site at once (the bus's `DevicesChanged`), not
/// with the site it had cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_moved_on_one_replica_is_evaluated_at_its_new_site_by_the_other() {
    let Some(pair) = pair().await else { return };
    let (api_a, api_b) = (&pair.api_a, &pair.api_b);
    let (status, created) = api_b
        .post("/api/v1/enroll-tokens", json!({ "uses": 1, "site": "hq" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let secret = created["token"].as_str().unwrap().to_string();
    let mut agent =
        tokio::task::block_in_place(|| Agent::enroll(pair.root.path(), "mover", &secret));
    tokio::task::block_in_place(|| agent.start("1s"));
    poll("the agent on B", Duration::from_secs(20), async || {
        let (_, summary) = api_b.get("/api/v1/fleet/summary").await;
        (summary["connected"] == 1).then_some(())
    })
    .await;

    // The agent sends its inventory again once its first look at pending
    // updates is done, and B forgets the device then anyway: wait for it,
    // so only the bus can tell B of the move below.
    let device_path = format!("/api/v1/devices/{}", agent.device_id);
    poll(
        "the inventory with updates",
        Duration::from_secs(60),
        async || {
            let (_, device) = api_b.get(&device_path).await;
            (!device["inventory"]["updates"].is_null()).then_some(())
        },
    )
    .await;

    // One monitor per site, on a level every machine is above.
    let mut monitors = Vec::new();
    for site in ["hq", "lab"] {
        let (status, monitor) = api_a
            .post(
                "/api/v1/monitors",
                json!({ "name": format!("memory at {site}"), "spec": memory_above(0.0001), "applies_to": { "sites": [site] } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{monitor}");
        monitors.push(monitor["id"].as_str().unwrap().to_string());
    }
    let active = |monitor: &str| {
        let (api, monitor) = (api_a.clone(), monitor.to_string());
        async move { !alerts_of(&api, &monitor, "active=true").await.is_empty() }
    };
    // B evaluates the device (the hq monitor fires there), and not for lab.
    poll(
        "the hq monitor to fire on B",
        Duration::from_secs(20),
        async || active(&monitors[0]).await.then_some(()),
    )
    .await;
    assert!(!active(&monitors[1]).await, "the lab monitor fired at hq");

    // Moved to lab through A: B fires the lab monitor.
    let (status, _, moved) = api_a
        .patch(&device_path, None, json!({ "site": "lab" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    poll(
        "the lab monitor to fire on B after the move",
        Duration::from_secs(15),
        async || active(&monitors[1]).await.then_some(()),
    )
    .await;
}
