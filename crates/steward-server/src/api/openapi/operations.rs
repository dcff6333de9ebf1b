//! What each operation takes (request body) and answers (its 200 body),
//! by method and route. `openapi::tests` fails on an operation missing here.

use super::schemas::*;
use serde_json::{Value, json};

/// `{"KEY": <uuid>}` and more fields: the small answers of actions.
fn done(key: &str, more: Value, required: &[&str]) -> Value {
    let mut all = vec![key];
    all.extend_from_slice(required);
    extend(object(json!({ key: uuid() }), &[]), more, &all)
}

/// A record with its `fields` view added (`lifecycle::with_fields`).
fn fielded(record: &str, fields: Value) -> Value {
    let mut schema = components()[record].clone();
    schema["properties"]["fields"] = fields;
    if let Some(required) = schema["required"].as_array_mut() {
        required.push(json!("fields"));
    }
    schema
}

/// "editable": true on what the caller may change (monitors, channels).
fn editable(schema: Value) -> Value {
    extend(schema, json!({ "editable": { "const": true } }), &[])
}

/// Why an organisation-wide object is read-only for a site-limited reader.
fn read_only(properties: Value, required: &[&str]) -> Value {
    let mut all = required.to_vec();
    all.extend(["editable", "note"]);
    extend(
        object(properties, &[]),
        json!({ "editable": { "const": false }, "note": string() }),
        &all,
    )
}

/// A monitor as the caller reads it: whole (with its fields) where they
/// may change it, else what it watches and who may change it.
fn readable_monitor() -> Value {
    json!({ "oneOf": [
        editable(components()["Monitor"].clone()),
        read_only(
            json!({
                "id": uuid(), "org_id": uuid(), "name": string(), "enabled": boolean(), "version": integer(),
                "definition": object(json!({ "spec": reference("MonitorSpec"), "applies_to": reference("Matcher"), "exclude": reference("Matcher"), "remediation": reference("Remediation") }), &["spec"]),
            }),
            &["id", "org_id", "name", "definition", "enabled", "version"],
        ),
    ] })
}

/// A channel as the caller reads it: whole where they may change it, else
/// that it exists and what it sends, never where.
fn readable_channel(whole: Value) -> Value {
    json!({ "oneOf": [
        editable(whole),
        read_only(
            json!({
                "id": uuid(), "org_id": uuid(), "name": string(), "kind": string(),
                "min_severity": string(), "tags": strings(), "enabled": boolean(),
                "pending": count(), "version": integer(),
            }),
            &["id", "org_id", "name", "kind", "min_severity", "tags", "enabled", "pending", "version"],
        ),
    ] })
}

/// The 200 answer of an operation; `None` for a route this table does not
/// know (a test refuses that).
pub fn response(method: &str, path: &str) -> Option<Value> {
    let r = reference;
    let job = || {
        let mut job = components()["Job"].clone();
        job["properties"]["action"] = json!({ "description": "The action every run carries (an upload without its content: its size in bytes)." });
        job
    };
    let monitor = || warned(components()["Monitor"].clone());
    let channel = || fielded("Channel", channel_fields());
    let schedule = || fielded("Schedule", schedule_fields());
    let script = || fielded("Script", r("ScriptDef"));
    let role = || {
        // An organisation's own role also shows `fields` (built-in ones are fixed).
        let mut role = components()["Role"].clone();
        role["properties"]["fields"] = object(
            json!({ "name": string(), "permissions": strings() }),
            &["name", "permissions"],
        );
        role
    };
    Some(match (method, path) {
        ("GET", "/api/v1/health") => object(
            json!({ "status": one_of(&["ok"]), "version": string() }),
            &["status", "version"],
        ),
        ("GET", "/api/v1/ready") => object(json!({ "ready": boolean() }), &["ready"]),
        ("GET", "/api/v1/openapi.json") => object(
            json!({ "openapi": string(), "info": json!({ "type": "object" }), "paths": json!({ "type": "object" }), "security": json!({ "type": "array" }), "components": json!({ "type": "object" }) }),
            &["openapi", "info", "paths"],
        ),
        ("POST", "/api/v1/login") => object(
            json!({ "username": string(), "mfa_setup_required": boolean() }),
            &["username", "mfa_setup_required"],
        ),
        ("POST", "/api/v1/logout") => object(json!({ "signed_out": boolean() }), &["signed_out"]),
        ("GET", "/api/v1/whoami") => object(
            json!({
                "user_id": uuid(), "username": string(), "org_id": uuid(), "org_name": string(),
                // Where each permission is held: {"monitors.manage": {"whole_org": false, "sites": ["hq"]}}.
                "permissions": { "type": "object", "additionalProperties": object(json!({ "whole_org": boolean(), "sites": strings() }), &["whole_org", "sites"]) },
                "grants": array(r("Grant")), "mfa_done": boolean(), "totp_enabled": nullable(boolean()),
            }),
            &[
                "user_id",
                "username",
                "org_id",
                "org_name",
                "permissions",
                "grants",
                "mfa_done",
                "totp_enabled",
            ],
        ),
        ("POST", "/api/v1/me/totp/setup") => object(
            json!({ "secret": string(), "otpauth_url": string(), "qr": json!({ "type": "string", "description": "A data: URL of the QR code image." }) }),
            &["secret", "otpauth_url", "qr"],
        ),
        ("POST", "/api/v1/me/totp/enable") => object(
            json!({ "enabled": boolean(), "recovery_codes": strings() }),
            &["enabled", "recovery_codes"],
        ),
        ("GET", "/api/v1/tokens") => array(r("ApiToken")),
        ("POST", "/api/v1/tokens") => object(
            json!({ "id": uuid(), "token": string(), "expires_at": nullable(integer()) }),
            &["id", "token", "expires_at"],
        ),
        ("GET", "/api/v1/tokens/{id}") => r("ApiToken"),
        ("DELETE", "/api/v1/tokens/{id}")
        | ("DELETE", "/api/v1/enroll-tokens/{id}")
        | ("DELETE", "/api/v1/monitors/{id}")
        | ("POST", "/api/v1/monitors/{id}/delete")
        | ("DELETE", "/api/v1/maintenance/{id}")
        | ("DELETE", "/api/v1/silences/{id}")
        | ("DELETE", "/api/v1/scripts/{id}")
        | ("POST", "/api/v1/scripts/{id}/delete")
        | ("DELETE", "/api/v1/schedules/{id}")
        | ("POST", "/api/v1/schedules/{id}/delete") => done("deleted", json!({}), &[]),
        ("POST", "/api/v1/tokens/{id}/revoke")
        | ("POST", "/api/v1/enroll-tokens/{id}/revoke")
        | ("POST", "/api/v1/devices/{id}/revoke") => done("revoked", json!({}), &[]),
        ("GET", "/api/v1/devices") => array(r("DeviceSummary")),
        ("GET", "/api/v1/fleet/devices") => object(
            json!({
                "total": count(),
                "items": array(extend(components()["DeviceSummary"].clone(), json!({ "open_alerts": count() }), &["open_alerts"])),
            }),
            &["total", "items"],
        ),
        ("GET", "/api/v1/fleet/summary") => object(
            json!({
                "at": integer(), "counts": r("FleetCounts"),
                "history": array(extend(components()["FleetCounts"].clone(), json!({ "day": json!({ "type": "integer", "description": "Days since 1970-01-01 (UTC)." }) }), &["day"])),
                "connected": count(),
            }),
            &["at", "counts", "history", "connected"],
        ),
        ("POST", "/api/v1/devices/tags") => object(json!({ "changed": count() }), &["changed"]),
        ("GET", "/api/v1/devices/{id}") => r("Device"),
        // A device moved out of the caller's reach (a site-limited scope)
        // answers only what was changed.
        ("PATCH", "/api/v1/devices/{id}") => json!({ "anyOf": [
            r("Device"),
            object(json!({ "id": uuid(), "name": string(), "site": string(), "version": integer() }), &["id", "name", "site", "version"]),
        ] }),
        ("GET", "/api/v1/devices/{id}/runs") => array(r("Run")),
        ("GET", "/api/v1/devices/{id}/checks") => array(object(
            json!({
                "name": string(), "state": one_of(&["ok", "warning", "critical", "unknown"]),
                "message": string(), "long_output": string(), "perfdata": any(), "at": integer(),
            }),
            &["name", "state", "message", "long_output", "perfdata", "at"],
        )),
        ("GET", "/api/v1/devices/{id}/backups") | ("GET", "/api/v1/backups/summary") => {
            return super::backups::response(method, path);
        }
        ("GET", "/api/v1/devices/{id}/aging") | ("GET", "/api/v1/aging") => {
            return super::aging::response(method, path);
        }
        ("GET", "/api/v1/devices/{id}/posture") | ("GET", "/api/v1/posture") => {
            return super::posture::response(method, path);
        }
        ("GET", "/api/v1/devices/{id}/status-history") => array(object(
            json!({ "device_id": uuid(), "from": one_of(&["online", "offline", "unknown"]), "to": one_of(&["online", "offline", "unknown"]), "at": integer() }),
            &["device_id", "from", "to", "at"],
        )),
        ("GET", "/api/v1/devices/{id}/metrics/{name}") => array(object(
            json!({
                "name": string(), "labels": string_map(),
                "samples": {
                    "type": "array",
                    "description": "[milliseconds since the epoch, value] in time order.",
                    "items": { "type": "array", "prefixItems": [integer(), number()], "items": false, "minItems": 2 },
                },
            }),
            &["name", "labels", "samples"],
        )),
        ("DELETE", "/api/v1/devices/{id}") => done("retired", json!({}), &[]),
        ("POST", "/api/v1/devices/{id}/upstream") => object(
            json!({ "device": uuid(), "upstream": nullable(string()) }),
            &["device", "upstream"],
        ),
        ("POST", "/api/v1/devices/{id}/rotate") => done(
            "rotation_requested",
            json!({ "via": json!({ "const": "bus", "description": "Handed to the replica the device is connected to." }) }),
            &[],
        ),
        ("GET", "/api/v1/enroll-tokens") => array(r("EnrollToken")),
        ("POST", "/api/v1/enroll-tokens") => object(
            json!({
                "id": uuid(), "token": string(), "org_id": uuid(), "site": string(),
                "tags": strings(), "expires_at": integer(), "uses_left": nullable(count()),
                "install_command": string(), "installer_command": string(),
            }),
            &[
                "id",
                "token",
                "org_id",
                "site",
                "tags",
                "expires_at",
                "uses_left",
                "install_command",
                "installer_command",
            ],
        ),
        ("GET", "/api/v1/enroll-tokens/{id}") => r("EnrollToken"),
        ("GET", "/api/v1/orgs") => array(r("Org")),
        ("POST", "/api/v1/orgs")
        | ("GET", "/api/v1/orgs/{id}")
        | ("PATCH", "/api/v1/orgs/{id}") => r("Org"),
        ("POST", "/api/v1/orgs/{id}/require-totp") => object(
            json!({ "org_id": uuid(), "require_totp": boolean() }),
            &["org_id", "require_totp"],
        ),
        ("DELETE", "/api/v1/orgs/{id}") => done("deleted", json!({ "name": string() }), &["name"]),
        ("GET", "/api/v1/users") => array(r("User")),
        ("POST", "/api/v1/users") => object(
            json!({ "id": uuid(), "username": string(), "org_id": uuid(), "role": string(), "site": nullable(string()), "full_name": nullable(string()), "email": nullable(string()) }),
            &[
                "id",
                "username",
                "org_id",
                "role",
                "site",
                "full_name",
                "email",
            ],
        ),
        ("POST", "/api/v1/users/{id}/grants") => object(
            json!({ "user_id": uuid(), "role": string(), "org_id": uuid(), "site": nullable(string()), "deny": boolean() }),
            &["user_id", "role", "org_id", "site", "deny"],
        ),
        ("GET", "/api/v1/users/{id}") => extend(
            components()["User"].clone(),
            json!({ "grants": array(r("Grant")) }),
            &["grants"],
        ),
        ("PATCH", "/api/v1/users/{id}") => object(
            json!({ "id": uuid(), "username": string(), "disabled": boolean(), "full_name": nullable(string()), "email": nullable(string()), "version": integer() }),
            &[
                "id",
                "username",
                "disabled",
                "full_name",
                "email",
                "version",
            ],
        ),
        ("DELETE", "/api/v1/users/{id}") => {
            done("deleted", json!({ "username": string() }), &["username"])
        }
        ("DELETE", "/api/v1/users/{id}/grants/{grant}") => {
            done("revoked", json!({ "user_id": uuid() }), &["user_id"])
        }
        ("GET", "/api/v1/users/{id}/grants") => array(r("Grant")),
        ("GET", "/api/v1/users/{id}/grants/{grant}")
        | ("PATCH", "/api/v1/users/{id}/grants/{grant}") => r("Grant"),
        ("POST", "/api/v1/me/password") => object(
            json!({ "changed": boolean(), "other_sessions_ended": boolean() }),
            &["changed", "other_sessions_ended"],
        ),
        ("GET", "/api/v1/sites") => array(object(
            json!({ "org_id": uuid(), "name": string(), "devices": count(), "enroll_tokens": count(), "grants": count() }),
            &["org_id", "name", "devices", "enroll_tokens", "grants"],
        )),
        ("PATCH", "/api/v1/orgs/{id}/sites/{site}") => object(
            json!({ "org_id": uuid(), "from": string(), "name": string(), "rows": count(), "devices": count(), "definitions": strings() }),
            &["org_id", "from", "name", "rows", "devices", "definitions"],
        ),
        ("GET", "/api/v1/agent-binary") => object(
            json!({ "available": boolean(), "error": string(), "file": string(), "bytes": count(), "sha256": string(), "os": string(), "arch": string(), "version": string() }),
            &["available"],
        ),
        // Served as application/octet-stream (openapi/mod.rs says so).
        ("GET", "/api/v1/agent-binary/download") => json!({ "type": "string", "format": "binary" }),
        ("GET", "/api/v1/roles") => array(role()),
        ("POST", "/api/v1/roles")
        | ("GET", "/api/v1/roles/{id}")
        | ("PATCH", "/api/v1/roles/{id}") => r("Role"),
        ("DELETE", "/api/v1/roles/{id}") => object(json!({ "deleted": string() }), &["deleted"]),
        ("GET", "/api/v1/monitors") => array(readable_monitor()),
        ("POST", "/api/v1/monitors") => warned(object(
            json!({
                "id": uuid(), "monitor": components()["Monitor"]["properties"]["definition"].clone(),
                "enabled": boolean(), "version": integer(),
            }),
            &["id", "monitor", "enabled", "version"],
        )),
        ("GET", "/api/v1/monitors/{id}") => readable_monitor(),
        ("PATCH", "/api/v1/monitors/{id}") => editable(monitor()),
        ("GET", "/api/v1/channels") => array(readable_channel(channel())),
        ("POST", "/api/v1/channels") => r("Channel"),
        ("GET", "/api/v1/channels/{id}") => readable_channel(channel()),
        ("PATCH", "/api/v1/channels/{id}") => editable(channel()),
        ("DELETE", "/api/v1/channels/{id}") => done(
            "deleted",
            json!({ "dropped_notifications": count() }),
            &["dropped_notifications"],
        ),
        ("POST", "/api/v1/channels/{id}/test") => object(
            json!({ "delivered": boolean(), "error": string() }),
            &["delivered"],
        ),
        ("GET", "/api/v1/maintenance") => array(r("Maintenance")),
        ("POST", "/api/v1/maintenance")
        | ("GET", "/api/v1/maintenance/{id}")
        | ("PATCH", "/api/v1/maintenance/{id}") => r("Maintenance"),
        ("GET", "/api/v1/silences") => array(r("Silence")),
        ("POST", "/api/v1/silences")
        | ("GET", "/api/v1/silences/{id}")
        | ("PATCH", "/api/v1/silences/{id}") => r("Silence"),
        ("GET", "/api/v1/alerts/suppressed") => array(object(
            json!({ "reason": string(), "count": count() }),
            &["reason", "count"],
        )),
        ("GET", "/api/v1/alerts") => array(r("Alert")),
        ("GET", "/api/v1/alerts/{id}/history") => array(object(
            json!({ "at": integer(), "event": any() }),
            &["at", "event"],
        )),
        ("POST", "/api/v1/alerts/{id}/acknowledge") => {
            done("acknowledged", json!({ "by": string() }), &["by"])
        }
        ("POST", "/api/v1/alerts/{id}/resolve") => {
            done("resolved", json!({ "by": string() }), &["by"])
        }
        ("POST", "/api/v1/devices/{id}/files/get") | ("POST", "/api/v1/devices/{id}/files/put") => {
            object(
                json!({
                    "job_id": uuid(), "status": string(),
                    "content_b64": json!({ "type": "string", "description": "A download's content, base64 (empty for an upload)." }),
                    "message": string(),
                }),
                &["job_id", "status", "content_b64", "message"],
            )
        }
        ("GET", "/api/v1/scripts") => array(script()),
        ("POST", "/api/v1/scripts") => r("Script"),
        ("GET", "/api/v1/scripts/{id}") => extend(
            script(),
            json!({ "file": json!({ "type": "string", "description": "The script as a file with its header (what POST takes as file)." }) }),
            &["file"],
        ),
        ("PATCH", "/api/v1/scripts/{id}") => script(),
        ("GET", "/api/v1/scripts/{id}/versions") => array(object(
            json!({ "version": integer(), "definition": r("ScriptDef"), "created_at": integer(), "created_by": string() }),
            &["version", "definition", "created_at", "created_by"],
        )),
        ("GET", "/api/v1/jobs") => array(job()),
        ("POST", "/api/v1/jobs") => object(
            json!({ "id": uuid(), "name": string(), "state": one_of(&["active", "pending_approval"]), "targets": count() }),
            &["id", "name", "state", "targets"],
        ),
        ("GET", "/api/v1/jobs/{id}") => {
            extend(job(), json!({ "runs": array(r("Run")) }), &["runs"])
        }
        ("POST", "/api/v1/jobs/{id}/approve") => done("approved", json!({}), &[]),
        ("POST", "/api/v1/jobs/{id}/cancel") => done(
            "cancelled",
            json!({ "runs_cancelled": count() }),
            &["runs_cancelled"],
        ),
        ("GET", "/api/v1/schedules") => array(schedule()),
        ("POST", "/api/v1/schedules") => r("Schedule"),
        ("GET", "/api/v1/schedules/{id}") | ("PATCH", "/api/v1/schedules/{id}") => schedule(),
        ("GET", "/api/v1/job-keys") => object(
            json!({ "keys": strings(), "key_id": string() }),
            &["keys", "key_id"],
        ),
        ("GET", "/api/v1/audit") => array(r("AuditEntry")),
        ("GET", "/api/v1/server/stats") => object(
            json!({
                "connected_agents": count(), "frames_rejected": count(), "batches_stored": count(),
                "batches_duplicate": count(), "connections_refused": count(),
                "storage": object(
                    json!({ "series": count(), "chunks": count(), "samples": count(), "chunk_bytes": count() }),
                    &["series", "chunks", "samples", "chunk_bytes"],
                ),
            }),
            &[
                "connected_agents",
                "frames_rejected",
                "batches_stored",
                "batches_duplicate",
                "connections_refused",
                "storage",
            ],
        ),
        _ => return None,
    })
}

/// WebSocket routes: they answer 101 (or an error), never a JSON 200.
pub fn is_socket(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/events" | "/api/v1/devices/{id}/shell" | "/api/v1/jobs/{id}/events"
    )
}

/// The request body of a POST or PATCH; `None` when it reads none.
pub fn request(method: &str, path: &str) -> Option<Value> {
    let r = reference;
    let name = json!({ "type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$" });
    let text = nullable(string());
    let patch = |schema: Value| optional(&schema);
    let component = |name: &str| components()[name].clone();
    Some(match (method, path) {
        ("POST", "/api/v1/login") => object(
            json!({ "username": string(), "password": string(), "code": json!({ "type": ["string", "null"], "description": "A TOTP code or a recovery code." }) }),
            &["username", "password"],
        ),
        ("POST", "/api/v1/me/totp/enable") => object(
            json!({ "code": json!({ "type": "string", "pattern": "^[0-9]{6}$" }) }),
            &["code"],
        ),
        ("POST", "/api/v1/tokens") => object(
            json!({ "name": text, "expires_in": text, "role": text, "org": text, "site": text }),
            &[],
        ),
        ("POST", "/api/v1/enroll-tokens") => object(
            json!({ "org": text, "site": text, "tags": strings(), "expires_in": text, "uses": nullable(count()) }),
            &[],
        ),
        ("POST", "/api/v1/devices/tags") => object(
            json!({ "devices": array(uuid()), "add": strings(), "remove": strings() }),
            &["devices"],
        ),
        ("PATCH", "/api/v1/devices/{id}") => closed(json!({ "name": text, "site": text }), &[]),
        ("POST", "/api/v1/devices/{id}/upstream") => object(
            json!({ "upstream": json!({ "type": ["string", "null"], "description": "The device (name or id) this one depends on; null for none." }) }),
            &[],
        ),
        ("POST", "/api/v1/orgs") => object(json!({ "name": name }), &["name"]),
        ("PATCH", "/api/v1/orgs/{id}") => closed(json!({ "name": nullable(name) }), &[]),
        ("POST", "/api/v1/orgs/{id}/require-totp") => {
            object(json!({ "require": boolean() }), &["require"])
        }
        ("POST", "/api/v1/users") => object(
            json!({ "username": name, "password": json!({ "type": "string", "minLength": 12 }), "org": text, "role": text, "site": text, "full_name": text, "email": text }),
            &["username", "password"],
        ),
        ("PATCH", "/api/v1/users/{id}") => closed(
            json!({ "disabled": nullable(boolean()), "password": nullable(json!({ "type": "string", "minLength": 12 })), "full_name": text, "email": text }),
            &[],
        ),
        ("POST", "/api/v1/me/password") => closed(
            json!({ "current_password": string(), "new_password": json!({ "type": "string", "minLength": 12 }) }),
            &["current_password", "new_password"],
        ),
        // The new name (the one field there is to change).
        ("PATCH", "/api/v1/orgs/{id}/sites/{site}") => closed(
            json!({ "name": json!({ "type": "string", "minLength": 1, "maxLength": 64 }) }),
            &[],
        ),
        ("POST", "/api/v1/users/{id}/grants") => object(
            json!({ "role": string(), "org": text, "site": text, "deny": boolean() }),
            &["role"],
        ),
        ("PATCH", "/api/v1/users/{id}/grants/{grant}") => closed(
            json!({ "role": string(), "site": text, "deny": boolean() }),
            &[],
        ),
        ("POST", "/api/v1/roles") | ("PATCH", "/api/v1/roles/{id}") => {
            let permissions =
                array(json!({ "enum": crate::authz::Permission::ALL.map(|p| p.as_str()) }));
            if method == "POST" {
                object(
                    json!({ "name": name, "permissions": permissions, "org": text }),
                    &["name", "permissions"],
                )
            } else {
                closed(
                    json!({ "name": nullable(name), "permissions": nullable(permissions) }),
                    &[],
                )
            }
        }
        ("POST", "/api/v1/monitors") => r("NewMonitor"),
        ("PATCH", "/api/v1/monitors/{id}") => patch(component("NewMonitor")),
        ("POST", "/api/v1/channels") => r("NewChannel"),
        ("PATCH", "/api/v1/channels/{id}") => patch(component("NewChannel")),
        ("POST", "/api/v1/maintenance") => r("NewMaintenance"),
        ("PATCH", "/api/v1/maintenance/{id}") => patch(component("NewMaintenance")),
        ("POST", "/api/v1/silences") => r("NewSilence"),
        ("PATCH", "/api/v1/silences/{id}") => patch(component("NewSilence")),
        ("POST", "/api/v1/devices/{id}/files/get") => object(json!({ "path": text }), &[]),
        ("POST", "/api/v1/devices/{id}/files/put") => object(
            json!({ "path": text, "content_b64": json!({ "type": ["string", "null"], "description": "The file's bytes, base64." }) }),
            &[],
        ),
        ("POST", "/api/v1/scripts") => object(
            json!({
                "org": text,
                "file": json!({ "type": ["string", "null"], "description": "A script file with its header; or script." }),
                "name": json!({ "type": ["string", "null"], "description": "With file: its name when the header gives none." }),
                "script": nullable(r("ScriptDef")),
            }),
            &[],
        ),
        ("PATCH", "/api/v1/scripts/{id}") => {
            let mut def = patch(component("ScriptDef"));
            def["additionalProperties"] = json!(false);
            def
        }
        ("POST", "/api/v1/jobs") => r("JobRequest"),
        ("POST", "/api/v1/schedules") => r("NewSchedule"),
        ("PATCH", "/api/v1/schedules/{id}") => patch(component("NewSchedule")),
        _ => return None,
    })
}

/// POST routes that read no body (the action is in the path).
pub fn takes_no_body(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/logout"
            | "/api/v1/me/totp/setup"
            | "/api/v1/tokens/{id}/revoke"
            | "/api/v1/enroll-tokens/{id}/revoke"
            | "/api/v1/devices/{id}/revoke"
            | "/api/v1/devices/{id}/rotate"
            | "/api/v1/monitors/{id}/delete"
            | "/api/v1/channels/{id}/test"
            | "/api/v1/report-schedules/{id}/send"
            | "/api/v1/alerts/{id}/acknowledge"
            | "/api/v1/alerts/{id}/resolve"
            | "/api/v1/scripts/{id}/delete"
            | "/api/v1/jobs/{id}/approve"
            | "/api/v1/jobs/{id}/cancel"
            | "/api/v1/schedules/{id}/delete"
            | "/api/v1/agent-rollouts/{id}/stop"
    )
}
