//! The agent's self-budget end to end: a real agent given a memory budget
//! it cannot keep (1 MiB) throttles itself at once, defers its heavy
//! passes (the posture's full view never runs, so the server has no
//! posture checks for it), and says so in the `agent.budget` check, which
//! the server stores and a check monitor turns into an alert.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    tokio::task::block_in_place(|| wait_for(what, Duration::from_secs(60), &mut check))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_over_its_budget_throttles_and_reports_why() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "agent over budget", "spec": { "kind": "check", "check": "agent.budget" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "greedy", &token));
    let _agent = Proc(
        Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                "greedy",
                "--log",
                "debug",
                "run",
                "--interval",
                "5s",
                // A full posture view is due every second: each one waits.
                "--posture-interval",
                "1s",
                "--login-interval",
                "1s",
                "--no-journal",
                "--budget-memory-mib",
                "1",
                "--budget-window",
                "3s",
            ])
            .arg("--auth-log")
            .arg(root.path().join("no-auth.log"))
            .env("STEWARD_AGENT_REBOOT_COMMAND", "true")
            .env("STEWARD_AGENT_NOTICE_COMMAND", "true")
            .stderr(std::fs::File::create(root.path().join("greedy.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let device = agent.device_id.clone();
    let rt = tokio::runtime::Handle::current();
    let get = |path: &str| rt.block_on(api.get(path)).1;

    // The check arrives, WARNING, naming the limit it broke and the pass
    // it deferred.
    let budget = poll(
        "the agent.budget check naming a deferred posture view",
        || {
            let checks = get(&format!("/api/v1/devices/{device}/checks"));
            checks
                .as_array()?
                .iter()
                .find(|c| {
                    c["name"] == "agent.budget"
                        && c["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("posture view"))
                })
                .cloned()
        },
    );
    assert_eq!(budget["state"], "warning", "{budget}");
    let message = budget["message"].as_str().unwrap();
    assert!(
        message.contains("throttled: memory") && message.contains("over the 1.0 MiB budget"),
        "{budget}"
    );
    // Its perfdata carries the figures a metric-minded monitor would want.
    let perf = budget["perfdata"].as_array().unwrap();
    let rss = perf.iter().find(|p| p["label"] == "rss").unwrap();
    assert!(rss["value"].as_f64().unwrap() > 1024.0 * 1024.0, "{budget}");

    // The heavy pass really did not run: no posture checks reached the
    // server although one was due every second.
    let posture = api
        .get(&format!("/api/v1/devices/{device}/posture"))
        .await
        .1;
    assert!(
        posture["checks"].as_array().is_none_or(Vec::is_empty),
        "a posture view ran while over budget: {posture}"
    );

    // A check monitor alerts on it, like on any check.
    let alert: Value = poll("the budget alert", || {
        let alerts = get("/api/v1/alerts");
        alerts
            .as_array()?
            .iter()
            .find(|a| a["monitor_name"] == "agent over budget")
            .cloned()
    });
    assert_eq!(alert["subject"], "agent.budget", "{alert}");
    assert_eq!(alert["severity"], "warning", "{alert}");
}
