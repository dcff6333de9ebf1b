//! The OpenAPI 3.1 description of the JSON API, generated from the route
//! table (so it cannot drift from what is served) plus the request body
//! shapes of what each operation takes and answers (`operations.rs`, with
//! the kinds of object in `schemas.rs`). Served at `/api/v1/openapi.json`.

mod agent_updates;
mod agentless;
mod aging;
mod backups;
mod incidents;
mod intel;
mod operations;
mod patching;
mod posture;
mod report_mail;
mod schemas;
mod shapes;
mod telemetry;
#[cfg(test)]
mod tests;

use super::{Access, RouteEntry};
use serde_json::{Map, Value, json};

fn query_parameters(path: &str) -> Vec<Value> {
    let q = |name: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "schema": schema });
    match path {
        "/api/v1/devices/{id}/metrics/{name}" => vec![
            q("since", json!({ "type": "string" })),
            q("from", json!({ "type": "integer", "format": "int64" })),
            q("to", json!({ "type": "integer", "format": "int64" })),
            q(
                "points",
                json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u32 }),
            ),
        ],
        "/api/v1/fleet/devices" => {
            let text = json!({ "type": "string" });
            let flag = json!({ "type": "boolean" });
            vec![
                q("q", text.clone()),
                q("status", json!({ "enum": ["online", "offline"] })),
                q("os", text.clone()),
                q("org", json!({ "type": "string", "format": "uuid" })),
                q("site", text.clone()),
                q("tag", text),
                q("alerts", json!({ "enum": ["any", "critical", "none"] })),
                q("failing_checks", flag.clone()),
                q("forecast", flag.clone()),
                q("missing_updates", flag.clone()),
                q("include_revoked", flag.clone()),
                q(
                    "sort",
                    json!({ "enum": ["name", "hostname", "os", "site", "status", "last_seen", "cpu", "memory", "disk", "alerts"] }),
                ),
                q("desc", flag),
                q(
                    "limit",
                    json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u32 }),
                ),
                q(
                    "offset",
                    json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u32 }),
                ),
            ]
        }
        "/api/v1/alerts" => vec![
            q("active", json!({ "type": "boolean" })),
            q(
                "state",
                json!({ "enum": ["open", "acknowledged", "resolved"] }),
            ),
            q("device", json!({ "type": "string", "format": "uuid" })),
        ],
        "/api/v1/devices/{id}/backups" | "/api/v1/backups/summary" => {
            vec![q("since", json!({ "type": "string" }))]
        }
        "/api/v1/devices/{id}/runs" | "/api/v1/jobs" => vec![q(
            "limit",
            json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u32 }),
        )],
        "/api/v1/audit" => {
            let described = |name: &str, text: &str| json!({ "name": name, "in": "query", "required": false, "description": text, "schema": { "type": "string" } });
            vec![
                q("after", json!({ "type": "integer", "format": "int64" })),
                q("before", json!({ "type": "integer", "format": "int64" })),
                q(
                    "limit",
                    json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u32 }),
                ),
                described("actor", "Only what this user (or device:ID) did, exactly."),
                described(
                    "action",
                    "Only actions containing this text, any case (shell, login, POST /api/v1/monitors).",
                ),
                described(
                    "object",
                    "Only entries whose target or details contain this text, any case (a device's id or name, a path).",
                ),
                described(
                    "since",
                    "From this time: Unix milliseconds or RFC 3339 (2025-06-01T08:00:00Z).",
                ),
                described("until", "Up to this time: Unix milliseconds or RFC 3339."),
            ]
        }
        _ => Vec::new(),
    }
}

/// Whether `path` is an object with `PATCH` (and `DELETE`).
fn editable(routes: &[RouteEntry], path: &str) -> bool {
    routes
        .iter()
        .any(|r| r.path == path && r.method == axum::http::Method::PATCH)
}

pub fn document(routes: &[RouteEntry]) -> Value {
    let mut paths = Map::new();
    for route in routes.iter().filter(|r| r.path.starts_with("/api/")) {
        if route.path == "/api/v1/events" {
            continue; // a WebSocket, not an HTTP operation
        }
        let method = route.method.as_str();
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                let schema = match name {
                    "id" | "grant" => json!({ "type": "string", "format": "uuid" }),
                    "site" => json!({ "type": "string", "minLength": 1, "maxLength": 64 }),
                    _ => json!({ "type": "string", "pattern": "^[a-z][a-z0-9_.]{0,127}$" }),
                };
                json!({ "name": name, "in": "path", "required": true, "schema": schema })
            })
            .collect();
        parameters.extend(query_parameters(route.path));
        parameters.extend(patching::query_parameters(route.path));
        parameters.extend(incidents::query_parameters(route.path));
        parameters.extend(intel::query_parameters(route.path));
        parameters.extend(agent_updates::query_parameters(route.path));
        if route.paged {
            parameters.extend([
                json!({ "name": "q", "in": "query", "required": false, "description": "Only objects whose name contains this text (any case).", "schema": { "type": "string" } }),
                json!({ "name": "sort", "in": "query", "required": false, "description": "A field to sort by; -FIELD for descending (ties by id).", "schema": { "type": "string", "pattern": "^-?[a-z_]{1,64}$" } }),
                json!({ "name": "limit", "in": "query", "required": false, "description": "At most this many; a Link header (rel=next) leads to the rest.", "schema": { "type": "integer", "minimum": 1, "maximum": super::paging::MAX_LIMIT } }),
                json!({ "name": "cursor", "in": "query", "required": false, "description": "Where the previous page ended (from its Link header).", "schema": { "type": "string" } }),
            ]);
        }
        let mut operation = json!({
            "operationId": format!("{} {}", route.method, route.path),
            "parameters": parameters,
            "responses": {
                "200": { "description": "Success", "content": { "application/json": { "schema": operations::response(method, route.path).or_else(|| patching::response(method, route.path)).or_else(|| incidents::response(method, route.path)).or_else(|| report_mail::response(method, route.path)).or_else(|| intel::response(method, route.path)).or_else(|| telemetry::response(method, route.path)).or_else(|| agentless::response(method, route.path)).or_else(|| agent_updates::response(method, route.path)).unwrap_or(json!({})) } } },
                "4XX": { "description": "Refused", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
            },
        });
        if route.access == Access::Public {
            operation["security"] = json!([]);
        }
        if route.path == "/api/v1/agent-binary/download" {
            operation["responses"]["200"] = json!({ "description": "The agent binary", "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } });
            operation["responses"]["404"] = json!({ "description": "No agent binary beside the server", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
        }
        if route.path == "/api/v1/metrics/prometheus" {
            operation["responses"]["200"] = json!({ "description": "The newest sample of every series in the caller's scope, in the Prometheus text format 0.0.4 (labels device, device_id, organisation, site, tags).", "content": { "text/plain": { "schema": { "type": "string" } } } });
        }
        if route.path == "/api/v1/patching/compliance.csv" {
            operation["responses"]["200"] = json!({ "description": "One device a line: device_id, device_name, org_id, site, state, pending, security_pending, oldest_security_since, reboot_required, updates_at", "content": { "text/csv": { "schema": { "type": "string" } } } });
        }
        if operations::is_socket(route.path) {
            // No JSON answer: the connection switches to a WebSocket.
            let responses = operation["responses"].as_object_mut().expect("responses");
            responses.remove("200");
            responses.insert(
                "101".into(),
                json!({ "description": "Switching to a WebSocket" }),
            );
        }
        if route.path == "/api/v1/reports" {
            // ?format=csv and ?format=pdf answer files.
            let content = &mut operation["responses"]["200"]["content"];
            content["text/csv"] = json!({ "schema": { "type": "string" } });
            content["application/pdf"] =
                json!({ "schema": { "type": "string", "format": "binary" } });
        }
        if route.path == "/api/v1/ready" {
            operation["responses"]["503"] = json!({ "description": "Not ready (the database does not answer)", "content": { "application/json": { "schema": { "type": "object", "properties": { "ready": { "const": false }, "error": { "type": "string" } }, "required": ["ready", "error"] } } } });
        }
        if route.path.contains("/files/") {
            operation["responses"]["504"] = json!({ "description": "The device did not answer within 60 s", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
        }
        if route.path == "/api/v1/login" {
            // Too many password checks queued (crate::password): Retry-After.
            operation["responses"]["503"] = json!({ "description": "Busy; retry", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
        }
        let body = |schema: Value| json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        if route.method == axum::http::Method::POST && !operations::takes_no_body(route.path) {
            operation["requestBody"] = body(
                operations::request(method, route.path)
                    .or_else(|| incidents::request(method, route.path))
                    .or_else(|| report_mail::request(method, route.path))
                    .or_else(|| patching::request(method, route.path))
                    .or_else(|| telemetry::request(method, route.path))
                    .or_else(|| agentless::request(method, route.path))
                    .or_else(|| agent_updates::request(method, route.path))
                    .unwrap_or(json!({ "type": "object" })),
            );
        }
        if telemetry::is_otlp(route.path) {
            telemetry::describe(&mut operation, route.path);
        }
        if route.path == "/api/v1/agent-releases" && route.method == axum::http::Method::POST {
            operation["requestBody"] = agent_updates::octet_body();
        }
        if route.path == "/api/v1/problem-rules" && route.method == axum::http::Method::GET {
            operation["parameters"]
                .as_array_mut()
                .expect("parameters are a list")
                .push(json!({ "name": "org", "in": "query", "required": false, "description": "The organisation, by name (yours when you have one).", "schema": { "type": "string", "minLength": 1, "maxLength": 128 } }));
        }
        if route.path == "/api/v1/inbound/incidents/{id}" {
            let parameters = operation["parameters"]
                .as_array_mut()
                .expect("parameters are a list");
            parameters.push(json!({ "name": "X-Steward-Timestamp", "in": "header", "required": true, "description": "When the delivery was signed, Unix seconds: refused when older than 5 minutes or in the future.", "schema": { "type": "string", "pattern": "^[0-9]{1,12}$" } }));
            parameters.push(json!({ "name": "X-Steward-Signature", "in": "header", "required": true, "description": "sha256=<hex HMAC-SHA256 of \"{timestamp}.{body}\" with the webhook's secret>; a signature seen within 5 minutes is refused as a replay.", "schema": { "type": "string" } }));
            operation["description"] = json!(
                "Opens an incident from a signed delivery, or updates the one its external_id opened. Acts under the name and grants of the webhook's creator. The body is at most 64 KiB."
            );
        }
        if route.path == "/api/v1/inbound-email/{id}" {
            // The raw message as an MTA pipe or a provider's inbound route
            // posts it: as message/rfc822 or as plain bytes.
            let raw = json!({ "schema": { "type": "string", "format": "binary", "maxLength": super::inbound_email::MAX_MESSAGE } });
            operation["requestBody"] = json!({ "required": true, "content": {
                "message/rfc822": raw.clone(),
                "application/octet-stream": raw,
            } });
            operation["parameters"]
                .as_array_mut()
                .expect("parameters are a list")
                .push(json!({ "name": "X-Steward-Key", "in": "header", "required": false, "description": "The route's secret (or HTTP Basic with it as the password).", "schema": { "type": "string" } }));
            operation["description"] = json!(
                "Takes a raw RFC 822 message (at most 256 KiB) from a mail provider's inbound route or an MTA pipe: a sender the route's rules name opens an incident, or adds a note to the one its subject names ([incident <id>]). HTML is made text, attachments are not kept, a Message-ID seen before is refused (409). Acts under the name and grants of the route's creator."
            );
        }
        if route.method == axum::http::Method::PATCH {
            // The fields to change, in the shape POST creates from.
            operation["requestBody"] = body(
                operations::request(method, route.path)
                    .or_else(|| incidents::request(method, route.path))
                    .or_else(|| report_mail::request(method, route.path))
                    .or_else(|| patching::request(method, route.path))
                    .or_else(|| agentless::request(method, route.path))
                    .unwrap_or(json!({ "type": "object" })),
            );
            operation["parameters"]
                .as_array_mut()
                .expect("parameters are a list")
                .push(json!({ "name": "If-Match", "in": "header", "required": false, "description": "The ETag a read answered: the change applies only to that version.", "schema": { "type": "string" } }));
            operation["responses"]["412"] = json!({ "description": "Changed since it was read", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
        }
        // A create answers the new object's id: links to its own routes
        // (so stateful clients, schemathesis among them, can follow).
        let one = format!("{}/{{id}}", route.path);
        if route.method == axum::http::Method::POST && editable(routes, &one) {
            let mut links = Map::new();
            for (name, method) in [("read", "GET"), ("edit", "PATCH"), ("delete", "DELETE")] {
                if !routes
                    .iter()
                    .any(|r| r.path == one && r.method.as_str() == method)
                {
                    continue;
                }
                links.insert(
                    name.into(),
                    json!({ "operationId": format!("{method} {one}"), "parameters": { "id": "$response.body#/id" } }),
                );
            }
            operation["responses"]["200"]["links"] = Value::Object(links);
        }
        if route.paged {
            operation["description"] = json!(
                "A list. Any other query parameter FIELD=VALUE keeps the objects whose top-level FIELD is VALUE."
            );
            operation["responses"]["200"]["headers"] = json!({ "Link": { "description": "<…?cursor=…>; rel=\"next\" when there is a next page", "schema": { "type": "string" } } });
        }
        if route.method == axum::http::Method::GET && editable(routes, route.path) {
            operation["responses"]["200"]["headers"] = json!({ "ETag": { "description": "The object's version, for If-Match", "schema": { "type": "string" } } });
        }
        if let Some(object) = route.path.strip_suffix("/delete")
            && editable(routes, object)
        {
            operation["deprecated"] = json!(true);
            operation["description"] = json!(format!("Deprecated alias of DELETE {object}."));
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Steward API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas::components(),
        },
    })
}
