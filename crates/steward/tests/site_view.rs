//! What a technician limited to one site reads of the organisation's
//! monitoring: the organisation-wide monitors and channels that apply to
//! their devices, read-only (no channel addresses), none of another
//! site's; and the audit log's filters (who, what, which object, when).

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "a-long-test-password";

fn ok((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn names(list: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    names.sort();
    names
}

fn monitor(name: &str, applies_to: Value) -> Value {
    json!({ "name": name, "spec": { "kind": "offline" }, "applies_to": applies_to })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_technician_reads_the_organisation_monitoring_but_cannot_edit_it() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let admin = server.api();
    let anon = Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    // A device at hq, the technician's site.
    let token = ok(admin
        .post("/api/v1/enroll-tokens", json!({ "site": "hq", "uses": 1 }))
        .await);
    steward_agent::enroll::enroll(
        &root.path().join("agent-hq"),
        token["token"].as_str().unwrap(),
        Some("hq-1".into()),
    )
    .await
    .unwrap();
    let mut ids = std::collections::HashMap::new();
    for (name, applies_to) in [
        ("everywhere", json!({})),
        ("hq only", json!({ "sites": ["hq"] })),
        ("vault only", json!({ "sites": ["vault"] })),
    ] {
        let made = ok(admin
            .post("/api/v1/monitors", monitor(name, applies_to))
            .await);
        ids.insert(name, made["id"].as_str().unwrap().to_string());
    }
    let channel = ok(admin
        .post(
            "/api/v1/channels",
            json!({ "name": "pager", "kind": "webhook", "url": "https://hooks.example.com/steward/where-it-goes", "secret": "0123456789abcdef-secret" }),
        )
        .await);
    let channel_id = channel["id"].as_str().unwrap().to_string();
    ok(admin
        .post(
            "/api/v1/users",
            json!({ "username": "tess", "password": PASSWORD, "role": "technician", "site": "hq" }),
        )
        .await);
    let tess = anon.with_token(&anon.token_for("tess", PASSWORD).await);

    // What the console is told of where tess may act.
    let me = ok(tess.get("/api/v1/whoami").await);
    assert_eq!(
        me["permissions"]["monitors.manage"],
        json!({ "whole_org": false, "sites": ["hq"] }),
        "{me}"
    );
    assert!(me["permissions"].get("users.manage").is_none(), "{me}");
    let org = me["org_name"].as_str().unwrap().to_string();
    assert!(!org.is_empty(), "{me}");
    let admin_me = ok(admin.get("/api/v1/whoami").await);
    assert_eq!(
        admin_me["permissions"]["users.manage"]["whole_org"], true,
        "{admin_me}"
    );

    // The monitors that reach hq, read-only, with who may change them;
    // not the one limited to another site.
    let seen = ok(tess.get("/api/v1/monitors").await);
    assert_eq!(names(&seen), ["everywhere", "hq only"], "{seen}");
    for m in seen.as_array().unwrap() {
        assert_eq!(m["editable"], false, "{m}");
        assert!(m.get("fields").is_none(), "{m}");
        let note = m["note"].as_str().unwrap();
        assert!(
            note.contains("monitors.manage") && note.contains(&org),
            "{note}"
        );
        assert_eq!(m["definition"]["spec"]["kind"], "offline", "{m}");
    }
    let everything = ok(admin.get("/api/v1/monitors").await);
    assert_eq!(names(&everything), ["everywhere", "hq only", "vault only"]);
    assert!(
        everything
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["editable"] == true && m["fields"].is_object())
    );
    let one = ok(tess
        .get(&format!("/api/v1/monitors/{}", ids["everywhere"]))
        .await);
    assert_eq!(
        (one["name"].as_str(), &one["editable"]),
        (Some("everywhere"), &json!(false))
    );
    let (status, _) = tess
        .get(&format!("/api/v1/monitors/{}", ids["vault only"]))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Reading is all: no change, no deletion, no new monitor.
    let (status, _, body) = tess
        .patch(
            &format!("/api/v1/monitors/{}", ids["everywhere"]),
            None,
            json!({ "enabled": false }),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, body) = tess
        .delete(&format!("/api/v1/monitors/{}", ids["hq only"]))
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, body) = tess
        .post(
            "/api/v1/monitors",
            monitor("mine", json!({ "sites": ["hq"] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let after = ok(admin.get("/api/v1/monitors").await);
    assert_eq!(names(&after), ["everywhere", "hq only", "vault only"]);
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["enabled"] == true)
    );

    // The channel: that it exists and what it sends, not where.
    let channels = ok(tess.get("/api/v1/channels").await);
    assert_eq!(names(&channels), ["pager"]);
    let pager = &channels[0];
    assert_eq!(
        (&pager["editable"], &pager["kind"], &pager["min_severity"]),
        (&json!(false), &json!("webhook"), &json!("warning")),
        "{pager}"
    );
    let text = channels.to_string();
    assert!(
        !text.contains("hooks.example.com") && !text.contains("secret\":"),
        "{text}"
    );
    let admin_channels = ok(admin.get("/api/v1/channels").await);
    assert!(admin_channels.to_string().contains("hooks.example.com"));
    for (status, body) in [
        tess.post(&format!("/api/v1/channels/{channel_id}/test"), json!({}))
            .await,
        tess.delete(&format!("/api/v1/channels/{channel_id}")).await,
    ] {
        assert!(status.is_client_error(), "{status} {body}");
    }
    assert_eq!(names(&ok(admin.get("/api/v1/channels").await)), ["pager"]);

    // Users stay out of reach, with the permission named.
    let (status, body) = tess.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "missing permission users.manage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_by_who_what_which_object_and_when() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let admin = server.api();
    let anon = Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let me = ok(admin.get("/api/v1/whoami").await)["username"]
        .as_str()
        .unwrap()
        .to_string();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for name in ["disk-a", "disk-b", "disk-c"] {
        ok(admin
            .post("/api/v1/monitors", monitor(name, json!({})))
            .await);
    }
    ok(admin
        .post(
            "/api/v1/users",
            json!({ "username": "olga", "password": PASSWORD, "role": "technician" }),
        )
        .await);
    let olga = anon.with_token(&anon.token_for("olga", PASSWORD).await);
    let made = ok(olga
        .post("/api/v1/monitors", monitor("olga-watch", json!({})))
        .await);
    let (status, _, body) = olga
        .patch(
            &format!("/api/v1/monitors/{}", made["id"].as_str().unwrap()),
            None,
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let audit = async |query: &str| -> Vec<Value> {
        let body = ok(admin
            .get(&format!("/api/v1/audit?before=9007199254740991&{query}"))
            .await);
        body.as_array().unwrap().clone()
    };
    let actions = |entries: &[Value]| -> Vec<String> {
        entries
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };

    // Who: exactly that user.
    let by_olga = audit("actor=olga").await;
    assert_eq!(
        actions(&by_olga),
        [
            "PATCH /api/v1/monitors/{id}",
            "POST /api/v1/monitors",
            "POST /api/v1/tokens",
            "login",
        ],
        "{by_olga:?}"
    );
    assert!(audit("actor=olg").await.is_empty());
    // What: actions containing the text, any case; with who.
    let created = audit(&format!("actor={me}&action=post%20/api/v1/MONITORS")).await;
    assert_eq!(created.len(), 3, "{created:?}");
    // Which object: the target or the details (a monitor's name).
    let disk_b = audit("object=disk-b").await;
    assert_eq!(actions(&disk_b), ["POST /api/v1/monitors"], "{disk_b:?}");
    assert!(disk_b[0]["detail"].as_str().unwrap().contains("disk-b"));
    // When: milliseconds or RFC 3339, either end.
    let all = audit("").await;
    assert!(all.len() >= 7, "{all:?}");
    let since = audit(&format!("since={started}")).await;
    assert!(since.len() <= all.len());
    assert!(since.len() >= 3 + by_olga.len(), "{since:?}");
    assert!(
        since
            .iter()
            .all(|e| e["at"].as_i64().unwrap() >= started / 1000)
    );
    let later = started + 3_600_000;
    assert!(audit(&format!("since={later}")).await.is_empty());
    assert!(audit("until=0").await.is_empty());
    assert!(audit("since=2999-01-01T00:00:00Z").await.is_empty());
    assert_eq!(
        audit("since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z")
            .await
            .len(),
        all.len()
    );
    let (status, body) = admin.get("/api/v1/audit?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("RFC 3339"),
        "{body}"
    );
    // Filters page like the whole log: newest first, before the last one.
    let first = audit("actor=olga&limit=1").await;
    assert_eq!(actions(&first), ["PATCH /api/v1/monitors/{id}"]);
    let next = ok(admin
        .get(&format!(
            "/api/v1/audit?actor=olga&limit=2&before={}",
            first[0]["id"]
        ))
        .await);
    assert_eq!(
        actions(next.as_array().unwrap()),
        ["POST /api/v1/monitors", "POST /api/v1/tokens"]
    );
    // Oldest first from `after`, filtered alike.
    let oldest = ok(admin.get("/api/v1/audit?after=0&actor=olga").await);
    assert_eq!(
        actions(oldest.as_array().unwrap()),
        [
            "login",
            "POST /api/v1/tokens",
            "POST /api/v1/monitors",
            "PATCH /api/v1/monitors/{id}",
        ]
    );
}
