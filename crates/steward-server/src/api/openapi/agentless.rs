//! What the agentless device routes (`api/agentless.rs`) take and answer.

use super::schemas::*;
use serde_json::{Value, json};

const CATEGORIES: &[&str] = crate::api::agentless::CATEGORIES;

fn probe() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "device_id": uuid(), "name": string(), "url": string(),
            "created_by": string(), "created_at": integer(),
        }),
        &[
            "id",
            "org_id",
            "device_id",
            "name",
            "url",
            "created_by",
            "created_at",
        ],
    )
}

fn agentless() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "site": string(), "name": string(),
            "kind": one_of(&["agentless"]), "category": nullable(string()),
            "address": nullable(string()), "probe_agent": nullable(uuid()),
            "status": one_of(&["online", "offline", "unknown"]),
            "status_since": nullable(integer()), "last_seen": nullable(integer()),
            "probes": array(probe()),
        }),
        &[
            "id",
            "org_id",
            "site",
            "name",
            "kind",
            "category",
            "address",
            "probe_agent",
            "status",
            "status_since",
            "last_seen",
            "probes",
        ],
    )
}

pub fn response(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("GET", "/api/v1/agentless-devices") => array(agentless()),
        ("POST", "/api/v1/agentless-devices")
        | ("GET", "/api/v1/agentless-devices/{id}")
        | ("PATCH", "/api/v1/agentless-devices/{id}") => agentless(),
        ("DELETE", "/api/v1/agentless-devices/{id}") => {
            object(json!({ "retired": uuid() }), &["retired"])
        }
        ("GET", "/api/v1/agentless-devices/{id}/probes") => array(probe()),
        ("POST", "/api/v1/agentless-devices/{id}/probes") => probe(),
        ("DELETE", "/api/v1/agentless-devices/{id}/probes/{probe}") => {
            object(json!({ "deleted": uuid() }), &["deleted"])
        }
        _ => return None,
    })
}

pub fn request(method: &str, path: &str) -> Option<Value> {
    let name = json!({ "type": "string", "minLength": 1, "maxLength": 64 });
    let address = json!({ "type": "string", "pattern": "^[A-Za-z0-9._:-]{1,253}$" });
    Some(match (method, path) {
        ("POST", "/api/v1/agentless-devices") => closed(
            json!({
                "name": name, "category": one_of(CATEGORIES), "address": address,
                "probe_agent": uuid(), "site": nullable(string()),
            }),
            &["name", "category", "address", "probe_agent"],
        ),
        ("PATCH", "/api/v1/agentless-devices/{id}") => closed(
            json!({
                "name": nullable(name), "category": nullable(one_of(CATEGORIES)),
                "address": nullable(address), "probe_agent": nullable(uuid()),
            }),
            &[],
        ),
        ("POST", "/api/v1/agentless-devices/{id}/probes") => closed(
            json!({
                "name": { "type": "string", "pattern": "^[a-z][a-z0-9_.]{0,47}$" },
                "url": { "type": "string", "minLength": 1, "maxLength": 512, "description": "tcp://HOST:PORT, tls://, http(s)://HOST[:PORT]/PATH?status=&match=&redirects=, smtp://, imap:// (STARTTLS), smtps://, imaps://, snmp://HOST?community=&oids= ; options timeout=, warn_days=, crit_days=, verify=, servername=. No ca= (a file on the agent)." },
            }),
            &["name", "url"],
        ),
        _ => return None,
    })
}
