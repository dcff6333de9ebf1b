//! Passwords changed: your own (the current one first; your other browser
//! sessions end, this one stays), or another user's reset by an
//! administrator who holds all they hold (every session of theirs ends).
//! API tokens stay either way: they are credentials of their own.

use super::ApiError;
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Shortest password accepted (as for new users).
pub const MIN_LENGTH: usize = 12;

/// The stored hash of a new password, refused when too short.
pub async fn new_hash(state: &AppState, password: &str) -> Result<String, ApiError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(ApiError::bad_request(format!(
            "passwords need at least {MIN_LENGTH} characters"
        )));
    }
    state
        .passwords
        .hash(password.to_string())
        .await
        .map_err(|busy| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("{busy}: try again in a few seconds"),
            )
        })?
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnPassword {
    /// Named so the audit trail redacts them (keys with "password").
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/me/password`.
pub async fn change_own(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<OwnPassword>,
) -> Result<Response, ApiError> {
    let user = state.store.user_by_id(caller.principal.user_id).await?;
    // Guesses at the current password count like failed sign-ins: a
    // stolen session or token is no password oracle.
    let ip = caller
        .source
        .parse()
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let attempt = match state
        .throttle
        .begin(ip, &user.username, std::time::Instant::now())
    {
        Ok(attempt) => attempt,
        Err(wait) => {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many wrong passwords; try again in {} s",
                    wait.as_secs().max(1)
                ),
            ));
        }
    };
    let Ok(right) = state
        .passwords
        .verify(body.current_password.clone(), user.password_hash.clone())
        .await
    else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is busy checking other passwords; try again in a second",
        ));
    };
    if !right {
        attempt.failed(std::time::Instant::now());
        return Err(ApiError::forbidden("the current password is wrong"));
    }
    attempt.succeeded();
    if body.new_password == body.current_password {
        return Err(ApiError::bad_request("the new password is the current one"));
    }
    let hash = new_hash(&state, &body.new_password).await?;
    state
        .store
        .set_password(user.id, &hash, caller.session.as_deref())
        .await?;
    crate::revocation::credentials_changed(&state);
    // (Not "password…" or "credential…": the audit trail redacts such keys' values.)
    caller.changed(
        json!({ "username": user.username }),
        json!({ "username": user.username, "sign_in": "changed" }),
    );
    Ok(Json(json!({ "changed": true, "other_sessions_ended": true })).into_response())
}
