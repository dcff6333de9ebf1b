//! Monitors round-trip through YAML files, so teams can keep them in git.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_export_and_import_as_yaml() {
    let root = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        std::fs::create_dir_all(root.path().join(name)).unwrap();
    }
    let first = tokio::task::block_in_place(|| Server::launch(&root.path().join("a")));
    let second = tokio::task::block_in_place(|| Server::launch(&root.path().join("b")));
    let api = Api::new(&first.url(), &std::fs::read_to_string(first.ca()).unwrap())
        .with_token(&first.token);
    for body in [
        json!({ "name": "offline", "spec": { "kind": "offline" }, "applies_to": { "sites": ["hq"] } }),
        json!({ "name": "disk", "spec": { "kind": "threshold", "metric": "system.filesystem.utilization", "threshold": { "direction": "above", "critical": { "trigger": 0.9, "clear": 0.8 }, "for_ms": 60000 } } }),
    ] {
        let (status, answer) = api.post("/api/v1/monitors", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let yaml = String::from_utf8(
        tokio::task::block_in_place(|| first.cli(&["monitors", "export"])).stdout,
    )
    .unwrap();
    assert!(
        yaml.contains("name: disk") && yaml.contains("kind: threshold"),
        "{yaml}"
    );
    let file = root.path().join("monitors.yaml");
    std::fs::write(&file, &yaml).unwrap();
    tokio::task::block_in_place(|| second.cli(&["monitors", "import", file.to_str().unwrap()]));
    // Importing again skips what exists.
    let again =
        tokio::task::block_in_place(|| second.cli(&["monitors", "import", file.to_str().unwrap()]));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists, skipped"));
    let defs = |s: &Server| -> Vec<serde_json::Value> {
        let mut list: Vec<serde_json::Value> = s
            .cli_json(&["monitors"])
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                json!([
                    m["name"],
                    m["definition"]["spec"],
                    m["definition"]["applies_to"]
                ])
            })
            .collect();
        list.sort_by_key(|v| v.to_string());
        list
    };
    assert_eq!(
        tokio::task::block_in_place(|| defs(&second)),
        tokio::task::block_in_place(|| defs(&first))
    );
}
