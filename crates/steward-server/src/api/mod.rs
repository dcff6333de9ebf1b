//! The versioned JSON API (`/api/v1/...`) and the agent endpoints.
//! Every route but login, health and the CA certificate needs a [`Caller`];
//! every store call passes the caller's scope.

mod devices;
mod tokens;

use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::sync::Arc;
use steward_store::StoreError;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(steward_proto::AGENT_WS_PATH, get(crate::gateway::connect))
        .route(steward_proto::ENROLL_WS_PATH, get(crate::gateway::enroll))
        .route(steward_proto::CA_PATH, get(ca_pem))
        .route("/", get(crate::ui::index))
        .route("/ui/app.js", get(crate::ui::app_js))
        .route("/ui/style.css", get(crate::ui::style_css))
        .route("/api/v1/health", get(health))
        .route("/api/v1/login", post(tokens::login))
        .route("/api/v1/logout", post(tokens::logout))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/devices", get(devices::list))
        .route("/api/v1/devices/{id}", get(devices::show))
        .route("/api/v1/devices/{id}/revoke", post(devices::revoke))
        .route(
            "/api/v1/devices/{id}/status-history",
            get(devices::status_history),
        )
        .route("/api/v1/devices/{id}/metrics/{name}", get(devices::metrics))
        .route(
            "/api/v1/enroll-tokens",
            get(tokens::list_enroll).post(tokens::create_enroll),
        )
        .route(
            "/api/v1/enroll-tokens/{id}/revoke",
            post(tokens::revoke_enroll),
        )
        .route("/api/v1/tokens", post(tokens::create_api_token))
        .route("/api/v1/server/stats", get(server_stats))
        .fallback(not_found)
        .with_state(state)
}

/// An API error: a status and a message, rendered as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::not_found("not found"),
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            StoreError::Refused(m) => Self::bad_request(m),
            other => {
                tracing::error!(error = %other, "Store error while serving a request.");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

pub type ApiResult<T> = Result<Json<T>, ApiError>;

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn ca_pem(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.authority.cert_pem.clone(),
    )
        .into_response()
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn whoami(Caller(principal): Caller) -> Json<serde_json::Value> {
    Json(json!({
        "username": principal.username,
        "org_id": principal.org_id,
        "role": principal.role,
    }))
}

async fn server_stats(
    State(state): State<Arc<AppState>>,
    Caller(_): Caller,
) -> ApiResult<serde_json::Value> {
    use std::sync::atomic::Ordering::Relaxed;
    let m = &state.metrics;
    let storage = state.store.storage_stats().await?;
    Ok(Json(json!({
        "connected_agents": state.connections.count(),
        "frames_rejected": m.frames_rejected.load(Relaxed),
        "batches_stored": m.batches_stored.load(Relaxed),
        "batches_duplicate": m.batches_duplicate.load(Relaxed),
        "connections_refused": m.connections_refused.load(Relaxed),
        "storage": storage,
    })))
}

/// Parses "90s", "15m", "1h", "7d" (humantime syntax).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, ApiError> {
    humantime::parse_duration(text)
        .map_err(|e| ApiError::bad_request(format!("bad duration {text:?}: {e}")))
}
