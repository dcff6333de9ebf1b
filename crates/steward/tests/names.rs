//! The CLI takes names where it takes ids: a device by its name (a name
//! two devices share is refused with both, told apart by site, hostname
//! and a short id that works in its place), alerts filtered by device and
//! monitor names, a monitor and an organisation by theirs.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::Output;
use std::time::Duration;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `steward ARGS`, which must fail; its stderr.
fn refused(server: &Server, args: &[&str]) -> String {
    let out = server.cli_unchecked(args);
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        stdout(&out)
    );
    stderr(&out)
}

/// The short id the ambiguity error shows on the line of the device at
/// `site` (`web-01 (site S, hostname H, id 0190abcd…)`).
fn short_id_at(error: &str, site: &str) -> String {
    let line = error
        .lines()
        .find(|l| l.contains(&format!("(site {site}, ")))
        .unwrap_or_else(|| panic!("no candidate at site {site} in: {error}"));
    line.split("id ")
        .last()
        .and_then(|rest| rest.split('…').next())
        .unwrap_or_else(|| panic!("no short id in {line:?}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_monitors_and_organisations_are_named_on_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let token = server.enroll_token(3);
    let (hq, branch, mut db) = tokio::task::block_in_place(|| {
        (
            Agent::enroll(root.path(), "web-01", &token),
            Agent::enroll(root.path(), "web-01-b", &token),
            Agent::enroll(root.path(), "db-01", &token),
        )
    });
    // The second one becomes web-01 too, at another site.
    let path = format!("/api/v1/devices/{}", branch.device_id);
    let (status, _, renamed) = api
        .patch(
            &path,
            Some(1),
            json!({ "name": "web-01", "site": "branch" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let (hq_id, branch_id) = (hq.device_id.as_str(), branch.device_id.as_str());
    db.start("1s");

    tokio::task::block_in_place(|| {
        // A unique name, in any case, is its device.
        for typed in ["db-01", "DB-01"] {
            let shown = server.cli_json(&["device", "show", typed]);
            assert_eq!(shown["id"], json!(db.device_id), "{typed}: {shown}");
        }
        // Its metrics, by name: the samples its agent sends.
        wait_for("db-01's samples by name", Duration::from_secs(30), || {
            let series = server.cli_json(&["metrics", "db-01", "system.cpu.utilization"]);
            series.as_array()?.iter().find(|s| {
                s["samples"]
                    .as_array()
                    .is_some_and(|samples| !samples.is_empty())
            })?;
            Some(())
        });
        // The id still works.
        let shown = server.cli_json(&["device", "show", hq_id]);
        assert_eq!(shown["name"], "web-01", "{shown}");

        // The shared name is refused, listing both with what tells them
        // apart; nothing is done.
        for args in [
            &["device", "show", "web-01"][..],
            &["metrics", "web-01", "system.cpu.utilization"],
            &["device", "revoke", "web-01"],
        ] {
            let error = refused(&server, args);
            assert!(
                error.contains("\"web-01\" is 2 devices; pass the id of the one you mean"),
                "{args:?}: {error}"
            );
            for (site, id, other) in [("default", hq_id, branch_id), ("branch", branch_id, hq_id)] {
                let short = short_id_at(&error, site);
                assert!(
                    short.len() >= 8 && id.starts_with(&short) && !other.starts_with(&short),
                    "{short:?} does not tell {id} from {other}: {error}"
                );
            }
        }
        assert!(
            server.devices().iter().all(|d| d["revoked"] != json!(true)),
            "an ambiguous revoke revoked something"
        );
        // The short id from that list names one of them.
        let error = refused(&server, &["device", "show", "web-01"]);
        let short = short_id_at(&error, "branch");
        let shown = server.cli_json(&["device", "show", &short]);
        assert_eq!(shown["id"], json!(branch_id), "{shown}");
        // An unknown name says so, with the names near it.
        let error = refused(&server, &["device", "show", "web-1"]);
        assert!(
            error.contains("no device named \"web-1\" (similar: web-01)"),
            "{error}"
        );
    });

    // Alerts listed by device and monitor names.
    let (status, gone) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "Gone", "spec": { "kind": "offline" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    db.proc.take().unwrap().kill9();
    tokio::task::block_in_place(|| {
        let alerts = wait_for(
            "db-01's offline alert, by names",
            Duration::from_secs(30),
            || {
                let alerts = server.cli_json(&["alerts", "--device", "db-01", "--monitor", "gone"]);
                let list = alerts.as_array()?;
                (!list.is_empty()).then(|| list.clone())
            },
        );
        for alert in &alerts {
            assert_eq!(alert["device_id"], json!(db.device_id), "{alert}");
            assert_eq!(alert["monitor_id"], gone["id"], "{alert}");
        }
        let error = refused(&server, &["alerts", "--device", "web-01"]);
        assert!(error.contains("\"web-01\" is 2 devices"), "{error}");
    });

    // A monitor by its name, in any case.
    let (status, monitor) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "Disk full", "spec": { "kind": "offline" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    let monitor_path = format!("/api/v1/monitors/{}", monitor["id"].as_str().unwrap());
    tokio::task::block_in_place(|| {
        let error = refused(&server, &["monitors", "delete", "disk ful"]);
        assert!(error.contains("similar: Disk full"), "{error}");
        let out = server.cli(&["monitors", "delete", "DISK FULL"]);
        assert!(
            stdout(&out).contains("deleted"),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
    });
    assert_eq!(api.get(&monitor_path).await.0, StatusCode::NOT_FOUND);

    // An organisation by its name, and by its id where the API takes a name.
    let acme_token = tokio::task::block_in_place(|| {
        let created = server.cli_json(&["org", "create", "Acme"]);
        let acme = created["id"].as_str().expect("an org id").to_string();
        let answer = server.cli_json(&["org", "require-totp", "acme"]);
        assert_eq!(answer["org_id"], json!(acme), "{answer}");
        assert_eq!(answer["require_totp"], json!(true), "{answer}");
        let error = refused(&server, &["org", "require-totp", "acne"]);
        assert!(
            error.contains("no organisation named \"acne\" (similar: Acme)"),
            "{error}"
        );
        let token = server.cli_json(&["enroll-token", "create", "--org", &acme]);
        let listed: Vec<Value> = server
            .cli_json(&["enroll-token", "list"])
            .as_array()
            .cloned()
            .unwrap_or_default();
        let made = listed
            .iter()
            .find(|t| t["id"] == token["id"])
            .unwrap_or_else(|| panic!("token {token} not in {listed:?}"));
        assert_eq!(made["org_id"], json!(acme), "{made}");
        token["token"].as_str().unwrap().to_string()
    });

    // A third web-01, in Acme: with --org acme, a job's device:web-01
    // means Acme's only (the two elsewhere make it ambiguous without).
    let mut in_acme =
        tokio::task::block_in_place(|| Agent::enroll(root.path(), "web-01-acme", &acme_token));
    in_acme.start("5s");
    let (status, _, renamed) = api
        .patch(
            &format!("/api/v1/devices/{}", in_acme.device_id),
            None,
            json!({ "name": "web-01" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let job = tokio::task::block_in_place(|| {
        let error = refused(
            &server,
            &["run", "--action", "ping", "--target", "device:web-01"],
        );
        assert!(error.contains("\"web-01\" is 3 devices"), "{error}");
        server.cli_json(&[
            "run",
            "--action",
            "ping",
            "--org",
            "acme",
            "--target",
            "device:web-01",
        ])
    });
    let (_, record) = api
        .get(&format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()))
        .await;
    let runs: Vec<&str> = record["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(runs, [in_acme.device_id.as_str()], "{record}");
}
