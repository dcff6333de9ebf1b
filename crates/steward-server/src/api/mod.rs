//! The versioned JSON API (`/api/v1/...`), the agent endpoints and the
//! console. Every route is registered with its [`Access`] decision in one
//! table; the authorisation layer enforces it before any handler runs, and
//! handlers pass the caller's scope to every store call. A route cannot be
//! added without a decision, and the permission-matrix test checks the
//! table route by route.

mod access;
mod agent_binary;
mod agent_updates;
mod agentless;
mod aging;
mod alerts;
mod backups;
mod body;
mod channels;
mod devices;
mod events;
mod fleet;
mod grants;
mod inbound;
mod inbound_email;
mod incidents;
mod insight;
mod intel_fleet;
pub mod kpis;
mod otlp_tokens;
pub use fleet::spawn_recorder as spawn_fleet_recorder;
mod jobs;
mod lifecycle;
mod limits;
mod matching;
pub use limits::RateLimit;
mod incident_routes;
mod noise;
mod openapi;
mod paging;
mod passwords;
mod patch_plan;
mod patch_policies;
mod patching;
mod place;
mod posture;
mod problem_rules;
mod problems;
mod prometheus;
mod report_schedules;
pub mod reports;
mod routes;
mod runbooks;
mod schedules;
mod scripts;
mod sla;
pub use place::{device_in_scope, org_named, require_installation_wide};
mod monitors;
mod ops;
mod session;
mod shell;
mod sites;
mod tenancy;
mod tokens;
mod transfer;
mod users;

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
    /// A list that filters, sorts and pages (`paging.rs`).
    pub paged: bool,
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
        let filter = match method {
            Method::POST => MethodFilter::POST,
            Method::PATCH => MethodFilter::PATCH,
            Method::DELETE => MethodFilter::DELETE,
            _ => MethodFilter::GET,
        };
        let limit = DefaultBodyLimit::max(max_body(path));
        self.router = self.router.route(path, on(filter, handler).layer(limit));
        self.table.push(RouteEntry {
            method,
            path,
            access,
            paged: false,
        });
        self
    }

    /// `GET` of a list of objects at `path`, filtered, sorted and paged by
    /// its query (`paging.rs`).
    fn list<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        self.router = self.router.route(
            path,
            on(MethodFilter::GET, handler).layer(axum::middleware::from_fn(paging::layer)),
        );
        self.table.push(RouteEntry {
            method: Method::GET,
            path,
            access,
            paged: true,
        });
        self
    }

    /// `GET`, `PATCH` and `DELETE` of one object at `path` (`…/{id}`).
    fn resource<G, Tg, P, Tp, D, Td>(
        self,
        path: &'static str,
        access: Access,
        (get, patch, delete): (G, P, D),
    ) -> Self
    where
        G: Handler<Tg, Arc<AppState>>,
        P: Handler<Tp, Arc<AppState>>,
        D: Handler<Td, Arc<AppState>>,
        Tg: 'static,
        Tp: 'static,
        Td: 'static,
    {
        self.add(Method::GET, path, access, get)
            .add(Method::PATCH, path, access, patch)
            .add(Method::DELETE, path, access, delete)
    }
}

/// Every route with its access decision.
pub fn route_table() -> Vec<RouteEntry> {
    routes::routes().table
}

pub fn router(state: Arc<AppState>) -> Router {
    let Routes { router, table } = routes::routes();
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
        change: Arc::default(),
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
        let mut detail = json!({ "status": response.status().as_u16(), "request": body });
        if let Some(serde_json::Value::Object(change)) = caller.change() {
            for (key, value) in change {
                detail[key] = value;
            }
        }
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
            StoreError::Stale(now) => Self::new(
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "someone changed this since you read it (it is at version {now} now): read it again and repeat your change"
                ),
            ),
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
/// The route that takes an agent release's binary as its body.
const AGENT_RELEASE_ROUTE: &str = "/api/v1/agent-releases";
/// The route of signed incident deliveries, capped lower (64 KiB).
const INBOUND_ROUTE: &str = "/api/v1/inbound/incidents/{id}";
/// The route of raw inbound email, capped at 256 KiB.
const INBOUND_EMAIL_ROUTE: &str = "/api/v1/inbound-email/{id}";

/// The body cap of a route (`/api/v1/devices/{id}/files/put`) or of a
/// request path (`/api/v1/devices/0190.../files/put`).
pub fn max_body(path: &str) -> usize {
    let upload = path == UPLOAD_ROUTE
        || matches!(
            path.split('/').collect::<Vec<_>>()[..],
            ["", "api", "v1", "devices", id, "files", "put"] if !id.is_empty()
        );
    let inbound = path == INBOUND_ROUTE
        || matches!(
            path.split('/').collect::<Vec<_>>()[..],
            ["", "api", "v1", "inbound", "incidents", id] if !id.is_empty()
        );
    let email = path == INBOUND_EMAIL_ROUTE
        || matches!(
            path.split('/').collect::<Vec<_>>()[..],
            ["", "api", "v1", "inbound-email", id] if !id.is_empty()
        );
    if upload {
        MAX_UPLOAD_BODY
    } else if path == crate::otlp::METRICS_PATH || path == crate::otlp::LOGS_PATH {
        crate::otlp::MAX_OTLP_BODY
    } else if email {
        inbound_email::MAX_MESSAGE
    } else if path == AGENT_RELEASE_ROUTE {
        agent_updates::MAX_RELEASE_UPLOAD
    } else if inbound {
        inbound::MAX_INBOUND_BODY
    } else {
        MAX_BODY
    }
}

/// The file size limit as people read it ("2 MiB").
pub fn file_limit_text() -> String {
    format!("{} MiB", steward_proto::MAX_FILE_BYTES >> 20)
}

pub fn id_param(text: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not a {what} id")))
}
