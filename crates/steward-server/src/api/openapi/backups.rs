//! The answers of the backup routes (`api/backups.rs`).

use super::schemas::*;
use serde_json::{Value, json};

fn result() -> Value {
    one_of(&["ok", "warning", "failed", "unknown"])
}

fn tally(mut properties: Value, required: &[&str]) -> Value {
    properties["ok"] = count();
    properties["warning"] = count();
    properties["failed"] = count();
    properties["success_rate"] = json!({
        "type": ["number", "null"], "minimum": 0, "maximum": 1,
        "description": "(ok + warning) / (ok + warning + failed); null without outcomes.",
    });
    let mut all = required.to_vec();
    all.extend(["ok", "warning", "failed", "success_rate"]);
    object(properties, &all)
}

pub fn response(method: &str, path: &str) -> Option<Value> {
    let int = || nullable(integer());
    Some(match (method, path) {
        ("GET", "/api/v1/devices/{id}/backups") => object(
            json!({
                "device_id": uuid(),
                "jobs": array(object(
                    json!({
                        "device_id": uuid(), "name": string(),
                        "source": one_of(&["restic", "borg", "systemd", "freshness", "script", "other"]),
                        "last_run_ms": int(), "result": result(), "reason": string(),
                        "duration_ms": int(), "size_bytes": int(), "file_count": int(),
                        "newest_good_ms": int(), "max_age_hours": int(),
                        "restore_test": nullable(object(
                            json!({
                                "at_ms": integer(), "result": result(), "reason": string(), "snapshot": string(),
                                "files_restored": count(), "files_compared": count(), "duration_ms": integer(),
                            }),
                            &["at_ms", "result", "reason", "snapshot", "files_restored", "files_compared", "duration_ms"],
                        )),
                        "updated_at": integer(),
                    }),
                    &["device_id", "name", "source", "last_run_ms", "result", "reason", "duration_ms", "size_bytes",
                      "file_count", "newest_good_ms", "max_age_hours", "restore_test", "updated_at"],
                )),
                "runs": array(object(
                    json!({
                        "device_id": uuid(), "job": string(), "kind": one_of(&["backup", "restore_test"]),
                        "run_at": integer(), "result": result(), "reason": string(),
                        "duration_ms": int(), "size_bytes": int(), "file_count": int(),
                    }),
                    &["device_id", "job", "kind", "run_at", "result", "reason", "duration_ms", "size_bytes", "file_count"],
                )),
            }),
            &["device_id", "jobs", "runs"],
        ),
        ("GET", "/api/v1/backups/summary") => object(
            json!({
                "since": integer(), "until": integer(),
                "devices": array(tally(json!({ "device_id": uuid(), "name": string(), "org_id": uuid(), "site": string() }), &["device_id", "name", "org_id", "site"])),
                "sites": array(tally(json!({ "org_id": uuid(), "site": string() }), &["org_id", "site"])),
                "orgs": array(tally(json!({ "org_id": uuid() }), &["org_id"])),
            }),
            &["since", "until", "devices", "sites", "orgs"],
        ),
        _ => return None,
    })
}
