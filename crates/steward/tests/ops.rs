//! Operating the server: readiness and Prometheus metrics, a consistent
//! backup while it runs, and a restore that refuses to run under a live
//! server and brings the data back.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_metrics_backup_and_restore() {
    let root = tempfile::tempdir().unwrap();
    let mut server = tokio::task::block_in_place(|| Server::launch_sqlite(root.path()));
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let api = Api::new(&server.url(), &ca).with_token(&server.token);

    let (status, body) = Api::new(&server.url(), &ca).get("/api/v1/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, text) = api.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap().to_string();
    assert!(
        text.contains("# TYPE steward_connected_agents gauge"),
        "{text}"
    );
    assert!(text.contains("steward_connected_agents 0"), "{text}");
    for figure in [
        "steward_ingest_queue_depth 0",
        "steward_evaluation_lag_seconds 0",
        "steward_bus_published_total 0",
        "steward_bus_received_total 0",
        "steward_devices_taken_over_total 0",
        "steward_notifications_pending 0",
    ] {
        assert!(text.contains(figure), "no {figure} in {text}");
    }
    let (status, _) = Api::new(&server.url(), &ca).get("/metrics").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Something to find again, then a backup while the server runs.
    let (status, body) = api
        .post("/api/v1/orgs", json!({ "name": "before-backup" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let backup = root.path().join("backup.db");
    let data = server.dir.clone();
    tokio::task::block_in_place(|| {
        run(Command::new(STEWARD)
            .arg("backup")
            .arg("--data-dir")
            .arg(&data)
            .arg(&backup))
    });
    let (status, body) = api
        .post("/api/v1/orgs", json!({ "name": "after-backup" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A restore under the running server is refused, with a clear reason.
    let refused = Command::new(STEWARD)
        .arg("restore")
        .arg("--data-dir")
        .arg(&data)
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("running Steward server"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A file that is not a database is refused too, and changes nothing.
    server.proc.as_mut().unwrap().terminate();
    let junk = root.path().join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    let out = Command::new(STEWARD)
        .arg("restore")
        .arg("--data-dir")
        .arg(&data)
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a usable Steward database"));

    tokio::task::block_in_place(|| {
        run(Command::new(STEWARD)
            .arg("restore")
            .arg("--data-dir")
            .arg(&data)
            .arg(&backup))
    });
    tokio::task::block_in_place(|| server.restart());
    let (_, orgs) = api.get("/api/v1/orgs").await;
    let names: Vec<&str> = orgs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert!(names.contains(&"before-backup"), "{names:?}");
    assert!(!names.contains(&"after-backup"), "{names:?}");
    assert!(data.join("steward.db.before-restore").exists());
}
