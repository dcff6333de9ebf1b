//! Organisations and roles after creation: renamed, edited, deleted. What
//! is still in use is not deleted: the refusal names what holds it.

use super::access::{check_not_exceeding, valid_name};
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
use steward_store::{Org, RoleRecord, StoreError};

fn in_use(error: StoreError) -> ApiError {
    match error {
        StoreError::Refused(why) => ApiError::new(StatusCode::CONFLICT, why),
        other => other.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    name: Option<String>,
}

/// The organisation in the caller's scope, or "not found".
async fn visible_org(state: &AppState, caller: &Caller, id: &str) -> Result<Org, ApiError> {
    let id = id_param(id, "organisation")?;
    state
        .store
        .list_orgs(&caller.scope)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| ApiError::not_found("not found"))
}

pub async fn get_org(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let org = visible_org(&state, &caller, &id).await?;
    Ok(tagged(org.version, org))
}

pub async fn patch_org(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<OrgPatch>,
) -> Result<Response, ApiError> {
    let expected = expected_version(&headers)?;
    let before = visible_org(&state, &caller, &id).await?;
    let Some(name) = body.name else {
        return Err(ApiError::bad_request(
            "nothing to change: an organisation's fields are {\"name\": …}",
        ));
    };
    valid_name("organisation name", &name)?;
    let version = state
        .store
        .rename_org(&caller.scope, before.id, &name, expected)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                format!("an organisation named {name:?} already exists"),
            ),
            other => other.into(),
        })?;
    caller.acting_in(before.id);
    caller.changed(json!({ "name": before.name }), json!({ "name": name }));
    Ok(tagged(
        version,
        Org {
            id: before.id,
            name,
            version,
        },
    ))
}

pub async fn delete_org(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let before = visible_org(&state, &caller, &id).await?;
    let id = before.id;
    if id == caller.principal.org_id {
        return Err(ApiError::bad_request(
            "you cannot delete your own organisation",
        ));
    }
    state
        .store
        .delete_org(&caller.scope, id)
        .await
        .map_err(|e| match e {
            StoreError::Refused(why) => ApiError::new(
                StatusCode::CONFLICT,
                format!("{} cannot be deleted: {why}", before.name),
            ),
            other => other.into(),
        })?;
    caller.changed(json!({ "name": before.name }), Value::Null);
    Ok(Json(json!({ "deleted": id, "name": before.name })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    name: Option<String>,
    permissions: Option<Vec<String>>,
}

/// An organisation's own role (built-in ones are fixed), in the caller's
/// scope.
async fn own_role(state: &AppState, caller: &Caller, id: &str) -> Result<RoleRecord, ApiError> {
    state
        .store
        .list_roles(&caller.scope)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .filter(|r| r.org_id.is_some_and(|o| caller.scope.allows_org(o)))
        .ok_or_else(|| {
            ApiError::not_found(
                "no such role of an organisation you manage (built-in roles are fixed)",
            )
        })
}

pub async fn get_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let role = own_role(&state, &caller, &id).await?;
    Ok(tagged(role.version, role))
}

pub async fn patch_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<RolePatch>,
) -> Result<Response, ApiError> {
    let expected = expected_version(&headers)?;
    let before = own_role(&state, &caller, &id).await?;
    let mut role = RoleRecord {
        name: body.name.unwrap_or_else(|| before.name.clone()),
        permissions: body
            .permissions
            .unwrap_or_else(|| before.permissions.clone()),
        ..before.clone()
    };
    valid_name("role name", &role.name)?;
    check_not_exceeding(&caller, &role, role.org_id, None)?;
    role.version = state
        .store
        .update_role(&caller.scope, &role, expected.or(Some(before.version)))
        .await
        .map_err(|e| super::lifecycle::named_conflict(e, "role", &role.name))?;
    // Who holds it holds something else now, on every replica.
    crate::revocation::credentials_changed(&state);
    caller.changed(json!(before), json!(role));
    Ok(tagged(role.version, role))
}

pub async fn delete_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let before = own_role(&state, &caller, &id).await?;
    let holders = state.store.role_holders(&before.id).await?;
    if !holders.is_empty() {
        // Named only where the caller manages users; the rest counted.
        let visible: Vec<String> = state
            .store
            .list_users(&caller.scope)
            .await?
            .into_iter()
            .map(|u| u.username)
            .collect();
        let (named, unseen): (Vec<_>, Vec<_>) = holders
            .into_iter()
            .partition(|(user, _)| visible.contains(user));
        let mut held: Vec<String> = named.into_iter().map(|(_, hold)| hold).collect();
        if !unseen.is_empty() {
            held.push(format!("{} more you do not manage", unseen.len()));
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "the role {} is still held ({}): revoke those grants and delete those API tokens first",
                before.name,
                held.join(", ")
            ),
        ));
    }
    state
        .store
        .delete_role(&caller.scope, &before.id)
        .await
        .map_err(in_use)?;
    caller.changed(json!(before), Value::Null);
    Ok(Json(json!({ "deleted": before.id })))
}
