//! Noise control end to end, with simulated agents (real identities and
//! sockets, driven by the test): a site outage of 50 devices is one
//! notification, a maintenance window sends none but keeps the record, and
//! a metric crossing the line 20 times notifies as flapping once.

mod common;

use common::*;
use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use steward_agent::transport::Socket;
use tokio_tungstenite::tungstenite::Message;

/// Enrols a simulated agent (real key and certificate) in `root/sim/NAME`.
async fn enroll(root: &std::path::Path, token: &str, name: &str) -> (String, std::path::PathBuf) {
    let dir = root.join("sim").join(name);
    let id = steward_agent::enroll::enroll(&dir, token, Some(name.into()))
        .await
        .unwrap();
    (id, dir)
}

/// Connects an enrolled simulated agent and says hello.
async fn connect(server: &Server, dir: &std::path::Path) -> Socket {
    let state = steward_agent::state::AgentState::load(dir).unwrap();
    let identity =
        Arc::new(steward_pki::client_config(&state.ca_pem, Some(&state.identity)).unwrap());
    let mut socket =
        steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, identity)
            .await
            .unwrap();
    socket
        .send(Message::text(
            r#"{"type":"hello","protocol_version":1,"agent_version":"sim"}"#,
        ))
        .await
        .unwrap();
    socket
}

async fn simulated(
    server: &Server,
    root: &std::path::Path,
    token: &str,
    name: &str,
) -> (String, Socket) {
    let (id, dir) = enroll(root, token, name).await;
    (id, connect(server, &dir).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_maintenance_and_flapping_stay_quiet() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (url, received) = common::hooks::receiver("0123456789abcdef").await;
    let ok = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    ok(api
        .post(
            "/api/v1/channels",
            json!({ "name": "ops", "kind": "webhook", "url": url, "secret": "0123456789abcdef" }),
        )
        .await);
    ok(api.post("/api/v1/monitors", json!({ "name": "offline", "spec": { "kind": "offline" }, "applies_to": { "sites": ["hq", "lab"] } })).await);
    ok(api
        .post(
            "/api/v1/monitors",
            json!({ "name": "hot", "spec": { "kind": "threshold", "metric": "system.cpu.utilization", "threshold": { "direction": "above", "critical": { "trigger": 0.9 } } } }),
        )
        .await);
    ok(api
        .post(
            "/api/v1/maintenance",
            json!({ "name": "lab upgrade", "matcher": { "sites": ["lab"] }, "schedule": { "kind": "once", "start": 0, "end": 4_000_000_000_000i64 } }),
        )
        .await);
    let token = |site: &str, uses: u32| {
        let api = api.clone();
        let site = site.to_string();
        async move {
            ok(api
                .post(
                    "/api/v1/enroll-tokens",
                    json!({ "site": site, "uses": uses }),
                )
                .await)["token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (hq, lab, flap) = (
        token("hq", 50).await,
        token("lab", 1).await,
        token("flap", 1).await,
    );
    // A branch office: a gateway and five devices behind it.
    let branch = token("branch", 6).await;
    ok(api
        .post("/api/v1/monitors", json!({ "name": "branch offline", "spec": { "kind": "offline" }, "applies_to": { "sites": ["branch"] } }))
        .await);

    // Flapping: 20 crossings in 10 minutes of sample time.
    let (_, mut flapper) = simulated(&server, root.path(), &flap, "flapper").await;
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 600_000;
    for i in 0..20u64 {
        let value = if i % 2 == 0 { 0.95 } else { 0.2 };
        let batch = json!({ "type": "metrics", "seq": i + 1, "ts_ms": start + i as i64 * 30_000, "points": [{ "name": "system.cpu.utilization", "value": value }] });
        flapper
            .send(Message::text(batch.to_string()))
            .await
            .unwrap();
    }

    // A site outage: 50 devices of "hq" go silent within a moment, and one
    // device of "lab", which is under maintenance.
    // Enrol first (slow: keys and certificates), then connect all at once.
    let mut dirs = Vec::new();
    for i in 0..50 {
        dirs.push(enroll(root.path(), &hq, &format!("hq-{i}")).await.1);
    }
    let (lab_device, lab_dir) = enroll(root.path(), &lab, "lab-1").await;
    let (gateway, gateway_dir) = enroll(root.path(), &branch, "branch-gw").await;
    dirs.push(gateway_dir);
    for i in 0..5 {
        let (id, dir) = enroll(root.path(), &branch, &format!("branch-{i}")).await;
        ok(api
            .post(
                &format!("/api/v1/devices/{id}/upstream"),
                json!({ "upstream": gateway }),
            )
            .await);
        dirs.push(dir);
    }
    let mut sockets: Vec<Socket> = Vec::new();
    for dir in &dirs {
        // Keep the ones already connected alive while the rest connect.
        for socket in &mut sockets {
            socket
                .send(Message::text(r#"{"type":"heartbeat","ts_ms":1}"#))
                .await
                .unwrap();
        }
        sockets.push(connect(&server, dir).await);
    }
    let mut lab_socket = connect(&server, &lab_dir).await;
    // One last heartbeat from each, so they all fall silent together.
    for socket in sockets.iter_mut().chain(std::iter::once(&mut lab_socket)) {
        socket
            .send(Message::text(r#"{"type":"heartbeat","ts_ms":1}"#))
            .await
            .unwrap();
    }
    drop(sockets);
    drop(lab_socket);

    let notes = tokio::task::block_in_place(|| {
        wait_for(
            "the grouped outage notification",
            Duration::from_secs(30),
            || {
                let got: Vec<Value> = received
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(v, _)| v.clone())
                    .collect();
                got.iter().any(|n| n["group"] == true).then_some(got)
            },
        )
    });
    tokio::time::sleep(Duration::from_secs(4)).await; // a second group would be due by now
    let notes = {
        let later: Vec<Value> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(v, _)| v.clone())
            .collect();
        assert!(later.len() >= notes.len());
        later
    };
    let offline: Vec<&Value> = notes.iter().filter(|n| n["monitor"] == "offline").collect();
    assert_eq!(
        offline.len(),
        1,
        "one notification for the whole outage: {offline:#?}"
    );
    assert_eq!(offline[0]["count"], 50);
    assert_eq!(offline[0]["site"], "hq");

    // The lab device's alert exists, suppressed by the window, never sent.
    let (_, alerts) = api.get("/api/v1/alerts?active=false").await;
    let lab_alert = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["device_id"] == json!(lab_device))
        .expect("the lab alert is recorded");
    assert!(
        lab_alert["suppressed"]
            .as_str()
            .unwrap()
            .contains("lab upgrade"),
        "{lab_alert}"
    );
    assert!(!notes.iter().any(|n| n["device_id"] == json!(lab_device)));
    let hq_alerts = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["monitor_name"] == "offline" && a["device_id"] != json!(lab_device))
        .count();
    assert_eq!(hq_alerts, 50, "every device keeps its own alert");

    // What was kept quiet, and why, is counted.
    let (_, suppressed) = api.get("/api/v1/alerts/suppressed").await;
    let count = |why: &str| {
        suppressed
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["reason"].as_str().unwrap_or("").contains(why))
            .map(|r| r["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(count("lab upgrade"), 1, "{suppressed}");
    assert!(count("grouped") >= 50, "{suppressed}");

    // The branch outage names the gateway; the five behind it are listed
    // as its consequence, not as news.
    let branch_notes: Vec<&Value> = notes
        .iter()
        .filter(|n| n["monitor"] == "branch offline")
        .collect();
    assert_eq!(branch_notes.len(), 1, "{branch_notes:#?}");
    assert_eq!(
        branch_notes[0]["devices"],
        json!([gateway]),
        "{}",
        branch_notes[0]
    );
    assert_eq!(
        branch_notes[0]["suppressed_by_dependency"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );

    // Flapping: one flapping notification, not 20.
    let hot: Vec<&Value> = notes.iter().filter(|n| n["monitor"] == "hot").collect();
    assert_eq!(
        hot.iter().filter(|n| n["flapping"] == true).count(),
        1,
        "{hot:#?}"
    );
    assert!(
        hot.len() <= 6,
        "{} notifications for 20 crossings",
        hot.len()
    );
}

/// A weekly window keeps its time zone's wall clock, and an edit takes
/// effect at once: made for six hours from now in Kiritimati (UTC+14) it
/// suppresses nothing; moved to cover now, the next alert is suppressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_weekly_window_in_a_time_zone_suppresses_at_once() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let ok = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    ok(api
        .post(
            "/api/v1/monitors",
            json!({ "name": "hot", "spec": { "kind": "threshold", "metric": "system.cpu.utilization", "threshold": { "direction": "above", "critical": { "trigger": 0.9 } } } }),
        )
        .await);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Minutes past midnight in Kiritimati, which keeps UTC+14 all year.
    let local_minute = (now_ms / 60_000 + 14 * 60).rem_euclid(1440);
    let weekly = |start: i64| json!({ "kind": "weekly", "days": [0, 1, 2, 3, 4, 5, 6], "start_minute": start, "duration_minutes": 60, "timezone": "Pacific/Kiritimati" });
    let window = ok(api
        .post(
            "/api/v1/maintenance",
            json!({ "name": "patch night", "matcher": { "sites": ["lab"] }, "schedule": weekly((local_minute + 360).rem_euclid(1440)) }),
        )
        .await);
    let token = ok(api
        .post("/api/v1/enroll-tokens", json!({ "site": "lab", "uses": 2 }))
        .await)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let hot = json!({ "type": "metrics", "seq": 1, "ts_ms": now_ms, "points": [{ "name": "system.cpu.utilization", "value": 0.95 }] }).to_string();
    let alert_of = |device: String| {
        let api = api.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let (_, alerts) = api.get("/api/v1/alerts").await;
                if let Some(alert) = alerts
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["device_id"] == json!(device))
                {
                    return alert.clone();
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "no alert for {device}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };

    let (first, mut socket) = simulated(&server, root.path(), &token, "first").await;
    socket.send(Message::text(hot.clone())).await.unwrap();
    let alert = alert_of(first).await;
    assert!(
        alert["suppressed"].is_null(),
        "not in the window yet: {alert}"
    );

    // Moved to have begun five minutes ago (local time): covers now.
    let id = window["id"].as_str().unwrap();
    let (_, rule) = api.get(&format!("/api/v1/maintenance/{id}")).await;
    let (status, _, edited) = api
        .patch(
            &format!("/api/v1/maintenance/{id}"),
            rule["version"].as_i64(),
            json!({ "schedule": weekly((local_minute - 5).rem_euclid(1440)) }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let (second, mut socket) = simulated(&server, root.path(), &token, "second").await;
    socket.send(Message::text(hot)).await.unwrap();
    let alert = alert_of(second).await;
    assert!(
        alert["suppressed"]
            .as_str()
            .is_some_and(|s| s.contains("patch night")),
        "suppressed by the edited window: {alert}"
    );
}
