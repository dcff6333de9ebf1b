//! The versioned JSON API (`/api/v1/...`), the agent endpoints and the
//! console. Every route is registered with its [`Access`] decision in one
//! table; the authorisation layer enforces it before any handler runs, and
//! handlers pass the caller's scope to every store call. A route cannot be
//! added without a decision, and the permission-matrix test checks the
//! table route by route.

mod access;
mod alerts;
mod body;
mod devices;
mod events;
mod fleet;
pub use fleet::spawn_recorder as spawn_fleet_recorder;
mod jobs;
mod limits;
pub use limits::RateLimit;
mod openapi;
mod place;
pub use place::{device_in_scope, org_named, require_installation_wide};
mod ops;
mod session;
mod shell;
mod tokens;
mod transfer;

use crate::auth::{self, Caller};
use crate::authz::{self, Permission};
use crate::{AppState, audit};
use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use serde_json::json;
use std::sync::Arc;
use steward_store::StoreError;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials (sign-in, health, the CA, agent sockets that
    /// authenticate by certificate or enrollment secret).
    Public,
    /// Any signed-in caller, also one that still owes its second factor
    /// (to set it up or sign out).
    MfaPending,
    /// Any fully signed-in caller (acts on their own account only).
    SignedIn,
    /// Callers holding the permission somewhere; the handler gets the scope.
    Perm(Permission),
}

#[derive(Debug, Clone)]
pub struct RouteEntry {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

struct Routes {
    router: Router<Arc<AppState>>,
    table: Vec<RouteEntry>,
}

impl Routes {
    fn add<H, T>(mut self, method: Method, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let filter = if method == Method::POST {
            MethodFilter::POST
        } else {
            MethodFilter::GET
        };
        let limit = DefaultBodyLimit::max(max_body(path));
        self.router = self.router.route(path, on(filter, handler).layer(limit));
        self.table.push(RouteEntry {
            method,
            path,
            access,
        });
        self
    }
}

/// Every route with its access decision.
pub fn route_table() -> Vec<RouteEntry> {
    routes().table
}

fn routes() -> Routes {
    use Access::*;
    use Method as M;
    use Permission as P;
    Routes {
        router: Router::new(),
        table: Vec::new(),
    }
    .add(
        M::GET,
        steward_proto::AGENT_WS_PATH,
        Public,
        crate::gateway::connect,
    )
    .add(
        M::GET,
        steward_proto::ENROLL_WS_PATH,
        Public,
        crate::gateway::enroll,
    )
    .add(M::GET, steward_proto::CA_PATH, Public, ca_pem)
    .add(M::GET, "/", Public, crate::ui::index)
    .add(M::GET, "/ui/{*path}", Public, crate::ui::asset)
    .add(M::GET, "/api/v1/health", Public, health)
    .add(M::GET, "/api/v1/ready", Public, ops::ready)
    .add(M::GET, "/metrics", Perm(P::AuditView), ops::metrics)
    .add(M::GET, "/api/v1/openapi.json", Public, openapi_json)
    .add(M::POST, "/api/v1/login", Public, session::login)
    .add(M::POST, "/api/v1/logout", MfaPending, session::logout)
    .add(M::GET, "/api/v1/whoami", MfaPending, session::whoami)
    .add(
        M::POST,
        "/api/v1/me/totp/setup",
        MfaPending,
        session::totp_setup,
    )
    .add(
        M::POST,
        "/api/v1/me/totp/enable",
        MfaPending,
        session::totp_enable,
    )
    .add(M::GET, "/api/v1/events", SignedIn, events::socket)
    .add(M::GET, "/api/v1/tokens", SignedIn, tokens::list_api_tokens)
    .add(
        M::POST,
        "/api/v1/tokens",
        SignedIn,
        tokens::create_api_token,
    )
    .add(
        M::POST,
        "/api/v1/tokens/{id}/revoke",
        SignedIn,
        tokens::revoke_api_token,
    )
    .add(
        M::GET,
        "/api/v1/devices",
        Perm(P::DevicesView),
        devices::list,
    )
    .add(
        M::GET,
        "/api/v1/fleet/devices",
        Perm(P::DevicesView),
        fleet::devices,
    )
    .add(
        M::GET,
        "/api/v1/fleet/summary",
        Perm(P::DevicesView),
        fleet::summary,
    )
    .add(
        M::POST,
        "/api/v1/devices/tags",
        Perm(P::DevicesManage),
        fleet::change_tags,
    )
    .add(
        M::GET,
        "/api/v1/devices/{id}",
        Perm(P::DevicesView),
        devices::show,
    )
    .add(
        M::GET,
        "/api/v1/devices/{id}/runs",
        Perm(P::DevicesView),
        fleet::device_runs,
    )
    .add(
        M::GET,
        "/api/v1/devices/{id}/checks",
        Perm(P::DevicesView),
        devices::checks,
    )
    .add(
        M::GET,
        "/api/v1/devices/{id}/status-history",
        Perm(P::DevicesView),
        devices::status_history,
    )
    .add(
        M::GET,
        "/api/v1/devices/{id}/metrics/{name}",
        Perm(P::DevicesView),
        devices::metrics,
    )
    .add(
        M::POST,
        "/api/v1/devices/{id}/revoke",
        Perm(P::DevicesManage),
        devices::revoke,
    )
    .add(
        M::POST,
        "/api/v1/devices/{id}/upstream",
        Perm(P::DevicesManage),
        devices::set_upstream,
    )
    .add(
        M::POST,
        "/api/v1/devices/{id}/rotate",
        Perm(P::DevicesManage),
        devices::rotate,
    )
    .add(
        M::GET,
        "/api/v1/enroll-tokens",
        Perm(P::EnrollManage),
        tokens::list_enroll,
    )
    .add(
        M::POST,
        "/api/v1/enroll-tokens",
        Perm(P::EnrollManage),
        tokens::create_enroll,
    )
    .add(
        M::POST,
        "/api/v1/enroll-tokens/{id}/revoke",
        Perm(P::EnrollManage),
        tokens::revoke_enroll,
    )
    .add(
        M::GET,
        "/api/v1/orgs",
        Perm(P::OrgsManage),
        access::list_orgs,
    )
    .add(
        M::POST,
        "/api/v1/orgs",
        Perm(P::OrgsManage),
        access::create_org,
    )
    .add(
        M::POST,
        "/api/v1/orgs/{id}/require-totp",
        Perm(P::UsersManage),
        access::require_totp,
    )
    .add(
        M::GET,
        "/api/v1/users",
        Perm(P::UsersManage),
        access::list_users,
    )
    .add(
        M::POST,
        "/api/v1/users",
        Perm(P::UsersManage),
        access::create_user,
    )
    .add(
        M::POST,
        "/api/v1/users/{id}/grants",
        Perm(P::UsersManage),
        access::create_grant,
    )
    .add(
        M::GET,
        "/api/v1/roles",
        Perm(P::RolesManage),
        access::list_roles,
    )
    .add(
        M::POST,
        "/api/v1/roles",
        Perm(P::RolesManage),
        access::create_role,
    )
    .add(
        M::GET,
        "/api/v1/monitors",
        Perm(P::MonitorsManage),
        alerts::list_monitors,
    )
    .add(
        M::POST,
        "/api/v1/monitors",
        Perm(P::MonitorsManage),
        alerts::create_monitor,
    )
    .add(
        M::POST,
        "/api/v1/monitors/{id}/delete",
        Perm(P::MonitorsManage),
        alerts::delete_monitor,
    )
    .add(
        M::GET,
        "/api/v1/channels",
        Perm(P::MonitorsManage),
        alerts::list_channels,
    )
    .add(
        M::POST,
        "/api/v1/channels",
        Perm(P::MonitorsManage),
        alerts::create_channel,
    )
    .add(
        M::POST,
        "/api/v1/channels/{id}/test",
        Perm(P::MonitorsManage),
        fleet::test_channel,
    )
    .add(
        M::GET,
        "/api/v1/maintenance",
        Perm(P::MonitorsManage),
        alerts::list_maintenance,
    )
    .add(
        M::POST,
        "/api/v1/maintenance",
        Perm(P::MonitorsManage),
        alerts::create_maintenance,
    )
    .add(
        M::GET,
        "/api/v1/silences",
        Perm(P::MonitorsManage),
        alerts::list_silences,
    )
    .add(
        M::POST,
        "/api/v1/silences",
        Perm(P::MonitorsManage),
        alerts::create_silence,
    )
    .add(
        M::GET,
        "/api/v1/alerts/suppressed",
        Perm(P::DevicesView),
        alerts::suppressed,
    )
    .add(
        M::GET,
        "/api/v1/alerts",
        Perm(P::DevicesView),
        alerts::list_alerts,
    )
    .add(
        M::GET,
        "/api/v1/alerts/{id}/history",
        Perm(P::DevicesView),
        alerts::alert_history,
    )
    .add(
        M::POST,
        "/api/v1/alerts/{id}/acknowledge",
        Perm(P::DevicesManage),
        alerts::acknowledge,
    )
    .add(
        M::POST,
        "/api/v1/alerts/{id}/resolve",
        Perm(P::DevicesManage),
        alerts::resolve,
    )
    .add(
        M::GET,
        "/api/v1/devices/{id}/shell",
        Perm(P::ShellOpen),
        shell::open,
    )
    .add(
        M::POST,
        "/api/v1/devices/{id}/files/get",
        Perm(P::ShellOpen),
        shell::file_get,
    )
    .add(M::POST, UPLOAD_ROUTE, Perm(P::ShellOpen), shell::file_put)
    .add(
        M::GET,
        "/api/v1/scripts",
        Perm(P::ScriptsRun),
        jobs::list_scripts,
    )
    .add(
        M::POST,
        "/api/v1/scripts",
        Perm(P::ScriptsRun),
        jobs::save_script,
    )
    .add(
        M::GET,
        "/api/v1/scripts/{id}",
        Perm(P::ScriptsRun),
        jobs::show_script,
    )
    .add(
        M::GET,
        "/api/v1/scripts/{id}/versions",
        Perm(P::ScriptsRun),
        jobs::script_versions,
    )
    .add(
        M::POST,
        "/api/v1/scripts/{id}/delete",
        Perm(P::ScriptsRun),
        jobs::delete_script,
    )
    .add(M::GET, "/api/v1/jobs", Perm(P::ScriptsRun), jobs::list_jobs)
    .add(
        M::POST,
        "/api/v1/jobs",
        Perm(P::ScriptsRun),
        jobs::create_job,
    )
    .add(
        M::GET,
        "/api/v1/jobs/{id}",
        Perm(P::ScriptsRun),
        jobs::show_job,
    )
    .add(
        M::GET,
        "/api/v1/jobs/{id}/events",
        Perm(P::ScriptsRun),
        jobs::job_events,
    )
    .add(
        M::POST,
        "/api/v1/jobs/{id}/approve",
        Perm(P::ScriptsRun),
        jobs::approve_job,
    )
    .add(
        M::POST,
        "/api/v1/jobs/{id}/cancel",
        Perm(P::ScriptsRun),
        jobs::cancel_job,
    )
    .add(
        M::GET,
        "/api/v1/schedules",
        Perm(P::ScriptsRun),
        jobs::list_schedules,
    )
    .add(
        M::POST,
        "/api/v1/schedules",
        Perm(P::ScriptsRun),
        jobs::create_schedule,
    )
    .add(
        M::POST,
        "/api/v1/schedules/{id}/delete",
        Perm(P::ScriptsRun),
        jobs::delete_schedule,
    )
    .add(
        M::GET,
        "/api/v1/job-keys",
        Perm(P::ScriptsRun),
        jobs::job_keys,
    )
    .add(
        M::GET,
        "/api/v1/audit",
        Perm(P::AuditView),
        access::audit_log,
    )
    .add(
        M::GET,
        "/api/v1/server/stats",
        Perm(P::AuditView),
        server_stats,
    )
}

pub fn router(state: Arc<AppState>) -> Router {
    let Routes { router, table } = routes();
    let table = Arc::new(table);
    let layer_state = state.clone();
    let limiter = state
        .config
        .api_rate
        .map(|l| Arc::new(limits::Limiter::new(l)));
    router
        .route_layer(axum::middleware::from_fn(limits::note_caller))
        .route_layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let (state, table) = (layer_state.clone(), table.clone());
                async move { authorize(state, &table, request, next).await }
            },
        ))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(move |request, next| {
            limits::rate_limit(limiter.clone(), request, next)
        }))
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn(body::drain_unread))
        .layer(axum::middleware::from_fn(limits::security_headers))
        .with_state(state)
}

/// Enforces the route's [`Access`], hands the handler a [`Caller`], and
/// audits every state-changing call (who, what, where from, outcome).
async fn authorize(
    state: Arc<AppState>,
    table: &[RouteEntry],
    mut request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    // HEAD is routed with GET.
    let served =
        |e: &&RouteEntry| e.method == method || (method == Method::HEAD && e.method == Method::GET);
    let Some(entry) = table.iter().filter(|e| e.path == path).find(served) else {
        let allowed: Vec<&str> = table
            .iter()
            .filter(|e| e.path == path)
            .map(|e| e.method.as_str())
            .collect();
        if !allowed.is_empty() {
            let mut response = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed here; use {}", allowed.join(" or ")),
            )
            .into_response();
            if let Ok(value) = header::HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return response;
        }
        // Registered outside the table: refuse rather than guess.
        return ApiError::forbidden("route has no access decision").into_response();
    };
    let source = request
        .extensions()
        .get::<crate::tls::RemoteAddr>()
        .map(|a| a.0.ip().to_string())
        .unwrap_or_default();
    if entry.access == Access::Public {
        return next.run(request).await;
    }
    let (principal, session) = match auth::authenticate(&state, &method, request.headers()).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    // A session without its second factor (signed in before the
    // organisation required one, or since, without TOTP) may only set it
    // up or sign out; `mfa_setup_required` sends the console there.
    if !principal.mfa_done && entry.access != Access::MfaPending {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "error": "two-factor sign-in is required: set it up at /api/v1/me/totp/setup",
                "mfa_setup_required": true,
            })),
        )
            .into_response();
    }
    let scope = match entry.access {
        Access::Perm(permission) => {
            let scope = authz::scope_for(&principal, permission);
            if scope.is_empty() {
                return ApiError::forbidden(format!("missing permission {}", permission.as_str()))
                    .into_response();
            }
            scope
        }
        _ => steward_store::Scope::none(),
    };
    let caller = Caller {
        principal: Arc::new(principal),
        scope,
        session,
        source,
        acted_in: Arc::default(),
    };
    request.extensions_mut().insert(caller.clone());
    let changes = !matches!(method, Method::GET | Method::HEAD);
    let (request, body) = if changes {
        audit::capture_body(request, max_body(&path)).await
    } else {
        (request, None)
    };
    let uri = request.uri().path().to_string();
    let response = next.run(request).await;
    if changes {
        let detail = json!({ "status": response.status().as_u16(), "request": body });
        audit::record(&state, &caller, &format!("{method} {path}"), &uri, detail).await;
    }
    response
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

async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi::document(&route_table()))
}

/// Turns the framework's plain-text rejections (bad JSON, wrong content
/// type, bad path or query) into the API's `{"error": ...}` shape.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_string();
    let message = if message.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_string()
    } else {
        message
    };
    let mut fixed = ApiError::new(parts.status, message).into_response();
    for (name, value) in parts
        .headers
        .iter()
        .filter(|(n, _)| *n != header::CONTENT_TYPE && *n != header::CONTENT_LENGTH)
    {
        fixed.headers_mut().insert(name, value.clone());
    }
    fixed
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn server_stats(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<serde_json::Value> {
    require_installation_wide(&caller)?;
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

/// Request body size cap for the API...
pub const MAX_BODY: usize = 1 << 20;
/// ...but for uploads: a file of the documented limit
/// ([`steward_proto::MAX_FILE_BYTES`], 2 MiB) base64-encoded, with room for
/// its path and the JSON around it.
pub const MAX_UPLOAD_BODY: usize = steward_proto::MAX_FILE_BYTES.div_ceil(3) * 4 + 64 * 1024;
/// The one route that takes a body over [`MAX_BODY`].
const UPLOAD_ROUTE: &str = "/api/v1/devices/{id}/files/put";

/// The body cap of a route (`/api/v1/devices/{id}/files/put`) or of a
/// request path (`/api/v1/devices/0190.../files/put`).
pub fn max_body(path: &str) -> usize {
    let upload = path == UPLOAD_ROUTE
        || matches!(
            path.split('/').collect::<Vec<_>>()[..],
            ["", "api", "v1", "devices", id, "files", "put"] if !id.is_empty()
        );
    if upload { MAX_UPLOAD_BODY } else { MAX_BODY }
}

/// The file size limit as people read it ("2 MiB").
pub fn file_limit_text() -> String {
    format!("{} MiB", steward_proto::MAX_FILE_BYTES >> 20)
}

pub fn id_param(text: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not a {what} id")))
}
