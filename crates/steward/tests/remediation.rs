//! Self-healing with a real agent: a monitor's remediation script fixes the
//! condition, the alert resolves with the attempt recorded and nobody is
//! paged; a remediation that fails escalates to the channel.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn alert_named(api: &Api, monitor: &str) -> Option<Value> {
    let (_, alerts) = api.get("/api/v1/alerts?active=false").await;
    alerts
        .as_array()?
        .iter()
        .find(|a| a["monitor_name"] == monitor)
        .cloned()
}

async fn history(api: &Api, alert: &Value) -> Vec<Value> {
    let (status, body) = api
        .get(&format!(
            "/api/v1/alerts/{}/history",
            alert["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].clone())
        .collect()
}

fn has_event(events: &[Value], name: &str) -> bool {
    events.iter().any(|e| e["event"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remediation_fixes_the_condition_and_a_failing_one_pages() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (hook, received) = common::hooks::receiver("0123456789abcdef").await;
    let (status, body) = api
        .post(
            "/api/v1/channels",
            json!({ "name": "pager", "kind": "webhook", "url": hook, "secret": "0123456789abcdef" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (name, file) in [
        (
            "fix-flag",
            "#!/bin/sh\n# steward: param = flag string required\ntouch \"$STEWARD_PARAM_FLAG\"\n",
        ),
        (
            "broken-fix",
            "#!/bin/sh\necho cannot fix this >&2\nexit 1\n",
        ),
    ] {
        let (status, body) = api
            .post("/api/v1/scripts", json!({ "name": name, "file": file }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let flag = root.path().join("service.flag");
    for monitor in [
        json!({ "name": "service down", "spec": { "kind": "check", "check": "flag" },
                "remediation": { "script": "fix-flag", "params": { "flag": flag }, "verify_ms": 30000 } }),
        json!({ "name": "beyond repair", "spec": { "kind": "check", "check": "broken" },
                "remediation": { "script": "broken-fix" } }),
    ] {
        let (status, body) = api.post("/api/v1/monitors", monitor).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "healed", &token));
    let _agent = Proc(
        std::process::Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                "healed",
                "run",
                "--interval",
                "5s",
                "--check-interval",
                "1s",
            ])
            .arg("--check")
            .arg(format!("flag=test -f {} || exit 2", flag.display()))
            .arg("--check")
            .arg("broken=exit 2")
            .stderr(std::fs::File::create(root.path().join("healed.log")).unwrap())
            .spawn()
            .unwrap(),
    );

    // The fixable condition: the script creates the flag, the check passes,
    // the alert resolves; its history says what was tried; nobody is paged.
    let deadline = Instant::now() + Duration::from_secs(40);
    let fixed = loop {
        if let Some(alert) = alert_named(&api, "service down").await
            && alert["state"] == "resolved"
        {
            let events = history(&api, &alert).await;
            if has_event(&events, "remediation_worked") {
                break (alert, events);
            }
        }
        assert!(
            Instant::now() < deadline,
            "the remediated alert did not resolve"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let (alert, events) = fixed;
    assert!(flag.exists());
    assert!(has_event(&events, "remediation_started"), "{events:?}");
    let finished = events
        .iter()
        .find(|e| e["event"] == "remediation_finished")
        .unwrap();
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert!(!has_event(&events, "escalated"), "{events:?}");
    assert_eq!(alert["suppressed"], "remediated", "{alert}");

    // The unfixable one escalates to the channel, with the reason.
    let deadline = Instant::now() + Duration::from_secs(40);
    let page = loop {
        let page = received
            .lock()
            .unwrap()
            .iter()
            .find(|(body, _)| body["monitor"] == "beyond repair")
            .cloned();
        if let Some(page) = page {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "the failed remediation was not escalated"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(page.1, "escalation not signed");
    assert!(
        page.0["remediation"].as_str().unwrap().contains("failed"),
        "{}",
        page.0
    );
    let alert = alert_named(&api, "beyond repair").await.unwrap();
    let events = history(&api, &alert).await;
    let finished = events
        .iter()
        .find(|e| e["event"] == "remediation_finished")
        .unwrap();
    assert_eq!(finished["status"], "failed", "{finished}");
    assert_eq!(finished["stderr"], "cannot fix this\n", "{finished}");
    assert!(has_event(&events, "escalated"), "{events:?}");
    // Nothing about the fixed alert reached the pager.
    assert!(
        !received
            .lock()
            .unwrap()
            .iter()
            .any(|(body, _)| body["monitor"] == "service down"),
        "the remediated alert paged someone"
    );
}
