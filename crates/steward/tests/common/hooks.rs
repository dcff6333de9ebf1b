//! A webhook receiver on loopback for notification tests: keeps each body
//! and whether its `X-Steward-Signature` matched `secret`.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::sync::{Arc, Mutex};

pub type Received = Arc<Mutex<Vec<(Value, bool)>>>;

/// A receiver of alert notifications: the incident events the same
/// channels carry (`kind: incident`, see docs/incident-webhooks.md) are
/// left out, for tests that count what alerting sends.
pub async fn receiver(secret: &str) -> (String, Received) {
    listen(secret, false).await
}

/// A receiver of everything a channel sends, incident events included.
pub async fn receiver_all(secret: &str) -> (String, Received) {
    listen(secret, true).await
}

async fn listen(secret: &str, incidents: bool) -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let secret = secret.to_string();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (sink, secret) = (sink.clone(), secret.clone());
            async move {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(&body);
                let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                let signed = headers
                    .get("x-steward-signature")
                    .and_then(|v| v.to_str().ok())
                    == Some(expected.as_str());
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if incidents || body["kind"] != "incident" {
                    sink.lock().unwrap().push((body, signed));
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}
