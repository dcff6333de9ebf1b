//! Patching end to end, real parts only: a local apt repository marks v2
//! of a package as a Debian-Security update, an isolated root has v1
//! installed and a reboot flag; a real agent detects against that root and
//! a real server answers what it reported: the device's pending updates
//! with the rule, its reboot reason, fleet-wide software search by Debian
//! version order, compliance, the CLI, and nothing of it to another tenant.

mod common;

#[path = "../../steward-agent/tests/fixture/apt.rs"]
mod apt_fixture;

use apt_fixture::{AptRoot, SECURITY};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_update_travels_from_apt_to_the_api_and_cli() {
    let apt = AptRoot::new();
    let v1 = apt.package("stwd-demo", "1.0-1");
    let v2 = apt.package("stwd-demo", "2.0-1");
    apt.install(&v1);
    apt.publish("security", &[&v2], &SECURITY);
    apt.update();
    std::fs::write(apt.root.join("run/reboot-required"), "").unwrap();
    std::fs::write(apt.root.join("run/reboot-required.pkgs"), "stwd-demo\n").unwrap();

    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = server.enroll_token(1);
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "patch-01", &token));
    let apt_config = apt.apt_config.display().to_string();
    let patch_root = apt.root.display().to_string();
    agent.start_with(
        "1s",
        &[
            "--apt-config",
            &apt_config,
            "--patch-root",
            &patch_root,
            "--patch-interval",
            "1h",
        ],
    );
    let device = agent.device_id.clone();
    let api = server.api();

    // The device's pending updates, once reported.
    let path = format!("/api/v1/devices/{device}/updates");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let answer: Value = loop {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{body}");
        if body["updates"].as_array().is_some_and(|u| !u.is_empty()) {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pending updates reported: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(answer["pending"], 1);
    assert_eq!(answer["security"], 1);
    let update = &answer["updates"][0];
    assert_eq!(update["name"], "stwd-demo");
    assert_eq!(update["current"], "1.0-1");
    assert_eq!(update["available"], "2.0-1");
    assert_eq!(update["security"], true);
    assert_eq!(update["rule"], "label Debian-Security");
    assert_eq!(update["origin"]["codename"], "bookworm-security");
    assert!(update["first_seen"].as_i64().is_some(), "{update}");
    assert_eq!(update["security_since"], update["first_seen"]);
    let patching = &answer["patching"];
    assert_eq!(patching["state"], "ok");
    assert_eq!(patching["manager"], "apt");
    assert_eq!(patching["security_source"], "origins");
    assert_eq!(patching["reboot"]["required"], true);
    assert_eq!(patching["reboot"]["packages"], json!(["stwd-demo"]));
    assert_eq!(
        patching["reboot"]["reasons"][0]["detail"],
        "/run/reboot-required exists, asked by stwd-demo"
    );

    // Fleet-wide software search, by Debian version order.
    let (_, found) = api
        .get("/api/v1/software?name=stwd-demo&below=1.0-1%2Bdeb12u1")
        .await;
    let devices = found["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{found}");
    assert_eq!(devices[0]["device_id"], json!(device));
    assert_eq!(devices[0]["version"], "1.0-1");
    assert_eq!(devices[0]["manager"], "dpkg");
    let (_, newer) = api
        .get("/api/v1/software?name=stwd-demo&below=1.0~rc1")
        .await;
    assert_eq!(newer["devices"], json!([]));
    let (status, _) = api.get("/api/v1/software").await;
    assert_eq!(status, 400);

    // Compliance: a security update pending is fine for 14 days, not for 0.
    let (_, lenient) = api.get("/api/v1/patching/compliance?days=14").await;
    assert_eq!(lenient["total"]["reporting"], 1, "{lenient}");
    assert_eq!(lenient["total"]["share"], 1.0);
    let (_, strict) = api.get("/api/v1/patching/compliance?days=0").await;
    assert_eq!(strict["total"]["share"], 0.0, "{strict}");
    assert_eq!(strict["devices"][0]["compliant"], false);

    // The CLI says the same.
    let text = tokio::task::block_in_place(|| {
        String::from_utf8(server.cli(&["device", "updates", "patch-01"]).stdout).unwrap()
    });
    assert!(
        text.starts_with("patch-01: 1 pending update, 1 security"),
        "{text}"
    );
    assert!(text.contains("label Debian-Security"), "{text}");
    assert!(text.contains("asked by stwd-demo"), "{text}");
    let listed = tokio::task::block_in_place(|| {
        server.cli_json(&["software", "--name", "stwd-demo", "--below", "2.0-1"])
    });
    assert_eq!(listed["devices"][0]["device_name"], "patch-01");
    let compliance = tokio::task::block_in_place(|| {
        String::from_utf8(server.cli(&["compliance", "--days", "0"]).stdout).unwrap()
    });
    assert!(
        compliance.starts_with(
            "0 of 1 reporting devices have no security update pending over 0 days (0.0 %)"
        ),
        "{compliance}"
    );

    // Another tenant's admin sees none of it.
    let (status, body) = api.post("/api/v1/orgs", json!({ "name": "other" })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/users",
            json!({ "username": "other-admin", "password": "a-long-test-password", "org": "other", "role": "admin" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let base = common::api::Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let other = base.with_token(&base.token_for("other-admin", "a-long-test-password").await);
    let (_, found) = other.get("/api/v1/software?name=stwd-demo").await;
    assert_eq!(found["devices"], json!([]));
    let (status, _) = other.get(&path).await;
    assert_eq!(status, 404);
    let (_, compliance) = other.get("/api/v1/patching/compliance").await;
    assert_eq!(compliance["total"]["devices"], 0);
    // The isolated root is untouched by detection: v1 still installed.
    assert_eq!(apt.installed_version("stwd-demo"), "1.0-1");
}

/// apt hangs (its dpkg does): the agent stays connected and reporting, and
/// the device's updates say why they are unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_package_manager_gives_a_status_not_a_silent_agent() {
    let apt = AptRoot::new();
    apt.hang_dpkg();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = server.enroll_token(1);
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "hung-01", &token));
    let apt_config = apt.apt_config.display().to_string();
    let patch_root = apt.root.display().to_string();
    agent.start_with(
        "1s",
        &[
            "--apt-config",
            &apt_config,
            "--patch-root",
            &patch_root,
            "--patch-timeout",
            "3s",
        ],
    );
    let device = agent.device_id.clone();
    let api = server.api();
    let path = format!("/api/v1/devices/{device}/updates");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let answer: Value = loop {
        let (_, body) = api.get(&path).await;
        if body["patching"]["state"] == "timed_out" {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no timed_out state: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(answer["updates"], Value::Null);
    assert_eq!(
        answer["patching"]["error"],
        "apt-get -s dist-upgrade: no answer before the detection timeout"
    );
    // Meanwhile the agent kept reporting: online, with fresh samples.
    let (_, shown) = api.get(&format!("/api/v1/devices/{device}")).await;
    assert_eq!(shown["status"], "online");
    let series = format!("/api/v1/devices/{device}/metrics/system.cpu.utilization?since=1m");
    while lives::samples(&api, &series).await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no samples while detection hung"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let text = tokio::task::block_in_place(|| {
        String::from_utf8(server.cli(&["device", "updates", "hung-01"]).stdout).unwrap()
    });
    assert!(
        text.starts_with("hung-01: pending updates unknown (timed_out: apt-get -s dist-upgrade"),
        "{text}"
    );
}
