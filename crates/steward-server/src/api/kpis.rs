//! `GET /api/v1/kpis?org=&site=&since=&until=`: the figures IT leads
//! track for one organisation (or one of its sites) and period, each
//! beside its definition
//! (`steward_incident::kpi::DEFINITIONS`): availability per device from
//! its status history with maintenance windows excluded, MTTA and MTTR
//! (median, p90, mean), incident volume, open problems, alert noise,
//! patch compliance, backup success;
//! what Steward has no data for says so instead of a number.

use super::{ApiError, ApiResult, org_named};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_alert::noise::{MaintenanceWindow, Target};
use steward_incident::kpi::{self, IncidentTimes};
use steward_incident::span::{Span, sampled, union};
use steward_store::{IncidentFilter, NoiseKind, Scope, Status};

const DAY: i64 = 86_400_000;
/// The longest period one call covers.
const MAX_PERIOD: i64 = 400 * DAY;
/// How finely recurring maintenance windows are read.
const WINDOW_STEP: i64 = 60_000;
/// Days a security update may wait before a device is non-compliant.
const COMPLIANCE_DAYS: i64 = 14;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    org: Option<String>,
    /// One site of the organisation (default: all the caller sees).
    site: Option<String>,
    /// Unix milliseconds (default: 30 days before `until`).
    since: Option<i64>,
    /// Unix milliseconds (default: now).
    until: Option<i64>,
}

fn not_collected(why: &str) -> Value {
    json!({ "collected": false, "note": format!("not collected: {why}") })
}

pub async fn kpis(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<KpiQuery>,
) -> ApiResult<Value> {
    let org = org_named(&state, &caller, query.org.as_deref()).await?;
    let now = crate::now_ms();
    let until = query.until.unwrap_or(now);
    let since = query.since.unwrap_or(until.saturating_sub(30 * DAY));
    let scope = narrowed(&caller.scope, org, query.site.as_deref());
    Ok(Json(compute(&state, &scope, org, since, until).await?))
}

/// What `scope` may see of `org`, narrowed to `site` when one is named
/// (a grant for another site gives nothing there).
pub fn narrowed(scope: &Scope, org: uuid::Uuid, site: Option<&str>) -> Scope {
    Scope {
        allow: scope
            .allow
            .iter()
            .filter(|p| p.org.is_none_or(|o| o == org))
            .filter_map(|p| {
                let site = match (p.site.as_deref(), site) {
                    (None, s) | (s, None) => s,
                    (Some(a), Some(b)) if a == b => Some(a),
                    _ => return None,
                };
                Some(steward_store::Place {
                    org: Some(org),
                    site: site.map(str::to_string),
                })
            })
            .collect(),
        deny: scope.deny.clone(),
    }
}

/// Whether `scope` is narrowed to one site (every place it allows names
/// one): organisation-wide rows (incidents, problems) then count only
/// when they touch a device seen there.
fn one_site(scope: &Scope) -> bool {
    !scope.allow.is_empty() && scope.allow.iter().all(|p| p.site.is_some())
}

/// An organisation's KPIs over `[since, until)` as `scope` (the caller's,
/// [`narrowed`]) sees them (what `GET /api/v1/kpis` answers; reports call
/// it per period and per week, scheduled reports with their setter's).
pub async fn compute(
    state: &AppState,
    scope: &Scope,
    org: uuid::Uuid,
    since: i64,
    until: i64,
) -> Result<Value, ApiError> {
    if since < 0 || until <= since || until - since > MAX_PERIOD {
        return Err(ApiError::bad_request(
            "since and until are Unix milliseconds, since before until, at most 400 days apart",
        ));
    }
    let period = Span::new(since, until);
    let scope = narrowed(scope, org, None);
    let by_site = one_site(&scope);

    // Availability per device, maintenance excluded.
    let windows: Vec<(MaintenanceWindow, Vec<Span>)> = state
        .store
        .list_noise_rules(&scope, NoiseKind::Maintenance)
        .await?
        .into_iter()
        .filter(|rule| rule.org_id == org)
        .filter_map(|rule| serde_json::from_value::<MaintenanceWindow>(rule.definition).ok())
        .map(|w| {
            let spans = sampled(|t| w.schedule.active(t), period, WINDOW_STEP);
            (w, spans)
        })
        .collect();
    let devices: Vec<_> = state
        .store
        .list_devices(&scope)
        .await?
        .into_iter()
        .filter(|d| d.org_id == org)
        .collect();
    let seen: std::collections::HashSet<uuid::Uuid> = devices.iter().map(|d| d.id).collect();
    let mut availability = Vec::with_capacity(devices.len());
    let (mut scheduled_total, mut down_total) = (0i64, 0i64);
    for device in &devices {
        // Counted from its enrollment (Unix seconds): before it, nothing
        // was scheduled.
        let enrolled = match state.store.get_device(&scope, device.id).await {
            Ok(d) => d.enrolled_at.saturating_mul(1000),
            Err(_) => since,
        };
        let start = since.max(enrolled);
        if start >= until {
            continue;
        }
        let span = Span::new(start, until);
        let history = state.store.status_history(&scope, device.id).await?;
        let mut changes: Vec<(i64, bool)> = history
            .iter()
            .map(|c| (c.at, c.to == Status::Online))
            .collect();
        changes.sort_unstable();
        let online_before = changes
            .iter()
            .rev()
            .find(|(at, _)| *at <= start)
            .map_or(changes.first().is_none_or(|(_, on)| !on), |(_, on)| *on);
        let within: Vec<(i64, bool)> = changes.into_iter().filter(|(at, _)| *at > start).collect();
        let down = kpi::offline_spans(online_before, &within, span);
        let target = Target {
            device: device.id.to_string(),
            site: device.site.clone(),
            tags: device.tags.clone(),
            os: device.os.clone(),
        };
        let maintenance: Vec<Span> = union(
            &windows
                .iter()
                .filter(|(w, _)| w.matcher.matches(&target))
                .flat_map(|(_, spans)| spans.iter().copied())
                .collect::<Vec<_>>(),
        );
        let figure = kpi::availability(span, &down, &maintenance);
        scheduled_total += figure.period_ms - figure.maintenance_ms;
        down_total += figure.downtime_ms;
        availability.push(json!({
            "device_id": device.id, "device_name": device.name,
            "period_ms": figure.period_ms, "maintenance_ms": figure.maintenance_ms,
            "downtime_ms": figure.downtime_ms, "ratio": figure.ratio,
        }));
    }

    // Incidents opened in the period: volume, MTTA, MTTR.
    let incidents: Vec<_> = state
        .store
        .list_incidents(&scope, &IncidentFilter::default())
        .await?
        .into_iter()
        .filter(|i| i.org_id == org && (since..until).contains(&i.opened_at))
        .filter(|i| !by_site || i.devices.iter().any(|d| seen.contains(d)))
        .collect();
    let times: Vec<IncidentTimes> = incidents
        .iter()
        .map(|i| IncidentTimes {
            opened_at: i.opened_at,
            acknowledged_at: i.acknowledged_at.filter(|t| *t < until),
            resolved_at: i.resolved_at.filter(|t| *t < until),
            cleared_by_itself: false,
        })
        .collect();
    let still_open = incidents
        .iter()
        .filter(|i| i.resolved_at.is_none_or(|t| t >= until))
        .count();
    let (mttr, cleared) = kpi::mttr(&times);

    // Alert noise: alerts opened in the period.
    let alerts: Vec<kpi::AlertFacts> = state
        .store
        .list_alerts(&scope, false)
        .await?
        .into_iter()
        .filter(|a| a.org_id == org && (since..until).contains(&a.opened_at))
        .map(|a| kpi::AlertFacts {
            device: a.device_id.to_string(),
            auto_remediated: a.suppressed.as_deref() == Some("remediated"),
            // Kept quiet by a window, silence or dependency (not by
            // grouping or a remediation under way).
            suppressed: a
                .suppressed
                .as_deref()
                .is_some_and(|s| !matches!(s, "grouped" | "remediating" | "remediated")),
            acknowledged: a.acknowledged_at.is_some(),
            acted_on: a.resolved_by.is_some(),
        })
        .collect();
    let noise = kpi::noise(&alerts, devices.len());

    // Patch compliance, as the patching page computes it.
    let figures = state.store.patch_figures(&scope).await?;
    let now = crate::now_secs();
    let cutoff = now - COMPLIANCE_DAYS * 86_400;
    let reporting: Vec<_> = figures
        .iter()
        .filter(|f| f.org_id == org && f.reporting(now))
        .collect();
    let compliant = reporting
        .iter()
        .filter(|f| f.oldest_security_since.is_none_or(|t| t > cutoff))
        .count();
    let patch_compliance = if reporting.is_empty() {
        not_collected("no device has reported its pending updates")
    } else {
        json!({
            "collected": true, "reporting": reporting.len(), "compliant": compliant,
            "share": compliant as f64 / reporting.len() as f64,
        })
    };

    // Backup outcomes in the period.
    let outcomes: Vec<_> = state
        .store
        .backup_outcomes(&scope, since, until)
        .await?
        .into_iter()
        .filter(|o| o.org_id == org)
        .collect();
    let rates = steward_store::success_rates(&outcomes);
    let backup_success = match rates.orgs.iter().find(|r| r.org_id == org) {
        Some(rate) if rate.tally.success_rate.is_some() => json!({
            "collected": true, "share": rate.tally.success_rate,
            "succeeded": rate.tally.ok + rate.tally.warning,
            "failed": rate.tally.failed,
        }),
        _ => not_collected("no backup outcome in this period"),
    };

    // Problems not resolved at the end of the period.
    let open_problems = state
        .store
        .list_problems(&scope)
        .await?
        .iter()
        .filter(|p| p.org_id == org && p.first_seen < until)
        .filter(|p| !by_site || p.devices.iter().any(|d| seen.contains(d)))
        .filter(|p| p.resolved_at.is_none_or(|t| t >= until))
        .count();

    let definitions: serde_json::Map<String, Value> = kpi::DEFINITIONS
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Ok(json!({
        "org_id": org,
        "since": since,
        "until": until,
        "availability": {
            "ratio": (scheduled_total > 0).then(|| 1.0 - down_total as f64 / scheduled_total as f64),
            "devices": availability,
        },
        "mtta": kpi::mtta(&times),
        "mttr": mttr,
        "cleared_by_itself": cleared,
        "incident_volume": { "opened": incidents.len(), "open": still_open },
        "open_problems": { "collected": true, "open": open_problems },
        "noise": noise,
        "patch_compliance": patch_compliance,
        "backup_success": backup_success,
        "definitions": definitions,
    }))
}
