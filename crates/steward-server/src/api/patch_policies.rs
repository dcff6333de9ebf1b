//! Patch policies and holds (issue 16), editable objects of one
//! organisation: a policy says what installs on the devices it covers and
//! when (it is checked by `steward_patch::Policy::validate` and stored as
//! that JSON); a hold stops a package (or one version) installing wherever
//! it covers, with a reason and who set it. A policy's installs run later
//! with the authority of whoever last set it, so setting one needs a
//! credential that may leave standing work, and a place within the
//! caller's reach.

use super::lifecycle::{expected_version, overlay, read_as, tagged, with_fields};
use super::monitors::org_for;
use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_patch::{Hold, Policy, Scope as PatchScope};
use steward_store::{PatchRule, PatchRuleKind};
use uuid::Uuid;

/// A hold as it is created and edited (who set it and when: the server).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    org: Option<String>,
    package: String,
    version: Option<String>,
    #[serde(default = "whole_org")]
    scope: PatchScope,
    reason: String,
}

fn whole_org() -> PatchScope {
    PatchScope::Organisation
}

fn named(kind: PatchRuleKind) -> &'static str {
    match kind {
        PatchRuleKind::Policy => "patch policy",
        PatchRuleKind::Hold => "hold",
    }
}

/// The checked definition and the organisation the body names.
fn definition(
    caller: &Caller,
    kind: PatchRuleKind,
    mut body: Value,
) -> Result<(Value, Option<String>, PatchScope), ApiError> {
    let bad = |e: steward_patch::PolicyError| ApiError::bad_request(e.to_string());
    let org = match body.as_object_mut().and_then(|m| m.remove("org")) {
        None | Some(Value::Null) => None,
        Some(Value::String(org)) => Some(org),
        Some(_) => return Err(ApiError::bad_request("org is an organisation's name")),
    };
    match kind {
        PatchRuleKind::Policy => {
            let policy: Policy = read_as(body, named(kind))?;
            policy.validate().map_err(bad)?;
            crate::jobs::authority::may_leave_standing_work(&caller.principal)
                .map_err(ApiError::forbidden)?;
            let scope = policy.scope.clone();
            Ok((json!(policy), org, scope))
        }
        PatchRuleKind::Hold => {
            let mut body = body;
            if let Some(map) = body.as_object_mut() {
                map.insert("org".into(), json!(org));
            }
            let new: NewHold = read_as(body, named(kind))?;
            let hold = Hold {
                package: new.package,
                version: new.version,
                scope: new.scope,
                reason: new.reason,
                set_by: caller.principal.username.clone(),
                set_at: crate::now_ms(),
            };
            hold.validate().map_err(bad)?;
            let scope = hold.scope.clone();
            Ok((json!(hold), new.org, scope))
        }
    }
}

/// Whether the caller reaches every device `scope` may cover in `org`: a
/// site scope needs that site, an organisation or tag scope (tags span
/// sites) the whole organisation.
fn within(caller: &Caller, org: Uuid, scope: &PatchScope) -> bool {
    match scope {
        PatchScope::Site { site } => caller.scope.allows(org, Some(site)),
        _ => crate::jobs::authority::covers_org(&caller.scope, org),
    }
}

fn refuse_outside(caller: &Caller, org: Uuid, scope: &PatchScope) -> Result<(), ApiError> {
    if within(caller, org, scope) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "you cannot set that for every device it covers: a site you reach, or the whole organisation",
        ))
    }
}

/// A stored rule in the shape its create reads (a hold's setter and time
/// are written by the server).
pub fn view(rule: &PatchRule) -> Value {
    let mut fields = rule.definition.clone();
    if let Some(map) = fields.as_object_mut() {
        map.remove("set_by");
        map.remove("set_at");
        map.retain(|_, v| !v.is_null());
    }
    fields
}

fn answer(rule: &PatchRule) -> Value {
    let mut value = with_fields(rule, view(rule));
    value["kind"] = json!(rule.kind);
    value
}

async fn create(
    state: &AppState,
    caller: &Caller,
    kind: PatchRuleKind,
    body: Value,
) -> ApiResult<Value> {
    let (definition, org, scope) = definition(caller, kind, body)?;
    let org = org_for(state, caller, org.as_deref()).await?;
    refuse_outside(caller, org, &scope)?;
    let rule = PatchRule {
        id: Uuid::now_v7(),
        org_id: org,
        kind,
        definition,
        created_by: caller.principal.username.clone(),
        created_at: crate::now_secs(),
        version: 1,
    };
    state.store.create_patch_rule(&rule).await?;
    caller.changed(Value::Null, rule.definition.clone());
    Ok(Json(answer(&rule)))
}

async fn list(state: &AppState, caller: &Caller, kind: PatchRuleKind) -> ApiResult<Vec<Value>> {
    let rules = state.store.list_patch_rules(&caller.scope, kind).await?;
    Ok(Json(rules.iter().map(answer).collect()))
}

async fn get(
    state: &AppState,
    caller: &Caller,
    kind: PatchRuleKind,
    id: &str,
) -> Result<Response, ApiError> {
    let id = id_param(id, named(kind))?;
    let rule = state.store.get_patch_rule(&caller.scope, kind, id).await?;
    Ok(tagged(rule.version, answer(&rule)))
}

async fn patch(
    state: &AppState,
    caller: &Caller,
    kind: PatchRuleKind,
    (id, headers, patch): (&str, &HeaderMap, Value),
) -> Result<Response, ApiError> {
    let id = id_param(id, named(kind))?;
    let expected = expected_version(headers)?;
    let current = state.store.get_patch_rule(&caller.scope, kind, id).await?;
    let old_scope: Option<PatchScope> =
        serde_json::from_value(current.definition["scope"].clone()).ok();
    let (definition, org, scope) = definition(caller, kind, overlay(view(&current), patch)?)?;
    if let Some(org) = org.as_deref()
        && org_for(state, caller, Some(org)).await? != current.org_id
    {
        return Err(ApiError::bad_request(format!(
            "a {} cannot move to another organisation",
            named(kind)
        )));
    }
    // Both what it covered and what it will cover must be the caller's.
    refuse_outside(caller, current.org_id, &scope)?;
    if let Some(old) = &old_scope {
        refuse_outside(caller, current.org_id, old)?;
    }
    let by = caller.principal.username.clone();
    let version = state
        .store
        .update_patch_rule(
            &caller.scope,
            kind,
            (id, &definition, &by),
            expected.or(Some(current.version)),
        )
        .await?;
    let rule = PatchRule {
        definition,
        version,
        created_by: by,
        ..current.clone()
    };
    caller.changed(current.definition.clone(), rule.definition.clone());
    Ok(tagged(version, answer(&rule)))
}

async fn delete(
    state: &AppState,
    caller: &Caller,
    kind: PatchRuleKind,
    id: &str,
) -> ApiResult<Value> {
    let id = id_param(id, named(kind))?;
    let current = state.store.get_patch_rule(&caller.scope, kind, id).await?;
    if let Ok(scope) = serde_json::from_value::<PatchScope>(current.definition["scope"].clone()) {
        refuse_outside(caller, current.org_id, &scope)?;
    }
    state
        .store
        .delete_patch_rule(&caller.scope, kind, id)
        .await?;
    caller.changed(current.definition.clone(), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

macro_rules! handlers {
    ($kind:expr, $create:ident, $list:ident, $get:ident, $patch:ident, $delete:ident) => {
        pub async fn $create(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            Json(body): Json<Value>,
        ) -> ApiResult<Value> {
            create(&state, &caller, $kind, body).await
        }

        pub async fn $list(
            State(state): State<Arc<AppState>>,
            caller: Caller,
        ) -> ApiResult<Vec<Value>> {
            list(&state, &caller, $kind).await
        }

        pub async fn $get(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> Result<Response, ApiError> {
            get(&state, &caller, $kind, &id).await
        }

        pub async fn $patch(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            headers: HeaderMap,
            Path(id): Path<String>,
            Json(body): Json<Value>,
        ) -> Result<Response, ApiError> {
            patch(&state, &caller, $kind, (&id, &headers, body)).await
        }

        pub async fn $delete(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> ApiResult<Value> {
            delete(&state, &caller, $kind, &id).await
        }
    };
}

handlers!(
    PatchRuleKind::Policy,
    create_policy,
    list_policies,
    get_policy,
    patch_policy,
    delete_policy
);
handlers!(
    PatchRuleKind::Hold,
    create_hold,
    list_holds,
    get_hold,
    patch_hold,
    delete_hold
);
