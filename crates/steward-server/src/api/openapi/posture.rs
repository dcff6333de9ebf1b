//! The answers of the posture routes (`api/posture.rs`).

use super::schemas::*;
use serde_json::{Value, json};

fn check() -> Value {
    object(
        json!({
            "id": string(), "title": string(),
            "status": one_of(&["pass", "fail", "not_applicable"]),
            "reason": string(), "fix": string(),
            "weight": { "type": "integer", "minimum": 1, "maximum": 10 },
        }),
        &["id", "title", "status", "reason", "fix", "weight"],
    )
}

fn score() -> Value {
    nullable(json!({ "type": "number", "minimum": 0, "maximum": 100 }))
}

pub fn response(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("GET", "/api/v1/devices/{id}/posture") => object(
            json!({
                "device_id": uuid(),
                "score": score(),
                "updated_at": nullable(integer()),
                "failing": array(check()),
                "checks": array(check()),
                "ports": array(object(
                    json!({ "proto": string(), "address": string(), "port": count(), "process": string() }),
                    &["proto", "address", "port", "process"],
                )),
                "admins": array(object(json!({ "group": string(), "user": string() }), &["group", "user"])),
                "files": array(object(
                    json!({
                        "path": string(), "sha256": string(), "uid": count(), "gid": count(),
                        "mode": count(), "size": count(), "error": string(),
                    }),
                    &["path", "sha256", "uid", "gid", "mode", "size", "error"],
                )),
                "changes": array(object(
                    json!({
                        "at_ms": integer(),
                        "kind": one_of(&["port_opened", "port_closed", "admin_added", "admin_removed", "file_changed", "file_added", "file_removed"]),
                        "subject": string(), "before": string(), "after": string(),
                    }),
                    &["at_ms", "kind", "subject", "before", "after"],
                )),
                "unusual_logins": array(object(
                    json!({ "at_ms": integer(), "user": string(), "address": string(), "service": string(), "why": string() }),
                    &["at_ms", "user", "address", "service", "why"],
                )),
                "recent_failed_logins": count(),
                "logins_dropped": count(),
            }),
            &[
                "device_id",
                "score",
                "updated_at",
                "failing",
                "checks",
                "ports",
                "admins",
                "files",
                "changes",
                "unusual_logins",
                "recent_failed_logins",
                "logins_dropped",
            ],
        ),
        ("GET", "/api/v1/posture") => object(
            json!({
                "devices": count(),
                "mean_score": score(),
                "worst": array(object(
                    json!({
                        "device_id": uuid(), "name": string(), "site": string(), "score": score(),
                        "failing": count(), "updated_at": integer(),
                    }),
                    &["device_id", "name", "site", "score", "failing", "updated_at"],
                )),
                "most_failed": array(object(
                    json!({ "id": string(), "title": string(), "fix": string(), "devices": count() }),
                    &["id", "title", "fix", "devices"],
                )),
            }),
            &["devices", "mean_score", "worst", "most_failed"],
        ),
        _ => return None,
    })
}
