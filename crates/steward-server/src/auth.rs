//! Who is calling: API tokens (`Authorization: Bearer stw_...`) and browser
//! sessions (cookie), both stored hashed. Passwords use Argon2id.

use crate::AppState;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use steward_store::{Principal, Role, StoreError};

use crate::api::ApiError;

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

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The authenticated caller of an API request. Read-only principals are
/// refused on every method but GET/HEAD.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let now = crate::now_secs();
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let principal = if let Some(token) = bearer {
            state
                .store
                .principal_for_token(&hash_secret(token.trim()), now)
                .await
        } else if let Some(session) = session_cookie(parts) {
            // Cookie-authenticated writes must come from our own pages.
            if !matches!(parts.method, Method::GET | Method::HEAD) && !same_origin(parts) {
                return Err(ApiError::forbidden("cross-site request refused"));
            }
            state
                .store
                .principal_for_session(&hash_secret(&session), now)
                .await
        } else {
            return Err(ApiError::unauthorized("missing API token or session"));
        };
        let principal = principal.map_err(|error| match error {
            StoreError::NotFound => ApiError::unauthorized("invalid or expired credentials"),
            other => ApiError::from(other),
        })?;
        if principal.role == Role::ReadOnly && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(ApiError::forbidden("read-only role"));
        }
        Ok(Caller(principal))
    }
}

pub fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

fn same_origin(parts: &Parts) -> bool {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|o| o.split_once("://").map(|(_, rest)| rest));
    matches!((host, origin), (Some(h), Some(o)) if h == o)
}
