//! Helpers of the object-life tests (`lifecycle.rs`, `objects.rs`): a
//! monitor every machine trips, alerts of a monitor, stored samples, and
//! polling with a deadline.
#![allow(dead_code)]

use super::api::Api;
use serde_json::{Value, json};
use std::time::Duration;

pub fn memory_above(trigger: f64) -> Value {
    json!({
        "kind": "threshold",
        "metric": "system.memory.utilization",
        "threshold": { "direction": "above", "critical": { "trigger": trigger, "clear": trigger / 2.0 }, "for_ms": 0 },
    })
}

pub async fn alerts_of(api: &Api, monitor: &str, query: &str) -> Vec<Value> {
    let (_, alerts) = api.get(&format!("/api/v1/alerts?{query}")).await;
    alerts
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["monitor_id"] == monitor)
        .collect()
}

/// How many samples of the series the metric path answers.
pub async fn samples(api: &Api, path: &str) -> usize {
    let (_, series) = api.get(path).await;
    series
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["samples"].as_array().map_or(0, Vec::len))
        .sum()
}

pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The detail (before, after, request, status) of the latest successful
/// call of `action` ("PATCH /api/v1/monitors/{id}") in the audit log.
pub async fn audited_change(api: &Api, action: &str) -> Value {
    let (_, audit) = api.get("/api/v1/audit?limit=500").await;
    audit
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == action)
        .map(|e| {
            serde_json::from_str(e["detail"].as_str().unwrap_or("null"))
                .unwrap_or(e["detail"].clone())
        })
        .find(|d: &Value| d["status"] == 200)
        .unwrap_or_else(|| panic!("no {action} done in {audit}"))
}

/// The body of a call that must answer 200.
pub fn ok((status, body): (reqwest::StatusCode, Value)) -> Value {
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    body
}
