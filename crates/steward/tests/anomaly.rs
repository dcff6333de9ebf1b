//! Anomaly monitors end to end: an enrolled device speaking the agent
//! protocol over its mutual-TLS socket sends a chosen CPU series (hours of
//! usual load, back-dated a minute apart, then a level shift); the real
//! server's ingest path feeds the detector and opens one alert naming the
//! level shift. Across a server restart the new evaluator rebuilds the
//! detector from the stored samples (take-over) and resolves the same
//! alert once the series is usual again.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use steward_proto::{AgentMessage, Hello, MetricBatch, Point};
use tokio_tungstenite::tungstenite::Message;

const MINUTE: i64 = 60_000;

/// One device's socket, sending one CPU sample per batch and waiting for
/// each ack.
struct Feeder {
    socket: steward_agent::transport::Socket,
    seq: u64,
}

impl Feeder {
    async fn connect(server: &Server, state_dir: &std::path::Path) -> Feeder {
        let state = steward_agent::state::AgentState::load(state_dir).unwrap();
        let config =
            Arc::new(steward_pki::client_config(&state.ca_pem, Some(&state.identity)).unwrap());
        let mut socket =
            steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, config)
                .await
                .unwrap();
        let hello = AgentMessage::Hello(Hello {
            protocol_version: steward_proto::PROTOCOL_VERSION,
            agent_version: "test".into(),
            refuses: Vec::new(),
            target: String::new(),
        });
        socket
            .send(Message::text(steward_proto::encode(&hello)))
            .await
            .unwrap();
        let welcome: Value = serde_json::from_str(&next_text(&mut socket).await).unwrap();
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let seq = welcome["stored_seq"].as_u64().unwrap_or(0);
        Feeder { socket, seq }
    }

    async fn send(&mut self, ts_ms: i64, value: f64) {
        self.seq += 1;
        let batch = AgentMessage::Metrics(MetricBatch {
            seq: self.seq,
            ts_ms,
            points: vec![Point {
                name: "system.cpu.utilization".into(),
                labels: Default::default(),
                value,
            }],
        });
        self.socket
            .send(Message::text(steward_proto::encode(&batch)))
            .await
            .unwrap();
        loop {
            let reply: Value = serde_json::from_str(&next_text(&mut self.socket).await).unwrap();
            match reply["type"].as_str() {
                Some("ack") if reply["seq"].as_u64() == Some(self.seq) => return,
                Some("error") => panic!("batch {} refused: {reply}", self.seq),
                _ => continue,
            }
        }
    }
}

async fn next_text(socket: &mut steward_agent::transport::Socket) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return text.to_string(),
            Ok(Some(Ok(Message::Close(frame)))) => panic!("closed: {frame:?}"),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no reply: {other:?}"),
        }
    }
}

/// Deterministic noise in [-1, 1].
fn noise(i: i64) -> f64 {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// CPU of minute `m`: about 20 %, or about 85 % during the shift.
fn cpu(m: i64) -> f64 {
    let base = if (400..430).contains(&m) { 0.85 } else { 0.20 };
    ((base + 0.02 * noise(m)) * 10_000.0).round() / 10_000.0
}

fn alerts(server: &Server) -> Vec<Value> {
    let rt = tokio::runtime::Handle::current();
    let (_, body) = rt.block_on(server.api().get("/api/v1/alerts?active=false"));
    body.as_array()
        .unwrap()
        .iter()
        .filter(|a| a["monitor_name"] == "CPU unlike itself")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_shift_opens_one_alert_naming_it_and_a_new_evaluator_resolves_it() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let mut server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "CPU unlike itself", "spec": {
                "kind": "anomaly", "metric": "system.cpu.utilization",
                "min_score": 0.5, "for_ms": 5 * MINUTE,
            } }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let state_dir = root.path().join("device");
    steward_agent::enroll::enroll(&state_dir, &token, Some("busy".into()))
        .await
        .unwrap();

    // 520 minutes ending now: 400 usual, 30 shifted up, usual again;
    // the last 80 after the restart.
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 520 * MINUTE;
    let mut feeder = Feeder::connect(&server, &state_dir).await;
    for m in 0..440 {
        feeder.send(start + m * MINUTE, cpu(m)).await;
    }
    let open = tokio::task::block_in_place(|| {
        wait_for("the anomaly alert", Duration::from_secs(20), || {
            alerts(&server).into_iter().find(|a| a["state"] == "open")
        })
    });
    let summary = open["summary"].as_str().unwrap();
    assert!(
        summary.contains("is anomalous: level shift") && summary.contains("expected"),
        "{open}"
    );
    assert_eq!(open["severity"], "warning", "{open}");
    // Opened once the shift held five minutes, not at its first sample.
    let opened_minute = (open["opened_at"].as_i64().unwrap() - start) / MINUTE;
    assert!((405..=410).contains(&opened_minute), "{open}");
    drop(feeder);

    // A new evaluator: the restarted server rebuilds the detector from
    // the stored samples when the device connects (the last six hours),
    // keeps the alert while the event lasts, and resolves it once the
    // series is usual again.
    tokio::task::block_in_place(|| {
        server.proc.as_mut().unwrap().terminate();
        server.restart();
    });
    let mut feeder = Feeder::connect(&server, &state_dir).await;
    for m in 440..520 {
        feeder.send(start + m * MINUTE, cpu(m)).await;
    }
    let resolved = tokio::task::block_in_place(|| {
        wait_for("the alert to resolve", Duration::from_secs(20), || {
            alerts(&server)
                .into_iter()
                .find(|a| a["state"] == "resolved")
        })
    });
    assert_eq!(resolved["id"], open["id"], "the same alert");
    assert!(
        resolved["resolved_at"].as_i64() > open["opened_at"].as_i64(),
        "{resolved}"
    );
    let events = api.alert_events(resolved["id"].as_str().unwrap()).await;
    assert_eq!(events, ["opened", "resolved"], "{resolved}");
    let all = tokio::task::block_in_place(|| alerts(&server));
    assert_eq!(all.len(), 1, "one alert in all: {all:#?}");
}
