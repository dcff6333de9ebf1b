//! Sign-in (password, then TOTP when enabled or required), sign-out,
//! whoami, and two-factor setup.

use super::{ApiError, ApiResult};
use crate::AppState;
use crate::auth::{self, Caller, SESSION_COOKIE};
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use steward_store::{NewSession, StoreError, UserRecord};

const SESSION_SECS: i64 = 12 * 3600;
const RECOVERY_CODES: usize = 10;

#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
    /// A TOTP code or a recovery code, when two-factor is on.
    code: Option<String>,
}

/// An Argon2id hash of a random string (the default parameters), checked
/// for unknown users so that they cost the same time as known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3Rld2FyZHN0ZXdhcmQ$Q0vQ0x2Jr3YxG4q1X1yq5a9W8H3lQ2bq8eZ0vYc2G8E";

/// The one answer to every failed sign-in (unknown user, wrong password,
/// missing, wrong or replayed code), so that it tells nothing about which
/// part was wrong: with two factors on, a right password without a code is
/// indistinguishable from a wrong one. `mfa_required` is in every refusal
/// and only tells a client to offer the code field.
pub const SIGN_IN_REFUSED: &str =
    "wrong username or password, or a missing or wrong two-factor code";

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": SIGN_IN_REFUSED, "mfa_required": true })),
    )
        .into_response()
}

/// Whole seconds, rounded up (a client that waits that long is let in).
fn seconds(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn retry_after(status: StatusCode, message: String, wait: std::time::Duration) -> Response {
    let mut response = ApiError::new(status, message).into_response();
    if let Ok(value) = seconds(wait).to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn too_many(wait: std::time::Duration) -> Response {
    retry_after(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many failed sign-ins; try again in {} s", seconds(wait)),
        wait,
    )
}

fn busy() -> Response {
    retry_after(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is busy checking other sign-ins; try again in a second".into(),
        std::time::Duration::from_secs(1),
    )
}

/// Why the second factor is not satisfied, if it is not. A TOTP code is
/// accepted once: its time step must be later than the last accepted one
/// (kept in the store, so also across replicas).
async fn second_factor(
    state: &AppState,
    user: &UserRecord,
    code: Option<&str>,
) -> Result<Option<&'static str>, ApiError> {
    if !user.totp_enabled {
        return Ok(None);
    }
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(Some("two-factor code missing"));
    };
    let secret = user.totp_secret.clone().unwrap_or_default();
    match auth::totp_step(&secret, code) {
        Ok(Some(step)) => {
            let fresh = state.store.claim_totp_step(user.id, step as i64).await?;
            return Ok((!fresh).then_some("two-factor code already used"));
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(username = %user.username, error = %error.message, "Stored two-factor secret is unusable.");
        }
    }
    let recovery = state
        .store
        .use_recovery_code(user.id, &auth::hash_secret(code), crate::now_secs())
        .await?;
    Ok((!recovery).then_some("wrong two-factor code"))
}

/// Signs in. The attempt is reserved with the throttle before the password
/// is checked (so parallel guesses cannot all be checked), and the check
/// waits for one of a few slots (bounded memory; 503 when the server is too
/// busy, which counts as no attempt).
pub async fn login(
    State(state): State<Arc<AppState>>,
    Extension(crate::tls::RemoteAddr(remote)): Extension<crate::tls::RemoteAddr>,
    Json(login): Json<Login>,
) -> Result<Response, ApiError> {
    let attempt = match state
        .throttle
        .begin(remote.ip(), &login.username, Instant::now())
    {
        Ok(attempt) => attempt,
        Err(wait) => return Ok(too_many(wait)),
    };
    let user = match state.store.user_by_name(&login.username).await {
        Ok(user) => Some(user),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let Ok(password_ok) = state.passwords.verify(login.password.clone(), hash).await else {
        return Ok(busy());
    };
    let source = remote.ip().to_string();
    // A failure against a real account is its organisation's to audit.
    let account_org = user.as_ref().map(|u| u.org_id);
    let (user, failure) = match user {
        // A disabled account is told so only with its right password.
        Some(user) if password_ok && user.disabled => (None, Some("this account is disabled")),
        Some(user) if password_ok => {
            let failure = second_factor(&state, &user, login.code.as_deref()).await?;
            (Some(user), failure)
        }
        _ => (None, Some("wrong username or password")),
    };
    let (Some(user), None) = (user.as_ref(), failure) else {
        attempt.failed(Instant::now());
        let reason = failure.unwrap_or_default();
        tracing::warn!(username = %login.username, %source, reason, "Sign-in failed.");
        crate::audit::write(
            &state,
            account_org,
            &login.username,
            &source,
            "login.failed",
            "session",
            json!({"reason": reason}),
        )
        .await;
        return Ok(refused());
    };
    attempt.succeeded();
    // The session remembers whether it presented a second factor; without
    // one, in an organisation that requires it (now or later), it may only
    // set one up (`Store::principal_for_session`).
    let second_factor = user.totp_enabled;
    let setup_required = user.org_requires_totp && !second_factor;
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
            mfa_done: second_factor,
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
        json!({"mfa_done": !setup_required, "second_factor": second_factor}),
    )
    .await;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}"
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "username": user.username, "mfa_setup_required": setup_required })),
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
    let org_name = super::monitors::OrgNames::default()
        .of(&state, p.org_id)
        .await;
    Json(json!({
        "user_id": p.user_id,
        "username": p.username,
        "org_id": p.org_id,
        "org_name": org_name,
        "permissions": held(p),
        "grants": p.grants,
        "mfa_done": p.mfa_done,
        "totp_enabled": totp_enabled,
    }))
}

/// Where the caller holds each permission it holds anywhere:
/// `{"monitors.manage": {"whole_org": false, "sites": ["hq"]}}` (what the
/// console shows, hides or explains; the routes decide for themselves).
fn held(principal: &steward_store::Principal) -> Value {
    use crate::authz::{Permission, scope_for};
    let mut held = serde_json::Map::new();
    for permission in Permission::ALL {
        let scope = scope_for(principal, permission);
        if scope.is_empty() {
            continue;
        }
        let whole_org = scope
            .allow
            .iter()
            .filter(|p| p.site.is_none())
            .any(|p| scope.allows_org(p.org.unwrap_or(principal.org_id)));
        let sites: Vec<&str> = scope
            .allow
            .iter()
            .filter_map(|p| p.site.as_deref())
            .collect();
        held.insert(
            permission.as_str().into(),
            json!({ "whole_org": whole_org, "sites": sites }),
        );
    }
    Value::Object(held)
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
    let Some(step) = auth::totp_step(&secret, body.code.trim())? else {
        return Err(ApiError::bad_request("wrong two-factor code"));
    };
    // The code that turned TOTP on cannot sign in a second time.
    if !state.store.claim_totp_step(user.id, step as i64).await? {
        return Err(ApiError::bad_request(
            "that code was already used; enter the next one",
        ));
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
    fn the_dummy_hash_costs_what_a_real_one_does() {
        // An unparsable dummy would answer unknown users at once: a way to
        // tell which usernames exist.
        let parsed = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        let params = argon2::Params::try_from(&parsed).unwrap();
        let real = auth::hash_password("x").unwrap();
        let real = argon2::Params::try_from(&argon2::PasswordHash::new(&real).unwrap()).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (real.m_cost(), real.t_cost(), real.p_cost())
        );
        assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
        assert!(!crate::password::verify_with(
            &mut Vec::new(),
            "x",
            DUMMY_HASH
        ));
    }

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
