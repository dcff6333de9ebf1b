//! `GET /api/v1/reports?org=&period=2026-11|2026-W45&format=json|csv|pdf`:
//! an organisation's report over a calendar month or ISO week (UTC): the
//! KPIs of the period with their definitions, the weekly trend and the
//! devices' availability, as JSON, CSV or a PDF with charts
//! (`crate::reports`). Only what the caller may see is counted.

use super::kpis::compute;
use super::{ApiError, org_named};
use crate::AppState;
use crate::auth::Caller;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use steward_incident::report::{Period, csv};
use steward_store::Scope;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    org: Option<String>,
    /// `YYYY-MM` or `YYYY-Www` (default: last month).
    period: Option<String>,
    /// `json` (default), `csv` or `pdf`.
    format: Option<String>,
}

/// A file name's part: letters, digits and `-` only.
fn slug(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64)
        .collect();
    if s.is_empty() { "org".into() } else { s }
}

pub async fn report(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let format = query.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "pdf") {
        return Err(ApiError::bad_request(format!(
            "format is json, csv or pdf, not {format:?}"
        )));
    }
    let period = match &query.period {
        Some(text) => Period::parse(text).map_err(ApiError::bad_request)?,
        None => Period::month_before(crate::now_ms()),
    };
    let org = org_named(&state, &caller, query.org.as_deref()).await?;
    caller.acting_in(org);
    let name = state
        .store
        .list_orgs(&Scope::org(org))
        .await?
        .into_iter()
        .find(|o| o.id == org)
        .map_or_else(|| org.to_string(), |o| o.name);
    let whole = compute(&state, &caller, org, period.since, period.until).await?;
    let mut weeks = Vec::new();
    for (since, until) in period.weeks() {
        weeks.push((since, compute(&state, &caller, org, since, until).await?));
    }
    let figures = crate::reports::figures(&name, &period, &whole, &weeks);
    let file = format!("steward-report-{}-{}", slug(&name), slug(&period.label));
    let attachment = |ext: &str| format!("attachment; filename=\"{file}.{ext}\"");
    Ok(match format {
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, attachment("csv")),
            ],
            csv(&figures),
        )
            .into_response(),
        "pdf" => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (header::CONTENT_DISPOSITION, attachment("pdf")),
            ],
            crate::reports::pdf::render(&figures),
        )
            .into_response(),
        _ => axum::Json(json!({
            "org_id": org,
            "org": name,
            "period": period.label,
            "since": period.since,
            "until": period.until,
            "has_data": figures.has_data(),
            "kpis": figures.kpis.iter().map(|(key, name, value, definition)| json!({
                "key": key, "name": name, "value": value, "definition": definition,
            })).collect::<Vec<_>>(),
            "weeks": weeks.iter().map(|(start, k)| json!({
                "since": start,
                "incidents_opened": k["incident_volume"]["opened"],
                "availability": k["availability"]["ratio"],
                "mtta_median": k["mtta"]["median"],
                "mttr_median": k["mttr"]["median"],
            })).collect::<Vec<_>>(),
            "kpi": whole,
        }))
        .into_response(),
    })
}
