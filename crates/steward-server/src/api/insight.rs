//! What a metric chart draws besides its samples (`GET
//! /api/v1/devices/{id}/metrics/{name}/insight`): the anomaly detector's
//! expected range and the anomalies it found, and the forecast's
//! projection with its band. Decided by `steward_intel::chart` (pure) over
//! the stored samples, with a few hours before the range to learn from.

use super::{ApiError, ApiResult, id_param, parse_duration};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use steward_intel::chart::{self, Drawing};
use steward_store::MetricQuery;

/// History before the range the detector learns from.
const LEARN_MS: i64 = 6 * 3_600_000;
/// The longest range drawn (and the longest projection).
const MAX_RANGE_MS: i64 = 31 * 86_400_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsightParams {
    /// The range shown, back from now (default `1d`).
    since: Option<String>,
    /// At most this many band points per series (default 200).
    points: Option<u32>,
    /// How far past the last sample to project (default: the range).
    horizon: Option<String>,
    /// The level whose time of reaching is forecast (default 0.9 for
    /// `.utilization` ratios, none otherwise).
    threshold: Option<f64>,
}

#[derive(Serialize)]
pub struct Anomaly {
    at: i64,
    value: f64,
    score: f64,
    explanation: Option<&'static str>,
}

#[derive(Serialize)]
pub struct Projection {
    season: &'static str,
    rate_per_day: f64,
    rate_low_per_day: f64,
    rate_high_per_day: f64,
    growing: bool,
    threshold: Option<f64>,
    time_to_threshold_ms: Option<i64>,
    soonest_ms: Option<i64>,
    latest_ms: Option<i64>,
    /// [ms, value, low, high] from the last sample on.
    points: Vec<(i64, f64, f64, f64)>,
}

#[derive(Serialize)]
pub struct Insight {
    name: String,
    labels: BTreeMap<String, String>,
    /// [ms, low, high]: where the detector expected the samples.
    bands: Vec<(i64, f64, f64)>,
    anomalies: Vec<Anomaly>,
    projection: Option<Projection>,
}

fn duration_ms(text: &str) -> Result<i64, ApiError> {
    Ok(parse_duration(text)?.as_millis().min(i64::MAX as u128) as i64)
}

fn insight(name: String, labels: BTreeMap<String, String>, d: Drawing) -> Insight {
    use steward_intel::forecast::Season;
    Insight {
        name,
        labels,
        bands: d.bands.iter().map(|b| (b.at_ms, b.low, b.high)).collect(),
        anomalies: d
            .anomalies
            .iter()
            .map(|a| Anomaly {
                at: a.at_ms,
                value: a.value,
                score: a.score,
                explanation: a.explanation.map(|e| e.name()),
            })
            .collect(),
        projection: d.projection.map(|p| Projection {
            season: match p.season {
                Season::None => "none",
                Season::Daily => "daily",
                Season::Weekly => "weekly",
            },
            rate_per_day: p.rate_per_day,
            rate_low_per_day: p.rate_low_per_day,
            rate_high_per_day: p.rate_high_per_day,
            growing: p.growing,
            threshold: p.threshold,
            time_to_threshold_ms: p.time_to_threshold_ms,
            soonest_ms: p.soonest_ms,
            latest_ms: p.latest_ms,
            points: p
                .points
                .iter()
                .map(|q| (q.at_ms, q.value, q.low, q.high))
                .collect(),
        }),
    }
}

pub async fn metric_insight(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    Query(params): Query<InsightParams>,
) -> ApiResult<Vec<Insight>> {
    let id = id_param(&id, "device")?;
    if !steward_proto::validate::is_metric_name(&name, 128) {
        return Err(ApiError::bad_request(format!(
            "{name:?} is not a metric name"
        )));
    }
    let range = duration_ms(params.since.as_deref().unwrap_or("1d"))?;
    if !(60_000..=MAX_RANGE_MS).contains(&range) {
        return Err(ApiError::bad_request(
            "since is between 1m and 31d".to_string(),
        ));
    }
    let horizon = match params.horizon.as_deref() {
        Some(text) => duration_ms(text)?,
        None => range,
    };
    if !(60_000..=MAX_RANGE_MS).contains(&horizon) {
        return Err(ApiError::bad_request(
            "horizon is between 1m and 31d".to_string(),
        ));
    }
    if params.threshold.is_some_and(|t| !t.is_finite()) {
        return Err(ApiError::bad_request("threshold is a number".to_string()));
    }
    let threshold = params
        .threshold
        .or_else(|| name.ends_with(".utilization").then_some(0.9));
    let points = params.points.unwrap_or(200).clamp(1, 2000) as usize;
    super::device_in_scope(&state, &caller, id).await?;
    let now = crate::now_ms();
    let from = now - range;
    let query = MetricQuery {
        device_id: id,
        name,
        from_ms: from - LEARN_MS,
        // Open-ended: an agent's clock may run a little ahead.
        to_ms: i64::MAX,
    };
    let series = state.store.query_metric(&caller.scope, &query).await?;
    let drawn = tokio::task::spawn_blocking(move || {
        series
            .into_iter()
            .map(|s| {
                let d = chart::draw(&s.samples, from, points, horizon, threshold);
                insight(s.name, s.labels, d)
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "Drawing a metric's insight failed.");
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
    })?;
    Ok(Json(drawn))
}
