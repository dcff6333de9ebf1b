//! OTLP in end to end: the OpenTelemetry Python SDK (PyPI) exports metrics
//! (protobuf) naming a device by `steward.device.id` and logs naming it by
//! `host.name`; the series appear on that device and the log records feed
//! a log pattern monitor. OTLP/JSON through reqwest, with another
//! organisation's device in the same request (partial success). Hostile
//! requests (no or revoked token, malformed, oversized, a gzip bomb, only
//! another tenant's device) are refused with a clear error and change
//! nothing.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const METRICS: &str = "/api/v1/otlp/v1/metrics";
const LOGS: &str = "/api/v1/otlp/v1/logs";

fn ok((status, body): (StatusCode, Value)) -> Value {
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// The samples of a device's series `name` (with its labels), once there.
async fn series(api: &Api, device: &str, name: &str) -> Vec<Value> {
    let (_, body) = api
        .get(&format!("/api/v1/devices/{device}/metrics/{name}?since=1h"))
        .await;
    body.as_array().cloned().unwrap_or_default()
}

async fn wait_series(api: &Api, device: &str, name: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = series(api, device, name).await;
        if found
            .iter()
            .any(|s| s["samples"].as_array().is_some_and(|s| !s.is_empty()))
        {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no series {name} on {device}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn last(series: &Value) -> f64 {
    series["samples"].as_array().unwrap().last().unwrap()[1]
        .as_f64()
        .unwrap()
}

/// POSTs `body` with a content type (and encoding) and a bearer token.
async fn post(
    api: &Api,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    gzip: bool,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let mut request = api
        .http
        .post(format!("{}{path}", api.base))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    match request.send().await {
        Ok(response) => (response.status(), response.text().await.unwrap_or_default()),
        // The server answered 413 and closed before the client sent all.
        Err(e) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("cut off: {e} (larger)"),
        ),
    }
}

fn gauge_json(device: &str, name: &str, value: f64) -> Value {
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_string();
    json!({ "resource": { "attributes": [
            { "key": "steward.device.id", "value": { "stringValue": device } } ] },
        "scopeMetrics": [{ "scope": { "name": "curl" }, "metrics": [{ "name": name, "unit": "1",
            "gauge": { "dataPoints": [{ "timeUnixNano": now_ns, "asDouble": value,
                "attributes": [{ "key": "pool", "value": { "stringValue": "main" } }] }] } }] }] })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_exports_reach_the_right_device_and_bad_requests_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let admin = server.api();
    ok(admin
        .post("/api/v1/orgs", json!({ "name": "client-b" }))
        .await);
    let (web, foreign) = tokio::task::block_in_place(|| {
        let token = server.enroll_token(1);
        let web = Agent::enroll(root.path(), "web", &token);
        let theirs = server.cli_json(&[
            "enroll-token",
            "create",
            "--org",
            "client-b",
            "--uses",
            "1",
        ])["token"]
            .as_str()
            .unwrap()
            .to_string();
        let foreign = Agent::enroll(root.path(), "theirs", &theirs);
        (web, foreign)
    });
    let hostname = server.device(&web.device_id)["hostname"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = admin
        .post(
            "/api/v1/monitors",
            json!({ "name": "New OTLP error", "spec": {
                "kind": "log_pattern", "rule": "otlp", "min_devices": 1, "window_ms": 2000 } }),
        )
        .await;
    assert!(status.is_success(), "{body}");

    // An ingestion token, from the CLI; listed without its text.
    let created =
        tokio::task::block_in_place(|| server.cli_json(&["otlp-token", "create", "collector"]));
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("stwo_"), "{created}");
    let listed = tokio::task::block_in_place(|| server.cli_json(&["otlp-token", "list"]));
    assert_eq!(listed[0]["name"], "collector", "{listed}");
    assert!(!listed.to_string().contains(&token), "{listed}");

    // The baseline of the log monitor: a line seen at once.
    let ca = server.ca();
    let export = |lines: &[&str]| {
        let out = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/export.py"))
            .args([
                server.url().as_str(),
                token.as_str(),
                ca.to_str().unwrap(),
                web.device_id.as_str(),
                hostname.as_str(),
            ])
            .args(lines)
            .output()
            .expect("python3 with opentelemetry-sdk (pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http)");
        assert!(
            out.status.success(),
            "the exporter failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = tokio::task::block_in_place(|| export(&["cache warmed in 12 ms"]));
    assert!(!said.contains("Failed to export"), "{said}");

    // The SDK's metrics are on the web device: a cumulative counter as a
    // counter, a gauge, a histogram's count and sum, labelled.
    let orders = wait_series(&admin, &web.device_id, "shop.orders").await;
    assert_eq!(last(&orders[0]), 5.0, "{orders:?}");
    assert_eq!(orders[0]["labels"]["region"], "eu");
    assert_eq!(orders[0]["labels"]["service"], "shop");
    let depth = wait_series(&admin, &web.device_id, "shop.queue.depth").await;
    assert_eq!(last(&depth[0]), 7.0);
    assert_eq!(depth[0]["labels"]["queue"], "mail");
    let count = wait_series(&admin, &web.device_id, "shop.latency.count").await;
    assert_eq!(last(&count[0]), 2.0);
    let sum = wait_series(&admin, &web.device_id, "shop.latency.sum").await;
    assert_eq!(last(&sum[0]), 0.75);
    // Nothing on the other organisation's device.
    assert!(
        series(&admin, &foreign.device_id, "shop.orders")
            .await
            .is_empty()
    );
    // The device row is the agent's: pushed telemetry left its sequence.
    assert_eq!(server.device(&web.device_id)["status"], "offline");

    // A new error pattern after the baseline window: an alert on web.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    tokio::task::block_in_place(|| {
        export(&[
            "payment 17 failed for card 4242",
            "payment 18 failed for card 1111",
        ])
    });
    let alert = tokio::task::block_in_place(|| {
        wait_for("the log pattern alert", Duration::from_secs(30), || {
            let rt = tokio::runtime::Handle::current();
            let (_, alerts) = rt.block_on(admin.get("/api/v1/alerts"));
            alerts
                .as_array()?
                .iter()
                .find(|a| a["monitor_name"] == "New OTLP error")
                .cloned()
        })
    });
    assert_eq!(alert["device_id"], json!(web.device_id), "{alert}");
    let summary = alert["summary"].as_str().unwrap();
    assert!(
        summary.contains("payment <*> failed for card <*>"),
        "{alert}"
    );
    assert!(!summary.contains("cache warmed"), "{alert}");

    // OTLP/JSON by hand: ours stored, the other organisation's device
    // rejected in the same request (partial success).
    let body = json!({ "resourceMetrics": [
        gauge_json(&web.device_id, "pool.size", 12.0),
        gauge_json(&foreign.device_id, "pool.size", 99.0),
    ] });
    let (status, answer) = post(
        &admin,
        METRICS,
        Some(&token),
        "application/json",
        false,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedDataPoints"], "1",
        "{answer}"
    );
    assert!(
        answer["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("no device"),
        "{answer}"
    );
    let pool = wait_series(&admin, &web.device_id, "pool.size").await;
    assert_eq!(last(&pool[0]), 12.0);
    assert_eq!(pool[0]["labels"]["pool"], "main");
    // Gzip works too.
    let body = json!({ "resourceMetrics": [gauge_json(&web.device_id, "pool.size", 13.0)] });
    let (status, answer) = post(
        &admin,
        METRICS,
        Some(&token),
        "application/json",
        true,
        gzip(body.to_string().as_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Refused, changing nothing.
    let only_theirs = json!({ "resourceMetrics": [gauge_json(&foreign.device_id, "stolen", 1.0)] })
        .to_string()
        .into_bytes();
    let bomb = gzip(&vec![b' '; 20 << 20]);
    // (what, token, media type, gzip header, body, answer, text the error names)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        &'a str,
        bool,
        Vec<u8>,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "no token",
            None,
            "application/json",
            false,
            only_theirs.clone(),
            StatusCode::UNAUTHORIZED,
            "ingestion token",
        ),
        (
            "an API token",
            Some(server.token.as_str()),
            "application/json",
            false,
            only_theirs.clone(),
            StatusCode::UNAUTHORIZED,
            "not an OTLP ingestion token",
        ),
        (
            "a made-up token",
            Some("stwo_nope"),
            "application/json",
            false,
            only_theirs.clone(),
            StatusCode::UNAUTHORIZED,
            "unknown or revoked",
        ),
        (
            "another tenant's device",
            Some(&token),
            "application/json",
            false,
            only_theirs.clone(),
            StatusCode::BAD_REQUEST,
            "no device",
        ),
        (
            "malformed JSON",
            Some(&token),
            "application/json",
            false,
            b"{\"resourceMetrics\": [".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "wrong JSON types",
            Some(&token),
            "application/json",
            false,
            br#"{"resourceMetrics":[{"scopeMetrics":"x"}]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "scopeMetrics",
        ),
        (
            "malformed protobuf",
            Some(&token),
            "application/x-protobuf",
            false,
            vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 1],
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "another media type",
            Some(&token),
            "text/plain",
            false,
            b"x".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/x-protobuf",
        ),
        (
            "a corrupt gzip body",
            Some(&token),
            "application/json",
            true,
            b"not gzip".to_vec(),
            StatusCode::BAD_REQUEST,
            "gzip",
        ),
        (
            "a gzip bomb",
            Some(&token),
            "application/json",
            true,
            bomb,
            StatusCode::PAYLOAD_TOO_LARGE,
            "decompressed",
        ),
        (
            "an oversized body",
            Some(&token),
            "application/json",
            false,
            vec![b' '; 5 << 20],
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger",
        ),
    ];
    for (what, bearer, kind, gzipped, body, status, says) in cases {
        let (got, answer) = post(&admin, METRICS, bearer, kind, gzipped, body).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert!(answer.contains(says), "{what}: {answer}");
    }
    // Logs naming only another tenant's device: refused.
    let logs = json!({ "resourceLogs": [{ "resource": { "attributes": [
        { "key": "steward.device.id", "value": { "stringValue": foreign.device_id } } ] },
        "scopeLogs": [{ "logRecords": [{ "body": { "stringValue": "leak" } }] }] }] });
    let (got, answer) = post(
        &admin,
        LOGS,
        Some(&token),
        "application/json",
        false,
        logs.to_string().into_bytes(),
    )
    .await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        series(&admin, &foreign.device_id, "stolen")
            .await
            .is_empty()
    );
    let (_, theirs) = admin
        .get(&format!(
            "/api/v1/devices/{}/metrics/pool.size?since=1h",
            foreign.device_id
        ))
        .await;
    assert!(theirs.as_array().is_none_or(|s| s.is_empty()), "{theirs}");

    // Revoked: refused at once.
    let id = created["id"].as_str().unwrap();
    tokio::task::block_in_place(|| server.cli_json(&["otlp-token", "revoke", id]));
    let body = json!({ "resourceMetrics": [gauge_json(&web.device_id, "pool.size", 14.0)] });
    let (got, answer) = post(
        &admin,
        METRICS,
        Some(&token),
        "application/json",
        false,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(got, StatusCode::UNAUTHORIZED, "{answer}");
    let pool = series(&admin, &web.device_id, "pool.size").await;
    assert_eq!(last(&pool[0]), 13.0, "{pool:?}");
}
