//! A webhook receiver on loopback for notification tests: keeps each body
//! and whether its `X-Steward-Signature` matched `secret`.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::sync::{Arc, Mutex};

pub type Received = Arc<Mutex<Vec<(Value, bool)>>>;

pub async fn receiver(secret: &str) -> (String, Received) {
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
                sink.lock()
                    .unwrap()
                    .push((serde_json::from_slice(&body).unwrap_or(Value::Null), signed));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}
