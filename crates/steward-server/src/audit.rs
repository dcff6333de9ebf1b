//! Writing the audit trail. Every state-changing API call is recorded by
//! the authorisation layer; sign-ins and enrollments are recorded where they
//! happen. Secrets in request bodies are redacted before they are stored.

use crate::AppState;
use crate::auth::Caller;
use axum::body::Body;
use axum::extract::Request;
use serde_json::Value;
use steward_store::NewAuditEntry;

const REDACTED_KEYS: &[&str] = &[
    "password",
    "secret",
    "token",
    "code",
    "recovery_code",
    "csr_pem",
];

/// Replaces the values of secret-bearing keys, recursively.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if REDACTED_KEYS.contains(&key.as_str()) {
                    *v = Value::String("<redacted>".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Reads the request body (up to `limit`, the route's cap) for the audit
/// record and puts it back for the handler.
pub async fn capture_body(request: Request, limit: usize) -> (Request, Option<Value>) {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let mut value: Option<Value> = serde_json::from_slice(&bytes).ok();
            if let Some(v) = value.as_mut() {
                redact(v);
            }
            (Request::from_parts(parts, Body::from(bytes)), value)
        }
        Err(_) => (
            Request::from_parts(parts, Body::empty()),
            Some(Value::String("<body too large>".into())),
        ),
    }
}

pub async fn record(state: &AppState, caller: &Caller, action: &str, target: &str, detail: Value) {
    write(
        state,
        Some(caller.principal.org_id),
        &caller.principal.username,
        &caller.source,
        action,
        target,
        detail,
    )
    .await;
}

pub async fn write(
    state: &AppState,
    org: Option<uuid::Uuid>,
    actor: &str,
    source: &str,
    action: &str,
    target: &str,
    detail: Value,
) {
    let entry = NewAuditEntry {
        org_id: org,
        at: crate::now_secs(),
        actor: actor.into(),
        source: source.into(),
        action: action.into(),
        target: target.into(),
        detail: detail.to_string(),
    };
    if let Err(error) = state.store.append_audit(&entry).await {
        tracing::error!(%error, action, "Cannot write the audit log.");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_secrets_at_any_depth() {
        let mut v = serde_json::json!({"username": "a", "password": "p", "nested": [{"token": "t", "keep": 1}]});
        super::redact(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"username": "a", "password": "<redacted>", "nested": [{"token": "<redacted>", "keep": 1}]})
        );
    }
}
