//! The agent release and rollout routes (`api/agent_updates.rs`).

use super::schemas::*;
use serde_json::{Value, json};

fn release() -> Value {
    object(
        json!({
            "id": uuid(), "target": string(), "version": string(), "sha256": string(),
            "size": count(), "key_id": string(), "created_by": string(), "created_at": integer(),
        }),
        &[
            "id",
            "target",
            "version",
            "sha256",
            "size",
            "key_id",
            "created_by",
            "created_at",
        ],
    )
}

fn rollout(with_devices: bool) -> Value {
    let mut properties = json!({
        "id": uuid(), "org_id": uuid(), "release_id": uuid(),
        "target": nullable(string()), "version": nullable(string()),
        "pilot_tags": strings(), "ring_delay_ms": count(), "max_failures": count(),
        "state": one_of(&["active", "stopped", "done"]), "reason": string(),
        "created_by": string(), "created_at": integer(), "updated_at": integer(),
    });
    let mut required = vec![
        "id",
        "org_id",
        "release_id",
        "target",
        "version",
        "pilot_tags",
        "ring_delay_ms",
        "max_failures",
        "state",
        "reason",
        "created_by",
        "created_at",
        "updated_at",
    ];
    if with_devices {
        properties["devices"] = array(object(
            json!({
                "device_id": uuid(), "offered_at": nullable(integer()),
                "outcome": nullable(one_of(&["installing", "succeeded", "rolled_back", "refused", "failed", "unknown"])),
                "detail": string(), "answered_at": nullable(integer()),
            }),
            &[
                "device_id",
                "offered_at",
                "outcome",
                "detail",
                "answered_at",
            ],
        ));
        required.push("devices");
    }
    object(properties, &required)
}

pub fn response(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("GET", "/api/v1/agent-releases") => array(release()),
        ("POST", "/api/v1/agent-releases") => release(),
        ("GET", "/api/v1/agent-rollouts") => array(rollout(false)),
        ("POST", "/api/v1/agent-rollouts") | ("POST", "/api/v1/agent-rollouts/{id}/stop") => {
            rollout(false)
        }
        ("GET", "/api/v1/agent-rollouts/{id}") => rollout(true),
        _ => return None,
    })
}

pub fn request(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("POST", "/api/v1/agent-rollouts") => json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "org": { "type": "string", "description": "The organisation, by name (yours when omitted)." },
                "release": { "type": "string", "format": "uuid" },
                "target": { "type": "string" },
                "version": { "type": "string" },
                "pilot_tags": { "type": "array", "items": { "type": "string", "minLength": 1, "maxLength": 200 }, "maxItems": 100 },
                "ring_delay": { "type": "string", "description": "How long the rest waits after the pilot, e.g. 4h." },
                "max_failures": { "type": "integer", "minimum": 1, "maximum": 10000 },
            },
        }),
        _ => return None,
    })
}

/// The upload's description travels in its query; the body is the binary.
pub fn query_parameters(path: &str) -> Vec<Value> {
    if path != "/api/v1/agent-releases" {
        return Vec::new();
    }
    let q = |name: &str, text: &str| json!({ "name": name, "in": "query", "required": false, "description": format!("{text} (POST: required)"), "schema": { "type": "string" } });
    vec![
        q("target", "The target triple, e.g. x86_64-unknown-linux-gnu"),
        q("version", "The agent version"),
        q("sha256", "SHA-256 of the binary, hex, as signed"),
        q("key_id", "The release key's id"),
        q(
            "signature",
            "The Ed25519 signature (base64) from steward agent-release sign",
        ),
    ]
}

/// The upload's body: the agent binary itself.
pub fn octet_body() -> Value {
    json!({ "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } })
}
