//! Objects' lives beyond creation, through the API's conventions: lists
//! filtered, sorted and paged with a cursor; a device renamed and moved
//! (its new site's monitors apply); API and enrollment tokens read,
//! revoked and deleted; a disabled channel notifying nothing.

mod common;

use common::api::Api;
use common::lives::*;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// A GET answering the body and the next page's path (its Link header).
async fn get_page(api: &Api, path: &str) -> (StatusCode, Value, Option<String>) {
    let response = api
        .http
        .get(format!("{}{path}", api.base))
        .bearer_auth(api.bearer.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let next = response
        .headers()
        .get("link")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.strip_prefix('<')?.split_once(">; rel=\"next\""))
        .map(|(path, _)| path.to_string());
    (status, response.json().await.unwrap_or(Value::Null), next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_sort_and_page_with_a_cursor() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    for name in ["disk b", "Disk a", "cpu", "memory", "disk c"] {
        let (status, body) = api
            .post(
                "/api/v1/monitors",
                json!({ "name": name, "spec": { "kind": "offline" }, "enabled": name != "cpu" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let names = |page: &Value| -> Vec<String> {
        page.as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Page by page, following the Link header to the end.
    let mut path = Some("/api/v1/monitors?sort=-name&limit=2".to_string());
    let mut pages = Vec::new();
    while let Some(at) = path {
        let (status, page, next) = get_page(&api, &at).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages.push(names(&page));
        path = next;
        // A monitor added mid-way before the cursor does not shift pages.
        if pages.len() == 1 {
            api.post(
                "/api/v1/monitors",
                json!({ "name": "zz new", "spec": { "kind": "offline" } }),
            )
            .await;
        }
    }
    assert_eq!(
        pages,
        [
            vec!["memory", "disk c"],
            vec!["disk b", "Disk a"],
            vec!["cpu"]
        ]
    );
    // Filters: by name (any case) and by field.
    let (_, found, next) = get_page(&api, "/api/v1/monitors?q=DISK&sort=name").await;
    assert_eq!(
        (names(&found), next),
        (
            vec!["Disk a".into(), "disk b".into(), "disk c".into()],
            None
        )
    );
    let (_, off, _) = get_page(&api, "/api/v1/monitors?enabled=false").await;
    assert_eq!(names(&off), ["cpu"]);
    // Without paging parameters, the whole list as before.
    let (_, all, next) = get_page(&api, "/api/v1/monitors").await;
    assert_eq!((all.as_array().unwrap().len(), next), (6, None));
    // Mistakes answer the one error shape with the reason.
    for (query, says) in [
        ("limit=0", "limit is a number from 1 to 1000"),
        ("sort=colour", "cannot sort by \"colour\""),
        ("colour=red", "unknown parameter \"colour\""),
        ("cursor=nonsense", "not one a list answered"),
    ] {
        let (status, error, _) = get_page(&api, &format!("/api/v1/monitors?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        assert!(
            error["error"].as_str().unwrap().contains(says),
            "{query}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_renamed_and_moved_is_alerted_on_where_it_now_is() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let mut agent = Agent::enroll(root.path(), "box", &server.enroll_token(1));
    agent.start("1s");
    // A monitor every machine trips, for site "branch" only.
    let (_, created) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "memory", "spec": memory_above(0.0001), "applies_to": { "sites": ["branch"] } }),
        )
        .await;
    let monitor = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/devices/{}", agent.device_id);
    let metric = format!("{path}/metrics/system.memory.utilization?since=1h");
    let seen = samples(&api, &metric).await;
    wait_until("samples stored after the monitor", || async {
        samples(&api, &metric).await >= seen + 3
    })
    .await;
    assert!(
        alerts_of(&api, &monitor, "active=true").await.is_empty(),
        "a device of another site alerted"
    );

    // Renamed and moved under If-Match: the monitor of its new site fires.
    let (status, etag, read) = api.get_tagged(&path).await;
    assert_eq!((status, etag), (StatusCode::OK, Some(1)), "{read}");
    let (status, etag, moved) = api
        .patch(
            &path,
            Some(1),
            json!({ "name": "web-01", "site": "branch" }),
        )
        .await;
    assert_eq!((status, etag), (StatusCode::OK, Some(2)), "{moved}");
    assert_eq!(
        (moved["name"].as_str(), moved["site"].as_str()),
        (Some("web-01"), Some("branch"))
    );
    wait_until("the moved device alerts at its new site", || async {
        !alerts_of(&api, &monitor, "active=true").await.is_empty()
    })
    .await;
    let (status, _, lost) = api.patch(&path, Some(1), json!({ "site": "hq" })).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{lost}");
    let (status, _, unknown) = api.patch(&path, None, json!({ "hostname": "x" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{unknown}");
    assert!(
        unknown["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `hostname`"),
        "{unknown}"
    );
    let (_, found) = api.get("/api/v1/devices?q=WEB-01").await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["site"], "branch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_enrollment_tokens_are_read_revoked_and_deleted() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    // An API token: read, then deleted (it stops at once, leaves the list).
    let (_, created) = api.post("/api/v1/tokens", json!({ "name": "ci" })).await;
    let path = format!("/api/v1/tokens/{}", created["id"].as_str().unwrap());
    let (status, read) = api.get(&path).await;
    assert_eq!(
        (status, read["name"].as_str()),
        (StatusCode::OK, Some("ci"))
    );
    let ci = api.with_token(created["token"].as_str().unwrap());
    assert_eq!(ci.get("/api/v1/whoami").await.0, StatusCode::OK);
    let (status, deleted) = api.delete(&path).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(ci.get("/api/v1/whoami").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get(&path).await.0, StatusCode::NOT_FOUND);
    let (_, list) = api.get("/api/v1/tokens").await;
    assert!(
        list.as_array().unwrap().iter().all(|t| t["name"] != "ci"),
        "{list}"
    );
    // An enrollment token: read, revoked, its record deleted.
    let (_, enroll) = api
        .post("/api/v1/enroll-tokens", json!({ "site": "hq", "uses": 1 }))
        .await;
    let path = format!("/api/v1/enroll-tokens/{}", enroll["id"].as_str().unwrap());
    let (status, read) = api.get(&path).await;
    assert_eq!(
        (status, read["site"].as_str(), read["revoked"].as_bool()),
        (StatusCode::OK, Some("hq"), Some(false))
    );
    api.post(&format!("{path}/revoke"), json!({})).await;
    assert_eq!(api.get(&path).await.1["revoked"], true);
    assert_eq!(api.delete(&path).await.0, StatusCode::OK);
    assert_eq!(api.get(&path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_channel_notifies_nothing_until_enabled_again() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (url, received) = common::hooks::receiver("0123456789abcdef").await;
    let (_, channel) = api
        .post(
            "/api/v1/channels",
            json!({ "name": "ops", "kind": "webhook", "url": url, "secret": "0123456789abcdef" }),
        )
        .await;
    let path = format!("/api/v1/channels/{}", channel["id"].as_str().unwrap());
    let (status, _, off) = api.patch(&path, Some(1), json!({ "enabled": false })).await;
    assert_eq!(status, StatusCode::OK, "{off}");
    let mut agent = Agent::enroll(root.path(), "box", &server.enroll_token(1));
    agent.start("1s");
    let (_, monitor) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "memory", "spec": memory_above(0.0001) }),
        )
        .await;
    let monitor = monitor["id"].as_str().unwrap().to_string();
    wait_until("the alert opens", || async {
        !alerts_of(&api, &monitor, "active=true").await.is_empty()
    })
    .await;
    // Past the group wait (3 s) and then some: nothing reaches the hook.
    let quiet_until = std::time::Instant::now() + Duration::from_secs(6);
    while std::time::Instant::now() < quiet_until {
        assert!(
            received.lock().unwrap().is_empty(),
            "a disabled channel notified: {:?}",
            received.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Enabled again: the next alert is notified (what happened while it
    // was off was never queued for it).
    let (status, _, on) = api.patch(&path, Some(2), json!({ "enabled": true })).await;
    assert_eq!(status, StatusCode::OK, "{on}");
    api.post(
        "/api/v1/monitors",
        json!({ "name": "memory again", "spec": memory_above(0.0002) }),
    )
    .await;
    wait_until("the next alert's notification arrives", || async {
        received
            .lock()
            .unwrap()
            .iter()
            .any(|(body, signed)| *signed && body.to_string().contains("memory again"))
    })
    .await;
    assert!(
        received
            .lock()
            .unwrap()
            .iter()
            .all(|(body, _)| !body.to_string().contains("\"memory\"")),
        "the alert of while it was off was sent: {:?}",
        received.lock().unwrap()
    );
}

/// A monitor definition is read strictly (a misspelled field anywhere in
/// it is refused by name) and a metric no agent reports is accepted with a
/// warning naming the close ones, in the API and the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_definitions_are_strict_and_unknown_metrics_are_warned() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let spec = |metric: &str, extra: Value| {
        let mut threshold =
            json!({ "direction": "above", "critical": { "trigger": 0.9 }, "for_ms": 60000 });
        for (k, v) in extra.as_object().unwrap() {
            threshold[k] = v.clone();
        }
        json!({ "kind": "threshold", "metric": metric, "threshold": threshold })
    };
    // A misspelled "for" inside the threshold is refused by name.
    let (status, refused) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "cpu", "spec": spec("system.cpu.utilization", json!({ "for": "1m" })) }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("spec: unknown field `for`"),
        "{refused}"
    );
    // A known metric: no warning.
    let (status, created) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "cpu", "spec": spec("system.cpu.utilization", json!({})) }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(created.get("warning").is_none(), "{created}");
    // A misspelled metric: saved, with a warning naming the right one.
    let (status, created) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "cpu2", "spec": spec("system.cpu.utilisation", json!({})) }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let warning = created["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains(r#"no agent reports a metric named "system.cpu.utilisation""#)
            && warning.contains(r#"did you mean "system.cpu.utilization"?"#),
        "{created}"
    );
    // The CLI says it on standard error.
    let file = root.path().join("disk.json");
    std::fs::write(
        &file,
        json!({ "name": "disk", "spec": spec("system.filesystem.utilisation", json!({})) })
            .to_string(),
    )
    .unwrap();
    let out = server.cli(&["monitors", "create", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            r#"warning: no agent reports a metric named "system.filesystem.utilisation""#
        ) && stderr.contains(r#""system.filesystem.utilization""#),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("Created monitor disk ("),
        "{out:?}"
    );
}

/// Revoking a device and setting its upstream are audited with what was
/// before and what is after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_changes_are_audited_with_before_and_after() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let gateway = Agent::enroll(root.path(), "gateway", &server.enroll_token(1));
    let leaf = Agent::enroll(root.path(), "leaf", &server.enroll_token(1));
    let (status, body) = api
        .post(
            &format!("/api/v1/devices/{}/upstream", leaf.device_id),
            json!({ "upstream": gateway.device_id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .post(
            &format!("/api/v1/devices/{}/revoke", leaf.device_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let upstream = audited_change(&api, "POST /api/v1/devices/{id}/upstream").await;
    assert_eq!(
        (
            upstream["before"]["upstream"].clone(),
            upstream["after"]["upstream"].clone()
        ),
        (Value::Null, json!(gateway.device_id)),
        "{upstream}"
    );
    let revoked = audited_change(&api, "POST /api/v1/devices/{id}/revoke").await;
    assert_eq!(
        (
            revoked["before"]["revoked"].clone(),
            revoked["after"]["revoked"].clone(),
            revoked["after"]["name"].clone()
        ),
        (json!(false), json!(true), json!("leaf")),
        "{revoked}"
    );
}

/// The enrollment page offers the agent beside the server, with a digest
/// the endpoint can check with sha256sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_binary_is_offered_with_its_digest() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, info) = api.get("/api/v1/agent-binary").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["available"], true, "{info}");
    let (status, bytes) = api.get_bytes("/api/v1/agent-binary/download").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bytes,
        std::fs::read(AGENT).unwrap(),
        "the agent beside the server"
    );
    assert_eq!(info["bytes"], bytes.len());
    let file = root.path().join("steward-agent");
    std::fs::write(&file, &bytes).unwrap();
    let check = std::process::Command::new("sha256sum")
        .arg(&file)
        .output()
        .unwrap();
    let digest = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        digest.split_whitespace().next(),
        info["sha256"].as_str(),
        "{info}"
    );
}
