//! Sign-in (password, then TOTP when enabled or required), sign-out,
//! whoami, and two-factor setup.

use super::{ApiError, ApiResult};
use crate::AppState;
use crate::auth::{self, Caller, SESSION_COOKIE};
use crate::throttle::{ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES};
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use steward_store::{NewSession, StoreError};

const SESSION_SECS: i64 = 12 * 3600;
const RECOVERY_CODES: usize = 10;

#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
    /// A TOTP code or a recovery code, when two-factor is on.
    code: Option<String>,
}

/// An Argon2id hash of a random string, used to spend the same time on
/// unknown users as on known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3Rld2FyZHN0ZXdhcmQ$Q0vQ0x2Jr3YxG4q1X1yq5a9W8H3lQ2bq8eZ0vYc2G8E";

fn too_many(wait: std::time::Duration) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "too many failed sign-ins; try again in {} s",
            wait.as_secs().max(1)
        ),
    )
    .into_response();
    if let Ok(value) = wait.as_secs().max(1).to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    Extension(crate::tls::RemoteAddr(remote)): Extension<crate::tls::RemoteAddr>,
    Json(login): Json<Login>,
) -> Result<Response, ApiError> {
    let now = Instant::now();
    let (user_key, ip_key) = (
        format!("user:{}", login.username),
        format!("ip:{}", remote.ip()),
    );
    if let Some(wait) = state
        .throttle
        .wait(&user_key, now)
        .or_else(|| state.throttle.wait(&ip_key, now))
    {
        return Ok(too_many(wait));
    }
    let user = match state.store.user_by_name(&login.username).await {
        Ok(user) => Some(user),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let password = login.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let source = remote.ip().to_string();
    let fail = |reason: &'static str| {
        state.throttle.fail(&user_key, ACCOUNT_FREE_FAILURES, now);
        state.throttle.fail(&ip_key, ADDRESS_FREE_FAILURES, now);
        reason
    };
    let (Some(user), true) = (user, ok) else {
        let reason = fail("wrong username or password");
        tracing::warn!(username = %login.username, %source, "Sign-in failed.");
        crate::audit::write(
            &state,
            None,
            &login.username,
            &source,
            "login.failed",
            "session",
            json!({"reason": reason}),
        )
        .await;
        return Err(ApiError::unauthorized(reason));
    };
    // Second factor.
    let mut mfa_done = true;
    if user.totp_enabled {
        let Some(code) = login
            .code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        else {
            return Ok((
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "two-factor code required", "mfa_required": true})),
            )
                .into_response());
        };
        let secret = user.totp_secret.clone().unwrap_or_default();
        let valid = auth::totp_ok(&secret, code)?
            || state
                .store
                .use_recovery_code(user.id, &auth::hash_secret(code), crate::now_secs())
                .await?;
        if !valid {
            let reason = fail("wrong two-factor code");
            crate::audit::write(
                &state,
                Some(user.org_id),
                &user.username,
                &source,
                "login.failed",
                "session",
                json!({"reason": reason}),
            )
            .await;
            return Err(ApiError::unauthorized(reason));
        }
    } else if user.org_requires_totp {
        // Signed in, but only to set up the second factor.
        mfa_done = false;
    }
    state.throttle.succeed(&user_key);
    // A fresh session id at every sign-in (no fixation).
    let secret = auth::random_secret(32);
    let now_secs = crate::now_secs();
    state
        .store
        .create_session(&NewSession {
            session_hash: auth::hash_secret(&secret),
            user_id: user.id,
            created_at: now_secs,
            expires_at: now_secs + SESSION_SECS,
            mfa_done,
        })
        .await?;
    tracing::info!(username = %user.username, %source, "Signed in.");
    crate::audit::write(
        &state,
        Some(user.org_id),
        &user.username,
        &source,
        "login",
        "session",
        json!({"mfa_done": mfa_done}),
    )
    .await;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}"
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "username": user.username, "mfa_setup_required": !mfa_done })),
    )
        .into_response())
}

pub async fn logout(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    if let Some(session) = &caller.session {
        let _ = state.store.delete_session(session).await;
        crate::revocation::credentials_changed(&state);
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    (
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "signed_out": true })),
    )
        .into_response()
}

pub async fn whoami(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Value> {
    let p = &caller.principal;
    let totp_enabled = state
        .store
        .user_by_id(p.user_id)
        .await
        .ok()
        .map(|u| u.totp_enabled);
    Json(json!({
        "username": p.username,
        "org_id": p.org_id,
        "grants": p.grants,
        "mfa_done": p.mfa_done,
        "totp_enabled": totp_enabled,
    }))
}

/// Starts two-factor setup: a new secret, not yet active.
pub async fn totp_setup(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult<Value> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let secret = totp_rs::Secret::new_stack(bytes).to_base32();
    let user = caller.principal.user_id;
    let record = state.store.user_by_id(user).await?;
    if record.totp_enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "two-factor sign-in is already enabled",
        ));
    }
    state.store.set_totp(user, Some(&secret), false).await?;
    let url = otpauth_url(&caller.principal.username, &secret);
    Ok(Json(
        json!({ "secret": secret, "otpauth_url": url, "qr": qr_data_url(&url) }),
    ))
}

/// The `otpauth://` URL an authenticator app reads (from the QR code, or
/// pasted); the account name is percent-encoded.
fn otpauth_url(username: &str, secret: &str) -> String {
    let label = percent_encoding::utf8_percent_encode(username, percent_encoding::NON_ALPHANUMERIC);
    format!("otpauth://totp/Steward:{label}?secret={secret}&issuer=Steward")
}

/// `text` as a QR code: an SVG data URL the console shows as an image.
fn qr_data_url(text: &str) -> Option<String> {
    use base64::Engine;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

#[derive(Deserialize)]
pub struct Enable {
    code: String,
}

/// Confirms setup with a current code; returns one-time recovery codes.
pub async fn totp_enable(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<Enable>,
) -> ApiResult<Value> {
    let user = state.store.user_by_id(caller.principal.user_id).await?;
    let secret = user
        .totp_secret
        .clone()
        .ok_or_else(|| ApiError::bad_request("start with /api/v1/me/totp/setup"))?;
    if user.totp_enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "two-factor sign-in is already enabled",
        ));
    }
    if !auth::totp_ok(&secret, body.code.trim())? {
        return Err(ApiError::bad_request("wrong two-factor code"));
    }
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| auth::random_secret(10))
        .collect();
    let hashes: Vec<String> = codes.iter().map(|c| auth::hash_secret(c)).collect();
    state.store.replace_recovery_codes(user.id, &hashes).await?;
    state.store.set_totp(user.id, Some(&secret), true).await?;
    if let Some(session) = &caller.session {
        state.store.complete_session_mfa(session).await?;
    }
    Ok(Json(json!({ "enabled": true, "recovery_codes": codes })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authenticator_url_encodes_the_account_and_becomes_a_qr_code() {
        let url = otpauth_url("ana maría/ops", "JBSWY3DP");
        assert_eq!(
            url,
            "otpauth://totp/Steward:ana%20mar%C3%ADa%2Fops?secret=JBSWY3DP&issuer=Steward"
        );
        let qr = qr_data_url(&url).unwrap();
        let svg = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            qr.strip_prefix("data:image/svg+xml;base64,").unwrap(),
        )
        .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    }
}
