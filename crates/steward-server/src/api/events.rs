//! `GET /api/v1/events`: a WebSocket for the console that pushes the fleet
//! summary every few seconds. Browsers send cookies with cross-site
//! WebSocket upgrades, so the Origin must be this server; the caller's
//! credentials are re-checked on every push, so a revoked token or ended
//! session closes the socket at once.

use super::ApiError;
use crate::AppState;
use crate::auth::{self, Caller};
use crate::authz::{self, Permission};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocketUpgrade};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

const PUSH_EVERY: Duration = Duration::from_secs(2);

pub async fn socket(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if headers.contains_key(axum::http::header::ORIGIN) && !auth::same_origin(&headers) {
        return ApiError::forbidden("cross-origin WebSocket refused").into_response();
    }
    ws.on_upgrade(move |mut socket| async move {
        let mut tick = tokio::time::interval(PUSH_EVERY);
        let mut revoked = state.revocations.subscribe();
        loop {
            // Push on the tick; re-check at once when credentials change.
            tokio::select! {
                _ = tick.tick() => {}
                changed = revoked.changed() => if changed.is_err() { return },
            }
            // Re-authenticate with the credentials the socket was opened with.
            // A session that now owes its second factor ends here too.
            let still = auth::authenticate(&state, &Method::GET, &headers).await;
            let Some((principal, _)) = still.ok().filter(|(p, _)| p.mfa_done) else {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: 1008,
                        reason: Utf8Bytes::from_static(
                            "credentials revoked or expired, or two-factor sign-in now required",
                        ),
                    })))
                    .await;
                return;
            };
            let scope = authz::scope_for(&principal, Permission::DevicesView);
            // Counts only (cheap at any fleet size); pages refetch what they
            // show when a figure they depend on changes.
            let counts = state.store.fleet_counts(&scope).await.unwrap_or_default();
            let summary = serde_json::json!({
                "type": "fleet",
                "devices": counts.devices,
                "online": counts.online,
                "alerts_critical": counts.alerts_critical,
                "alerts_warning": counts.alerts_warning,
                "user": caller.principal.username,
            });
            if socket
                .send(Message::Text(Utf8Bytes::from(summary.to_string())))
                .await
                .is_err()
            {
                return;
            }
        }
    })
}
