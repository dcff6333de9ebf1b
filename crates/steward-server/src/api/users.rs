//! A user's life after creation: read with their grants, disabled and
//! enabled, deleted, and a grant revoked. Each takes effect at once: the
//! credentials of open terminals, event streams and job streams are
//! checked again on every replica (`revocation::credentials_changed`), and
//! a disabled or deleted user's sessions and tokens resolve no more.

use super::lifecycle::{expected_version, tagged};
use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{Scope, UserSummary};
use uuid::Uuid;

/// The user in the caller's scope, or "not found".
async fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<UserSummary, ApiError> {
    let id = id_param(id, "user")?;
    state
        .store
        .list_users(&caller.scope)
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .ok_or_else(|| ApiError::not_found("not found"))
}

fn not_yourself(caller: &Caller, user: &UserSummary, what: &str) -> Result<(), ApiError> {
    if caller.principal.user_id == user.id {
        return Err(ApiError::bad_request(format!(
            "you cannot {what} your own account: ask another administrator"
        )));
    }
    Ok(())
}

/// Disabling or deleting someone takes away what they hold: only a caller
/// who holds all of it (each permission of each allowing grant, where it
/// applies) may, so an admin cannot lock out an owner.
async fn holds_all_of(
    state: &AppState,
    caller: &Caller,
    user: &UserSummary,
) -> Result<(), ApiError> {
    for grant in state.store.user_grants(user.id).await? {
        if grant.deny {
            continue;
        }
        for name in &grant.permissions {
            // A permission this version does not know grants nothing.
            let Some(permission) = crate::authz::Permission::parse(name) else {
                continue;
            };
            let held = match grant.org_id {
                Some(org) => crate::authz::holds_at(
                    &caller.principal,
                    permission,
                    org,
                    grant.site.as_deref(),
                ),
                None => {
                    super::access::global(&crate::authz::scope_for(&caller.principal, permission))
                }
            };
            if !held {
                return Err(ApiError::forbidden(format!(
                    "{} holds {name} where you do not: ask someone who holds at least what they do",
                    user.username
                )));
            }
        }
    }
    Ok(())
}

pub async fn get_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = visible(&state, &caller, &id).await?;
    let grants = state.store.user_grants(user.id).await?;
    let mut answer = serde_json::to_value(&user).unwrap_or_default();
    answer["grants"] = json!(grants);
    Ok(tagged(user.version, answer))
}

/// A user's grants (and explicit denials), each with its place.
pub async fn list_grants(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> super::ApiResult<Vec<steward_store::Grant>> {
    let user = visible(&state, &caller, &id).await?;
    Ok(axum::Json(state.store.user_grants(user.id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// True: kept, but signs in no more and every credential stops.
    disabled: Option<bool>,
    /// A new password (a reset by an administrator): every session of
    /// theirs ends.
    password: Option<String>,
}

pub async fn patch_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<UserPatch>,
) -> Result<Response, ApiError> {
    let expected = expected_version(&headers)?;
    let user = visible(&state, &caller, &id).await?;
    if body.disabled.is_none() && body.password.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: a user's fields are {\"disabled\": true|false} and {\"password\": \"...\"} (roles are grants)",
        ));
    }
    if body.password.is_some() {
        not_yourself(&caller, &user, "reset the password of")?;
        holds_all_of(&state, &caller, &user).await?;
    }
    if body.disabled == Some(true) {
        not_yourself(&caller, &user, "disable")?;
        holds_all_of(&state, &caller, &user).await?;
    }
    if let Some(expected) = expected
        && expected != user.version
    {
        return Err(steward_store::StoreError::Stale(user.version).into());
    }
    // Checked (and hashed) before anything changes.
    let hash = match &body.password {
        Some(password) => Some(super::passwords::new_hash(password).await?),
        None => None,
    };
    caller.acting_in(user.org_id);
    let disabled = body.disabled.unwrap_or(user.disabled);
    let mut version = user.version;
    if body.disabled.is_some() {
        version = state
            .store
            .set_user_disabled(&caller.scope, user.id, disabled, Some(user.version))
            .await?;
    }
    if let Some(hash) = &hash {
        state.store.set_password(user.id, hash, None).await?;
        version += 1;
    }
    crate::revocation::credentials_changed(&state);
    // (Not "password…" or "credential…": the audit trail redacts such keys' values.)
    let mut after = json!({ "username": user.username, "disabled": disabled });
    if hash.is_some() {
        after["sign_in"] = json!("reset");
    }
    caller.changed(
        json!({ "username": user.username, "disabled": user.disabled }),
        after,
    );
    Ok(tagged(
        version,
        json!({ "id": user.id, "username": user.username, "disabled": disabled, "version": version }),
    ))
}

/// What runs later as `username`: schedules and remediations, by name.
async fn standing_work(state: &AppState, username: &str) -> Result<Vec<String>, ApiError> {
    let mut found = Vec::new();
    for schedule in state.store.list_schedules(&Scope::all()).await? {
        if schedule.created_by == username {
            found.push(format!("schedule {:?}", schedule.name));
        }
    }
    for monitor in state.store.list_monitors(&Scope::all()).await? {
        if monitor.definition["remediation"]["owner"] == username {
            found.push(format!("the self-healing of monitor {:?}", monitor.name));
        }
    }
    Ok(found)
}

pub async fn delete_user(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let user = visible(&state, &caller, &id).await?;
    not_yourself(&caller, &user, "delete")?;
    holds_all_of(&state, &caller, &user).await?;
    let work = standing_work(&state, &user.username).await?;
    if !work.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{} cannot be deleted: {} run as them ({}); edit or delete those first (whoever edits one takes it over), or disable the account instead",
                user.username,
                if work.len() == 1 {
                    "one thing would"
                } else {
                    "these would"
                },
                work.join(", ")
            ),
        ));
    }
    state.store.delete_user(&caller.scope, user.id).await?;
    crate::revocation::credentials_changed(&state);
    caller.changed(
        json!({ "username": user.username, "org_id": user.org_id }),
        Value::Null,
    );
    Ok(Json(
        json!({ "deleted": user.id, "username": user.username }),
    ))
}

pub async fn delete_grant(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, grant)): Path<(String, String)>,
) -> ApiResult<Value> {
    let user = visible(&state, &caller, &id).await?;
    let grant = id_param(&grant, "grant")?;
    let before = state
        .store
        .user_grants(user.id)
        .await?
        .into_iter()
        .find(|g| g.id == grant)
        .ok_or_else(|| ApiError::not_found("not found"))?;
    // Revoking is changing what the user holds: only where the caller
    // manages users.
    if !caller
        .scope
        .allows(before.org_id.unwrap_or(Uuid::nil()), before.site.as_deref())
    {
        return Err(ApiError::forbidden(
            "that grant is for a place where you do not manage users",
        ));
    }
    state
        .store
        .delete_grant(&caller.scope, user.id, grant)
        .await?;
    crate::revocation::credentials_changed(&state);
    caller.changed(json!(before), Value::Null);
    Ok(Json(json!({ "revoked": grant, "user_id": user.id })))
}
