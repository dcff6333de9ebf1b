//! `GET /api/v1/reports?org=&site=&period=2026-11|2026-W45&format=json|csv|pdf`:
//! an organisation's (or one site's) report over a calendar month or ISO
//! week (UTC): the KPIs of the period with their definitions, the weekly
//! trend and the devices' availability, as JSON, CSV or a PDF with charts
//! (`crate::reports`). The JSON also gives each KPI's series over the
//! period's sub-intervals (weeks of a month, days of a week), which the
//! console's KPI page draws. Only what the caller may see is counted.

use super::kpis::{compute, narrowed};
use super::{ApiError, org_named};
use crate::AppState;
use crate::auth::Caller;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_incident::report::{Figures, Period, csv};
use steward_store::Scope;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    org: Option<String>,
    /// One site of the organisation.
    site: Option<String>,
    /// `YYYY-MM` or `YYYY-Www` (default: last month).
    period: Option<String>,
    /// `json` (default), `csv` or `pdf`.
    format: Option<String>,
}

/// A file name's part: letters, digits and `-` only.
pub fn slug(text: &str) -> String {
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
    let site = query.site.as_deref();
    if site.is_some_and(|s| s.is_empty() || s.len() > 200) {
        return Err(ApiError::bad_request("site is a site's name"));
    }
    let scope = narrowed(&caller.scope, org, site);
    let report = build(&state, &scope, org, site, &period).await?;
    let (name, figures) = (report.name.clone(), &report.figures);
    let file = format!("steward-report-{}-{}", slug(&name), slug(&period.label));
    let attachment = |ext: &str| format!("attachment; filename=\"{file}.{ext}\"");
    Ok(match format {
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, attachment("csv")),
            ],
            csv(figures),
        )
            .into_response(),
        "pdf" => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (header::CONTENT_DISPOSITION, attachment("pdf")),
            ],
            crate::reports::pdf::render(figures),
        )
            .into_response(),
        _ => axum::Json(report.json).into_response(),
    })
}

/// A report built: the organisation's name, its rows and the JSON answer.
pub struct Built {
    pub name: String,
    pub figures: Figures,
    pub json: Value,
}

/// The KPIs each series follows: (key, JSON pointer in a KPI answer).
const SERIES: &[(&str, &str)] = &[
    ("incident_volume", "/incident_volume/opened"),
    ("availability", "/availability/ratio"),
    ("mtta", "/mtta/median"),
    ("mttr", "/mttr/median"),
    ("open_problems", "/open_problems/open"),
    ("noise", "/noise/per_device"),
    ("backup_success", "/backup_success/share"),
];

/// Builds `org`'s report over `period` as `scope` sees it (the caller's,
/// or a scheduled report's setter's, already [`narrowed`]).
pub async fn build(
    state: &AppState,
    scope: &Scope,
    org: uuid::Uuid,
    site: Option<&str>,
    period: &Period,
) -> Result<Built, ApiError> {
    let name = state
        .store
        .list_orgs(&Scope::org(org))
        .await?
        .into_iter()
        .find(|o| o.id == org)
        .map_or_else(|| org.to_string(), |o| o.name);
    let label = match site {
        Some(site) => format!("{name} / {site}"),
        None => name.clone(),
    };
    let whole = compute(state, scope, org, period.since, period.until).await?;
    let mut weeks = Vec::new();
    for (since, until) in period.weeks() {
        weeks.push((since, compute(state, scope, org, since, until).await?));
    }
    let buckets = period.buckets();
    let mut answers: Vec<&Value> = Vec::new();
    let days;
    if buckets.len() == weeks.len() {
        answers.extend(weeks.iter().map(|(_, k)| k));
    } else {
        let mut each = Vec::new();
        for (since, until) in &buckets {
            each.push(compute(state, scope, org, *since, *until).await?);
        }
        days = each;
        answers.extend(days.iter());
    }
    let series: serde_json::Map<String, Value> = SERIES
        .iter()
        .map(|(key, pointer)| {
            let values: Vec<Value> = answers
                .iter()
                .map(|k| k.pointer(pointer).cloned().unwrap_or(Value::Null))
                .collect();
            (key.to_string(), Value::Array(values))
        })
        .collect();
    let figures = crate::reports::figures(&label, period, &whole, &weeks);
    let json = json!({
        "org_id": org,
        "org": name,
        "site": site,
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
        "buckets": buckets.iter().map(|(since, until)| json!({ "since": since, "until": until })).collect::<Vec<_>>(),
        "series": series,
        "kpi": whole,
    });
    Ok(Built {
        name: label,
        figures,
        json,
    })
}
