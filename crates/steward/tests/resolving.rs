//! A manual resolve never hides a live problem: resolved by hand while its
//! condition still holds, an alert opens again at the next evaluation; the
//! resolve itself is notified like an automatic one, naming who did it.
//! Notifications name the device, its site and organisation and link to
//! the alert in the console.

mod common;

use common::lives::*;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_resolved_by_hand_while_still_true_opens_again_and_both_notify() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (url, received) = common::hooks::receiver("0123456789abcdef").await;
    api.post(
        "/api/v1/channels",
        json!({ "name": "ops", "kind": "webhook", "url": url, "secret": "0123456789abcdef" }),
    )
    .await;
    // A channel routed to Windows machines hears nothing of this one.
    let (windows_url, windows) = common::hooks::receiver("0123456789abcdef").await;
    api.post(
        "/api/v1/channels",
        json!({ "name": "windows", "kind": "webhook", "url": windows_url, "secret": "0123456789abcdef", "tags": ["windows"] }),
    )
    .await;
    let mut agent = Agent::enroll(root.path(), "box", &server.enroll_token(1));
    agent.start("1s");
    // Every machine is above this: the condition holds throughout.
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
    let first = alerts_of(&api, &monitor, "active=true").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The notification names the device, its site and organisation, and
    // links to the alert in the console.
    wait_until("the alert is notified", || async {
        received
            .lock()
            .unwrap()
            .iter()
            .any(|(body, _)| body["alert_id"] == first.as_str())
    })
    .await;
    let fired = received
        .lock()
        .unwrap()
        .iter()
        .find(|(body, _)| body["alert_id"] == first.as_str())
        .unwrap()
        .0
        .clone();
    assert_eq!(
        (&fired["device"], &fired["site"], &fired["org"]),
        (&json!("box"), &json!("default"), &json!("default")),
        "{fired}"
    );
    assert_eq!(
        fired["link"],
        format!("{}/#/alerts?alert={first}", server.url()),
        "{fired}"
    );
    let (status, resolved) = api
        .post(&format!("/api/v1/alerts/{first}/resolve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    // The resolve is notified, naming who.
    wait_until("the resolve is notified", || async {
        received.lock().unwrap().iter().any(|(body, signed)| {
            *signed
                && body["alert_id"] == first.as_str()
                && body["state"] == "resolved"
                && body["resolved_by"] == "admin"
        })
    })
    .await;
    assert!(
        windows.lock().unwrap().is_empty(),
        "a resolve went past the channel's routing: {:?}",
        windows.lock().unwrap()
    );
    // Still above: a new alert opens for the same monitor and device.
    wait_until("a new alert opens while the condition holds", || async {
        alerts_of(&api, &monitor, "active=true")
            .await
            .iter()
            .any(|a| a["id"] != first.as_str() && a["device_id"] == agent.device_id.as_str())
    })
    .await;
}
