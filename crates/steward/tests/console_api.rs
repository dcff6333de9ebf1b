//! The API behind the console's fleet views, over a real server: device
//! pages with filters and paging, bulk tags, a site-limited technician's
//! view, a device's job history, a channel's test message, the audit log
//! newest first.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn names(api: &Api, query: &str) -> (u64, Vec<String>) {
    let (status, page) = api.get(&format!("/api/v1/fleet/devices?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    let names = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    (page["total"].as_u64().unwrap(), names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_views_filter_page_tag_and_stay_in_scope() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let ids: Vec<String> = tokio::task::block_in_place(|| {
        let hq = server.cli_json(&[
            "enroll-token",
            "create",
            "--site",
            "hq",
            "--tag",
            "web",
            "--uses",
            "2",
        ]);
        let branch =
            server.cli_json(&["enroll-token", "create", "--site", "branch", "--uses", "1"]);
        [("web-1", &hq), ("web-2", &hq), ("till-1", &branch)]
            .iter()
            .map(|(name, token)| {
                Agent::enroll(root.path(), name, token["token"].as_str().unwrap()).device_id
            })
            .collect()
    });

    // Filters, sorting, paging.
    assert_eq!(
        names(&api, "").await,
        (3, vec!["till-1".into(), "web-1".into(), "web-2".into()])
    );
    assert_eq!(
        names(&api, "site=hq&sort=name&desc=true").await,
        (2, vec!["web-2".into(), "web-1".into()])
    );
    assert_eq!(
        names(&api, "limit=1&offset=1").await,
        (3, vec!["web-1".into()])
    );
    assert_eq!(names(&api, "q=TILL").await.0, 1);
    assert_eq!(names(&api, "status=online").await.0, 0);
    let (status, body) = api.get("/api/v1/fleet/devices?sort=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("sort"), "{body}");

    // Bulk tags: validated, then applied.
    let (status, body) = api
        .post(
            "/api/v1/devices/tags",
            json!({ "devices": [ids[0]], "add": ["<b>"] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/devices/tags",
            json!({ "devices": [], "add": ["db"] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/devices/tags",
            json!({ "devices": [ids[0], ids[2]], "add": ["db"], "remove": ["web"] }),
        )
        .await;
    assert_eq!(
        (status, body["changed"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{body}"
    );
    assert_eq!(
        names(&api, "tag=db").await,
        (2, vec!["till-1".into(), "web-1".into()])
    );
    assert_eq!(names(&api, "tag=web").await, (1, vec!["web-2".into()]));

    // A technician limited to the branch site sees and changes only it.
    let (status, body) = api
        .post(
            "/api/v1/users",
            json!({ "username": "tech", "password": "branch-technician-pw", "role": "technician", "site": "branch" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let anonymous = Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let tech = anonymous.with_token(&anonymous.token_for("tech", "branch-technician-pw").await);
    assert_eq!(names(&tech, "").await, (1, vec!["till-1".into()]));
    let (_, summary) = tech.get("/api/v1/fleet/summary").await;
    assert_eq!(summary["counts"]["devices"], 1, "{summary}");
    let (status, body) = tech
        .post(
            "/api/v1/devices/tags",
            json!({ "devices": [ids[0], ids[2]], "add": ["pos"] }),
        )
        .await;
    assert_eq!(
        (status, body["changed"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (status, runs) = tech.get(&format!("/api/v1/devices/{}/runs", ids[2])).await;
    assert_eq!((status, runs), (StatusCode::OK, json!([])));
    let (status, _) = tech.get(&format!("/api/v1/devices/{}/runs", ids[0])).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a device out of scope is not found"
    );

    // The admin's summary counts the whole fleet.
    let (_, summary) = api.get("/api/v1/fleet/summary").await;
    assert_eq!(summary["counts"]["devices"], 3, "{summary}");
    assert_eq!(summary["counts"]["offline"], 3, "{summary}");
    assert!(summary["history"].is_array(), "{summary}");

    // The audit log, newest first, in pages.
    let (_, newest) = api
        .get("/api/v1/audit?before=9007199254740991&limit=2")
        .await;
    let first: Vec<i64> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(first.len(), 2);
    assert!(first[0] > first[1], "{first:?}");
    assert!(
        newest[0]["action"]
            .as_str()
            .unwrap()
            .contains("devices/tags"),
        "{newest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_test_message_reports_what_happened() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (url, received) = common::hooks::receiver("test-secret-0123").await;
    let create = |name: &str, url: &str| json!({ "name": name, "kind": "webhook", "url": url, "secret": "test-secret-0123" });
    let (_, good) = api.post("/api/v1/channels", create("good", &url)).await;
    let (_, dead) = api
        .post("/api/v1/channels", create("dead", "http://127.0.0.1:9/"))
        .await;

    let (status, answer) = api
        .post(
            &format!("/api/v1/channels/{}/test", good["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &answer["delivered"]),
        (StatusCode::OK, &Value::Bool(true)),
        "{answer}"
    );
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].1, "the test message is signed like any notification");
    assert_eq!(got[0].0["test"], true);
    // The shape of a real notification: organisation named, console linked.
    assert_eq!(got[0].0["org"], "default", "{}", got[0].0);
    assert!(
        got[0].0["link"]
            .as_str()
            .is_some_and(|l| l.starts_with("https://") && l.ends_with("/#/alerts")),
        "{}",
        got[0].0
    );

    let (status, answer) = api
        .post(
            &format!("/api/v1/channels/{}/test", dead["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &answer["delivered"]),
        (StatusCode::OK, &Value::Bool(false)),
        "{answer}"
    );
    assert!(
        !answer["error"].as_str().unwrap_or_default().is_empty(),
        "{answer}"
    );

    let (status, _) = api
        .post(
            &format!("/api/v1/channels/{}/test", uuid::Uuid::now_v7()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
