//! The patching shapes: what the agent reports of pending updates and its
//! detection (inside `Inventory`), and the answers of the patching routes.

use super::schemas::*;
use serde_json::{Value, json};

fn repo_origin() -> Value {
    // Empty fields are left out.
    object(
        json!({ "origin": string(), "label": string(), "codename": string(), "archive": string(), "site": string() }),
        &[],
    )
}

fn pending_update() -> Value {
    object(
        json!({
            "name": string(), "current": string(), "available": string(), "security": boolean(),
            "rule": { "type": "string", "description": "Why it is a security update (label Debian-Security, archive jammy-security, dnf advisory RHSA-… severity Important, a security version hidden behind a newer candidate); left out when it is not one." },
            "arch": string(), "origin": reference("RepoOrigin"), "advisory": string(), "severity": string(),
        }),
        &["name", "current", "available", "security"],
    )
}

fn reboot_state() -> Value {
    object(
        json!({
            "required": { "type": ["boolean", "null"], "description": "null: nothing the agent could read tells." },
            "reasons": array(object(json!({ "source": one_of(&["flag_file", "kernel", "needrestart", "needs_restarting"]), "detail": string() }), &["source", "detail"])),
            "packages": strings(), "running_kernel": string(), "newest_kernel": string(),
        }),
        &[
            "required",
            "reasons",
            "packages",
            "running_kernel",
            "newest_kernel",
        ],
    )
}

fn patch_status() -> Value {
    object(
        json!({
            "manager": string(),
            "state": one_of(&["ok", "locked", "timed_out", "not_available", "failed", "unknown"]),
            "error": string(),
            "security_source": one_of(&["unknown", "origins", "advisories", "no_advisory_metadata"]),
            "checked_at": integer(), "duration_ms": count(), "truncated": count(),
            "reboot": reference("RebootState"), "services": strings(),
            "last_upgrade": nullable(integer()),
        }),
        &[
            "manager",
            "state",
            "error",
            "security_source",
            "checked_at",
            "duration_ms",
            "truncated",
            "reboot",
            "services",
            "last_upgrade",
        ],
    )
}

/// The kinds of object this module adds to `components/schemas`.
pub fn components() -> Vec<(&'static str, Value)> {
    vec![
        ("RepoOrigin", repo_origin()),
        ("PendingUpdate", pending_update()),
        ("RebootState", reboot_state()),
        ("PatchStatus", patch_status()),
    ]
}

fn tally(keys: Value, required: &[&str]) -> Value {
    let mut all = vec![
        "devices",
        "reporting",
        "compliant",
        "stale",
        "share",
        "reboot_required",
        "oldest_security_since",
    ];
    all.extend_from_slice(required);
    extend(
        object(
            json!({
                "devices": count(), "reporting": count(), "compliant": count(), "stale": count(), "share": nullable(number()),
                "reboot_required": count(), "oldest_security_since": nullable(integer()),
            }),
            &[],
        ),
        keys,
        &all,
    )
}

/// The 200 answers of the patching routes.
pub fn response(method: &str, path: &str) -> Option<Value> {
    if let Some(answer) = rule_response(method, path) {
        return Some(answer);
    }
    Some(match (method, path) {
        ("GET", "/api/v1/devices/{id}/updates") => {
            let update = extend(
                pending_update(),
                json!({ "first_seen": nullable(integer()), "security_since": nullable(integer()) }),
                &["first_seen", "security_since"],
            );
            object(
                json!({
                    "device_id": uuid(), "device_name": string(), "reported_at": nullable(integer()),
                    "pending": nullable(count()), "security": nullable(count()),
                    "updates": nullable(array(update)), "patching": nullable(reference("PatchStatus")),
                }),
                &[
                    "device_id",
                    "device_name",
                    "reported_at",
                    "pending",
                    "security",
                    "updates",
                    "patching",
                ],
            )
        }
        ("GET", "/api/v1/software") => object(
            json!({
                "name": string(), "below": nullable(string()), "truncated": boolean(),
                "devices": array(object(
                    json!({ "device_id": uuid(), "device_name": string(), "org_id": uuid(), "site": string(), "version": string(), "manager": string() }),
                    &["device_id", "device_name", "org_id", "site", "version", "manager"],
                )),
            }),
            &["name", "below", "devices", "truncated"],
        ),
        ("GET", "/api/v1/patching/compliance") => object(
            json!({
                "days": count(), "at": integer(), "total": tally(json!({}), &[]),
                "orgs": array(tally(json!({ "org_id": uuid() }), &["org_id"])),
                "sites": array(tally(json!({ "org_id": uuid(), "site": string() }), &["org_id", "site"])),
                "devices": array(object(
                    json!({
                        "device_id": uuid(), "device_name": string(), "org_id": uuid(), "site": string(),
                        "reported": boolean(), "updates_at": nullable(integer()), "stale": boolean(),
                        "pending": count(), "security_pending": count(),
                        "oldest_security_since": nullable(integer()), "compliant": nullable(boolean()),
                        "reboot_required": nullable(boolean()),
                    }),
                    &["device_id", "device_name", "org_id", "site", "reported", "updates_at", "stale", "pending", "security_pending", "oldest_security_since", "compliant", "reboot_required"],
                )),
            }),
            &["days", "at", "total", "orgs", "sites", "devices"],
        ),
        ("GET", "/api/v1/patching/compliance/history") => {
            let figures = |keys: Value, required: &[&str]| {
                let mut all = vec![
                    "day",
                    "devices",
                    "reporting",
                    "compliant",
                    "stale",
                    "reboot_required",
                    "share",
                ];
                all.extend_from_slice(required);
                extend(
                    object(
                        json!({
                            "day": { "type": "string", "format": "date" }, "devices": count(), "reporting": count(),
                            "compliant": count(), "stale": count(), "reboot_required": count(), "share": nullable(number()),
                        }),
                        &[],
                    ),
                    keys,
                    &all,
                )
            };
            object(
                json!({
                    "grace_days": count(),
                    "days": array(figures(json!({}), &[])),
                    "sites": array(figures(json!({ "org_id": uuid(), "site": string() }), &["org_id", "site"])),
                }),
                &["grace_days", "days", "sites"],
            )
        }
        _ => return None,
    })
}

/// Query parameters of the patching routes.
pub fn query_parameters(path: &str) -> Vec<Value> {
    let q = |name: &str, text: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": text, "schema": schema });
    let text = json!({ "type": "string", "minLength": 1, "maxLength": 256 });
    match path {
        "/api/v1/software" => vec![
            q(
                "name",
                "The package name, exactly (required).",
                text.clone(),
            ),
            q(
                "below",
                "Only versions ordering below this one by the package manager's rules.",
                text,
            ),
        ],
        "/api/v1/patching/compliance" | "/api/v1/patching/compliance.csv" => vec![q(
            "days",
            "A security update pending longer than this makes a device non-compliant (default 14).",
            json!({ "type": "integer", "minimum": 0, "maximum": 3650 }),
        )],
        "/api/v1/patching/compliance/history" => vec![q(
            "since_days",
            "Days recorded, today included (default 30).",
            json!({ "type": "integer", "minimum": 1, "maximum": 366 }),
        )],
        _ => Vec::new(),
    }
}

fn patch_scope() -> Value {
    json!({ "oneOf": [
        closed(json!({ "kind": { "const": "organisation" } }), &["kind"]),
        closed(json!({ "kind": { "const": "site" }, "site": string() }), &["kind", "site"]),
        closed(json!({ "kind": { "const": "tag" }, "tag": string() }), &["kind", "tag"]),
    ] })
}

/// A patch policy's fields (`steward_patch::Policy`).
fn policy_fields() -> Value {
    let window = closed(
        json!({ "days": { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 6 } }, "start_minute": { "type": "integer", "minimum": 0, "maximum": 1439 }, "duration_minutes": { "type": "integer", "minimum": 1, "maximum": 10080 } }),
        &["days", "start_minute", "duration_minutes"],
    );
    let days = json!({ "type": "integer", "minimum": 0, "maximum": 365 });
    closed(
        json!({
            "name": string(), "scope": patch_scope(),
            "install": one_of(&["security", "all", "approval"]),
            "deferral_days": days.clone(), "pilot_tags": strings(), "ring_delay_days": days,
            "window": window, "catch_up": one_of(&["next_window", "at_once"]),
            "reboot": one_of(&["never", "when_required", "always"]),
            "timezone": { "type": "string", "description": "IANA zone for devices that report none (default UTC)." },
            "approved": array(closed(json!({ "name": string(), "version": string() }), &["name", "version"])),
            "reboot_grace_minutes": { "type": "integer", "minimum": 0, "maximum": 120, "description": "Minutes between the notice to logged-in users and the restart (default 5)." },
        }),
        &["name", "scope", "install", "window", "reboot"],
    )
}

fn hold_fields() -> Value {
    closed(
        json!({ "package": string(), "version": string(), "scope": patch_scope(), "reason": string() }),
        &["package", "scope", "reason"],
    )
}

/// A stored policy or hold: the record, its definition and `fields`.
fn patch_rule(definition: Value, fields: Value) -> Value {
    let record = object(
        json!({
            "id": uuid(), "org_id": uuid(), "kind": one_of(&["policy", "hold"]), "definition": definition,
            "created_by": string(), "created_at": integer(), "version": integer(),
        }),
        &[
            "id",
            "org_id",
            "kind",
            "definition",
            "created_by",
            "created_at",
            "version",
        ],
    );
    with_fields(record, fields)
}

fn policy() -> Value {
    let mut definition = policy_fields();
    definition["required"] = json!([
        "name",
        "scope",
        "install",
        "deferral_days",
        "pilot_tags",
        "ring_delay_days",
        "window",
        "catch_up",
        "reboot",
        "timezone",
        "approved"
    ]);
    patch_rule(definition, policy_fields())
}

fn hold() -> Value {
    let definition = extend(
        hold_fields(),
        json!({ "set_by": string(), "set_at": integer() }),
        &["set_by", "set_at"],
    );
    patch_rule(definition, hold_fields())
}

/// The request bodies of the patch policy and hold routes (a create takes
/// `org`, an organisation's name; a PATCH the fields to change).
pub fn request(method: &str, path: &str) -> Option<Value> {
    let org = json!({ "org": string() });
    let new_policy = extend(policy_fields(), org.clone(), &[]);
    let new_hold = extend(hold_fields(), org, &[]);
    let mut new_hold_create = new_hold.clone();
    new_hold_create["required"] = json!(["package", "reason"]);
    Some(match (method, path) {
        ("POST", "/api/v1/patching/policies") => new_policy,
        ("PATCH", "/api/v1/patching/policies/{id}") => optional(&new_policy),
        ("POST", "/api/v1/patching/holds") => new_hold_create,
        ("PATCH", "/api/v1/patching/holds/{id}") => optional(&new_hold),
        _ => return None,
    })
}

/// The 200 answers of the patch policy and hold routes.
pub fn rule_response(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("GET", "/api/v1/patching/policies") => array(policy()),
        ("POST", "/api/v1/patching/policies")
        | ("GET", "/api/v1/patching/policies/{id}")
        | ("PATCH", "/api/v1/patching/policies/{id}") => policy(),
        ("GET", "/api/v1/patching/holds") => array(hold()),
        ("POST", "/api/v1/patching/holds")
        | ("GET", "/api/v1/patching/holds/{id}")
        | ("PATCH", "/api/v1/patching/holds/{id}") => hold(),
        ("GET", "/api/v1/devices/{id}/patch-plan") => {
            let package = object(
                json!({ "name": string(), "version": string() }),
                &["name", "version"],
            );
            let incident = object(
                json!({ "device": string(), "at": integer(), "kind": one_of(&["critical_alert", "failed_update"]), "subject": string(), "package": string() }),
                &["device", "at", "kind"],
            );
            let waiting = object(
                json!({
                    "name": string(), "version": string(),
                    "kind": one_of(&["no_policy", "held", "not_security", "needs_approval", "deferred", "pilot_ring", "pilot_empty", "pilot_unhealthy", "outside_window"]),
                    "reason": string(), "set_by": string(), "held_version": string(),
                    "until": integer(), "next": integer(), "incident": incident,
                }),
                &["name", "version", "kind"],
            );
            object(
                json!({
                    "device_id": uuid(), "policy": nullable(string()), "window_open": boolean(),
                    "install": array(package), "waiting": array(waiting),
                    "reboot": one_of(&["no", "if_required", "yes", "deferred"]),
                }),
                &[
                    "device_id",
                    "policy",
                    "window_open",
                    "install",
                    "waiting",
                    "reboot",
                ],
            )
        }
        ("DELETE", "/api/v1/patching/policies/{id}")
        | ("DELETE", "/api/v1/patching/holds/{id}") => {
            object(json!({ "deleted": uuid() }), &["deleted"])
        }
        _ => return None,
    })
}
