//! Log patterns end to end: real agents watch their log files
//! (`--log-match`), mine the matching lines into templates and report
//! them; a new error appearing on three devices within the monitor's
//! window raises one alert naming the template (merged across the hosts'
//! own values) with example lines. What the devices logged from the start
//! is the baseline and raises nothing.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

const WINDOW_MS: u64 = 15_000;

fn append(path: &std::path::Path, line: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Lines of rule `errors` the agent counted in the last five minutes.
fn matched(server: &Server, device: &str) -> f64 {
    let rt = tokio::runtime::Handle::current();
    let (_, series) = rt.block_on(server.api().get(&format!(
        "/api/v1/devices/{device}/metrics/log.match.count_5m?since=5m"
    )));
    series
        .as_array()
        .and_then(|s| s.first())
        .and_then(|s| s["samples"].as_array()?.last()?[1].as_f64())
        .unwrap_or(0.0)
}

fn pattern_alerts(server: &Server) -> Vec<Value> {
    let rt = tokio::runtime::Handle::current();
    let (_, alerts) = rt.block_on(server.api().get("/api/v1/alerts?active=false"));
    alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["monitor_name"] == "New error pattern")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_error_on_three_devices_raises_one_alert_naming_its_template() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let (status, body) = server
        .api()
        .post(
            "/api/v1/monitors",
            json!({ "name": "New error pattern", "spec": {
                "kind": "log_pattern", "rule": "errors", "min_devices": 3, "window_ms": WINDOW_MS,
            } }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    tokio::task::block_in_place(|| {
        let token = server.enroll_token(4);
        let agents: Vec<(Agent, std::path::PathBuf)> = ["web1", "web2", "web3", "web4"]
            .iter()
            .map(|name| {
                let log = root.path().join(format!("{name}.log"));
                std::fs::write(&log, "").unwrap();
                let mut agent = Agent::enroll(root.path(), name, &token);
                let rule = format!("errors={}=error", log.display());
                agent.start_with("1s", &["--log-match", &rule]);
                (agent, log)
            })
            .collect();
        for (agent, _) in &agents {
            wait_for("the agents online", Duration::from_secs(30), || {
                (server.status_of(&agent.device_id) == "online").then_some(())
            });
        }
        // The baseline: an error every device logs all along.
        for (i, (agent, log)) in agents.iter().enumerate() {
            append(log, &format!("worker {i} error: retrying in 5s"));
            wait_for("the baseline line counted", Duration::from_secs(20), || {
                (matched(&server, &agent.device_id) >= 1.0).then_some(())
            });
        }
        // Templates first seen within a window of the first report are the
        // baseline: let that window pass.
        std::thread::sleep(Duration::from_millis(WINDOW_MS + 1_000));

        // A new error on three of them, each with its own disk's name.
        for (disk, (_, log)) in ["sda1", "sdb1", "sdc1"].iter().zip(&agents) {
            append(
                log,
                &format!("kernel: EXT4-fs error (device {disk}): bad block"),
            );
            append(log, "worker 7 error: retrying in 5s");
        }
        let alert = wait_for("the new pattern's alert", Duration::from_secs(30), || {
            pattern_alerts(&server).into_iter().next()
        });
        let summary = alert["summary"].as_str().unwrap();
        assert!(
            summary.contains("New log pattern on 3 devices")
                && summary.contains("kernel: EXT4-fs error (device <*> bad block"),
            "{alert}"
        );
        // Its example lines are its own device's: another device may sit at
        // a site the alert's readers cannot see.
        let own = format!(
            "{}: kernel: EXT4-fs error (device sd",
            alert["device_id"].as_str().unwrap()
        );
        assert!(summary.contains(&own), "{alert}");
        assert_eq!(
            summary.matches("EXT4-fs error (device sd").count(),
            1,
            "{alert}"
        );
        assert_eq!(alert["severity"], "warning", "{alert}");

        // The fourth device logs it too: still the one alert.
        let (fourth, log) = &agents[3];
        let before = matched(&server, &fourth.device_id);
        append(log, "kernel: EXT4-fs error (device sdd1): bad block");
        wait_for(
            "the fourth device's line counted",
            Duration::from_secs(20),
            || (matched(&server, &fourth.device_id) > before).then_some(()),
        );
        let all = pattern_alerts(&server);
        assert_eq!(all.len(), 1, "{all:#?}");
        // The baseline error, logged again everywhere, raised nothing.
        assert!(
            all.iter()
                .all(|a| !a["summary"].as_str().unwrap().contains("worker")),
            "{all:#?}"
        );
    });
}

/// A known template's rate surging: one device logs a warning now and
/// then for a few windows (its usual rate), then a burst of it. A
/// `log_pattern` monitor with `surge` raises one alert naming the
/// template; the burst going on in the same window raises no second one,
/// and a single device raises no "new pattern" alert (three are needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surging_template_raises_one_alert_naming_it() {
    const SURGE_WINDOW_MS: u64 = 3_000;
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let (status, body) = server
        .api()
        .post(
            "/api/v1/monitors",
            json!({ "name": "New error pattern", "spec": {
                "kind": "log_pattern", "rule": "errors", "min_devices": 3,
                "window_ms": SURGE_WINDOW_MS, "surge": 5.0,
            } }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    tokio::task::block_in_place(|| {
        let token = server.enroll_token(1);
        let log = root.path().join("db1.log");
        std::fs::write(&log, "").unwrap();
        let mut agent = Agent::enroll(root.path(), "db1", &token);
        let rule = format!("errors={}=error", log.display());
        agent.start_with("1s", &["--log-match", &rule]);
        wait_for("the agent online", Duration::from_secs(30), || {
            (server.status_of(&agent.device_id) == "online").then_some(())
        });
        // Its usual rate: a line now and then, over more than the three
        // windows of history a surge needs (time must pass: the windows
        // are the monitor's).
        let mut counted = 0.0;
        for i in 0..5 {
            append(
                &log,
                &format!("pool error: connection {i} reset by peer, retrying"),
            );
            counted = wait_for("the usual line counted", Duration::from_secs(20), || {
                let now = matched(&server, &agent.device_id);
                (now > counted).then_some(now)
            });
            std::thread::sleep(Duration::from_millis(SURGE_WINDOW_MS));
        }
        assert!(
            pattern_alerts(&server).is_empty(),
            "{:#?}",
            pattern_alerts(&server)
        );
        // The burst: thirty lines at once, each with its own values.
        for i in 0..30 {
            append(
                &log,
                &format!("pool error: connection {} reset by peer, retrying", 100 + i),
            );
        }
        let alert = wait_for("the surge's alert", Duration::from_secs(30), || {
            pattern_alerts(&server).into_iter().next()
        });
        let summary = alert["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("Log pattern surging: ")
                && summary.contains("pool error: connection <*> reset by peer, retrying"),
            "{alert}"
        );
        assert_eq!(alert["device_id"], agent.device_id.as_str(), "{alert}");
        assert_eq!(alert["severity"], "warning", "{alert}");
        // More of it in the same burst: still the one alert.
        for i in 0..10 {
            append(
                &log,
                &format!("pool error: connection {} reset by peer, retrying", 200 + i),
            );
        }
        let before = matched(&server, &agent.device_id);
        wait_for("the later lines counted", Duration::from_secs(20), || {
            (matched(&server, &agent.device_id) > before).then_some(())
        });
        let all = pattern_alerts(&server);
        assert_eq!(all.len(), 1, "{all:#?}");
    });
}
