//! A user's grants: read one with its version, change its role, site or
//! effect in place (`PATCH`, If-Match), revoke it. Each change takes effect
//! at once: open terminals and streams check their credentials again on
//! every replica (`revocation::credentials_changed`).

use super::access::check_not_exceeding;
use super::lifecycle::{expected_version, tagged};
use super::users::visible;
use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{Grant, UserSummary};
use uuid::Uuid;

/// The user in the caller's scope and one of their grants.
async fn grant_of(
    state: &AppState,
    caller: &Caller,
    (id, grant): (&str, &str),
) -> Result<(UserSummary, Grant), ApiError> {
    let user = visible(state, caller, id).await?;
    let grant = id_param(grant, "grant")?;
    let found = state
        .store
        .user_grants(user.id)
        .await?
        .into_iter()
        .find(|g| g.id == grant)
        .ok_or_else(|| ApiError::not_found("not found"))?;
    Ok((user, found))
}

/// Changing or revoking a grant changes what its user holds: only where
/// the caller manages users.
fn manages_place(caller: &Caller, grant: &Grant) -> Result<(), ApiError> {
    if caller
        .scope
        .allows_all_of(grant.org_id.unwrap_or(Uuid::nil()), grant.site.as_deref())
    {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "that grant is for a place where you do not manage users",
    ))
}

pub async fn get_grant(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, grant)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, grant) = grant_of(&state, &caller, (&id, &grant)).await?;
    Ok(tagged(grant.version, grant))
}

/// `Some(None)` for an explicit `null`, `None` when left out.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantPatch {
    role: Option<String>,
    /// A site of the grant's organisation; `null`: the whole organisation.
    #[serde(default, deserialize_with = "present")]
    site: Option<Option<String>>,
    /// True: the role's permissions are denied there instead of granted.
    deny: Option<bool>,
}

pub async fn patch_grant(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, grant)): Path<(String, String)>,
    Json(body): Json<GrantPatch>,
) -> Result<Response, ApiError> {
    let expected = expected_version(&headers)?;
    let (user, before) = grant_of(&state, &caller, (&id, &grant)).await?;
    if body.role.is_none() && body.site.is_none() && body.deny.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: a grant's fields are \"role\", \"site\" (null: the whole organisation) and \"deny\"",
        ));
    }
    if let Some(expected) = expected
        && expected != before.version
    {
        return Err(steward_store::StoreError::Stale(before.version).into());
    }
    manages_place(&caller, &before)?;
    let site = body.site.clone().unwrap_or_else(|| before.site.clone());
    if let Some(site) = &site {
        super::place::valid_label("a site", site)?;
    }
    let role_id = body.role.clone().unwrap_or_else(|| before.role_id.clone());
    let org = before.org_id.ok_or_else(|| {
        ApiError::forbidden("an installation-wide grant is changed by revoking and granting")
    })?;
    let role = super::access::role_in(&state, &role_id, org).await?;
    let deny = body.deny.unwrap_or(before.deny);
    // What the grant gave is taken away, and what it gives now is given:
    // the caller must hold both, at both places (as to revoke and to grant).
    let old = state.store.role(&before.role_id).await?;
    check_not_exceeding(&caller, &old, before.org_id, before.site.as_deref())?;
    let after = Grant {
        id: before.id,
        org_id: before.org_id,
        site,
        role_id: role.id.clone(),
        permissions: role.permissions.clone(),
        deny,
        version: before.version,
    };
    manages_place(&caller, &after)?;
    check_not_exceeding(&caller, &role, after.org_id, after.site.as_deref())?;
    let version = state
        .store
        .update_grant(
            &caller.scope,
            before.id,
            &role.id,
            after.site.as_deref(),
            deny,
            Some(before.version),
        )
        .await?;
    crate::revocation::credentials_changed(&state);
    caller.acting_in(org);
    let view = |g: &Grant| json!({ "user": user.username, "role": g.role_id, "org_id": g.org_id, "site": g.site, "deny": g.deny });
    caller.changed(view(&before), view(&after));
    Ok(tagged(version, Grant { version, ..after }))
}

pub async fn delete_grant(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, grant)): Path<(String, String)>,
) -> ApiResult<Value> {
    let (user, before) = grant_of(&state, &caller, (&id, &grant)).await?;
    manages_place(&caller, &before)?;
    // Revoking an allow takes its permissions away, revoking a deny gives
    // them back: either way the caller must hold them there (so nobody
    // lifts their own deny or strips someone who holds more).
    let role = state.store.role(&before.role_id).await?;
    check_not_exceeding(&caller, &role, before.org_id, before.site.as_deref())?;
    state
        .store
        .delete_grant(&caller.scope, user.id, before.id)
        .await?;
    if let Some(org) = before.org_id {
        caller.acting_in(org);
    }
    crate::revocation::credentials_changed(&state);
    caller.changed(json!(before), Value::Null);
    Ok(Json(json!({ "revoked": before.id, "user_id": user.id })))
}
