//! Incident integrations end to end, against a real server: a helpdesk
//! posts signed deliveries to an inbound webhook (one opens an incident,
//! a second with the same external id resolves it); a bad signature, a
//! stale or future timestamp, a replay and an oversized body each get a
//! clear 4xx and create nothing; the incident's open and resolve go out
//! through the organisation's webhook channel, signed; a creator who lost
//! the organisation makes deliveries fail with 403 and an audit entry.

mod common;

use common::*;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PASSWORD: &str = "a-long-test-password";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts `body` to `url` with the given timestamp and signature.
async fn post(
    http: &reqwest::Client,
    url: &str,
    timestamp: &str,
    signature: &str,
    body: &str,
) -> (StatusCode, Value) {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-steward-timestamp", timestamp)
        .header("x-steward-signature", signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_open_and_resolve_an_incident_and_events_go_out() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (hook_url, received) = common::hooks::receiver_all("0123456789abcdef").await;
    let (status, body) = api
        .post(
            "/api/v1/channels",
            json!({ "name": "psa", "kind": "webhook", "url": hook_url, "secret": "0123456789abcdef", "incident_events": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The helpdesk's integration user, who creates the webhook.
    let (status, user) = api
        .post(
            "/api/v1/users",
            json!({ "username": "desk", "password": PASSWORD, "role": "admin" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let anonymous = common::api::Api {
        bearer: None,
        cookie: None,
        ..api.clone()
    };
    let desk = api.with_token(&anonymous.token_for("desk", PASSWORD).await);
    let (status, bad) = desk
        .post("/api/v1/incident-webhooks", json!({ "name": "" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (status, hook) = desk
        .post("/api/v1/incident-webhooks", json!({ "name": "helpdesk" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32, "{hook}");
    assert_eq!(hook["created_by"], "desk", "{hook}");
    let hook_id = hook["id"].as_str().unwrap().to_string();
    // The secret is shown once.
    let (_, read) = api
        .get(&format!("/api/v1/incident-webhooks/{hook_id}"))
        .await;
    assert!(read.get("secret").is_none(), "{read}");
    assert!(!read.to_string().contains(&secret), "{read}");
    let (status, _, renamed) = api
        .patch(
            &format!("/api/v1/incident-webhooks/{hook_id}"),
            Some(1),
            json!({ "name": "zendesk" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["version"], 2, "{renamed}");

    let url = format!("{}{}", server.url(), hook["url"].as_str().unwrap());
    let http = api.http.clone();
    let count = || async {
        let (_, list) = api.get("/api/v1/incidents").await;
        list.as_array().unwrap().len()
    };

    // 1. A signed delivery opens an incident, as text, under desk's name.
    let opening = json!({
        "title": "Printer on floor 3 is down",
        "description": "User says: <script>alert(1)</script> nothing prints",
        "priority": "p2", "external_id": "ZD-1042",
    })
    .to_string();
    let first_ts = now_secs().to_string();
    let signature = sign(&secret, &first_ts, &opening);
    let (status, opened) = post(&http, &url, &first_ts, &signature, &opening).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["created"], true, "{opened}");
    let id = opened["incident_id"].as_str().unwrap().to_string();
    let (_, incident) = api.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(incident["status"], "open", "{incident}");
    assert_eq!(incident["priority"], "p2", "{incident}");
    assert_eq!(incident["opened_by"], "desk", "{incident}");
    let timeline = incident["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e["kind"] == "opened" && e["actor"] == "desk"),
        "{incident}"
    );
    assert!(
        timeline.iter().any(|e| e["kind"] == "note"
            && e["body"]["text"] == "User says: <script>alert(1)</script> nothing prints"),
        "{incident}"
    );

    // 2. Each bad delivery is refused and creates nothing.
    assert_eq!(count().await, 1);
    let other = json!({ "title": "should not exist" }).to_string();
    let ts = now_secs().to_string();
    let (status, body) = post(&http, &url, &ts, &sign("wrong secret", &ts, &other), &other).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"].as_str().unwrap().contains("HMAC"), "{body}");
    let stale = (now_secs() - 600).to_string();
    let (status, body) = post(&http, &url, &stale, &sign(&secret, &stale, &other), &other).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"].as_str().unwrap().contains("old"), "{body}");
    let future = (now_secs() + 600).to_string();
    let (status, body) = post(
        &http,
        &url,
        &future,
        &sign(&secret, &future, &other),
        &other,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"].as_str().unwrap().contains("future"), "{body}");
    let (status, body) = post(&http, &url, &ts, "", &other).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The first delivery again, byte for byte: a replay.
    let (status, body) = post(&http, &url, &first_ts, &signature, &opening).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("replay"), "{body}");
    let huge = json!({ "title": "big", "description": "x".repeat(70 * 1024) }).to_string();
    let (status, body) = post(&http, &url, &ts, &sign(&secret, &ts, &huge), &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let unknown = json!({ "title": "x", "html": "<b>" }).to_string();
    let (status, body) = post(&http, &url, &ts, &sign(&secret, &ts, &unknown), &unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let long = json!({ "title": "t".repeat(300) }).to_string();
    let (status, body) = post(&http, &url, &ts, &sign(&secret, &ts, &long), &long).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = post(
        &http,
        &format!("{}/api/v1/inbound/incidents/not-an-id", server.url()),
        &ts,
        "sha256=00",
        &other,
    )
    .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(count().await, 1);

    // 3. The same external id again: the helpdesk closed the ticket.
    let closing = json!({ "external_id": "ZD-1042", "status": "resolved" }).to_string();
    let ts = now_secs().to_string();
    let (status, updated) = post(&http, &url, &ts, &sign(&secret, &ts, &closing), &closing).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["created"], false, "{updated}");
    assert_eq!(updated["incident_id"], id.as_str(), "{updated}");
    let (_, incident) = api.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(incident["status"], "resolved", "{incident}");
    assert!(incident["resolved_at"].is_i64(), "{incident}");
    assert!(
        incident["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "status"
                && e["actor"] == "desk"
                && e["body"]["to"] == "resolved"),
        "{incident}"
    );
    assert_eq!(count().await, 1);

    // 4. Outbound: the channel saw the open and the resolve, signed.
    let event = |name: &str| {
        received
            .lock()
            .unwrap()
            .iter()
            .find(|(p, _)| {
                p["kind"] == "incident" && p["event"] == name && p["incident_id"] == id.as_str()
            })
            .cloned()
    };
    let opened_event = tokio::task::block_in_place(|| {
        wait_for("the open event", Duration::from_secs(30), || {
            event("incident.opened")
        })
    });
    let resolved_event = tokio::task::block_in_place(|| {
        wait_for("the resolve event", Duration::from_secs(30), || {
            event("incident.resolved")
        })
    });
    assert!(
        opened_event.1 && resolved_event.1,
        "signed: {opened_event:?} {resolved_event:?}"
    );
    assert_eq!(opened_event.0["title"], "Printer on floor 3 is down");
    assert_eq!(opened_event.0["actor"], "desk");
    assert_eq!(resolved_event.0["status"], "resolved");
    assert!(
        resolved_event.0["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#/incident/{id}"))
    );

    // 5. The creator loses the organisation: deliveries get 403, audited.
    let (_, orgs) = api.get("/api/v1/orgs").await;
    let org = orgs[0]["name"].as_str().unwrap().to_string();
    let (status, body) = api
        .post(
            &format!("/api/v1/users/{}/grants", user["id"].as_str().unwrap()),
            json!({ "role": "admin", "org": org, "deny": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = json!({ "title": "after the deny" }).to_string();
    let ts = now_secs().to_string();
    let (status, body) = post(&http, &url, &ts, &sign(&secret, &ts, &again), &again).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("desk"), "{body}");
    assert_eq!(count().await, 1);
    let (_, audit) = api.get("/api/v1/audit?action=inbound.refused").await;
    let entries = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == "desk" && e["target"] == hook_id.as_str()),
        "{audit}"
    );

    // 6. Deleted: deliveries find nothing.
    let (status, body) = api
        .delete(&format!("/api/v1/incident-webhooks/{hook_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ts = now_secs().to_string();
    let (status, body) = post(&http, &url, &ts, &sign(&secret, &ts, &again), &again).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problem_rules_are_set_per_organisation_under_a_version() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, defaults) = api.get("/api/v1/problem-rules").await;
    assert_eq!(status, StatusCode::OK, "{defaults}");
    assert_eq!(defaults["defaults"], true, "{defaults}");
    assert_eq!(defaults["version"], 0, "{defaults}");
    assert_eq!(defaults["rules"].as_array().unwrap().len(), 2, "{defaults}");
    let rules = json!({ "rules": [{ "kind": "repeat", "window_ms": 3_600_000, "min_count": 3 }] });
    let (status, _, saved) = api
        .patch("/api/v1/problem-rules", Some(0), rules.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 1, "{saved}");
    assert_eq!(saved["defaults"], false, "{saved}");
    assert_eq!(saved["rules"], rules["rules"], "{saved}");
    // Under the version read: a stale one is refused.
    let (status, _, stale) = api
        .patch("/api/v1/problem-rules", Some(0), rules.clone())
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{stale}");
    // Rules that cannot work get a clear error.
    for bad in [
        json!({ "rules": [] }),
        json!({ "rules": [{ "kind": "repeat", "window_ms": 3_600_000, "min_count": 1 }] }),
        json!({ "rules": [{ "kind": "spread", "window_ms": 3_600_000, "min_count": 5, "min_devices": 1 }] }),
        json!({ "rules": [{ "kind": "repeat", "window_ms": 30 * 86_400_000i64, "min_count": 3 }] }),
        json!({ "rules": [{ "kind": "repeat", "window_ms": -1, "min_count": 3 }] }),
        json!({ "rules": [{ "kind": "often", "window_ms": 1 }] }),
        json!({ "rules": "all" }),
    ] {
        let (status, _, body) = api.patch("/api/v1/problem-rules", None, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    let (_, read) = api.get("/api/v1/problem-rules").await;
    assert_eq!(read["version"], 1, "{read}");
    assert_eq!(read["rules"], rules["rules"], "{read}");
    // Another organisation keeps the defaults.
    let (status, body) = api
        .post("/api/v1/orgs", json!({ "name": "client-b" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, other) = api.get("/api/v1/problem-rules?org=client-b").await;
    assert_eq!(other["defaults"], true, "{other}");
    let (status, body) = api.get("/api/v1/problem-rules?org=no-such-org").await;
    assert!(status.is_client_error(), "{status} {body}");
}
