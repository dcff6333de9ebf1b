//! Incidents end to end: a failing check on a real agent raises a
//! critical alert, which opens an incident by itself (audited as decided
//! by alerting); a technician notes, acknowledges and resolves it with the
//! CLI; the timeline shows the alert, the note and the status changes with
//! who, and the KPIs count it (volume 1, MTTA and MTTR present).

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

fn get(api: &common::api::Api, path: &str) -> Value {
    let rt = tokio::runtime::Handle::current();
    let (status, body) = rt.block_on(api.get(path));
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_opens_an_incident_that_is_worked_to_resolved() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "service broken", "spec": { "kind": "check", "check": "broken" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A check that always reports CRITICAL (run by sh: no file executed
    // while it may still be open for writing).
    let script = root.path().join("broken.sh");
    std::fs::write(&script, "echo 'CRITICAL - the service is broken'\nexit 2\n").unwrap();
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "web-1", &token));
    let check = format!("broken=/bin/sh {}", script.display());
    agent.start_with("5s", &["--check-interval", "1s", "--check", &check]);

    // The critical alert opens an incident by itself.
    let incident = tokio::task::block_in_place(|| {
        wait_for(
            "an incident from the alert",
            Duration::from_secs(30),
            || {
                let list = get(&api, "/api/v1/incidents");
                list.as_array()?
                    .iter()
                    .find(|i| i["alerts"].as_array().is_some_and(|a| !a.is_empty()))
                    .cloned()
            },
        )
    });
    let id = incident["id"].as_str().unwrap().to_string();
    assert_eq!(incident["status"], "open", "{incident}");
    assert_eq!(incident["opened_by"], "alerting", "{incident}");
    assert_eq!(incident["devices"], json!([agent.device_id]), "{incident}");
    assert!(
        incident["title"]
            .as_str()
            .unwrap()
            .contains("service broken"),
        "{incident}"
    );
    let alert_id = incident["alerts"][0].as_str().unwrap().to_string();
    // Once: the alert's later evaluations open nothing more.
    let (_, again) = api.get("/api/v1/incidents").await;
    assert_eq!(again.as_array().unwrap().len(), 1, "{again}");
    // Audited as decided by alerting, naming the rule.
    let (_, audit) = api.get("/api/v1/audit?actor=alerting").await;
    let entries = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "incident.open" && e["target"] == id.as_str()),
        "{audit}"
    );

    // Filters: by status, by device.
    let (_, open) = api.get("/api/v1/incidents?status=open").await;
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    let (_, on_device) = api
        .get(&format!("/api/v1/incidents?devices={}", agent.device_id))
        .await;
    assert_eq!(on_device.as_array().unwrap().len(), 1, "{on_device}");
    let (_, resolved) = api.get("/api/v1/incidents?status=resolved").await;
    assert_eq!(resolved.as_array().unwrap().len(), 0, "{resolved}");

    // A technician works it from the CLI.
    let me = api.get("/api/v1/whoami").await.1["username"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::task::block_in_place(|| {
        let noted = server.cli_json(&[
            "incident",
            "note",
            &id,
            "restarted the service",
            "--minutes",
            "5",
        ]);
        assert_eq!(noted["entry"]["kind"], "note", "{noted}");
        let acked = server.cli_json(&["incident", "ack", &id]);
        assert_eq!(acked["status"], "acknowledged", "{acked}");
    });
    // Acknowledging the alert itself goes on the timeline too.
    let (status, body) = api
        .post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resolved = tokio::task::block_in_place(|| server.cli_json(&["incident", "resolve", &id]));
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    assert_eq!(resolved["time_spent_ms"], 300_000, "{resolved}");
    let shown = tokio::task::block_in_place(|| {
        String::from_utf8(server.cli(&["incident", "show", &id]).stdout).unwrap()
    });
    assert!(shown.contains("restarted the service"), "{shown}");

    // The timeline: the alert, the note, the status changes, with who.
    let (status, incident) = api.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{incident}");
    let timeline = incident["timeline"].as_array().unwrap();
    let has = |kind: &str, actor: &str, check: &dyn Fn(&Value) -> bool| {
        timeline
            .iter()
            .any(|e| e["kind"] == kind && e["actor"] == actor && check(&e["body"]))
    };
    assert!(
        has("alert", "alerting", &|b| b["state"] == "open"),
        "{incident}"
    );
    assert!(
        has("note", &me, &|b| b["text"] == "restarted the service"),
        "{incident}"
    );
    assert!(
        has("status", &me, &|b| b["to"] == "acknowledged"),
        "{incident}"
    );
    assert!(
        has("alert", &me, &|b| b["state"] == "acknowledged"),
        "{incident}"
    );
    assert!(has("status", &me, &|b| b["to"] == "resolved"), "{incident}");
    let at: Vec<i64> = timeline.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "in order: {at:?}");
    assert!(incident["acknowledged_at"].as_i64().is_some(), "{incident}");
    assert!(incident["resolved_at"].as_i64().is_some(), "{incident}");

    // A stale edit is refused; bad input gets a clear error.
    let (status, _, body) = api
        .patch(
            &format!("/api/v1/incidents/{id}"),
            Some(1),
            json!({ "priority": "p1" }),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (status, _, body) = api
        .patch(
            &format!("/api/v1/incidents/{id}"),
            None,
            json!({ "status": "done" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("status is one of"), "{body}");

    // The KPIs count it.
    let kpis = tokio::task::block_in_place(|| get(&api, "/api/v1/kpis"));
    assert_eq!(kpis["incident_volume"]["opened"], 1, "{kpis}");
    assert_eq!(kpis["incident_volume"]["open"], 0, "{kpis}");
    assert_eq!(kpis["mtta"]["count"], 1, "{kpis}");
    assert!(kpis["mtta"]["median"].as_f64().is_some(), "{kpis}");
    assert_eq!(kpis["mttr"]["count"], 1, "{kpis}");
    assert!(kpis["mttr"]["p90"].as_f64().is_some(), "{kpis}");
    assert!(
        kpis["definitions"]["mttr"]
            .as_str()
            .unwrap()
            .contains("resolution"),
        "{kpis}"
    );
    assert_eq!(kpis["backup_success"]["collected"], false, "{kpis}");
    assert_eq!(kpis["open_problems"]["open"], 0, "{kpis}");
    let devices = kpis["availability"]["devices"].as_array().unwrap();
    assert!(
        devices
            .iter()
            .any(|d| d["device_id"] == agent.device_id.as_str()),
        "{kpis}"
    );
    assert!(kpis["noise"]["alerts"].as_u64().unwrap() >= 1, "{kpis}");
}
