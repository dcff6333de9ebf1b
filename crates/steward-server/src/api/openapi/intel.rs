//! The answers and query parameters of the intelligence routes
//! (`api/insight.rs`).

use super::schemas::*;
use serde_json::{Value, json};

const INSIGHT: &str = "/api/v1/devices/{id}/metrics/{name}/insight";

pub fn query_parameters(path: &str) -> Vec<Value> {
    let q = |name: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "schema": schema });
    match path {
        "/api/v1/capacity" => vec![q("within", json!({ "enum": ["7d", "30d", "90d"] }))],
        INSIGHT => vec![
            q("since", json!({ "type": "string" })),
            q(
                "points",
                json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u32 }),
            ),
            q("horizon", json!({ "type": "string" })),
            q("threshold", json!({ "type": "number" })),
        ],
        _ => Vec::new(),
    }
}

fn tuple(items: &[Value]) -> Value {
    json!({ "type": "array", "prefixItems": items, "items": false, "minItems": items.len() })
}

pub fn response(method: &str, path: &str) -> Option<Value> {
    let int = || nullable(integer());
    Some(match (method, path) {
        ("GET", INSIGHT) => array(object(
            json!({
                "name": string(), "labels": string_map(),
                "bands": {
                    "type": "array",
                    "description": "[milliseconds since the epoch, low, high]: the range the anomaly detector expected.",
                    "items": tuple(&[integer(), number(), number()]),
                },
                "anomalies": array(object(
                    json!({
                        "at": integer(), "value": number(), "score": number(),
                        "explanation": nullable(one_of(&["spike", "level_shift", "trend_change", "variance_change", "broken_daily_pattern", "broken_weekly_pattern"])),
                    }),
                    &["at", "value", "score", "explanation"],
                )),
                "projection": nullable(object(
                    json!({
                        "season": one_of(&["none", "daily", "weekly"]),
                        "rate_per_day": number(), "rate_low_per_day": number(), "rate_high_per_day": number(),
                        "growing": { "type": "boolean" }, "threshold": nullable(number()),
                        "time_to_threshold_ms": int(), "soonest_ms": int(), "latest_ms": int(),
                        "points": {
                            "type": "array",
                            "description": "[milliseconds since the epoch, value, low, high] from the last sample on.",
                            "items": tuple(&[integer(), number(), number(), number()]),
                        },
                    }),
                    &["season", "rate_per_day", "rate_low_per_day", "rate_high_per_day", "growing", "threshold", "time_to_threshold_ms", "soonest_ms", "latest_ms", "points"],
                )),
            }),
            &["name", "labels", "bands", "anomalies", "projection"],
        )),
        ("GET", "/api/v1/fleet/outliers") => array(object(
            json!({
                "id": string(), "device_id": uuid(), "device_name": string(),
                "group": { "type": "string", "description": "tag:NAME or os:NAME" },
                "measure": one_of(&["cpu", "memory", "disk"]),
                "value": number(), "peer_median": number(),
                "distance": { "type": "number", "description": "(value − the peers' median) / (1.4826 × their median absolute deviation, at least 0.02)" },
                "peers": count(),
            }),
            &[
                "id",
                "device_id",
                "device_name",
                "group",
                "measure",
                "value",
                "peer_median",
                "distance",
                "peers",
            ],
        )),
        ("GET", "/api/v1/capacity") => object(
            json!({
                "within_ms": integer(), "level": number(), "considered": count(), "skipped": count(),
                "items": array(object(
                    json!({
                        "device_id": uuid(), "device_name": string(), "metric": string(), "labels": string_map(),
                        "eta_ms": integer(), "soonest_ms": int(), "latest_ms": int(),
                        "level": number(), "rate_per_day": number(),
                    }),
                    &["device_id", "device_name", "metric", "labels", "eta_ms", "soonest_ms", "latest_ms", "level", "rate_per_day"],
                )),
            }),
            &["within_ms", "level", "considered", "skipped", "items"],
        ),
        _ => return None,
    })
}
