//! Alert evaluation survives a change of evaluator: alerts opened before a
//! server restart resolve when their conditions clear after it. The same
//! path serves a device that moves to another replica or whose replica
//! died (failover.rs): the evaluator that takes the device over starts from
//! the store's open alerts and recent samples, not from nothing.

mod common;

use common::api::Api;
use common::*;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The agent with one local check, `flag`: WARNING (exit 1) while `flag`
/// exists.
fn start_agent(agent: &Agent, flag: &std::path::Path) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(agent.state_dir.join("agent.log"))
        .unwrap();
    Proc(
        Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                &agent.name,
                "run",
                "--interval",
                "1s",
                "--check-interval",
                "1s",
                "--reconnect-max",
                "2s",
                "--check",
            ])
            .arg(format!("flag=/usr/bin/test ! -e {}", flag.display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

fn alert(api: &Api, monitor: &str) -> Option<Value> {
    let rt = tokio::runtime::Handle::current();
    let (_, alerts) = rt.block_on(api.get("/api/v1/alerts?active=false"));
    alerts
        .as_array()?
        .iter()
        .find(|a| a["monitor_name"] == monitor)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_opened_before_a_restart_resolve_after_it() {
    let root = tempfile::tempdir().unwrap();
    let mut server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    for monitor in [
        json!({ "name": "flag raised", "spec": { "kind": "check", "check": "flag" } }),
        json!({ "name": "offline", "spec": { "kind": "offline" } }),
    ] {
        let (status, body) = api.post("/api/v1/monitors", monitor).await;
        assert!(status.is_success(), "{body}");
    }
    let flag = root.path().join("flag");
    std::fs::write(&flag, "up").unwrap();
    tokio::task::block_in_place(|| {
        let token = server.enroll_token(1);
        let agent = Agent::enroll(root.path(), "moved", &token);
        let mut proc = start_agent(&agent, &flag);
        wait_for("the check alert", Duration::from_secs(20), || {
            alert(&api, "flag raised").filter(|a| a["state"] == "open")
        });
        // The device goes silent: its offline alert opens.
        proc.kill9();
        wait_for("the offline alert", Duration::from_secs(20), || {
            alert(&api, "offline").filter(|a| a["state"] == "open")
        });

        // A new evaluator (the server restarted) while both are open; the
        // condition clears and the device comes back.
        server.proc.as_mut().unwrap().terminate();
        server.restart();
        std::fs::remove_file(&flag).unwrap();
        let _proc = start_agent(&agent, &flag);
        wait_for("the device online", Duration::from_secs(20), || {
            (server.status_of(&agent.device_id) == "online").then_some(())
        });
        for monitor in ["offline", "flag raised"] {
            let resolved = wait_for(
                &format!("the {monitor} alert to resolve"),
                Duration::from_secs(20),
                || alert(&api, monitor).filter(|a| a["state"] == "resolved"),
            );
            // One alert, opened once and resolved once: nothing doubled.
            let rt = tokio::runtime::Handle::current();
            let events = rt.block_on(api.alert_events(resolved["id"].as_str().unwrap()));
            assert_eq!(events, ["opened", "resolved"], "{monitor}: {resolved}");
        }
        // The restarted server counts the device it took over.
        let rt = tokio::runtime::Handle::current();
        let metrics = rt.block_on(api.get_text("/metrics"));
        let taken: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("steward_devices_taken_over_total "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no take-over count in {metrics}"));
        assert!(taken >= 1.0, "{metrics}");
    });
}
