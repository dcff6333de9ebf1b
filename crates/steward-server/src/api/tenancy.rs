//! Organisations and roles after creation: renamed, edited, deleted. What
//! is still in use is not deleted: the refusal names what holds it.

use super::access::{check_not_exceeding, valid_name};
use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{RoleRecord, StoreError};

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

pub async fn patch_org(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<OrgPatch>,
) -> ApiResult<Value> {
    let id = id_param(&id, "organisation")?;
    let before = state
        .store
        .list_orgs(&caller.scope)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| ApiError::not_found("not found"))?;
    let Some(name) = body.name else {
        return Err(ApiError::bad_request(
            "nothing to change: an organisation's fields are {\"name\": …}",
        ));
    };
    valid_name("organisation name", &name)?;
    state
        .store
        .rename_org(&caller.scope, id, &name)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                format!("an organisation named {name:?} already exists"),
            ),
            other => other.into(),
        })?;
    caller.acting_in(id);
    caller.changed(json!({ "name": before.name }), json!({ "name": name }));
    Ok(Json(json!({ "id": id, "name": name })))
}

pub async fn delete_org(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "organisation")?;
    let before = state
        .store
        .list_orgs(&caller.scope)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| ApiError::not_found("not found"))?;
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

pub async fn patch_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RolePatch>,
) -> ApiResult<RoleRecord> {
    let before = own_role(&state, &caller, &id).await?;
    let role = RoleRecord {
        name: body.name.unwrap_or_else(|| before.name.clone()),
        permissions: body
            .permissions
            .unwrap_or_else(|| before.permissions.clone()),
        ..before.clone()
    };
    valid_name("role name", &role.name)?;
    check_not_exceeding(&caller, &role, role.org_id, None)?;
    state.store.update_role(&caller.scope, &role).await?;
    // Who holds it holds something else now, on every replica.
    crate::revocation::credentials_changed(&state);
    caller.changed(json!(before), json!(role));
    Ok(Json(role))
}

pub async fn delete_role(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let before = own_role(&state, &caller, &id).await?;
    let used = state.store.role_usage(&before.id).await?;
    if used > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "the role {} is held by {used} grant{} or API token{}: revoke them first",
                before.name,
                if used == 1 { "" } else { "s" },
                if used == 1 { "" } else { "s" },
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
