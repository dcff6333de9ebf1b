//! Three replicas on one PostgreSQL and one NATS behind a load balancer,
//! six agents spread over them. A job runs on every agent; one replica is
//! killed mid-run. Its agents reconnect to the others, every run's result is
//! stored once (each run executed once), every alert exists once (opened
//! once, not re-raised by the replica that took the device over), and no
//! metric batch is lost. A seventh agent that can reach only the killed
//! replica never comes back: a survivor finds it silent and marks it
//! offline (one offline alert) within 30 s. Needs STEWARD_TEST_POSTGRES and
//! STEWARD_TEST_NATS.

mod common;

use common::api::Api;
use common::balancer::Balancer;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

const AGENTS: usize = 6;

async fn poll<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn services() -> Option<String> {
    let nats = std::env::var("STEWARD_TEST_NATS")
        .ok()
        .filter(|u| !u.is_empty());
    if nats.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "STEWARD_TEST_NATS is not set: the fail-over test cannot run in CI without it"
        );
        eprintln!("\n!!! SKIPPED fail-over test: set STEWARD_TEST_NATS=nats://127.0.0.1:4222\n");
    }
    nats
}

async fn connected(api: &Api) -> u64 {
    api.get("/api/v1/fleet/summary").await.1["connected"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_dies_mid_job_and_nothing_is_lost_or_doubled() {
    let Some(nats) = services() else { return };
    let Some(db) = steward_store_sql::testdb::create().await else {
        return;
    };
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let balancer = Balancer::start(ports.clone()).await;
    let dirs: Vec<_> = (0..3).map(|i| root.path().join(format!("r{i}"))).collect();
    let env = |dir: &Path, port: u16| {
        let (url, db, nats) = (balancer.url(), db.url.clone(), nats.clone());
        let dir = dir.to_path_buf();
        tokio::task::block_in_place(move || {
            Server::start_with_env(
                &dir,
                port,
                ADMIN_PASSWORD,
                &[
                    ("STEWARD_DATABASE", &db),
                    ("STEWARD_BUS", &nats),
                    // Tokens send agents to the balancer.
                    ("STEWARD_PUBLIC_URL", &url),
                ],
            )
        })
    };
    let mut replicas = vec![env(&dirs[0], ports[0])];
    for dir in &dirs[1..] {
        std::fs::create_dir_all(dir).unwrap();
        for file in ["ca.pem", "ca.key", "job-signing.key"] {
            std::fs::copy(dirs[0].join(file), dir.join(file)).unwrap();
        }
    }
    for i in 1..3 {
        replicas.push(env(&dirs[i], ports[i]));
    }
    let token = tokio::task::block_in_place(|| {
        let out = run(std::process::Command::new(STEWARD)
            .args(["token", "create", "--json", "--data-dir"])
            .arg(&dirs[0])
            .env("STEWARD_DATABASE", &db.url));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let ca = std::fs::read_to_string(dirs[0].join("ca.pem")).unwrap();
    let apis: Vec<Api> = ports
        .iter()
        .map(|p| Api::new(&format!("https://127.0.0.1:{p}"), &ca).with_token(&token))
        .collect();
    let api = &apis[0];

    // An alert on every device as soon as it reports.
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "up", "spec": { "kind": "threshold", "metric": "system.uptime",
                    "threshold": { "direction": "above", "critical": { "trigger": 1.0 } } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "offline", "spec": { "kind": "offline" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let script = format!(
        "#!/bin/sh\n# steward: name = slow\n# steward: timeout = 60s\necho \"$STEWARD_RUN_ID\" >> {}\nsleep 4\necho done\n",
        root.path().join("runs.log").display()
    );
    let (status, body) = api.post("/api/v1/scripts", json!({ "file": script })).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, created) = api
        .post("/api/v1/enroll-tokens", json!({ "uses": AGENTS + 1 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let secret = created["token"].as_str().unwrap().to_string();
    let mut agents: Vec<Agent> = (0..AGENTS)
        .map(|i| {
            tokio::task::block_in_place(|| {
                Agent::enroll(root.path(), &format!("agent-{i}"), &secret)
            })
        })
        .collect();
    for agent in &mut agents {
        tokio::task::block_in_place(|| agent.start("1s"));
    }
    poll(
        "agents spread over the three replicas",
        Duration::from_secs(30),
        async || {
            let mut counts = Vec::new();
            for api in &apis {
                counts.push(connected(api).await);
            }
            (counts.iter().sum::<u64>() == AGENTS as u64 && counts.iter().all(|c| *c > 0))
                .then_some(())
        },
    )
    .await;
    poll("an alert per device", Duration::from_secs(30), async || {
        let (_, alerts) = api.get("/api/v1/alerts").await;
        (alerts.as_array()?.len() == AGENTS).then_some(())
    })
    .await;

    // The job, and a replica killed while it runs.
    let (status, job) = api
        .post(
            "/api/v1/jobs",
            json!({ "script": "slow", "targets": ["all"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let job = job["id"].as_str().unwrap().to_string();
    poll(
        "every run to be running",
        Duration::from_secs(30),
        async || {
            let (_, body) = api.get(&format!("/api/v1/jobs/{job}")).await;
            (body["counts"]["running"] == AGENTS).then_some(())
        },
    )
    .await;
    let victim = 1;
    // One more device, held by the victim and unable to reach any other
    // replica (its configuration names the victim, not the balancer): it
    // will not come back, so the survivors must find it silent.
    let held_before = connected(&apis[victim]).await;
    let mut pinned = tokio::task::block_in_place(|| Agent::enroll(root.path(), "pinned", &secret));
    let config = pinned.dir().join("agent.json");
    let mut pinned_config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    pinned_config["url"] = format!("https://127.0.0.1:{}", ports[victim]).into();
    std::fs::write(&config, pinned_config.to_string()).unwrap();
    tokio::task::block_in_place(|| pinned.start("1s"));
    poll(
        "the pinned agent on the victim",
        Duration::from_secs(30),
        async || {
            let (_, alerts) = api.get("/api/v1/alerts").await;
            (connected(&apis[victim]).await == held_before + 1
                && alerts.as_array()?.len() == AGENTS + 1)
                .then_some(())
        },
    )
    .await;
    replicas[victim].kill9();
    let killed_at = Instant::now();
    let survivors: Vec<&Api> = apis
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, a)| a)
        .collect();

    // The device that cannot come back is taken over: found silent and
    // marked offline, its offline alert raised, by one of the survivors,
    // within the 30 s the design allows.
    poll(
        "the pinned device marked offline by a survivor",
        Duration::from_secs(30),
        async || {
            let (_, device) = api
                .get(&format!("/api/v1/devices/{}", pinned.device_id))
                .await;
            (device["status"] == "offline").then_some(())
        },
    )
    .await;
    eprintln!(
        "pinned device offline {:?} after its replica died",
        killed_at.elapsed()
    );

    // Every agent back, every run stored once.
    poll(
        "every agent reconnected to the survivors",
        Duration::from_secs(60),
        async || {
            let mut total = 0;
            for api in &survivors {
                total += connected(api).await;
            }
            (total == AGENTS as u64).then_some(())
        },
    )
    .await;
    let runs = poll(
        "every run to succeed",
        Duration::from_secs(60),
        async || {
            let (_, body) = api.get(&format!("/api/v1/jobs/{job}")).await;
            let runs = body["runs"].as_array()?.clone();
            runs.iter()
                .all(|r| r["status"] == "succeeded")
                .then_some(runs)
        },
    )
    .await;
    assert_eq!(runs.len(), AGENTS);
    assert!(
        runs.iter()
            .all(|r| r["stdout"].as_str().unwrap_or("").contains("done")),
        "{runs:?}"
    );
    let executed: Vec<String> = std::fs::read_to_string(root.path().join("runs.log"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let unique: HashSet<&String> = executed.iter().collect();
    assert_eq!(
        (executed.len(), unique.len()),
        (AGENTS, AGENTS),
        "each run executed once: {executed:?}"
    );

    // No sample lost: every batch an agent made is stored.
    for agent in &agents {
        poll(
            "the agent's spool to drain into the store",
            Duration::from_secs(30),
            async || {
                let (spooled, last) = agent.spool();
                let (_, device) = api
                    .get(&format!("/api/v1/devices/{}", agent.device_id))
                    .await;
                (spooled.is_empty() && device["stored_seq"].as_u64()? >= last).then_some(())
            },
        )
        .await;
    }

    // Every alert once: one per device, opened once, never raised again by
    // the replica that took the device over; one offline alert, for the
    // device that did not come back.
    let (_, alerts) = api.get("/api/v1/alerts").await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), AGENTS + 2, "{alerts:?}");
    let devices: HashSet<&str> = alerts
        .iter()
        .filter(|a| a["monitor_name"] == "up")
        .map(|a| a["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(devices.len(), AGENTS + 1);
    let offline: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["monitor_name"] == "offline")
        .collect();
    assert_eq!(offline.len(), 1, "{offline:?}");
    assert_eq!(offline[0]["device_id"], pinned.device_id.as_str());
    for alert in alerts {
        let events = api.alert_events(alert["id"].as_str().unwrap()).await;
        assert_eq!(events, ["opened"], "alert history of {alert}");
    }
    drop(replicas);
}
