//! Robustness items of security review #13: every answer carries HSTS and
//! `nosniff`, the API's carry `no-store`; a caller bursting beyond its rate
//! gets 429 with Retry-After while other callers are still served, and
//! made-up tokens share their address's bucket.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, RETRY_AFTER, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// 2 requests a second, 10 at once.
const TIGHT: &[(&str, &str)] = &[("STEWARD_API_RATE_LIMIT", "2"), ("STEWARD_API_BURST", "10")];

fn api_of(server: &Server) -> Api {
    Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    )
}

/// The same client, connecting from another loopback address.
fn from_address(api: &Api, ca: &str, ip: &str) -> Api {
    let tls = steward_pki::client_config(ca, None).unwrap();
    Api {
        http: reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap(),
        ..api.clone()
    }
}

async fn get(api: &Api, path: &str) -> reqwest::Response {
    let mut request = api.http.get(format!("{}{path}", api.base));
    if let Some(token) = &api.bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_hsts_nosniff_and_api_answers_no_store() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = api_of(&server).with_token(&server.token);
    for path in [
        "/api/v1/whoami",
        "/api/v1/health",
        "/api/v1/no-such-route",
        "/",
        "/ca.pem",
    ] {
        let response = get(&api, path).await;
        let headers = response.headers();
        assert_eq!(
            headers
                .get(STRICT_TRANSPORT_SECURITY)
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
        assert_eq!(
            headers
                .get(X_CONTENT_TYPE_OPTIONS)
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
        let cache = headers
            .get(CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_string());
        if path.starts_with("/api/") {
            assert_eq!(cache.as_deref(), Some("no-store"), "{path}");
        } else {
            assert_ne!(
                cache.as_deref(),
                Some("no-store"),
                "{path}: assets may be cached"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_limit_gets_429_while_others_are_served() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch_with_env(root.path(), TIGHT));
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let anonymous = api_of(&server);
    let first = anonymous.with_token(&server.token);
    // A second caller (its own token), made before the burst and used once.
    let second = anonymous.with_token(&anonymous.token_for("admin", ADMIN_PASSWORD).await);
    for caller in [&first, &second] {
        assert_eq!(get(caller, "/api/v1/whoami").await.status(), StatusCode::OK);
    }

    // 30 calls at once from one caller: some are refused, politely.
    let burst = (0..30).map(|_| get(&first, "/api/v1/whoami"));
    let answers = futures_util::future::join_all(burst).await;
    let refused: Vec<&reqwest::Response> = answers
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(refused.len() >= 10, "{} of 30 refused", refused.len());
    let retry_after: u64 = refused[0].headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let last = answers
        .into_iter()
        .rev()
        .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS);
    let body: Value = last.unwrap().json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("too many requests"),
        "{body}"
    );

    // Others are still served: another token from the same address, an
    // unauthenticated caller from another address, and the probes.
    assert_eq!(
        get(&second, "/api/v1/whoami").await.status(),
        StatusCode::OK
    );
    let elsewhere = from_address(&anonymous, &ca, "127.0.0.3");
    assert_eq!(
        get(&elsewhere, "/api/v1/openapi.json").await.status(),
        StatusCode::OK
    );
    assert_eq!(get(&first, "/api/v1/health").await.status(), StatusCode::OK);
    // The refused caller is served again once its bucket refills.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&first, "/api/v1/whoami").await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the caller stayed refused");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Made-up tokens do not each get a bucket: they share their address's.
    let guesser = from_address(&anonymous, &ca, "127.0.0.4");
    let guesses = (0..30).map(|i| get_with(&guesser, format!("stw_guess{i}")));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses).await;
    assert!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count()
            >= 10,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| matches!(*s, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS))
    );
}

async fn get_with(api: &Api, token: String) -> StatusCode {
    get(&api.with_token(&token), "/api/v1/whoami")
        .await
        .status()
}
