//! Issuing enrollment tokens (used by the API and by `steward quickstart`).

use crate::AppState;
use crate::api::ApiError;
use crate::auth;
use std::time::Duration;
use steward_store::NewEnrollToken;
use uuid::Uuid;

/// Stores a new token and returns it with its text form (the only time the
/// secret exists outside the agent).
pub async fn issue_token(
    state: &AppState,
    org_id: Uuid,
    site: String,
    tags: Vec<String>,
    lifetime: Duration,
    uses: Option<u32>,
    created_by: &str,
) -> Result<(NewEnrollToken, String), ApiError> {
    let now = crate::now_secs();
    let secret = auth::random_secret(32);
    let record = NewEnrollToken {
        id: Uuid::now_v7(),
        org_id,
        site,
        tags,
        secret_hash: auth::hash_secret(&secret),
        created_at: now,
        expires_at: now + lifetime.as_secs() as i64,
        uses_left: uses,
        created_by: created_by.to_string(),
    };
    state.store.create_enroll_token(&record).await?;
    let ca_sha256 = state
        .authority
        .fingerprint()
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let token = steward_proto::EnrollToken {
        url: state.public_url.clone(),
        ca_sha256,
        secret,
    }
    .encode();
    Ok((record, token))
}

pub fn install_command(token: &str) -> String {
    format!("steward-agent --state-dir /var/lib/steward-agent enroll {token}")
}
