//! Patching end to end, real parts only: a local apt repository marks v2
//! of a package as a Debian-Security update, an isolated root has v1
//! installed and a reboot flag; a real agent detects against that root and
//! a real server answers what it reported: the device's pending updates
//! with the rule, its reboot reason, fleet-wide software search by Debian
//! version order, compliance (with the reboot counted), the CLI, and nothing
//! of it to another tenant; the device's time zone reported and its policy
//! window evaluated on that wall clock.

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
    // The device's wall clock is Tokyo's (Debian's /etc/timezone).
    std::fs::write(apt.root.join("etc/timezone"), "Asia/Tokyo\n").unwrap();

    let root = tempfile::tempdir().unwrap();
    let mut server = tokio::task::block_in_place(|| Server::launch(root.path()));
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
    // The reboot it needs is counted, and the oldest missing security
    // update is named per group.
    assert_eq!(strict["total"]["reboot_required"], 1, "{strict}");
    assert_eq!(strict["devices"][0]["reboot_required"], true);
    assert_eq!(
        strict["sites"][0]["oldest_security_since"],
        strict["devices"][0]["oldest_security_since"]
    );
    assert!(
        strict["total"]["oldest_security_since"].is_i64(),
        "{strict}"
    );
    // The same as CSV, for a spreadsheet.
    let csv = api.get_text("/api/v1/patching/compliance.csv?days=0").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("device_id,device_name,"), "{csv}");
    assert!(
        lines[1].starts_with(&format!("{device},patch-01,")),
        "{csv}"
    );
    assert!(lines[1].contains(",not_compliant,1,1,"), "{csv}");
    assert!(lines[1].contains(",yes,"), "{csv}");

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

    // The CLI's CSV is the API's; holds and policies from the CLI.
    let csv_cli = tokio::task::block_in_place(|| {
        String::from_utf8(server.cli(&["compliance", "--days", "0", "--csv"]).stdout).unwrap()
    });
    assert_eq!(csv_cli, csv);
    let policy_file = root.path().join("policy.json");
    std::fs::write(
        &policy_file,
        json!({ "name": "cli policy", "scope": { "kind": "site", "site": "default" }, "install": "approval",
                "window": { "days": [5, 6], "start_minute": 60, "duration_minutes": 60 }, "reboot": "never" })
            .to_string(),
    )
    .unwrap();
    tokio::task::block_in_place(|| {
        let policy = server.cli_json(&["patch", "policy-create", policy_file.to_str().unwrap()]);
        let id = policy["id"].as_str().unwrap().to_string();
        std::fs::write(&policy_file, r#"{ "deferral_days": 3 }"#).unwrap();
        let edited = server.cli_json(&[
            "patch",
            "policy-edit",
            &id,
            policy_file.to_str().unwrap(),
            "--version",
            "1",
        ]);
        assert_eq!(
            (&edited["version"], &edited["fields"]["deferral_days"]),
            (&json!(2), &json!(3)),
            "{edited}"
        );
        let listed = String::from_utf8(server.cli(&["patch", "policies"]).stdout).unwrap();
        assert!(
            listed.contains("cli policy") && listed.contains("site default"),
            "{listed}"
        );
        server.cli_json(&["patch", "policy-delete", &id]);
        let hold = server.cli_json(&[
            "patch",
            "hold",
            "stwd-demo",
            "--tag",
            "db",
            "--reason",
            "vendor says wait",
        ]);
        let held = String::from_utf8(server.cli(&["patch", "holds"]).stdout).unwrap();
        assert!(
            held.contains("vendor says wait") && held.contains("tag db"),
            "{held}"
        );
        server.cli_json(&["patch", "lift", hold["id"].as_str().unwrap()]);
        assert_eq!(server.cli_json(&["patch", "holds"]), json!([]));
        assert_eq!(server.cli_json(&["patch", "policies"]), json!([]));
    });

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

    // The agent reported its zone, and a policy's window opens on the
    // device's wall clock: a half hour around Tokyo's now (closed at this
    // hour in the policy's own UTC), installing nothing without approval.
    let (_, shown) = api.get(&format!("/api/v1/devices/{device}")).await;
    assert_eq!(shown["inventory"]["timezone"], "Asia/Tokyo", "{shown}");
    let tokyo = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 9 * 3600;
    let (day, minute) = ((tokyo / 86_400 + 3) % 7, (tokyo % 86_400) / 60);
    let window =
        json!({ "days": [day], "start_minute": minute.saturating_sub(5), "duration_minutes": 30 });
    let (status, body) = api
        .post(
            "/api/v1/patching/policies",
            json!({ "name": "tokyo mornings", "scope": { "kind": "organisation" }, "install": "approval",
                    "window": window, "reboot": "never", "timezone": "UTC" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, plan) = api
        .get(&format!("/api/v1/devices/{device}/patch-plan"))
        .await;
    assert_eq!(
        (&plan["policy"], &plan["window_open"]),
        (&json!("tokyo mornings"), &json!(true)),
        "{plan}"
    );
    assert_eq!(plan["waiting"][0]["kind"], "needs_approval", "{plan}");

    // The trend: the server records the day's figures as it starts (and
    // every 10 minutes), per site; the API sums them per day.
    tokio::task::block_in_place(|| {
        server.proc.as_mut().unwrap().terminate();
        server.restart();
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let history = loop {
        let (status, body) = api
            .get("/api/v1/patching/compliance/history?since_days=7")
            .await;
        if status == 200 && body["days"].as_array().is_some_and(|d| !d.is_empty()) {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "no trend: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let today = &history["days"][0];
    assert_eq!(
        (
            &today["devices"],
            &today["reporting"],
            &today["compliant"],
            &today["share"],
            &today["reboot_required"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1.0), &json!(1)),
        "{history}"
    );
    assert_eq!(history["grace_days"], 14);
    assert_eq!(history["sites"][0]["site"], shown["site"], "{history}");
    let (status, body) = api
        .get("/api/v1/patching/compliance/history?since_days=0")
        .await;
    assert_eq!(status, 400, "{body}");
    // Another tenant's admin sees no trend of it.
    let (_, none) = other.get("/api/v1/patching/compliance/history").await;
    assert_eq!(none["days"], json!([]), "{none}");
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
