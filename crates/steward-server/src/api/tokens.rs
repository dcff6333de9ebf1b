//! API tokens (the caller's own) and enrollment tokens.

use super::{ApiError, ApiResult, id_param, parse_duration};
use crate::AppState;
use crate::auth::{self, Caller};
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{ApiTokenSummary, EnrollTokenRecord, NewApiToken};
use uuid::Uuid;

#[derive(Deserialize)]
pub struct NewToken {
    name: Option<String>,
    /// e.g. "90d"; no expiry when absent.
    expires_in: Option<String>,
    /// Limit the token to this role's permissions (e.g. "read_only").
    role: Option<String>,
    /// Limit the token to one organisation (name) ...
    org: Option<String>,
    /// ... and one site in it.
    site: Option<String>,
}

pub async fn create_api_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewToken>,
) -> ApiResult<Value> {
    let now = crate::now_secs();
    let expires_at = body
        .expires_in
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .map(|d| now + d.as_secs() as i64);
    if let Some(role) = &body.role {
        state
            .store
            .role(role)
            .await
            .map_err(|_| ApiError::bad_request(format!("no role {role:?}")))?;
    }
    let scope_org = match &body.org {
        Some(name) => Some(
            state
                .store
                .org_by_name(&steward_store::Scope::all(), name)
                .await
                .map_err(|_| ApiError::bad_request(format!("no organisation {name:?}")))?
                .id,
        ),
        None => None,
    };
    if body.site.is_some() && scope_org.is_none() {
        return Err(ApiError::bad_request("a site limit needs an organisation"));
    }
    let token = auth::new_api_token();
    let id = state
        .store
        .create_api_token(&NewApiToken {
            id: Uuid::now_v7(),
            user_id: caller.principal.user_id,
            name: body.name.unwrap_or_else(|| "api".into()),
            token_hash: auth::hash_secret(&token),
            created_at: now,
            expires_at,
            role_id: body.role,
            scope_org,
            scope_site: body.site,
        })
        .await?;
    Ok(Json(
        json!({ "id": id, "token": token, "expires_at": expires_at }),
    ))
}

pub async fn list_api_tokens(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<ApiTokenSummary>> {
    Ok(Json(
        state
            .store
            .list_api_tokens(caller.principal.user_id)
            .await?,
    ))
}

pub async fn revoke_api_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "token")?;
    state
        .store
        .revoke_api_token(Some(caller.principal.user_id), id)
        .await?;
    // Live sockets opened with it notice at their next check (events.rs).
    Ok(Json(json!({ "revoked": id })))
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
    caller: Caller,
    Json(body): Json<NewEnroll>,
) -> ApiResult<Value> {
    let org_id = super::org_named(&state, &caller, body.org.as_deref()).await?;
    let site = body.site.unwrap_or_else(|| "default".into());
    for value in std::iter::once(&site).chain(&body.tags) {
        if value.is_empty() || value.len() > 64 || value.chars().any(char::is_control) {
            return Err(ApiError::bad_request(format!(
                "invalid site or tag {value:?}"
            )));
        }
    }
    if !caller.scope.allows(org_id, Some(&site)) {
        return Err(ApiError::forbidden("you may not enrol devices there"));
    }
    let lifetime = parse_duration(body.expires_in.as_deref().unwrap_or("24h"))?;
    let (record, token) = crate::enrollment::issue_token(
        &state,
        org_id,
        site,
        body.tags,
        lifetime,
        body.uses,
        &caller.principal.username,
    )
    .await?;
    Ok(Json(json!({
        "id": record.id,
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
    caller: Caller,
) -> ApiResult<Vec<EnrollTokenRecord>> {
    Ok(Json(state.store.list_enroll_tokens(&caller.scope).await?))
}

pub async fn revoke_enroll(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "enrollment token")?;
    state.store.revoke_enroll_token(&caller.scope, id).await?;
    Ok(Json(json!({ "revoked": id })))
}
