//! Debian's Monitoring Plugins run unchanged as the agent's local checks:
//! their state, message and perfdata show up, and a check monitor alerts on
//! a CRITICAL result.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_plugins_report_state_and_perfdata() {
    if !std::path::Path::new(PLUGINS).join("check_disk").exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "monitoring-plugins-basic is not installed"
        );
        eprintln!("\n!!! SKIPPED checks test: apt-get install monitoring-plugins-basic\n");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "too many processes", "spec": { "kind": "check", "check": "procs" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "checked", &token));
    let _proc = Proc(
        Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                "checked",
                "run",
                // Script checks only: the posture checks (on by default)
                // are tested in posture.rs.
                "--posture-interval",
                "0s",
                "--smart-interval",
                "0s",
                "--interval",
                "5s",
                "--check-interval",
                "1s",
            ])
            .arg("--check")
            .arg(format!("disk={PLUGINS}/check_disk -w 1% -c 1% -p /"))
            .arg("--check")
            // CRITICAL unless there are no processes at all.
            .arg(format!("procs={PLUGINS}/check_procs -c 0:0"))
            .stderr(std::fs::File::create(root.path().join("checked.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let results = tokio::task::block_in_place(|| {
        wait_for("check results", Duration::from_secs(20), || {
            let rt = tokio::runtime::Handle::current();
            let (_, results) =
                rt.block_on(api.get(&format!("/api/v1/devices/{}/checks", agent.device_id)));
            (results.as_array().map_or(0, Vec::len) == 2).then_some(results)
        })
    });
    let disk = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "disk")
        .unwrap();
    assert_eq!(disk["state"], "ok", "{disk}");
    assert!(
        disk["message"].as_str().unwrap().starts_with("DISK OK"),
        "{disk}"
    );
    let perf = disk["perfdata"].as_array().unwrap();
    assert!(
        perf.iter()
            .any(|p| p["label"] == "/" && p["value"].as_f64().unwrap() > 0.0),
        "{disk}"
    );
    let procs = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "procs")
        .unwrap();
    assert_eq!(procs["state"], "critical", "{procs}");
    // The check monitor raised a critical alert.
    let alert = tokio::task::block_in_place(|| {
        wait_for("the check alert", Duration::from_secs(10), || {
            let rt = tokio::runtime::Handle::current();
            let (_, alerts) = rt.block_on(api.get("/api/v1/alerts"));
            alerts
                .as_array()?
                .iter()
                .find(|a| a["monitor_name"] == "too many processes")
                .cloned()
        })
    });
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["subject"], "procs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_stops_raises_an_alert_and_recovers() {
    let root = tempfile::tempdir().unwrap();
    // A process with a name nothing else on the machine uses.
    let canary = root.path().join("stw-canary");
    // A symlink, not a copy: executing a file just written can fail with
    // ETXTBSY while another test thread forks. The process name comes from
    // the link's name.
    std::os::unix::fs::symlink("/bin/sleep", &canary).unwrap();
    let mut running = Proc(Command::new(&canary).arg("600").spawn().unwrap());
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, body) = api.post("/api/v1/monitors", json!({ "name": "canary down", "spec": { "kind": "check", "check": "process.stw_canary" } })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "watcher", &token));
    let _agent = Proc(
        Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                "watcher",
                "run",
                // Script checks only: the posture checks (on by default)
                // are tested in posture.rs.
                "--posture-interval",
                "0s",
                "--smart-interval",
                "0s",
                "--interval",
                "5s",
                "--check-interval",
                "1s",
                "--process",
                "stw-canary",
            ])
            .stderr(std::fs::File::create(root.path().join("watcher.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let state_of = |api: &Api| {
        let rt = tokio::runtime::Handle::current();
        let (_, results) =
            rt.block_on(api.get(&format!("/api/v1/devices/{}/checks", agent.device_id)));
        results
            .as_array()
            .and_then(|r| r.first().cloned())
            .map(|r| r["state"].as_str().unwrap_or("").to_string())
    };
    tokio::task::block_in_place(|| {
        wait_for(
            "the canary to be seen running",
            Duration::from_secs(20),
            || (state_of(&api).as_deref() == Some("ok")).then_some(()),
        )
    });
    running.kill9();
    let alert = tokio::task::block_in_place(|| {
        wait_for("the process alert", Duration::from_secs(20), || {
            let rt = tokio::runtime::Handle::current();
            let (_, alerts) = rt.block_on(api.get("/api/v1/alerts"));
            alerts
                .as_array()?
                .iter()
                .find(|a| a["monitor_name"] == "canary down")
                .cloned()
        })
    });
    assert_eq!(alert["severity"], "critical");
    assert!(
        alert["summary"].as_str().unwrap().contains("not running"),
        "{alert}"
    );
    // It comes back: the alert resolves.
    let _again = Proc(Command::new(&canary).arg("600").spawn().unwrap());
    tokio::task::block_in_place(|| {
        wait_for("the alert to resolve", Duration::from_secs(20), || {
            let rt = tokio::runtime::Handle::current();
            let (_, alerts) = rt.block_on(api.get("/api/v1/alerts"));
            (!alerts
                .as_array()?
                .iter()
                .any(|a| a["monitor_name"] == "canary down"))
            .then_some(())
        })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_failed_logins_in_a_log_raises_an_alert() {
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let spec = json!({ "kind": "threshold", "metric": "log.match.count_5m", "labels": { "rule": "ssh_failed" },
        "threshold": { "direction": "above", "critical": { "trigger": 20 } } });
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "failed logins", "spec": spec }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "sshd-host", &token));
    let _agent = Proc(
        Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                "sshd-host",
                "run",
                "--interval",
                "1s",
                "--posture-interval",
                "0s",
                "--smart-interval",
                "0s",
            ])
            .arg("--log-match")
            .arg(format!(
                "ssh_failed={}=Failed password for .* from",
                log.display()
            ))
            .stderr(std::fs::File::create(root.path().join("sshd-host.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    // Let the agent note where the file ends, then 25 failures and noise.
    let seq = |s: &Server| {
        s.device(&agent.device_id)["stored_seq"]
            .as_u64()
            .unwrap_or(0)
    };
    tokio::task::block_in_place(|| {
        wait_for("first reports", Duration::from_secs(20), || {
            (seq(&server) > 0).then_some(())
        })
    });
    let mut lines = String::new();
    for i in 0..25 {
        lines.push_str(&format!(
            "sshd[1]: Failed password for root from 203.0.113.{i} port 22 ssh2\n"
        ));
        lines.push_str("sshd[1]: Accepted publickey for alice\n");
    }
    std::fs::write(&log, lines).unwrap();
    let alert = tokio::task::block_in_place(|| {
        wait_for("the failed-login alert", Duration::from_secs(20), || {
            let rt = tokio::runtime::Handle::current();
            let (_, alerts) = rt.block_on(api.get("/api/v1/alerts"));
            alerts
                .as_array()?
                .iter()
                .find(|a| a["monitor_name"] == "failed logins")
                .cloned()
        })
    });
    assert_eq!(alert["severity"], "critical");
    assert!(
        alert["summary"].as_str().unwrap().contains("= 25"),
        "{alert}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_alerts_on_a_new_install() {
    // A new install's own policy, no monitor added: a check going CRITICAL
    // (or WARNING) pages once it has failed for two minutes.
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch_new_install(root.path()));
    let api = server.api();
    let flag = root.path().join("broken");
    std::fs::write(&flag, "").unwrap();
    // Read by sh, never executed: no ETXTBSY while other tests fork.
    let script = root.path().join("flag.sh");
    std::fs::write(
        &script,
        format!(
            "if [ -e '{}' ]; then echo 'CRITICAL - x'; exit 2; fi\necho 'OK - fine'\n",
            flag.display()
        ),
    )
    .unwrap();
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "fresh", &token));
    let _agent = Proc(
        Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                "fresh",
                "run",
                // Script checks only: the posture checks (on by default)
                // are tested in posture.rs.
                "--posture-interval",
                "0s",
                "--smart-interval",
                "0s",
                "--interval",
                "1s",
                "--check-interval",
                "1s",
            ])
            .arg("--check")
            .arg(format!("flag=sh {}", script.display()))
            .arg("--check")
            .arg("tight=echo 'WARNING - y'; exit 1")
            .stderr(std::fs::File::create(root.path().join("fresh.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let rt = tokio::runtime::Handle::current();
    let check_alerts = || {
        let (_, alerts) = rt.block_on(api.get("/api/v1/alerts"));
        alerts
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["monitor_name"] == "Check failing")
            .cloned()
            .collect::<Vec<_>>()
    };
    tokio::task::block_in_place(|| {
        wait_for(
            "the check to report CRITICAL",
            Duration::from_secs(20),
            || {
                let (_, results) =
                    rt.block_on(api.get(&format!("/api/v1/devices/{}/checks", agent.device_id)));
                results
                    .as_array()?
                    .iter()
                    .any(|r| r["name"] == "flag" && r["state"] == "critical")
                    .then_some(())
            },
        )
    });
    let failing_since = std::time::Instant::now();
    assert!(
        tokio::task::block_in_place(check_alerts).is_empty(),
        "one failed run is not worth a page"
    );
    let alerts = tokio::task::block_in_place(|| {
        wait_for("the check alerts", Duration::from_secs(180), || {
            let alerts = check_alerts();
            (alerts.len() == 2).then_some(alerts)
        })
    });
    assert!(
        failing_since.elapsed() >= Duration::from_secs(100),
        "raised after {:?}, before the two minutes",
        failing_since.elapsed()
    );
    let of = |subject: &str| alerts.iter().find(|a| a["subject"] == subject).unwrap();
    assert_eq!(of("flag")["severity"], "critical", "{alerts:?}");
    assert!(
        of("flag")["summary"]
            .as_str()
            .unwrap()
            .contains("CRITICAL - x"),
        "{alerts:?}"
    );
    assert_eq!(of("tight")["severity"], "warning", "{alerts:?}");
    // Fixed: the alert resolves at the next run.
    std::fs::remove_file(&flag).unwrap();
    tokio::task::block_in_place(|| {
        wait_for(
            "the check alert to resolve",
            Duration::from_secs(20),
            || (!check_alerts().iter().any(|a| a["subject"] == "flag")).then_some(()),
        )
    });
}
