//! The incident shapes: incidents with their timeline, notes, and the
//! KPIs answer.

use super::schemas::*;
use serde_json::{Value, json};

fn priority() -> Value {
    one_of(&["p1", "p2", "p3", "p4"])
}

fn status() -> Value {
    one_of(&["open", "acknowledged", "resolved", "closed"])
}

fn new_incident() -> Value {
    closed(
        json!({
            "title": string(), "org": nullable(string()), "status": nullable(status()),
            "priority": nullable(priority()), "assignee": nullable(string()),
            "devices": array(uuid()), "time_spent_ms": nullable(integer()),
        }),
        &["title"],
    )
}

fn incident_fields() -> Value {
    object(
        json!({
            "title": string(), "status": status(), "priority": priority(),
            "assignee": nullable(string()), "devices": array(uuid()), "time_spent_ms": integer(),
        }),
        &[
            "title",
            "status",
            "priority",
            "assignee",
            "devices",
            "time_spent_ms",
        ],
    )
}

fn timeline_entry() -> Value {
    object(
        json!({
            "at": integer(), "actor": string(),
            "kind": one_of(&["opened", "note", "status", "edit", "alert", "job", "sla"]),
            "body": any(),
        }),
        &["at", "actor", "kind", "body"],
    )
}

fn incident() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "title": string(), "status": status(),
            "priority": priority(), "assignee": nullable(string()),
            "devices": array(uuid()), "alerts": array(uuid()), "time_spent_ms": integer(),
            "opened_at": integer(), "opened_by": string(),
            "acknowledged_at": nullable(integer()), "resolved_at": nullable(integer()),
            "closed_at": nullable(integer()), "last_activity": integer(), "version": integer(),
            "fields": incident_fields(),
        }),
        &[
            "id",
            "org_id",
            "title",
            "status",
            "priority",
            "assignee",
            "devices",
            "alerts",
            "time_spent_ms",
            "opened_at",
            "opened_by",
            "acknowledged_at",
            "resolved_at",
            "closed_at",
            "last_activity",
            "version",
            "fields",
        ],
    )
}

fn problem_fields() -> Value {
    object(
        json!({
            "status": one_of(&["open", "known_error", "resolved"]), "root_cause": nullable(string()),
            "workaround": nullable(string()), "fix": nullable(string()), "known_error": boolean(),
        }),
        &["status", "root_cause", "workaround", "fix", "known_error"],
    )
}

fn problem() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "signature": string(),
            "rule_kind": one_of(&["spread", "repeat"]), "rule": any(),
            "status": one_of(&["open", "known_error", "resolved"]), "count": integer(),
            "first_seen": integer(), "last_seen": integer(), "devices": array(uuid()),
            "incidents": array(uuid()), "root_cause": nullable(string()),
            "workaround": nullable(string()), "fix": nullable(string()), "known_error": boolean(),
            "resolved_at": nullable(integer()), "version": integer(), "fields": problem_fields(),
        }),
        &[
            "id",
            "org_id",
            "signature",
            "rule_kind",
            "rule",
            "status",
            "count",
            "first_seen",
            "last_seen",
            "devices",
            "incidents",
            "root_cause",
            "workaround",
            "fix",
            "known_error",
            "resolved_at",
            "version",
            "fields",
        ],
    )
}

/// A runbook's definition (what POST takes, with `org`; what PATCH lays
/// over the stored one; what each version keeps).
fn runbook_fields() -> Value {
    object(
        json!({
            "title": string(), "body": string(), "monitors": strings(), "alert_kinds": strings(),
            "scripts": strings(), "problems": strings(), "offers": strings(),
        }),
        &[
            "title",
            "body",
            "monitors",
            "alert_kinds",
            "scripts",
            "problems",
            "offers",
        ],
    )
}

fn new_runbook() -> Value {
    let mut schema = optional(&runbook_fields());
    schema["required"] = json!(["title"]);
    schema["additionalProperties"] = json!(false);
    schema["properties"]["org"] = nullable(string());
    schema
}

fn runbook() -> Value {
    with_fields(
        extend(
            runbook_fields(),
            json!({
                "id": uuid(), "org_id": uuid(), "version": integer(),
                "updated_at": integer(), "updated_by": string(),
            }),
            &["id", "org_id", "version", "updated_at", "updated_by"],
        ),
        runbook_fields(),
    )
}

fn sla_fields() -> Value {
    object(
        json!({ "priority": priority(), "acknowledge_ms": nullable(integer()), "resolve_ms": nullable(integer()) }),
        &["priority", "acknowledge_ms", "resolve_ms"],
    )
}

fn sla_target() -> Value {
    with_fields(
        extend(
            sla_fields(),
            json!({
                "id": uuid(), "org_id": uuid(), "updated_by": string(),
                "updated_at": integer(), "version": integer(),
            }),
            &["id", "org_id", "updated_by", "updated_at", "version"],
        ),
        sla_fields(),
    )
}

fn webhook_fields() -> Value {
    object(json!({ "name": string() }), &["name"])
}

fn incident_webhook() -> Value {
    with_fields(
        extend(
            webhook_fields(),
            json!({
                "id": uuid(), "org_id": uuid(), "created_by": string(), "created_at": integer(),
                "updated_at": integer(), "version": integer(), "url": string(),
            }),
            &[
                "id",
                "org_id",
                "created_by",
                "created_at",
                "updated_at",
                "version",
                "url",
            ],
        ),
        webhook_fields(),
    )
}

fn problem_rule() -> Value {
    let count = json!({ "type": "integer", "minimum": 2 });
    json!({ "oneOf": [
        closed(
            json!({ "kind": { "const": "repeat" }, "window_ms": integer(), "min_count": count }),
            &["kind", "window_ms", "min_count"],
        ),
        closed(
            json!({ "kind": { "const": "spread" }, "window_ms": integer(), "min_count": count, "min_devices": count }),
            &["kind", "window_ms", "min_count", "min_devices"],
        ),
    ] })
}

fn problem_rules() -> Value {
    object(
        json!({
            "org_id": uuid(), "rules": array(problem_rule()), "defaults": boolean(),
            "updated_by": nullable(string()), "updated_at": nullable(integer()), "version": integer(),
        }),
        &[
            "org_id",
            "rules",
            "defaults",
            "updated_by",
            "updated_at",
            "version",
        ],
    )
}

/// The kinds of object this module adds to `components/schemas`.
pub fn components() -> Vec<(&'static str, Value)> {
    vec![
        ("IncidentWebhook", incident_webhook()),
        ("SlaTarget", sla_target()),
        ("Runbook", runbook()),
        ("NewRunbook", new_runbook()),
        ("Problem", problem()),
        ("NewIncident", new_incident()),
        ("Incident", incident()),
        ("TimelineEntry", timeline_entry()),
    ]
}

fn summary() -> Value {
    object(
        json!({ "count": count(), "mean": nullable(number()), "median": nullable(number()), "p90": nullable(number()) }),
        &["count", "mean", "median", "p90"],
    )
}

fn figure() -> Value {
    // A figure Steward collects, or why not.
    object(
        json!({
            "collected": boolean(), "note": string(), "open": count(),
            "reporting": count(), "compliant": count(), "share": number(),
            "succeeded": count(), "failed": count(),
        }),
        &["collected"],
    )
}

fn kpis() -> Value {
    let ratio = nullable(number());
    object(
        json!({
            "org_id": uuid(), "since": integer(), "until": integer(),
            "availability": object(
                json!({
                    "ratio": ratio.clone(),
                    "devices": array(object(
                        json!({
                            "device_id": uuid(), "device_name": string(), "period_ms": integer(),
                            "maintenance_ms": integer(), "downtime_ms": integer(), "ratio": ratio.clone(),
                        }),
                        &["device_id", "device_name", "period_ms", "maintenance_ms", "downtime_ms", "ratio"],
                    )),
                }),
                &["ratio", "devices"],
            ),
            "mtta": summary(), "mttr": summary(), "cleared_by_itself": count(),
            "incident_volume": object(json!({ "opened": count(), "open": count() }), &["opened", "open"]),
            "open_problems": figure(),
            "noise": object(
                json!({
                    "alerts": count(), "devices": count(), "per_device": ratio.clone(),
                    "auto_remediated": ratio.clone(), "suppressed": ratio.clone(),
                    "acknowledged_without_action": ratio,
                }),
                &["alerts", "devices", "per_device", "auto_remediated", "suppressed", "acknowledged_without_action"],
            ),
            "patch_compliance": figure(), "backup_success": figure(),
            "definitions": { "type": "object", "description": "Each KPI's definition, by its key.", "additionalProperties": string() },
        }),
        &[
            "org_id",
            "since",
            "until",
            "availability",
            "mtta",
            "mttr",
            "cleared_by_itself",
            "incident_volume",
            "open_problems",
            "noise",
            "patch_compliance",
            "backup_success",
            "definitions",
        ],
    )
}

fn report() -> Value {
    let report = object(
        json!({
            "org_id": uuid(), "org": string(), "period": string(), "since": integer(),
            "until": integer(), "has_data": boolean(),
            "kpis": array(object(
                json!({ "key": string(), "name": string(), "value": string(), "definition": string() }),
                &["key", "name", "value", "definition"],
            )),
            "weeks": array(object(
                json!({
                    "since": integer(), "incidents_opened": count(),
                    "availability": nullable(number()), "mtta_median": nullable(number()),
                    "mttr_median": nullable(number()),
                }),
                &["since", "incidents_opened", "availability", "mtta_median", "mttr_median"],
            )),
            "kpi": kpis(),
        }),
        &[
            "org_id", "org", "period", "since", "until", "has_data", "kpis", "weeks", "kpi",
        ],
    );
    extend(
        report,
        super::report_mail::report_series(),
        &["site", "buckets", "series"],
    )
}

/// The 200 answers of the incident routes.
pub fn response(method: &str, path: &str) -> Option<Value> {
    let with_timeline = || {
        extend(
            incident(),
            json!({ "timeline": array(reference("TimelineEntry")) }),
            &["timeline"],
        )
    };
    Some(match (method, path) {
        ("GET", "/api/v1/incidents") => array(reference("Incident")),
        ("POST", "/api/v1/incidents") => reference("Incident"),
        ("GET", "/api/v1/incidents/{id}") | ("PATCH", "/api/v1/incidents/{id}") => with_timeline(),
        ("DELETE", "/api/v1/incidents/{id}") => object(json!({ "deleted": uuid() }), &["deleted"]),
        ("POST", "/api/v1/incidents/{id}/notes") => object(
            json!({ "incident_id": uuid(), "entry": reference("TimelineEntry") }),
            &["incident_id", "entry"],
        ),
        ("GET", "/api/v1/kpis") => kpis(),
        ("GET", "/api/v1/reports") => report(),
        ("GET", "/api/v1/sla-targets") => array(reference("SlaTarget")),
        ("POST", "/api/v1/sla-targets")
        | ("GET", "/api/v1/sla-targets/{id}")
        | ("PATCH", "/api/v1/sla-targets/{id}") => reference("SlaTarget"),
        ("DELETE", "/api/v1/sla-targets/{id}") => {
            object(json!({ "deleted": uuid() }), &["deleted"])
        }
        ("GET", "/api/v1/problem-rules") | ("PATCH", "/api/v1/problem-rules") => problem_rules(),
        ("GET", "/api/v1/incident-webhooks") => array(reference("IncidentWebhook")),
        ("POST", "/api/v1/incident-webhooks") => extend(
            incident_webhook(),
            json!({ "secret": string() }),
            &["secret"],
        ),
        ("GET", "/api/v1/incident-webhooks/{id}") | ("PATCH", "/api/v1/incident-webhooks/{id}") => {
            reference("IncidentWebhook")
        }
        ("DELETE", "/api/v1/incident-webhooks/{id}") => {
            object(json!({ "deleted": uuid() }), &["deleted"])
        }
        ("POST", "/api/v1/inbound/incidents/{id}") => object(
            json!({ "incident_id": uuid(), "created": boolean(), "status": status(), "priority": priority() }),
            &["incident_id", "created", "status", "priority"],
        ),
        ("GET", "/api/v1/problems") => array(reference("Problem")),
        ("GET", "/api/v1/problems/{id}") | ("PATCH", "/api/v1/problems/{id}") => {
            reference("Problem")
        }
        ("GET", "/api/v1/runbooks") | ("GET", "/api/v1/incidents/{id}/runbooks") => {
            array(reference("Runbook"))
        }
        ("POST", "/api/v1/runbooks")
        | ("GET", "/api/v1/runbooks/{id}")
        | ("PATCH", "/api/v1/runbooks/{id}") => reference("Runbook"),
        ("DELETE", "/api/v1/runbooks/{id}") => object(json!({ "deleted": uuid() }), &["deleted"]),
        ("GET", "/api/v1/runbooks/{id}/versions") => array(object(
            json!({ "version": integer(), "definition": runbook_fields(), "created_at": integer(), "created_by": string() }),
            &["version", "definition", "created_at", "created_by"],
        )),
        ("POST", "/api/v1/incidents/{id}/runs") => object(
            json!({
                "incident_id": uuid(),
                "job": object(
                    json!({ "id": uuid(), "name": string(), "state": one_of(&["active", "pending_approval"]), "targets": count() }),
                    &["id", "name", "state", "targets"],
                ),
                "entry": reference("TimelineEntry"),
            }),
            &["incident_id", "job", "entry"],
        ),
        _ => return None,
    })
}

/// The bodies the incident routes take.
pub fn request(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("POST", "/api/v1/incidents") => reference("NewIncident"),
        ("PATCH", "/api/v1/incidents/{id}") => optional(&new_incident()),
        ("PATCH", "/api/v1/problems/{id}") => {
            let mut fields = optional(&problem_fields());
            fields["additionalProperties"] = json!(false);
            fields
        }
        ("POST", "/api/v1/incidents/{id}/notes") => closed(
            json!({ "text": string(), "time_spent_ms": nullable(integer()) }),
            &["text"],
        ),
        ("POST", "/api/v1/runbooks") => reference("NewRunbook"),
        ("PATCH", "/api/v1/problem-rules") => closed(
            json!({ "org": nullable(string()), "rules": array(problem_rule()) }),
            &[],
        ),
        ("POST", "/api/v1/incident-webhooks") => closed(
            json!({ "name": string(), "org": nullable(string()) }),
            &["name"],
        ),
        ("PATCH", "/api/v1/incident-webhooks/{id}") => closed(json!({ "name": string() }), &[]),
        ("POST", "/api/v1/inbound/incidents/{id}") => closed(
            json!({
                "title": nullable(string()), "description": nullable(string()),
                "priority": nullable(priority()), "status": nullable(status()),
                "external_id": nullable(string()),
            }),
            &[],
        ),
        ("POST", "/api/v1/sla-targets") => {
            let mut schema = sla_fields();
            schema["required"] = json!(["priority"]);
            schema["additionalProperties"] = json!(false);
            schema["properties"]["org"] = nullable(string());
            schema
        }
        ("PATCH", "/api/v1/sla-targets/{id}") => {
            let mut fields = optional(&sla_fields());
            fields["additionalProperties"] = json!(false);
            fields
        }
        ("PATCH", "/api/v1/runbooks/{id}") => {
            let mut fields = optional(&runbook_fields());
            fields["additionalProperties"] = json!(false);
            fields
        }
        ("POST", "/api/v1/incidents/{id}/runs") => closed(
            json!({
                "runbook": uuid(), "script": string(), "devices": nullable(array(uuid())),
                "params": string_map(),
            }),
            &["runbook", "script"],
        ),
        _ => return None,
    })
}

/// Query parameters of the incident routes.
pub fn query_parameters(path: &str) -> Vec<Value> {
    let q = |name: &str, text: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": text, "schema": schema });
    match path {
        "/api/v1/kpis" => vec![
            q(
                "org",
                "The organisation, by name (yours when you have one).",
                json!({ "type": "string", "minLength": 1, "maxLength": 128 }),
            ),
            q(
                "site",
                "One site of the organisation (default: all the caller sees).",
                json!({ "type": "string", "minLength": 1, "maxLength": 200 }),
            ),
            q(
                "since",
                "Start of the period, Unix milliseconds (default 30 days before until).",
                json!({ "type": "integer", "minimum": 0 }),
            ),
            q(
                "until",
                "End of the period, Unix milliseconds (default now).",
                json!({ "type": "integer", "minimum": 0 }),
            ),
        ],
        "/api/v1/reports" => vec![
            q(
                "org",
                "The organisation, by name (yours when you have one).",
                json!({ "type": "string", "minLength": 1, "maxLength": 128 }),
            ),
            q(
                "site",
                "One site of the organisation (default: all the caller sees).",
                json!({ "type": "string", "minLength": 1, "maxLength": 200 }),
            ),
            q(
                "period",
                "A month (YYYY-MM) or an ISO week (YYYY-Www), UTC; default the last month.",
                json!({ "type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2]|W(0[1-9]|[1-4][0-9]|5[0-3]))$" }),
            ),
            q(
                "format",
                "json (default), csv, or pdf (with charts).",
                json!({ "type": "string", "enum": ["json", "csv", "pdf"] }),
            ),
        ],
        _ => Vec::new(),
    }
}
