//! Writing the audit trail. Every state-changing API call is recorded by
//! the authorisation layer; sign-ins and enrollments are recorded where they
//! happen. Request bodies are stored redacted: no credentials (passwords,
//! secrets, tokens, codes, keys, webhook URLs) and no file content (an
//! upload is recorded by its size and SHA-256).

use crate::AppState;
use crate::auth::Caller;
use axum::body::Body;
use axum::extract::Request;
use serde_json::{Value, json};
use steward_store::NewAuditEntry;

/// Keys whose values are credentials wherever they appear, exactly...
const SECRET_KEYS: &[&str] = &["code", "codes", "key", "otp", "pin", "csr_pem"];
/// ...or as part of the key (`smtp_password`, `client_secret`,
/// `access_token`, `api_key`, `recovery_codes`, `private_key_pem`...).
const SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "private",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "_code",
    "_key",
];
/// Keys holding file content (uploads): recorded as size and hash.
const CONTENT_KEYS: &[&str] = &["content_b64"];
const REDACTED: &str = "<redacted>";

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&key.as_str()) || SECRET_PARTS.iter().any(|part| key.contains(part))
}

/// An http(s) URL cut to its scheme and host when it carries anything
/// more: a path or query (an incoming webhook's URL is its credential:
/// Slack's `/services/T…/B…/secret`, Teams' `/webhookb2/…`, `?token=`) or
/// user information. None when `text` is not such a URL or has nothing to
/// hide.
fn redact_url(text: &str) -> Option<String> {
    let lower = text.get(..8)?.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    let scheme = text.find("://")? + 3;
    let rest = &text[scheme..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let tail = &rest[end..];
    if !authority.contains('@') && matches!(tail, "" | "/") {
        return None;
    }
    let host = authority.rsplit('@').next().unwrap_or_default();
    Some(format!("{}{host}/{REDACTED}", &text[..scheme]))
}

/// What the audit trail keeps of uploaded content: its size and SHA-256
/// (of the decoded bytes when it is base64).
fn content_summary(content: &Value) -> Value {
    use base64::Engine;
    let text = content.as_str().unwrap_or_default();
    match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
        Ok(bytes) => json!({ "bytes": bytes.len(), "sha256": steward_sign::sha256_hex(&bytes) }),
        Err(_) => {
            json!({ "chars": text.len(), "sha256": steward_sign::sha256_hex(text.as_bytes()) })
        }
    }
}

/// Makes a request body fit for the audit trail, recursively: values of
/// credential-bearing keys are replaced, URLs lose their path, query and
/// user information, and uploaded content becomes its size and hash.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if CONTENT_KEYS.contains(&key.as_str()) {
                    *v = content_summary(v);
                } else if is_secret(key) {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(text) => {
            if let Some(redacted) = redact_url(text) {
                *text = redacted;
            }
        }
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
        Some(caller.audit_org()),
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
    write_to(
        state.store.as_ref(),
        org,
        actor,
        source,
        action,
        target,
        detail,
    )
    .await;
}

/// [`write`] straight to a store (a failure is logged, never returned: the
/// action it records has happened).
pub async fn write_to(
    store: &dyn steward_store::Store,
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
    if let Err(error) = store.append_audit(&entry).await {
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

    #[test]
    fn uploads_are_recorded_by_size_and_hash() {
        use base64::Engine;
        let content = vec![42u8; 700 * 1024];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
        let mut v = serde_json::json!({"path": "/etc/app.conf", "content_b64": encoded});
        super::redact(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "path": "/etc/app.conf",
                "content_b64": {
                    "bytes": content.len(),
                    "sha256": steward_sign::sha256_hex(&content),
                },
            })
        );
    }

    #[test]
    fn webhook_urls_and_credentials_of_any_name_are_redacted() {
        let mut v = serde_json::json!({
            "name": "chat",
            "kind": "slack",
            "url": "https://hooks.slack.com/services/T01/B02/abcdefSECRET",
            "channels": [
                {"url": "https://example.com/hook?token=abc"},
                {"url": "https://user:pass@example.com"},
                {"url": "https://example.com/"},
            ],
            "smtp_password": "p",
            "client_secret": "s",
            "access_token": "t",
            "api_key": "k",
            "recovery_codes": ["a", "b"],
            "private_key_pem": "-----BEGIN",
            "username": "kept",
            "tags": ["kept"],
        });
        super::redact(&mut v);
        let text = v.to_string();
        for secret in [
            "SECRET",
            "T01",
            "token=abc",
            "pass@",
            "\"p\"",
            "\"s\"",
            "\"t\"",
            "\"k\"",
            "\"a\"",
            "BEGIN",
        ] {
            assert!(!text.contains(secret), "{secret} kept in {text}");
        }
        assert_eq!(v["url"], "https://hooks.slack.com/<redacted>");
        assert_eq!(v["channels"][2]["url"], "https://example.com/");
        assert_eq!(v["username"], "kept");
        assert_eq!(v["tags"], serde_json::json!(["kept"]));
        assert_eq!(v["kind"], "slack");
    }
}
