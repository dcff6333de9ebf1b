//! Backup monitoring: a device's jobs (as last reported) with their recent
//! outcomes, and the success rate per device, site and organisation over a
//! period, counted from outcomes in the caller's scope.

use super::*;
use axum::extract::{Path, Query};
use serde::{Deserialize, Serialize};
use steward_store::{BackupJobRecord, BackupRun, SuccessRates};

#[derive(Deserialize)]
pub struct Period {
    /// How far back, e.g. `30d` (the default) or `7d`.
    since: Option<String>,
}

/// At most this far back (a year and a month).
const MAX_PERIOD_MS: i64 = 400 * 86_400_000;

fn since(period: &Period, now: i64) -> Result<i64, ApiError> {
    let back = parse_duration(period.since.as_deref().unwrap_or("30d"))?
        .as_millis()
        .min(MAX_PERIOD_MS as u128) as i64;
    Ok(now - back)
}

#[derive(Serialize)]
pub struct DeviceBackups {
    device_id: uuid::Uuid,
    jobs: Vec<BackupJobRecord>,
    /// Outcomes in the period, newest first (at most 500).
    runs: Vec<BackupRun>,
}

/// `GET /api/v1/devices/{id}/backups?since=30d`
pub async fn device(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(period): Query<Period>,
) -> ApiResult<DeviceBackups> {
    let id = id_param(&id, "device")?;
    super::device_in_scope(&state, &caller, id).await?;
    let from = since(&period, crate::now_ms())?;
    Ok(Json(DeviceBackups {
        device_id: id,
        jobs: state.store.device_backups(&caller.scope, id).await?,
        runs: state
            .store
            .backup_runs(&caller.scope, id, None, from, 500)
            .await?,
    }))
}

#[derive(Serialize)]
pub struct Summary {
    /// The period, Unix ms: `[since, until)`.
    since: i64,
    until: i64,
    #[serde(flatten)]
    rates: SuccessRates,
}

/// `GET /api/v1/backups/summary?since=30d`
pub async fn summary(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(period): Query<Period>,
) -> ApiResult<Summary> {
    let until = crate::now_ms() + 1;
    let from = since(&period, until)?;
    let outcomes = state
        .store
        .backup_outcomes(&caller.scope, from, until)
        .await?;
    Ok(Json(Summary {
        since: from,
        until,
        rates: steward_store::success_rates(&outcomes),
    }))
}
