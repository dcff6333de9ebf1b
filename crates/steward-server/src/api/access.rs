//! Tenancy and access: organisations, users, roles, grants, the audit log.
//! Nobody hands out more than they hold: every role granted or created
//! must consist of permissions the caller holds at that place.

use super::{ApiError, ApiResult, id_param, org_named};
use crate::AppState;
use crate::auth::Caller;
use crate::authz::{self, Permission};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{
    AuditEntry, AuditFilter, NewGrant, NewUser, Org, RoleRecord, Scope, UserSummary,
};
use uuid::Uuid;

pub(super) fn global(scope: &Scope) -> bool {
    scope
        .allow
        .iter()
        .any(|p| p.org.is_none() && p.site.is_none())
        && scope.deny.is_empty()
}

pub(super) fn valid_name(what: &str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what} must be 1-64 letters, digits or . _ @ -"
        )))
    }
}

/// The caller must hold every permission of `role` at (org, site); `org`
/// None means everywhere.
/// A role a grant in `org` may name: a built-in one or `org`'s own. Another
/// organisation's role is "no role" (its owners change it; a grant here
/// would follow their edits), said the same as a missing one.
pub(super) async fn role_in(state: &AppState, id: &str, org: Uuid) -> Result<RoleRecord, ApiError> {
    match state.store.role(id).await {
        Ok(role) if role.org_id.is_none_or(|o| o == org) => Ok(role),
        _ => Err(ApiError::bad_request(format!(
            "no role {id:?} in this organisation (built-in roles and the organisation's own)"
        ))),
    }
}

pub(super) fn check_not_exceeding(
    caller: &Caller,
    role: &RoleRecord,
    org: Option<Uuid>,
    site: Option<&str>,
) -> Result<(), ApiError> {
    for name in &role.permissions {
        let permission = Permission::parse(name)
            .ok_or_else(|| ApiError::bad_request(format!("unknown permission {name:?}")))?;
        let ok = match org {
            Some(org) => authz::holds_at(&caller.principal, permission, org, site),
            None => global(&authz::scope_for(&caller.principal, permission)),
        };
        if !ok {
            return Err(ApiError::forbidden(format!(
                "you cannot grant {name} there"
            )));
        }
    }
    Ok(())
}

pub async fn list_orgs(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult<Vec<Org>> {
    Ok(Json(state.store.list_orgs(&caller.scope).await?))
}

#[derive(Deserialize)]
pub struct NewOrg {
    name: String,
}

pub async fn create_org(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewOrg>,
) -> ApiResult<Org> {
    valid_name("organisation name", &body.name)?;
    if !global(&caller.scope) {
        return Err(ApiError::forbidden(
            "creating organisations needs orgs.manage everywhere",
        ));
    }
    let org = state.store.create_org(&body.name).await?;
    caller.acting_in(org.id);
    caller.changed(Value::Null, json!(org));
    Ok(Json(org))
}

#[derive(Deserialize)]
pub struct RequireTotp {
    require: bool,
}

/// Requires (or stops requiring) two factors of an organisation's users.
/// It applies at once to what they already hold, on every replica (checked
/// at each authentication, `auth::authenticate`): a session that presented
/// no second factor may only set up TOTP or sign out, and the API tokens of
/// a user without TOTP are refused until they turn it on.
pub async fn require_totp(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RequireTotp>,
) -> ApiResult<Value> {
    let org = id_param(&id, "organisation")?;
    if !caller.scope.allows_org(org) {
        return Err(ApiError::not_found("not found"));
    }
    state
        .store
        .set_org_require_totp(&caller.scope, org, body.require)
        .await?;
    crate::revocation::credentials_changed(&state);
    Ok(Json(json!({ "org_id": org, "require_totp": body.require })))
}

pub async fn list_users(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<UserSummary>> {
    Ok(Json(state.store.list_users(&caller.scope).await?))
}

#[derive(Deserialize)]
pub struct NewUserBody {
    username: String,
    password: String,
    /// Organisation name; the caller's own when absent.
    org: Option<String>,
    /// Role granted in that organisation (default read_only).
    role: Option<String>,
    /// Limit the grant to one site.
    site: Option<String>,
    /// What people call them.
    full_name: Option<String>,
    /// Where to reach them.
    email: Option<String>,
}

pub async fn create_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewUserBody>,
) -> ApiResult<Value> {
    valid_name("username", &body.username)?;
    if body.password.chars().count() < 12 {
        return Err(ApiError::bad_request(
            "passwords need at least 12 characters",
        ));
    }
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    if !caller.scope.allows_all_of(org, body.site.as_deref()) {
        return Err(ApiError::forbidden("you cannot manage users there"));
    }
    let role = role_in(&state, body.role.as_deref().unwrap_or("read_only"), org).await?;
    check_not_exceeding(&caller, &role, Some(org), body.site.as_deref())?;
    if let Some(name) = &body.full_name {
        super::users::valid_full_name(name)?;
    }
    if let Some(email) = &body.email {
        super::users::valid_email(email)?;
    }
    let hash = super::passwords::new_hash(&state, &body.password).await?;
    let id = state
        .store
        .create_user(&NewUser {
            id: Uuid::now_v7(),
            org_id: org,
            username: body.username.clone(),
            password_hash: hash,
            created_at: crate::now_secs(),
            full_name: body.full_name.clone(),
            email: body.email.clone(),
        })
        .await
        .map_err(|error| match error {
            // Usernames are unique across the installation; say so in
            // words, not with the database's message.
            steward_store::StoreError::Conflict(_) => ApiError::new(
                axum::http::StatusCode::CONFLICT,
                format!("the username {:?} is taken; choose another", body.username),
            ),
            other => other.into(),
        })?;
    state
        .store
        .create_grant(&NewGrant {
            id: Uuid::now_v7(),
            user_id: id,
            org_id: Some(org),
            site: body.site.clone(),
            role_id: role.id.clone(),
            deny: false,
        })
        .await?;
    let created = json!({ "id": id, "username": body.username, "org_id": org, "role": role.id, "site": body.site, "full_name": body.full_name, "email": body.email });
    caller.changed(Value::Null, created.clone());
    Ok(Json(created))
}

#[derive(Deserialize)]
pub struct NewGrantBody {
    role: String,
    /// Organisation name; the caller's own when absent.
    org: Option<String>,
    site: Option<String>,
    #[serde(default)]
    deny: bool,
}

pub async fn create_grant(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<NewGrantBody>,
) -> ApiResult<Value> {
    let user = id_param(&id, "user")?;
    // The target user must be one the caller manages.
    let visible = state.store.list_users(&caller.scope).await?;
    if !visible.iter().any(|u| u.id == user) {
        return Err(ApiError::not_found("not found"));
    }
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    if !caller.scope.allows_all_of(org, body.site.as_deref()) {
        return Err(ApiError::forbidden("you cannot manage users there"));
    }
    let role = role_in(&state, &body.role, org).await?;
    check_not_exceeding(&caller, &role, Some(org), body.site.as_deref())?;
    state
        .store
        .create_grant(&NewGrant {
            id: Uuid::now_v7(),
            user_id: user,
            org_id: Some(org),
            site: body.site.clone(),
            role_id: role.id.clone(),
            deny: body.deny,
        })
        .await?;
    // A deny takes effect on open terminals and streams at once.
    crate::revocation::credentials_changed(&state);
    let created = json!({ "user_id": user, "role": role.id, "org_id": org, "site": body.site, "deny": body.deny });
    caller.changed(Value::Null, created.clone());
    Ok(Json(created))
}

/// Roles with their editable `fields` (an organisation's own roles; the
/// built-in ones are fixed and have none).
pub async fn list_roles(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let roles = state.store.list_roles(&caller.scope).await?;
    Ok(Json(
        roles
            .iter()
            .map(|role| match role.org_id {
                Some(_) => super::lifecycle::with_fields(
                    role,
                    json!({ "name": role.name, "permissions": role.permissions }),
                ),
                None => json!(role),
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
pub struct NewRole {
    name: String,
    permissions: Vec<String>,
    /// Organisation name; the caller's own when absent.
    org: Option<String>,
}

pub async fn create_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewRole>,
) -> ApiResult<RoleRecord> {
    valid_name("role name", &body.name)?;
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden("you cannot manage roles there"));
    }
    let role = RoleRecord {
        id: Uuid::now_v7().to_string(),
        org_id: Some(org),
        name: body.name,
        permissions: body.permissions,
        version: 1,
    };
    check_not_exceeding(&caller, &role, Some(org), None)?;
    state
        .store
        .create_role(&role)
        .await
        .map_err(|e| super::lifecycle::named_conflict(e, "role", &role.name))?;
    caller.changed(Value::Null, json!(role));
    Ok(Json(role))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    after: i64,
    /// Newest first, older than this entry id (the console's pages).
    before: Option<i64>,
    limit: Option<u32>,
    /// Who acted (a username, exactly).
    actor: Option<String>,
    /// Text the action contains (`shell`, `POST /api/v1/monitors`).
    action: Option<String>,
    /// Text the target or the details contain (a device's id or name).
    object: Option<String>,
    /// From this time: Unix milliseconds or RFC 3339.
    since: Option<String>,
    /// Up to this time: Unix milliseconds or RFC 3339.
    until: Option<String>,
}

/// A time as the audit filters take it (Unix milliseconds, or RFC 3339
/// such as `2025-06-01T08:00:00Z`), in the log's Unix seconds.
fn audit_time(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Some(ms.div_euclid(1000)));
    }
    let at = humantime::parse_rfc3339_weak(text).map_err(|_| {
        ApiError::bad_request(format!(
            "{name} is Unix milliseconds or an RFC 3339 time such as 2025-06-01T08:00:00Z"
        ))
    })?;
    let secs = match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    Ok(Some(secs))
}

/// The audit log, newest first from `before` or oldest first from
/// `after`, narrowed by who, what, which object and when.
pub async fn audit_log(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Vec<AuditEntry>> {
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let text = |t: Option<String>| t.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let filter = AuditFilter {
        since: audit_time("since", q.since.as_deref())?,
        until: audit_time("until", q.until.as_deref())?,
        actor: text(q.actor),
        action: text(q.action),
        object: text(q.object),
    };
    Ok(Json(match q.before {
        Some(before) => {
            state
                .store
                .audit_recent(&caller.scope, before, limit, &filter)
                .await?
        }
        None => {
            state
                .store
                .audit_entries(&caller.scope, q.after, limit, &filter)
                .await?
        }
    }))
}
