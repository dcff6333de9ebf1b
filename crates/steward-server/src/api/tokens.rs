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

/// What a new token may be, given the token that asks for it: no stronger
/// (its role's permissions within the caller's), no wider (the caller's
/// organisation and site) and no longer-lived. Omitted fields inherit the
/// caller's limits. A session (or an unrestricted token) acts as its user.
struct Limits {
    role: Option<String>,
    org: Option<Uuid>,
    site: Option<String>,
    expires_at: Option<i64>,
}

fn within_caller(
    limit: Option<&steward_store::TokenLimit>,
    role: Option<(&str, &[String])>,
    wanted: Limits,
) -> Result<Limits, ApiError> {
    let Some(limit) = limit else {
        return Ok(wanted);
    };
    let mut out = wanted;
    match (&limit.permissions, role) {
        (Some(mine), Some((name, theirs))) => {
            if let Some(extra) = theirs.iter().find(|p| !mine.contains(p)) {
                return Err(ApiError::forbidden(format!(
                    "this token may not create a token with role {name:?}: it holds {extra}, which this token does not"
                )));
            }
        }
        (Some(_), None) => out.role = limit.role_id.clone(),
        (None, _) => {}
    }
    if let Some(org) = limit.org_id {
        match out.org {
            Some(wanted) if wanted != org => {
                return Err(ApiError::forbidden(
                    "this token may only create tokens for its own organisation",
                ));
            }
            _ => out.org = Some(org),
        }
    }
    if let Some(site) = &limit.site {
        match &out.site {
            Some(wanted) if wanted != site => {
                return Err(ApiError::forbidden(format!(
                    "this token may only create tokens for its own site {site:?}"
                )));
            }
            _ => out.site = Some(site.clone()),
        }
    }
    if let Some(ends) = limit.expires_at {
        match out.expires_at {
            Some(wanted) if wanted > ends => {
                return Err(ApiError::forbidden(
                    "this token may not create a token that outlives it",
                ));
            }
            _ => out.expires_at = Some(out.expires_at.unwrap_or(ends).min(ends)),
        }
    }
    Ok(out)
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
        .map(|d| now.saturating_add(d.as_secs().min(i64::MAX as u64) as i64));
    let role = match &body.role {
        Some(role) => Some(
            state
                .store
                .role(role)
                .await
                .map_err(|_| ApiError::bad_request(format!("no role {role:?}")))?,
        ),
        None => None,
    };
    let principal = &caller.principal;
    let scope_org = match &body.org {
        // Only an organisation the user holds a grant in: another tenant's
        // name answers as an unknown one does.
        Some(name) => Some(
            state
                .store
                .org_by_name(&steward_store::Scope::all(), name)
                .await
                .ok()
                .filter(|org| {
                    principal
                        .grants
                        .iter()
                        .any(|g| !g.deny && g.org_id.is_none_or(|o| o == org.id))
                })
                .ok_or_else(|| ApiError::bad_request(format!("no organisation {name:?}")))?
                .id,
        ),
        None => None,
    };
    if body.site.is_some() && scope_org.is_none() && principal.token.is_none() {
        return Err(ApiError::bad_request("a site limit needs an organisation"));
    }
    let limits = within_caller(
        principal.token.as_ref(),
        role.as_ref()
            .map(|r| (r.id.as_str(), r.permissions.as_slice())),
        Limits {
            role: body.role,
            org: scope_org,
            site: body.site,
            expires_at,
        },
    )?;
    if limits.site.is_some() && limits.org.is_none() {
        return Err(ApiError::bad_request("a site limit needs an organisation"));
    }
    let token = auth::new_api_token();
    let id = state
        .store
        .create_api_token(&NewApiToken {
            id: Uuid::now_v7(),
            user_id: principal.user_id,
            name: body.name.unwrap_or_else(|| "api".into()),
            token_hash: auth::hash_secret(&token),
            created_at: now,
            expires_at: limits.expires_at,
            role_id: limits.role,
            scope_org: limits.org,
            scope_site: limits.site,
        })
        .await?;
    Ok(Json(
        json!({ "id": id, "token": token, "expires_at": limits.expires_at }),
    ))
}

/// The caller's tokens; a token limited to a role or place sees only itself.
pub async fn list_api_tokens(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<ApiTokenSummary>> {
    let mut tokens = state
        .store
        .list_api_tokens(caller.principal.user_id)
        .await?;
    if let Some(own) = restricted_token(&caller) {
        tokens.retain(|t| t.id == own);
    }
    Ok(Json(tokens))
}

/// The id of the calling token when it is restricted (it manages itself only).
fn restricted_token(caller: &Caller) -> Option<Uuid> {
    caller
        .principal
        .token
        .as_ref()
        .filter(|t| t.is_restricted())
        .map(|t| t.token_id)
}

/// One of the caller's tokens (a restricted token reads only itself).
async fn own_token(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ApiTokenSummary, ApiError> {
    let id = id_param(id, "token")?;
    if restricted_token(caller).is_some_and(|own| own != id) {
        return Err(ApiError::not_found("not found"));
    }
    state
        .store
        .list_api_tokens(caller.principal.user_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found("not found"))
}

pub async fn get_api_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<ApiTokenSummary> {
    Ok(Json(own_token(&state, &caller, &id).await?))
}

/// Removes one of the caller's tokens for good: it stops at once (open
/// sockets and shells opened with it close), and leaves the list.
pub async fn delete_api_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let before = own_token(&state, &caller, &id).await?;
    state
        .store
        .delete_api_token(caller.principal.user_id, before.id)
        .await?;
    crate::revocation::credentials_changed(&state);
    caller.changed(json!(before), Value::Null);
    Ok(Json(json!({ "deleted": before.id })))
}

pub async fn revoke_api_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "token")?;
    if restricted_token(&caller).is_some_and(|own| own != id) {
        // As if it did not exist: a restricted token cannot probe its
        // user's other tokens.
        return Err(ApiError::not_found("not found"));
    }
    state
        .store
        .revoke_api_token(Some(caller.principal.user_id), id)
        .await?;
    // Sockets and shells opened with it close now.
    crate::revocation::credentials_changed(&state);
    caller.changed(
        json!({ "id": id, "revoked": false }),
        json!({ "id": id, "revoked": true }),
    );
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
    super::place::valid_label("a site", &site)?;
    for tag in &body.tags {
        super::place::valid_label("a tag", tag)?;
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
        "installer_command": crate::installer::command(&state.public_url, &token),
    })))
}

pub async fn list_enroll(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<EnrollTokenRecord>> {
    Ok(Json(state.store.list_enroll_tokens(&caller.scope).await?))
}

pub async fn get_enroll(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<EnrollTokenRecord> {
    let id = id_param(&id, "enrollment token")?;
    Ok(Json(enroll_record(&state, &caller, id).await?))
}

pub async fn revoke_enroll(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "enrollment token")?;
    let before = enroll_record(&state, &caller, id).await?;
    state.store.revoke_enroll_token(&caller.scope, id).await?;
    caller.changed(json!(before), json!({ "id": id, "revoked": true }));
    Ok(Json(json!({ "revoked": id })))
}

/// Removes an enrollment token's record (the devices it enrolled stay).
pub async fn delete_enroll(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "enrollment token")?;
    let before = enroll_record(&state, &caller, id).await?;
    state.store.delete_enroll_token(&caller.scope, id).await?;
    caller.changed(json!(before), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

/// An enrollment token's record in the caller's scope (the record holds
/// no secret, so it can go into the audit trail as it is).
async fn enroll_record(
    state: &AppState,
    caller: &Caller,
    id: uuid::Uuid,
) -> Result<EnrollTokenRecord, ApiError> {
    state
        .store
        .list_enroll_tokens(&caller.scope)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found("not found"))
}
