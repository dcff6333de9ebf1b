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

/// The user in the caller's scope, or "not found".
pub(super) async fn visible(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<UserSummary, ApiError> {
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
    /// What people call them; `null` clears it.
    #[serde(default, deserialize_with = "super::grants::present")]
    full_name: Option<Option<String>>,
    /// Where to reach them; `null` clears it.
    #[serde(default, deserialize_with = "super::grants::present")]
    email: Option<Option<String>>,
}

/// A full name: up to 200 characters, no control characters.
pub(super) fn valid_full_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "a full name is 1 to 200 characters without control characters, not {name:?}"
        )));
    }
    Ok(())
}

/// An email address as people write one: `local@domain`, no spaces, at
/// most 254 characters (nothing is sent to it here).
pub(super) fn valid_email(email: &str) -> Result<(), ApiError> {
    let well_formed = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                && !domain.ends_with('.') && !domain.contains('@'));
    if !well_formed {
        return Err(ApiError::bad_request(format!(
            "{email:?} is not an email address (name@example.com)"
        )));
    }
    Ok(())
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
    if body.disabled.is_none()
        && body.password.is_none()
        && body.full_name.is_none()
        && body.email.is_none()
    {
        return Err(ApiError::bad_request(
            "nothing to change: a user's fields are \"disabled\", \"password\", \"full_name\" and \"email\" (the username is the sign-in name and stays; roles are grants)",
        ));
    }
    if let Some(Some(name)) = &body.full_name {
        valid_full_name(name)?;
    }
    if let Some(Some(email)) = &body.email {
        valid_email(email)?;
    }
    if body.password.is_some() {
        not_yourself(&caller, &user, "reset the password of")?;
        holds_all_of(&state, &caller, &user).await?;
    }
    if body.disabled == Some(true) {
        not_yourself(&caller, &user, "disable")?;
        holds_all_of(&state, &caller, &user).await?;
    }
    // Where someone is reached is theirs or their betters' to change (an
    // address may one day receive their password resets).
    if (body.full_name.is_some() || body.email.is_some()) && caller.principal.user_id != user.id {
        holds_all_of(&state, &caller, &user).await?;
    }
    if let Some(expected) = expected
        && expected != user.version
    {
        return Err(steward_store::StoreError::Stale(user.version).into());
    }
    // Checked (and hashed) before anything changes.
    let hash = match &body.password {
        Some(password) => Some(super::passwords::new_hash(&state, password).await?),
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
    let full_name = body.full_name.clone().unwrap_or(user.full_name.clone());
    let email = body.email.clone().unwrap_or(user.email.clone());
    if body.full_name.is_some() || body.email.is_some() {
        version = state
            .store
            .set_user_profile(
                &caller.scope,
                user.id,
                full_name.as_deref(),
                email.as_deref(),
                Some(version),
            )
            .await?;
    }
    if let Some(hash) = &hash {
        state.store.set_password(user.id, hash, None).await?;
        version += 1;
    }
    crate::revocation::credentials_changed(&state);
    // (Not "password…" or "credential…": the audit trail redacts such keys' values.)
    let mut after = json!({ "username": user.username, "disabled": disabled, "full_name": full_name, "email": email });
    if hash.is_some() {
        after["sign_in"] = json!("reset");
    }
    caller.changed(
        json!({ "username": user.username, "disabled": user.disabled, "full_name": user.full_name, "email": user.email }),
        after,
    );
    Ok(tagged(
        version,
        json!({ "id": user.id, "username": user.username, "disabled": disabled, "full_name": full_name, "email": email, "version": version }),
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
