//! For load balancers and monitoring of the server itself: readiness and
//! Prometheus-format metrics.

use crate::AppState;
use crate::auth::Caller;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// `GET /api/v1/ready`: 200 once the server can serve (its store answers),
/// 503 otherwise. `/api/v1/health` only says the process is up.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match state.store.user_count().await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "ready": true })),
        )
            .into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "ready": false, "error": error.to_string() })),
        )
            .into_response(),
    }
}

/// `GET /metrics`: the server's own figures in the Prometheus text format
/// (scrape with an API token holding `audit.view`).
pub async fn metrics(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    if let Err(refused) = super::require_installation_wide(&caller) {
        return refused.into_response();
    }
    let m = &state.metrics;
    // Shared by every replica (the outbox is in the store); NaN when the
    // store cannot say.
    let pending = state
        .store
        .list_channels(&steward_store::Scope::all())
        .await
        .map_or(f64::NAN, |channels| {
            channels.iter().map(|c| c.pending).sum::<u64>() as f64
        });
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "steward_connected_agents",
        "gauge",
        "Agent connections held by this server.",
        state.connections.count() as f64,
    );
    metric(
        "steward_shell_sessions",
        "gauge",
        "Remote shell sessions open.",
        state.jobs.shells.count() as f64,
    );
    metric(
        "steward_batches_stored_total",
        "counter",
        "Metric batches durably stored.",
        m.batches_stored.load(Relaxed) as f64,
    );
    metric(
        "steward_points_refused_total",
        "counter",
        "Metric points dropped: their device already has the most series allowed.",
        state.store.points_refused() as f64,
    );
    metric(
        "steward_batches_duplicate_total",
        "counter",
        "Metric batches received again and ignored.",
        m.batches_duplicate.load(Relaxed) as f64,
    );
    metric(
        "steward_frames_rejected_total",
        "counter",
        "Agent frames refused as malformed, invalid or too large.",
        m.frames_rejected.load(Relaxed) as f64,
    );
    metric(
        "steward_inventories_coalesced_total",
        "counter",
        "Agent inventories replaced by a newer one within the minimum interval, never stored.",
        m.inventories_coalesced.load(Relaxed) as f64,
    );
    metric(
        "steward_connections_refused_total",
        "counter",
        "Agent connections refused (no, unknown or revoked certificate).",
        m.connections_refused.load(Relaxed) as f64,
    );
    metric(
        "steward_ingest_queue_depth",
        "gauge",
        "Metric batches waiting for the store writer.",
        state.ingest.depth() as f64,
    );
    metric(
        "steward_evaluation_lag_seconds",
        "gauge",
        "How far behind its samples' own time the latest alert evaluation ran (agent clock skew included).",
        state.alerting.evaluation_lag_ms.load(Relaxed) as f64 / 1000.0,
    );
    metric(
        "steward_devices_taken_over_total",
        "counter",
        "Agent connections whose alert state this replica rebuilt from the store (restarts, moves, a dead replica's devices).",
        state.alerting.takeovers.load(Relaxed) as f64,
    );
    metric(
        "steward_log_templates_dropped_total",
        "counter",
        "Log templates agents reported that log pattern monitors could not follow (each monitor follows at most 5,000).",
        state.alerting.log_templates_dropped() as f64,
    );
    metric(
        "steward_notifications_pending",
        "gauge",
        "Notifications queued and not yet delivered, every channel (the outbox).",
        pending,
    );
    metric(
        "steward_bus_published_total",
        "counter",
        "Events this replica told the others (jobs, revocations, job progress).",
        m.bus_published.load(Relaxed) as f64,
    );
    metric(
        "steward_bus_received_total",
        "counter",
        "Events this replica heard from the others.",
        m.bus_received.load(Relaxed) as f64,
    );
    metric(
        "steward_bus_failed_total",
        "counter",
        "Events that could not be published.",
        m.bus_failed.load(Relaxed) as f64,
    );
    let _ = writeln!(
        out,
        "# HELP steward_build_info Build of this server.\n# TYPE steward_build_info gauge\nsteward_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
