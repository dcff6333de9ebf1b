//! Where notifications may go (security review #13, item 8): a server
//! without `--allow-private-targets` refuses channels to loopback and
//! private addresses when they are made, and delivers nothing to them
//! (not "send test", not the outbox), giving the same answer whether the
//! port is open or closed; a redirect is never followed, so a receiver it
//! points to gets nothing and the delivery records why.

mod common;

use common::api::Api;
use common::*;
use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "egress-signing-secret";
/// Environment of a server that allows no private target.
const STRICT: &[(&str, &str)] = &[("STEWARD_ALLOW_PRIVATE_TARGETS", "")];

/// A TCP sink on `ip`: counts connections, answers each with HTTP 200.
async fn sink(ip: &str) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits: Arc<AtomicUsize> = Arc::default();
    let count = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut read = 0;
                // Headers, then the body they announce.
                loop {
                    match stream.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                    let text = String::from_utf8_lossy(&buf[..read]).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if read >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (port, hits)
}

/// A port on `ip` nothing listens on.
fn closed_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A receiver that answers every request with a 302 to `to`.
async fn redirector(to: String) -> (String, Arc<AtomicUsize>) {
    let hits: Arc<AtomicUsize> = Arc::default();
    let count = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let (count, to) = (count.clone(), to.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            (StatusCode::FOUND, [(reqwest::header::LOCATION, to)], "")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

fn api_of(server: &Server) -> Api {
    Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    )
    .with_token(&server.token)
}

async fn webhook(api: &Api, name: &str, url: &str) -> (StatusCode, Value) {
    api.post(
        "/api/v1/channels",
        json!({ "name": name, "kind": "webhook", "url": url, "secret": SECRET }),
    )
    .await
}

async fn send_test(api: &Api, channel: &Value) -> Value {
    let (status, body) = api
        .post(
            &format!("/api/v1/channels/{}/test", channel["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A simulated agent connects, then goes silent: the offline monitor
/// opens an alert and its notification goes to every channel.
async fn raise_offline_alert(server: &Server, api: &Api, root: &std::path::Path) {
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "offline", "spec": { "kind": "offline" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, token) = api
        .post("/api/v1/enroll-tokens", json!({ "uses": 1 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let dir = root.join("sim");
    let id =
        steward_agent::enroll::enroll(&dir, token["token"].as_str().unwrap(), Some("sim".into()))
            .await
            .unwrap();
    let state = steward_agent::state::AgentState::load(&dir).unwrap();
    let identity =
        Arc::new(steward_pki::client_config(&state.ca_pem, Some(&state.identity)).unwrap());
    let mut socket =
        steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, identity)
            .await
            .unwrap();
    socket
        .send(Message::text(
            r#"{"type":"hello","protocol_version":1,"agent_version":"sim"}"#,
        ))
        .await
        .unwrap();
    let online = || async {
        let (_, device) = api.get(&format!("/api/v1/devices/{id}")).await;
        device["status"] == "online"
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !online().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the device never came online"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(socket);
}

/// Polls the channel list until `check` finds what it wants in `name`'s.
async fn channel_error(api: &Api, name: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    loop {
        let (_, channels) = api.get("/api/v1/channels").await;
        let error = channels
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == name))
            .and_then(|c| c["last_error"].as_str())
            .map(String::from);
        if let Some(error) = error {
            return error;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery error recorded for {name}: {channels}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_allowance_private_targets_are_refused_and_never_reached() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    // Channels made while the server allowed loopback (the kit's default)…
    let mut server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = api_of(&server);
    let (open, hits) = sink("127.0.0.2").await;
    let closed = closed_port("127.0.0.2");
    let (named_port, named_hits) = sink("127.0.0.1").await;
    let mut made = Vec::new();
    for (name, url) in [
        ("open", format!("http://127.0.0.2:{open}/hook")),
        ("closed", format!("http://127.0.0.2:{closed}/hook")),
        ("named", format!("http://localhost:{named_port}/hook")),
    ] {
        let (status, channel) = webhook(&api, name, &url).await;
        assert_eq!(status, StatusCode::OK, "{channel}");
        made.push(channel);
    }
    assert_eq!(send_test(&api, &made[0]).await["delivered"], true);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the sink works");

    // …then the same server without the allowance.
    server.proc.take().unwrap().terminate();
    server.proc = Some(tokio::task::block_in_place(|| {
        Server::start_with_env(&server.dir, server.port, ADMIN_PASSWORD, STRICT)
    }));

    // A literal private address is refused when the channel is made.
    let (status, body) = webhook(&api, "again", &format!("http://127.0.0.2:{open}/hook")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("127.0.0.2 is a loopback address"), "{error}");
    assert!(error.contains("--allow-private-targets"), "{error}");
    for (url, reason) in [
        (format!("http://[::ffff:127.0.0.2]:{open}/"), "loopback"),
        ("http://2130706434/".to_string(), "loopback"),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "link-local",
        ),
        ("http://10.1.2.3:8080/".into(), "private"),
        ("http://100.64.0.1/".into(), "carrier-grade NAT"),
        ("http://[fd00::1]/".into(), "private"),
        ("http://[::]/".into(), "unspecified"),
    ] {
        let (status, body) = webhook(&api, "x", &url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(reason),
            "{url}: {body}"
        );
    }
    let (status, body) = api
        .post(
            "/api/v1/channels",
            json!({ "name": "chat", "kind": "slack", "url": "https://192.168.1.10/hooks/x" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let mail = |host: &str, port: u16| json!({ "name": "mail", "kind": "email", "smtp_host": host, "smtp_port": port, "tls": "none", "from": "steward@example.org", "to": ["ops@example.org"] });
    let (status, body) = api.post("/api/v1/channels", mail("127.0.0.2", 25)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("loopback"),
        "{body}"
    );
    let (status, body) = api.post("/api/v1/channels", mail("8.8.8.8", 6379)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("SMTP port 6379"),
        "{body}"
    );

    // "Send test" reaches nothing, and cannot tell an open port from a
    // closed one.
    let to_open = send_test(&api, &made[0]).await;
    let to_closed = send_test(&api, &made[1]).await;
    assert_eq!(to_open["delivered"], false, "{to_open}");
    assert_eq!(to_open, to_closed, "the answer depends on the port's state");
    assert!(
        to_open["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.2 is a loopback address"),
        "{to_open}"
    );
    // A name is checked on what it resolves to.
    let named = send_test(&api, &made[2]).await;
    assert_eq!(named["delivered"], false, "{named}");
    let error = named["error"].as_str().unwrap();
    assert!(error.starts_with("localhost resolves to "), "{error}");
    assert!(error.contains("loopback address"), "{error}");

    // Real notifications are refused the same way, and say why.
    raise_offline_alert(&server, &api, root.path()).await;
    let error = channel_error(&api, "open").await;
    assert!(error.contains("127.0.0.2 is a loopback address"), "{error}");
    let error = channel_error(&api, "named").await;
    assert!(error.starts_with("localhost resolves to "), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "nothing reached 127.0.0.2");
    assert_eq!(
        named_hits.load(Ordering::SeqCst),
        0,
        "nothing reached localhost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = api_of(&server);
    // The redirect's target counts any connection, whatever the method.
    let (port, elsewhere) = sink("127.0.0.1").await;
    let (url, redirected) = redirector(format!("http://127.0.0.1:{port}/hook")).await;
    let (status, channel) = webhook(&api, "moved", &url).await;
    assert_eq!(status, StatusCode::OK, "{channel}");

    let tested = send_test(&api, &channel).await;
    assert_eq!(tested["delivered"], false, "{tested}");
    let error = tested["error"].as_str().unwrap();
    assert!(
        error.contains("refused to follow a redirect (HTTP 302"),
        "{error}"
    );

    raise_offline_alert(&server, &api, root.path()).await;
    let error = channel_error(&api, "moved").await;
    assert!(error.contains("refused to follow a redirect"), "{error}");
    assert!(
        redirected.load(Ordering::SeqCst) >= 2,
        "the first receiver was asked"
    );
    assert_eq!(
        elsewhere.load(Ordering::SeqCst),
        0,
        "the receiver the redirect named was reached"
    );
}

/// A channel that keeps failing is given up after the bound: its
/// notification stops being retried, the channel counts it undelivered
/// with the reason, and the alert's history says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_channel_says_why_and_stops_retrying_after_the_bound() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| {
        Server::launch_with_env(root.path(), &[("STEWARD_NOTIFICATION_GIVE_UP", "4s")])
    });
    let api = api_of(&server);
    let closed = closed_port("127.0.0.2");
    let (status, channel) = webhook(
        &api,
        "down",
        &format!("http://127.0.0.2:{closed}/hook/SECRET"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{channel}");

    raise_offline_alert(&server, &api, root.path()).await;
    let why = format!("connection refused by 127.0.0.2:{closed}: nothing listens there");
    assert_eq!(channel_error(&api, "down").await, why);
    // Given up within the bound (4 s) plus a retry's wait, not retried for ever.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let down = loop {
        let (_, channels) = api.get("/api/v1/channels").await;
        let down = channels
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == "down"))
            .cloned()
            .expect("the channel");
        if down["undelivered"] == 1 {
            break down;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the notification was never given up: {down}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(down["pending"], 0, "{down}");
    assert_eq!(down["last_error"], why.as_str(), "{down}");
    let (_, alerts) = api.get("/api/v1/alerts").await;
    let alert = alerts[0]["id"].as_str().expect("the offline alert");
    let (_, history) = api.get(&format!("/api/v1/alerts/{alert}/history")).await;
    let given_up = history
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["event"]["status"] == "undelivered")
        .unwrap_or_else(|| panic!("no undelivered notification in {history}"));
    assert_eq!(given_up["event"]["error"], why.as_str(), "{given_up}");
    assert!(
        given_up["event"]["attempts"].as_i64() >= Some(2),
        "{given_up}"
    );
}
