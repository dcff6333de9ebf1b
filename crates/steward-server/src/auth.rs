//! Who is calling: API tokens (`Authorization: Bearer stw_...`) and browser
//! sessions (cookie), both stored hashed; passwords use Argon2id; TOTP.

use crate::AppState;
use crate::api::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use steward_store::{Principal, Scope, StoreError};

pub const SESSION_COOKIE: &str = "steward_session";
pub const TOKEN_PREFIX: &str = "stw_";

/// `bytes` random bytes, base64url.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Tokens are 256-bit random values, so a plain SHA-256 is a safe way to
/// store them (no dictionary to attack).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn new_api_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_secret(32))
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// A TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of skew) for a
/// base32 secret.
pub fn totp(secret_b32: &str) -> Result<totp_rs::Totp, ApiError> {
    let secret = totp_rs::Secret::try_from_base32(secret_b32)
        .map_err(|_| ApiError::bad_request("stored two-factor secret is invalid"))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .map_err(|e| ApiError::bad_request(format!("two-factor secret: {e}")))
}

/// The time step whose code `code` is (the current one or one either
/// side), if it is one; the caller accepts each step once
/// (`Store::claim_totp_step`).
pub fn totp_step(secret_b32: &str, code: &str) -> Result<Option<u64>, ApiError> {
    Ok(totp(secret_b32)?.check_current(code))
}

/// What a token of a user who owes a second factor gets: the organisation
/// started requiring two factors after the token was made, and a token
/// alone is one factor. It works again once its user has turned TOTP on.
pub const TOKEN_NEEDS_TOTP: &str = "two-factor sign-in is now required for your organisation: sign in to the console and set it up; this token works again once it is on";

/// The authenticated caller of an API request, with its scope for the
/// permission the route requires (set by the authorisation layer).
#[derive(Clone)]
pub struct Caller {
    pub principal: Arc<Principal>,
    pub scope: Scope,
    /// Hash of the session cookie, when the call came from a browser.
    pub session: Option<String>,
    pub source: String,
    /// The organisation the call acted in, when a handler named one: its
    /// audit entry is filed there (else under the caller's own).
    pub acted_in: Arc<std::sync::Mutex<Option<uuid::Uuid>>>,
    /// What the call changed, as `{"before": …, "after": …}`, and the name
    /// of what it acted on (`object_name`), when a handler said: its audit
    /// entry carries them.
    pub change: Arc<std::sync::Mutex<Option<serde_json::Value>>>,
}

impl Caller {
    /// Files this call's audit entry under `org` (the organisation whose
    /// object it read or changed).
    pub fn acting_in(&self, org: uuid::Uuid) {
        *self.acted_in.lock().unwrap_or_else(|p| p.into_inner()) = Some(org);
    }

    /// Records an object as it was and as it is now (null when created or
    /// deleted) for this call's audit entry.
    /// Redacted like request bodies (`audit::redact`: no secrets, no
    /// webhook URLs).
    pub fn changed(&self, before: serde_json::Value, after: serde_json::Value) {
        let mut change = serde_json::json!({ "before": before, "after": after });
        crate::audit::redact(&mut change);
        let mut held = self.change.lock().unwrap_or_else(|p| p.into_inner());
        let entry = held.get_or_insert_with(|| serde_json::json!({}));
        entry["before"] = change["before"].take();
        entry["after"] = change["after"].take();
    }

    /// Names what this call acted on (a device, by its name) for its audit
    /// entry (`object_name`), where the request carries only an id.
    pub fn acted_on(&self, name: &str) {
        let mut held = self.change.lock().unwrap_or_else(|p| p.into_inner());
        held.get_or_insert_with(|| serde_json::json!({}))["object_name"] = name.into();
    }

    /// What [`Caller::changed`] recorded.
    pub fn change(&self) -> Option<serde_json::Value> {
        self.change
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Where this call's audit entry belongs.
    pub fn audit_org(&self) -> uuid::Uuid {
        self.acted_in
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(self.principal.org_id)
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<AppState>) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("this route needs a signed-in caller"))
    }
}

/// Resolves the principal of a request: a bearer token, or a session cookie
/// (whose state-changing requests must come from our own origin).
pub async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(Principal, Option<String>), ApiError> {
    let now = crate::now_secs();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let (principal, session) = if let Some(token) = bearer {
        (
            state
                .store
                .principal_for_token(&hash_secret(token.trim()), now)
                .await,
            None,
        )
    } else if let Some(session) = session_cookie(headers) {
        if !matches!(*method, Method::GET | Method::HEAD) && !same_origin(headers) {
            return Err(ApiError::forbidden("cross-site request refused"));
        }
        let hash = hash_secret(&session);
        (
            state.store.principal_for_session(&hash, now).await,
            Some(hash),
        )
    } else {
        return Err(ApiError::unauthorized("missing API token or session"));
    };
    let principal = principal.map_err(|error| match error {
        StoreError::NotFound => ApiError::unauthorized("invalid, expired or revoked credentials"),
        other => ApiError::from(other),
    })?;
    // A token cannot be used to set up the second factor (that would make
    // the token alone enough again): it is refused outright.
    if principal.token.is_some() && !principal.mfa_done {
        return Err(ApiError::forbidden(TOKEN_NEEDS_TOTP));
    }
    Ok((principal, session))
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The request's Origin names this server (scheme-less comparison with Host).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|o| o.strip_prefix("https://"));
    matches!((host, origin), (Some(h), Some(o)) if h == o)
}
