//! The OTLP routes (`crate::otlp`) and their ingestion tokens
//! (`api/otlp_tokens.rs`).

use super::schemas::*;
use serde_json::{Value, json};

fn token() -> Value {
    object(
        json!({
            "id": uuid(), "org_id": uuid(), "name": string(), "created_by": string(),
            "created_at": integer(), "endpoint": string(),
        }),
        &[
            "id",
            "org_id",
            "name",
            "created_by",
            "created_at",
            "endpoint",
        ],
    )
}

/// OTLP's answer: `{}` or `{"partialSuccess": {…}}` (counts as strings,
/// OTLP/JSON's int64).
fn partial(key: &str) -> Value {
    object(
        json!({ "partialSuccess": object(
            json!({ key: string(), "errorMessage": string() }),
            &[key, "errorMessage"],
        ) }),
        &[],
    )
}

pub fn response(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("GET", "/api/v1/otlp-tokens") => array(token()),
        ("POST", "/api/v1/otlp-tokens") => extend(
            token(),
            json!({ "token": { "type": "string", "description": "stwo_…, shown this once" } }),
            &["token"],
        ),
        ("DELETE", "/api/v1/otlp-tokens/{id}") => {
            object(json!({ "revoked": uuid() }), &["revoked"])
        }
        ("POST", crate::otlp::METRICS_PATH) => partial("rejectedDataPoints"),
        ("POST", crate::otlp::LOGS_PATH) => partial("rejectedLogRecords"),
        _ => return None,
    })
}

pub fn request(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("POST", "/api/v1/otlp-tokens") => closed(
            json!({ "org": nullable(string()), "name": string() }),
            &["name"],
        ),
        _ => return None,
    })
}

pub fn is_otlp(path: &str) -> bool {
    path == crate::otlp::METRICS_PATH || path == crate::otlp::LOGS_PATH
}

/// An OTLP route takes protobuf or JSON (gzip or not) with an ingestion
/// token, and answers in the request's encoding.
pub fn describe(operation: &mut Value, path: &str) {
    let what = if path == crate::otlp::METRICS_PATH {
        "ExportMetricsServiceRequest"
    } else {
        "ExportLogsServiceRequest"
    };
    operation["security"] = json!([]);
    operation["description"] = json!(format!(
        "OTLP/HTTP: an {what} as application/x-protobuf or OTLP/JSON, optionally Content-Encoding: gzip (4 MiB sent, 16 MiB decompressed), with Authorization: Bearer <ingestion token>. Resources name their device by steward.device.id, host.id or host.name within the token's organisation; what cannot be taken is counted in partialSuccess, and a request with nothing taken gets 400."
    ));
    operation["requestBody"] = json!({ "required": true, "content": {
        "application/json": { "schema": { "type": "object" } },
        "application/x-protobuf": { "schema": { "type": "string", "format": "binary" } },
    } });
    operation["responses"]["200"]["content"]["application/x-protobuf"] =
        json!({ "schema": { "type": "string", "format": "binary" } });
    let refused = json!({ "description": "Refused (a google.rpc.Status in the request's encoding; in JSON also as error)", "content": {
        "application/json": { "schema": { "$ref": "#/components/schemas/Error" } },
        "application/x-protobuf": { "schema": { "type": "string", "format": "binary" } },
    } });
    operation["responses"]["4XX"] = refused.clone();
    operation["responses"]["503"] = refused;
}
