//! OTLP ingestion tokens (`/api/v1/otlp-tokens`): per organisation, the
//! text (`stwo_…`, 256 random bits) answered once at creation and stored
//! only as its SHA-256; deleting one revokes it at once. A token lets its
//! bearer push telemetry for the organisation's devices and nothing else
//! (`crate::otlp`). Tokens are organisation-wide rows: listed with
//! `devices.view` anywhere in the organisation, created and revoked with
//! `devices.manage` over the whole of it.

use super::{ApiError, ApiResult, id_param, org_named};
use crate::AppState;
use crate::auth::{Caller, hash_secret, random_secret};
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::OtlpTokenRecord;
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOtlpToken {
    #[serde(default)]
    org: Option<String>,
    name: String,
}

fn view(t: &OtlpTokenRecord) -> Value {
    json!({
        "id": t.id,
        "org_id": t.org_id,
        "name": t.name,
        "created_by": t.created_by,
        "created_at": t.created_at,
        "endpoint": "/api/v1/otlp",
    })
}

fn allowed(caller: &Caller, org: Uuid, what: &str) -> Result<(), ApiError> {
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(format!(
            "ingestion tokens belong to the whole organisation: {what} one needs devices.manage there, not at one site"
        )));
    }
    Ok(())
}

pub async fn create_otlp_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewOtlpToken>,
) -> ApiResult<Value> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    allowed(&caller, org, "creating")?;
    caller.acting_in(org);
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a token needs a name of 1-100 characters, without control characters",
        ));
    }
    let secret = format!("{}{}", crate::otlp::TOKEN_PREFIX, random_secret(32));
    let record = OtlpTokenRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: name.to_string(),
        secret_hash: hash_secret(&secret),
        created_by: caller.principal.username.clone(),
        created_at: crate::now_ms(),
    };
    state.store.create_otlp_token(&record).await?;
    caller.changed(Value::Null, view(&record));
    let mut answer = view(&record);
    // Shown this once.
    answer["token"] = json!(secret);
    Ok(Json(answer))
}

pub async fn list_otlp_tokens(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_otlp_tokens(&caller.scope).await?;
    Ok(Json(records.iter().map(view).collect()))
}

pub async fn revoke_otlp_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "ingestion token")?;
    let current = state
        .store
        .list_otlp_tokens(&caller.scope)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found("no such ingestion token"))?;
    allowed(&caller, current.org_id, "revoking")?;
    caller.acting_in(current.org_id);
    state.store.revoke_otlp_token(&caller.scope, id).await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "revoked": id })))
}
