//! Sign-in, API tokens and enrollment tokens.

use super::{ApiError, ApiResult, parse_duration};
use crate::AppState;
use crate::auth::{self, Caller, SESSION_COOKIE};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{NewApiToken, NewSession, Role, StoreError};
use uuid::Uuid;

const SESSION_SECS: i64 = 12 * 3600;

#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    Json(login): Json<Login>,
) -> Result<Response, ApiError> {
    let user = match state.store.user_by_name(&login.username).await {
        Ok(user) => Some(user),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    // Verify against a dummy hash for unknown users so timing does not tell.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&login.password, &hash))
        .await
        .unwrap_or(false);
    let (Some(user), true) = (user, ok) else {
        tracing::warn!(username = %login.username, "Sign-in failed.");
        return Err(ApiError::unauthorized("wrong username or password"));
    };
    let secret = auth::random_secret(32);
    let now = crate::now_secs();
    state
        .store
        .create_session(&NewSession {
            session_hash: auth::hash_secret(&secret),
            user_id: user.id,
            created_at: now,
            expires_at: now + SESSION_SECS,
        })
        .await?;
    tracing::info!(username = %user.username, "Signed in.");
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}"
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "username": user.username })),
    )
        .into_response())
}

/// An Argon2id hash of a random string, used to spend the same time on
/// unknown users as on known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3Rld2FyZHN0ZXdhcmQ$Q0vQ0x2Jr3YxG4q1X1yq5a9W8H3lQ2bq8eZ0vYc2G8E";

pub async fn logout(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, _) = request.into_parts();
    if let Some(session) = auth::session_cookie(&parts) {
        let _ = state
            .store
            .delete_session(&auth::hash_secret(&session))
            .await;
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    (
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "signed_out": true })),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct NewToken {
    name: Option<String>,
    /// e.g. "90d"; no expiry when absent.
    expires_in: Option<String>,
}

pub async fn create_api_token(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Json(body): Json<NewToken>,
) -> ApiResult<Value> {
    let now = crate::now_secs();
    let expires_at = body
        .expires_in
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .map(|d| now + d.as_secs() as i64);
    let token = auth::new_api_token();
    let id = state
        .store
        .create_api_token(&NewApiToken {
            id: Uuid::now_v7(),
            user_id: who.user_id,
            name: body.name.unwrap_or_else(|| "api".into()),
            token_hash: auth::hash_secret(&token),
            created_at: now,
            expires_at,
        })
        .await?;
    Ok(Json(
        json!({ "id": id, "token": token, "expires_at": expires_at }),
    ))
}

#[derive(Deserialize)]
pub struct NewEnroll {
    /// Organisation name; the caller's own when absent.
    org: Option<String>,
    site: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// Default 24h.
    expires_in: Option<String>,
    /// Number of enrolments allowed; unlimited when absent.
    uses: Option<u32>,
}

pub async fn create_enroll(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Json(body): Json<NewEnroll>,
) -> ApiResult<Value> {
    if who.role == Role::ReadOnly {
        return Err(ApiError::forbidden("read-only role"));
    }
    let org = match &body.org {
        Some(name) => state
            .store
            .org_by_name(&who.scope, name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::not_found(format!("no organisation {name:?}")),
                other => other.into(),
            })?,
        None => steward_store::Org {
            id: who.org_id,
            name: String::new(),
        },
    };
    let site = body.site.unwrap_or_else(|| "default".into());
    for value in std::iter::once(&site).chain(&body.tags) {
        if value.is_empty() || value.len() > 64 || value.chars().any(char::is_control) {
            return Err(ApiError::bad_request(format!(
                "invalid site or tag {value:?}"
            )));
        }
    }
    let lifetime = parse_duration(body.expires_in.as_deref().unwrap_or("24h"))?;
    let (record, token) = crate::enrollment::issue_token(
        &state,
        org.id,
        site,
        body.tags,
        lifetime,
        body.uses,
        &who.username,
    )
    .await?;
    let id = record.id;
    Ok(Json(json!({
        "id": id,
        "token": token,
        "org_id": record.org_id,
        "site": record.site,
        "tags": record.tags,
        "expires_at": record.expires_at,
        "uses_left": record.uses_left,
        "install_command": crate::enrollment::install_command(&token),
    })))
}

pub async fn list_enroll(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
) -> ApiResult<Vec<steward_store::EnrollTokenRecord>> {
    Ok(Json(state.store.list_enroll_tokens(&who.scope).await?))
}

pub async fn revoke_enroll(
    State(state): State<Arc<AppState>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::bad_request("not a token id"))?;
    state.store.revoke_enroll_token(&who.scope, id).await?;
    Ok(Json(json!({ "revoked": id })))
}
