//! The shapes of what the API takes and answers, as JSON Schema (OpenAPI
//! 3.1), under `components/schemas`.
//!
//! Kept by hand rather than derived with `schemars`: most answers are built
//! with `json!` (records with a `fields` view, a `warning`, `covers`...),
//! not serde types, so a derive would describe the smaller half; deriving
//! the rest would put `schemars` into five crates (store, proto, alert,
//! jobs, server) for types that do not change often. What keeps this table
//! honest instead: `openapi::tests` refuses an operation without an exact
//! schema, and `crates/steward/tests/openapi.rs` checks real answers of a
//! running server against it, property by property (an undescribed field
//! fails too), as schemathesis does in CI.

use serde_json::{Map, Value, json};

pub use super::shapes::*;

// The kinds of object, as the store records them.

fn device_summary() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "site": string(), "name": string(),
            "hostname": string(), "os": string(), "tags": strings(),
            "status": one_of(&["online", "offline", "unknown"]),
            "status_since": nullable(integer()), "last_seen": nullable(integer()),
            "revoked": boolean(),
            "cpu_utilization": nullable(number()), "memory_utilization": nullable(number()),
            "disk_utilization": nullable(number()),
            "refuses": strings(),
            "kind": one_of(&["agent", "agentless"]), "category": nullable(string()),
            "address": nullable(string()), "probe_agent": nullable(uuid()),
        }),
        &[
            "id",
            "org_id",
            "site",
            "name",
            "hostname",
            "os",
            "tags",
            "status",
            "status_since",
            "last_seen",
            "revoked",
            "cpu_utilization",
            "memory_utilization",
            "disk_utilization",
            "refuses",
            "kind",
            "category",
            "address",
            "probe_agent",
        ],
    )
}

fn inventory() -> Value {
    // `#[serde(default)]` throughout: every field is written.
    let all = |props: Value| {
        let names: Vec<String> = props
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        object(props, &names)
    };
    all(json!({
        "hostname": string(), "os_name": string(), "os_version": string(),
        "kernel_version": string(), "arch": string(), "cpu_model": string(),
        "cpu_cores": count(), "memory_total_bytes": count(), "swap_total_bytes": count(),
        "boot_time": integer(), "uptime_secs": count(), "agent_version": string(), "agent_target": string(),
        "filesystems": array(all(json!({
            "mountpoint": string(), "device": string(), "fs_type": string(),
            "total_bytes": count(), "available_bytes": count(),
        }))),
        "interfaces": array(all(json!({ "name": string(), "mac": string(), "addresses": strings() }))),
        "users": array(all(json!({ "name": string(), "terminal": string(), "host": string(), "since": string() }))),
        "packages": array(all(json!({ "name": string(), "version": string(), "manager": string() }))),
        "updates": nullable(array(reference("PendingUpdate"))),
        "patching": nullable(reference("PatchStatus")),
        "timezone": string(),
    }))
}

fn device() -> Value {
    extend(
        device_summary(),
        json!({
            "enrolled_at": integer(), "stored_seq": count(),
            "inventory_at": nullable(integer()), "inventory": nullable(reference("Inventory")),
            "version": integer(),
        }),
        &[
            "enrolled_at",
            "stored_seq",
            "inventory_at",
            "inventory",
            "version",
        ],
    )
}

fn org() -> Value {
    object(
        json!({ "id": uuid(), "name": string(), "version": integer() }),
        &["id", "name", "version"],
    )
}

fn user() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "username": string(), "totp_enabled": boolean(),
            "disabled": boolean(), "version": integer(),
            "full_name": nullable(string()), "email": nullable(string()),
        }),
        &[
            "id",
            "org_id",
            "username",
            "totp_enabled",
            "disabled",
            "version",
            "full_name",
            "email",
        ],
    )
}

fn grant() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": nullable(uuid()), "site": nullable(string()),
            "role_id": string(), "permissions": strings(), "deny": boolean(),
            "version": integer(),
        }),
        &[
            "id",
            "org_id",
            "site",
            "role_id",
            "permissions",
            "deny",
            "version",
        ],
    )
}

fn role() -> Value {
    object(
        json!({
            "id": { "type": "string", "description": "A built-in role's name (admin, read_only...) or a UUID." },
            "org_id": nullable(uuid()), "name": string(), "permissions": strings(),
            "version": integer(),
        }),
        &["id", "org_id", "name", "permissions", "version"],
    )
}

fn api_token() -> Value {
    object(
        json!({
            "id": uuid(), "user_id": uuid(), "name": string(), "created_at": integer(),
            "expires_at": nullable(integer()), "revoked": boolean(), "role_id": nullable(string()),
        }),
        &[
            "id",
            "user_id",
            "name",
            "created_at",
            "expires_at",
            "revoked",
            "role_id",
        ],
    )
}

fn enroll_token() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "site": string(), "tags": strings(),
            "created_at": integer(), "expires_at": integer(),
            "uses_left": nullable(count()), "revoked": boolean(),
        }),
        &[
            "id",
            "org_id",
            "site",
            "tags",
            "created_at",
            "expires_at",
            "uses_left",
            "revoked",
        ],
    )
}

fn audit_entry() -> Value {
    object(
        json!({
            "id": integer(), "org_id": nullable(uuid()), "at": integer(), "actor": string(),
            "source": string(), "action": string(), "target": string(),
            "detail": { "type": "string", "description": "JSON text: before/after values or other details." },
            "prev_hash": string(), "hash": string(),
        }),
        &[
            "id",
            "org_id",
            "at",
            "actor",
            "source",
            "action",
            "target",
            "detail",
            "prev_hash",
            "hash",
        ],
    )
}

fn matcher() -> Value {
    object(
        json!({ "devices": strings(), "sites": strings(), "tags": strings(), "os": strings() }),
        &[],
    )
}

fn level() -> Value {
    closed(
        json!({ "trigger": number(), "clear": nullable(number()) }),
        &["trigger"],
    )
}

fn threshold() -> Value {
    closed(
        json!({
            "direction": one_of(&["above", "below"]),
            "warning": nullable(reference("Level")), "critical": nullable(reference("Level")),
            "for_ms": integer(),
        }),
        &["direction"],
    )
}

fn monitor_spec() -> Value {
    let kind = |k: &str| json!({ "const": k });
    json!({ "oneOf": [
        closed(json!({
            "kind": kind("threshold"), "metric": string(), "labels": string_map(),
            "threshold": reference("Threshold"),
        }), &["kind", "metric", "threshold"]),
        closed(json!({
            "kind": kind("forecast"), "metric": string(), "labels": string_map(),
            "capacity": number(), "horizon_ms": integer(), "window_ms": integer(),
            "min_points": count(),
        }), &["kind", "metric", "horizon_ms", "window_ms"]),
        closed(json!({
            "kind": kind("anomaly"), "metric": string(), "labels": string_map(),
            "min_score": number(), "for_ms": integer(),
        }), &["kind", "metric"]),
        closed(json!({
            "kind": kind("log_pattern"), "rule": string(), "min_devices": count(), "window_ms": integer(),
            "surge": number(),
        }), &["kind"]),
        closed(json!({ "kind": kind("offline") }), &["kind"]),
        closed(json!({ "kind": kind("check"), "check": string(), "for_ms": integer() }), &["kind", "check"]),
    ] })
}

fn remediation() -> Value {
    closed(
        json!({
            "script": string(), "params": string_map(), "max_per_hour": count(),
            "verify_ms": integer(),
            "owner": { "type": "string", "description": "Set by the server (who set it up); a given one is replaced." },
        }),
        &["script"],
    )
}

/// A monitor as `POST /api/v1/monitors` takes it (and `fields` shows it).
fn new_monitor() -> Value {
    closed(
        json!({
            "name": string(), "org": nullable(string()), "spec": reference("MonitorSpec"),
            "applies_to": reference("Matcher"), "exclude": reference("Matcher"),
            "remediation": nullable(reference("Remediation")), "enabled": boolean(),
        }),
        &["name", "spec"],
    )
}

fn monitor() -> Value {
    let definition = object(
        json!({
            "id": string(), "org_id": string(), "name": string(),
            "spec": reference("MonitorSpec"), "applies_to": reference("Matcher"),
            "exclude": reference("Matcher"), "remediation": reference("Remediation"),
        }),
        &["id", "org_id", "name", "spec", "applies_to", "exclude"],
    );
    let fields = object(
        json!({
            "name": string(), "spec": reference("MonitorSpec"), "applies_to": reference("Matcher"),
            "exclude": reference("Matcher"), "enabled": boolean(),
            "remediation": reference("Remediation"),
        }),
        &["name", "spec", "applies_to", "exclude", "enabled"],
    );
    with_fields(
        object(
            json!({
                "id": uuid(), "org_id": uuid(), "name": string(), "definition": definition,
                "enabled": boolean(), "version": integer(),
            }),
            &["id", "org_id", "name", "definition", "enabled", "version"],
        ),
        fields,
    )
}

/// A monitor saved (create, edit): a warning when no agent reports its metric.
pub fn warned(schema: Value) -> Value {
    extend(schema, json!({ "warning": string() }), &[])
}

fn new_channel() -> Value {
    closed(
        json!({
            "name": string(), "org": nullable(string()),
            "kind": one_of(&["webhook", "email", "slack", "teams"]),
            "url": nullable(string()), "secret": nullable(string()),
            "smtp_host": nullable(string()),
            "smtp_port": nullable(json!({ "type": "integer", "minimum": 0, "maximum": 65535 })),
            "tls": nullable(one_of(&["starttls", "tls", "none"])), "from": nullable(string()),
            "to": strings(), "username": nullable(string()), "password": nullable(string()),
            "min_severity": nullable(one_of(&["warning", "critical"])), "tags": strings(),
            "incident_events": boolean(), "enabled": boolean(),
        }),
        &["name", "kind"],
    )
}

fn channel() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "name": string(), "kind": string(),
            "min_severity": string(), "enabled": boolean(), "version": integer(),
            "pending": count(), "undelivered": count(), "last_error": nullable(string()),
        }),
        &[
            "id",
            "org_id",
            "name",
            "kind",
            "min_severity",
            "enabled",
            "version",
            "pending",
            "undelivered",
            "last_error",
        ],
    )
}

/// A channel's configuration without its secrets (secret, password).
pub fn channel_fields() -> Value {
    object(
        json!({
            "name": string(), "kind": string(), "min_severity": string(), "enabled": boolean(),
            "tags": strings(), "incident_events": boolean(), "url": string(), "smtp_host": string(), "smtp_port": count(),
            "tls": string(), "from": string(), "to": strings(), "username": string(),
        }),
        &["name", "kind", "min_severity", "enabled"],
    )
}

fn schedule_window() -> Value {
    json!({ "oneOf": [
        closed(json!({ "kind": { "const": "once" }, "start": integer(), "end": integer() }), &["kind", "start", "end"]),
        object(json!({
            "kind": { "const": "weekly" },
            "days": array(json!({ "type": "integer", "minimum": 0, "maximum": 6 })),
            "start_minute": json!({ "type": "integer", "minimum": 0, "maximum": 1439 }),
            "duration_minutes": json!({ "type": "integer", "minimum": 1, "maximum": 10080 }),
            "utc_offset_minutes": integer(),
            "timezone": { "type": "string", "description": "An IANA name, e.g. Europe/Berlin." },
        }), &["kind", "days", "start_minute", "duration_minutes"]),
    ] })
}

fn new_window() -> Value {
    closed(
        json!({
            "org": nullable(string()), "name": string(), "matcher": reference("Matcher"),
            "schedule": reference("WindowSchedule"),
        }),
        &["name", "matcher", "schedule"],
    )
}

fn new_silence() -> Value {
    closed(
        json!({
            "org": nullable(string()), "matcher": reference("Matcher"),
            "monitor": nullable(string()),
            "duration": nullable(json!({ "type": "string", "description": "How long from now, e.g. 2h." })),
            "until": nullable(json!({ "type": "integer", "description": "The end, milliseconds since the epoch." })),
            "reason": string(),
        }),
        &["matcher", "reason"],
    )
}

/// A maintenance window or silence: its record, `fields` (the definition
/// as edited) and which devices it covers now.
fn noise_rule(definition: Value, fields: Value) -> Value {
    let record = object(
        json!({
            "id": uuid(), "org_id": uuid(), "definition": definition, "created_by": string(),
            "created_at": integer(), "version": integer(),
            "covers": object(json!({ "count": count(), "devices": strings() }), &["count", "devices"]),
            "warning": string(),
        }),
        &[
            "id",
            "org_id",
            "definition",
            "created_by",
            "created_at",
            "version",
            "covers",
        ],
    );
    with_fields(record, fields)
}

fn maintenance() -> Value {
    let definition = object(
        json!({ "name": string(), "matcher": reference("Matcher"), "schedule": reference("WindowSchedule") }),
        &["name", "matcher", "schedule"],
    );
    noise_rule(definition.clone(), definition)
}

fn silence() -> Value {
    let fields = object(
        json!({
            "matcher": reference("Matcher"), "monitor": string(), "until": integer(),
            "reason": string(),
        }),
        &["matcher", "until", "reason"],
    );
    let definition = extend(
        fields.clone(),
        json!({ "monitor": nullable(string()), "by": string() }),
        &["monitor", "by"],
    );
    noise_rule(definition, fields)
}

fn alert() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "monitor_id": string(), "monitor_name": string(),
            "device_id": uuid(), "device_name": string(), "subject": string(),
            "state": one_of(&["open", "acknowledged", "resolved"]),
            "severity": string(), "summary": string(), "opened_at": integer(),
            "updated_at": integer(), "acknowledged_by": nullable(string()),
            "acknowledged_at": nullable(integer()), "resolved_at": nullable(integer()),
            "resolved_by": nullable(string()),
            "flapping": boolean(), "suppressed": nullable(string()),
        }),
        &[
            "id",
            "org_id",
            "monitor_id",
            "monitor_name",
            "device_id",
            "device_name",
            "subject",
            "state",
            "severity",
            "summary",
            "opened_at",
            "updated_at",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_at",
            "resolved_by",
            "flapping",
            "suppressed",
        ],
    )
}

fn script_def() -> Value {
    object(
        json!({
            "name": { "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$" },
            "description": string(),
            "interpreter": one_of(&["sh", "bash", "python3", "powershell", "zsh"]),
            "body": string(),
            "params": array(object(json!({
                "name": string(), "kind": one_of(&["string", "int", "bool"]),
                "default": nullable(string()), "required": boolean(),
            }), &["name", "kind"])),
            "timeout_secs": json!({ "type": "integer", "minimum": 1, "maximum": 86400 }),
            "run_as": nullable(string()),
        }),
        &["name", "interpreter", "body"],
    )
}

fn script() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "name": string(), "version": integer(),
            "definition": reference("ScriptDef"), "updated_at": integer(), "updated_by": string(),
        }),
        &[
            "id",
            "org_id",
            "name",
            "version",
            "definition",
            "updated_at",
            "updated_by",
        ],
    )
}

fn job_request() -> Value {
    object(
        json!({
            "name": nullable(string()), "script": nullable(string()),
            "action": { "description": "A built-in action: reboot, restart_service, collect_inventory, install_updates (packages: [{name, version}], timeout_secs, reboot: never|if_required|always, reboot_grace_minutes), ping." },
            "params": string_map(),
            "targets": { "type": "array", "items": string(), "description": "all, device:ID, tag:T, site:S, os:NAME" },
            "org": nullable(string()), "expires_in": nullable(string()),
            "concurrency": count(), "stop_after_failures": count(),
        }),
        &["targets"],
    )
}

fn job() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "name": string(), "action": any(),
            "selector": any(), "policy": any(), "created_at": integer(), "created_by": string(),
            "expires_at": integer(), "state": string(), "approved_by": nullable(string()),
            "origin": nullable(string()),
            "counts": { "type": "object", "additionalProperties": count() },
            "progress": string(),
        }),
        &[
            "id",
            "org_id",
            "name",
            "action",
            "selector",
            "policy",
            "created_at",
            "created_by",
            "expires_at",
            "state",
            "approved_by",
            "origin",
            "counts",
            "progress",
        ],
    )
}

fn run() -> Value {
    object(
        json!({
            "run_id": uuid(), "job_id": uuid(), "device_id": uuid(), "device_name": string(),
            "status": string(), "exit_code": nullable(integer()), "stdout": string(),
            "stderr": string(), "truncated": boolean(), "message": string(),
            "sent_at": nullable(integer()), "started_at": nullable(integer()),
            "finished_at": nullable(integer()), "duration_ms": nullable(integer()),
        }),
        &[
            "run_id",
            "job_id",
            "device_id",
            "device_name",
            "status",
            "exit_code",
            "stdout",
            "stderr",
            "truncated",
            "message",
            "sent_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ],
    )
}

fn timing() -> Value {
    object(
        json!({
            "cron": { "type": "string", "description": "Five fields (minute hour day month weekday), or six with seconds." },
            "every_minutes": json!({ "type": "integer", "minimum": 1 }),
            "timezone": string(), "missed": one_of(&["skip", "run_once"]),
        }),
        &[],
    )
}

fn new_schedule() -> Value {
    closed(
        json!({
            "name": string(), "org": nullable(string()), "timing": reference("Timing"),
            "job": reference("JobRequest"), "enabled": boolean(),
        }),
        &["name", "timing", "job"],
    )
}

fn schedule() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "name": string(), "timing": reference("Timing"),
            "job": reference("JobRequest"), "enabled": boolean(), "next_run_at": integer(),
            "last_run_at": nullable(integer()), "created_by": string(), "version": integer(),
        }),
        &[
            "id",
            "org_id",
            "name",
            "timing",
            "job",
            "enabled",
            "next_run_at",
            "last_run_at",
            "created_by",
            "version",
        ],
    )
}

pub fn schedule_fields() -> Value {
    object(
        json!({ "name": string(), "timing": reference("Timing"), "job": reference("JobRequest"), "enabled": boolean() }),
        &["name", "timing", "job", "enabled"],
    )
}

fn fleet_counts() -> Value {
    let names = [
        "devices",
        "online",
        "offline",
        "alerts_critical",
        "alerts_warning",
        "forecast_full",
        "failing_checks",
        "missing_updates",
        "security_updates",
    ];
    let props: Map<String, Value> = names.iter().map(|n| (n.to_string(), count())).collect();
    object(Value::Object(props), &names)
}

/// `components/schemas`: the kinds answers and bodies refer to.
pub fn components() -> Value {
    let mut all = json!({
        "Error": object(json!({ "error": string() }), &["error"]),
        "Device": device(),
        "DeviceSummary": device_summary(),
        "Inventory": inventory(),
        "Org": org(),
        "User": user(),
        "Grant": grant(),
        "Role": role(),
        "ApiToken": api_token(),
        "EnrollToken": enroll_token(),
        "AuditEntry": audit_entry(),
        "Matcher": matcher(),
        "Level": level(),
        "Threshold": threshold(),
        "MonitorSpec": monitor_spec(),
        "Remediation": remediation(),
        "NewMonitor": new_monitor(),
        "Monitor": monitor(),
        "NewChannel": new_channel(),
        "Channel": channel(),
        "WindowSchedule": schedule_window(),
        "NewMaintenance": new_window(),
        "Maintenance": maintenance(),
        "NewSilence": new_silence(),
        "Silence": silence(),
        "Alert": alert(),
        "ScriptDef": script_def(),
        "Script": script(),
        "JobRequest": job_request(),
        "Job": job(),
        "Run": run(),
        "Timing": timing(),
        "NewSchedule": new_schedule(),
        "Schedule": schedule(),
        "FleetCounts": fleet_counts(),
    });
    for (name, schema) in super::incidents::components() {
        all[name] = schema;
    }
    for (name, schema) in super::report_mail::components() {
        all[name] = schema;
    }
    for (name, schema) in super::patching::components() {
        all[name] = schema;
    }
    all
}
