//! Security posture end to end: a real agent (its auth log path given on
//! the command line) reporting to a real server. Real sshd and sudo log
//! lines (both OpenSSH process names, sshd and sshd-session) raise a
//! failed-login burst alert naming its source addresses and an
//! unusual-login alert for a new source address, through ordinary check
//! monitors; a port opened by this test shows as a change, and so does a
//! watched file, with before and after; the device's score and the fleet
//! summary come from the API.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::process::Command;
use std::time::Duration;

fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    tokio::task::block_in_place(|| wait_for(what, Duration::from_secs(60), &mut check))
}

fn change<'a>(posture: &'a Value, kind: &str, subject: &str) -> Option<&'a Value> {
    posture["changes"]
        .as_array()?
        .iter()
        .find(|c| c["kind"] == kind && c["subject"] == subject)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_ports_and_files_are_judged_into_alerts_and_changes() {
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let watched = root.path().join("watched.conf");
    std::fs::write(&watched, "PermitRootLogin no\n").unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    for check in [
        "posture.login.failures",
        "posture.login.unusual",
        "posture.ports",
    ] {
        let (status, body) = api
            .post(
                "/api/v1/monitors",
                json!({ "name": format!("{check} failing"), "spec": { "kind": "check", "check": check } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "bastion", &token));
    let _agent = Proc(
        Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                "bastion",
                "run",
                "--interval",
                "5s",
                "--patch-interval",
                "0s",
                "--posture-interval",
                "1s",
                "--login-interval",
                "1s",
                "--no-journal",
                "--auth-log",
            ])
            .arg(&log)
            .arg("--watch-file")
            .arg(&watched)
            .stderr(std::fs::File::create(root.path().join("bastion.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let device = agent.device_id.clone();
    let path = format!("/api/v1/devices/{device}/posture");
    let rt = tokio::runtime::Handle::current();
    let get = |path: &str| rt.block_on(api.get(path)).1;

    // The first report: checks answered, the baseline taken.
    let first = poll("the first posture report", || {
        let answer = get(&path);
        (answer["checks"].as_array()?.len() >= 10).then_some(answer)
    });
    let ids: Vec<&str> = first["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    for id in [
        "ssh.root_login",
        "firewall.active",
        "time.sync",
        "av.installed",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for failing in first["failing"].as_array().unwrap() {
        assert_eq!(failing["status"], "fail");
        assert!(!failing["fix"].as_str().unwrap().is_empty(), "{failing}");
    }
    if first["failing"].as_array().unwrap().len() < ids.len() {
        assert!(first["score"].as_f64().is_some(), "{first}");
    }
    assert_eq!(first["files"][0]["mode"], 0o644, "{first}");
    assert!(first["changes"].as_array().unwrap().is_empty(), "{first}");

    // A port opened by this test.
    let listener = std::net::TcpListener::bind("127.0.0.77:0").unwrap();
    let subject = format!("tcp/127.0.0.77:{}", listener.local_addr().unwrap().port());
    let opened = poll("the opened port", || {
        let answer = get(&path);
        change(&answer, "port_opened", &subject).cloned()
    });
    assert_eq!(opened["before"], "", "{opened}");
    // Real log lines: a user learnt, a burst of failures from two sources
    // (both OpenSSH process names), sudo failures, then that user from a
    // new address.
    let mut lines = String::from(
        "Dec  6 23:30:00 bastion sshd[900]: Accepted publickey for alice from 198.51.100.4 port 50000 ssh2: ED25519 SHA256:x\n",
    );
    for i in 0..8 {
        lines.push_str(&format!(
            "Dec  6 23:31:0{i} bastion sshd[1{i}]: Failed password for root from 203.0.113.7 port 4{i}000 ssh2\n"
        ));
    }
    for i in 0..3 {
        lines.push_str(&format!(
            "Dec  6 23:32:0{i} bastion sshd-session[2{i}]: Invalid user admin from 203.0.113.8 port 5{i}000\n"
        ));
    }
    lines.push_str("Dec  6 23:33:00 bastion sudo:    mallory : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh\n");
    lines.push_str("Dec  6 23:34:00 bastion sshd-session[3000]: Accepted password for alice from 203.0.113.50 port 60000 ssh2\n");
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(lines.as_bytes()).unwrap();
    drop(file);

    let alert = |monitor: &str| {
        let monitor = monitor.to_string();
        poll(&format!("the alert of {monitor}"), || {
            get("/api/v1/alerts")
                .as_array()?
                .iter()
                .find(|a| a["monitor_name"] == monitor.as_str() && a["state"] != "resolved")
                .cloned()
        })
    };
    let burst = alert("posture.login.failures failing");
    let summary = burst["summary"].as_str().unwrap();
    assert!(
        summary.contains("14 failed logins")
            && summary.contains("203.0.113.7 (8)")
            && summary.contains("203.0.113.8 (3)")
            && summary.contains("local (3)"),
        "{burst}"
    );
    assert_eq!(burst["severity"], "critical", "{burst}");
    let unusual = alert("posture.login.unusual failing");
    assert!(
        unusual["summary"]
            .as_str()
            .unwrap()
            .contains("address 203.0.113.50 never seen for alice"),
        "{unusual}"
    );
    let ports = alert("posture.ports failing");
    assert!(
        ports["summary"].as_str().unwrap().contains(&subject),
        "{ports}"
    );

    // A watched file changes: before and after.
    std::fs::write(&watched, "PermitRootLogin yes\n").unwrap();
    let changed = poll("the file change", || {
        let answer = get(&path);
        change(&answer, "file_changed", watched.to_str().unwrap()).cloned()
    });
    assert_ne!(changed["before"], changed["after"]);
    assert!(
        changed["before"].as_str().unwrap().starts_with("sha256 "),
        "{changed}"
    );
    drop(listener);
    poll("the closed port", || {
        change(&get(&path), "port_closed", &subject).map(|_| ())
    });

    // The fleet summary names the device.
    let fleet = api.get("/api/v1/posture").await.1;
    assert_eq!(fleet["devices"], 1, "{fleet}");
    assert_eq!(fleet["worst"][0]["device_id"], device.as_str(), "{fleet}");
    assert_eq!(fleet["worst"][0]["name"], "bastion");
    let answer = api.get(&path).await.1;
    assert_eq!(
        answer["unusual_logins"][0]["address"], "203.0.113.50",
        "{answer}"
    );
}
