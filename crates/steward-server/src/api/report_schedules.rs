//! Scheduled reports (`/api/v1/report-schedules`, lifecycle convention):
//! an organisation's (or one site's) report, PDF and CSV attached, sent
//! weekly or monthly to its recipients through one of the organisation's
//! email channels (its relay and sender). It is sent later by
//! `crate::report_mail` under the name and authority of who set it up
//! (or changed it last), so setting one needs `devices.manage` for the
//! whole organisation and a credential that may leave standing work.
//! `POST /api/v1/report-schedules/{id}/send` sends the last full period
//! now, as the caller.

use super::lifecycle::{expected_version, overlay, read_as, tagged};
use super::{ApiError, ApiResult, id_param, org_named};
use crate::AppState;
use crate::auth::Caller;
use crate::jobs::authority::may_leave_standing_work;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_incident::report::next_send;
use steward_store::{REPORT_CADENCES, ReportScheduleRecord, Scope};
use uuid::Uuid;

/// The most recipients of one schedule.
const MAX_RECIPIENTS: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    site: Option<String>,
    cadence: String,
    /// An email channel of the organisation (its id).
    channel: String,
    recipients: Vec<String>,
    /// When to send next (Unix ms; default: after the current period).
    #[serde(default)]
    next_run_at: Option<i64>,
}

pub fn view(s: &ReportScheduleRecord) -> Value {
    json!({
        "site": s.site, "cadence": s.cadence, "channel": s.channel_id,
        "recipients": s.recipients, "next_run_at": s.next_run_at,
    })
}

fn answer(s: &ReportScheduleRecord) -> Value {
    let mut body = super::lifecycle::with_fields(s, view(s));
    body["channel_id"] = json!(s.channel_id);
    body
}

/// The schedule's fields, checked against the organisation's channels.
async fn check(
    state: &AppState,
    org: Uuid,
    body: &NewSchedule,
) -> Result<(Option<String>, Uuid, Vec<String>), ApiError> {
    if !REPORT_CADENCES.contains(&body.cadence.as_str()) {
        return Err(ApiError::bad_request(format!(
            "cadence is weekly or monthly, not {:?}",
            body.cadence
        )));
    }
    if body.recipients.is_empty() || body.recipients.len() > MAX_RECIPIENTS {
        return Err(ApiError::bad_request(format!(
            "a schedule has 1 to {MAX_RECIPIENTS} recipients"
        )));
    }
    let mut recipients = Vec::with_capacity(body.recipients.len());
    for to in &body.recipients {
        let to = to.trim();
        if to.len() > 254 || to.parse::<lettre::Address>().is_err() {
            return Err(ApiError::bad_request(format!(
                "{to:?} is not an email address"
            )));
        }
        if !recipients
            .iter()
            .any(|r: &String| r.eq_ignore_ascii_case(to))
        {
            recipients.push(to.to_string());
        }
    }
    let site = match body.site.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(site) if site.len() > 200 || site.chars().any(char::is_control) => {
            return Err(ApiError::bad_request("site is a site's name"));
        }
        Some(site) => Some(site.to_string()),
    };
    let channel = Uuid::parse_str(&body.channel)
        .map_err(|_| ApiError::bad_request(format!("{:?} is not a channel id", body.channel)))?;
    let found = state.store.get_channel(&Scope::org(org), channel).await;
    match found {
        Ok(c) if c.kind == "email" && c.org_id == org => Ok((site, channel, recipients)),
        Ok(_) => Err(ApiError::bad_request(
            "the channel is not an email channel of this organisation",
        )),
        Err(_) => Err(ApiError::bad_request(
            "no such email channel in this organisation",
        )),
    }
}

/// The longest a schedule may wait: 400 days.
const MAX_AHEAD_MS: i64 = 400 * 86_400_000;

/// A chosen next sending: from a minute ago (now, give or take a clock)
/// to 400 days ahead.
fn next_run(at: i64, now: i64) -> Result<i64, ApiError> {
    if !(now - 60_000..=now + MAX_AHEAD_MS).contains(&at) {
        return Err(ApiError::bad_request(
            "next_run_at is Unix milliseconds from now to 400 days ahead",
        ));
    }
    Ok(at)
}

fn allowed(caller: &Caller, org: Uuid, what: &str) -> Result<(), ApiError> {
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(format!(
            "scheduled reports belong to the whole organisation: {what} one needs devices.manage there, not at one site"
        )));
    }
    Ok(())
}

pub async fn create_report_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewSchedule>,
) -> ApiResult<Value> {
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    allowed(&caller, org, "setting up")?;
    // It is sent later under the caller's authority.
    may_leave_standing_work(&caller.principal).map_err(ApiError::forbidden)?;
    caller.acting_in(org);
    let (site, channel_id, recipients) = check(&state, org, &body).await?;
    let now = crate::now_ms();
    let record = ReportScheduleRecord {
        id: Uuid::now_v7(),
        org_id: org,
        site,
        next_run_at: match body.next_run_at {
            Some(at) => next_run(at, now)?,
            None => next_send(&body.cadence, now),
        },
        cadence: body.cadence,
        channel_id,
        recipients,
        created_by: caller.principal.username.clone(),
        last_sent_at: None,
        last_period: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    state.store.create_report_schedule(&record).await?;
    caller.changed(Value::Null, view(&record));
    Ok(Json(answer(&record)))
}

pub async fn list_report_schedules(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_report_schedules(&caller.scope).await?;
    Ok(Json(records.iter().map(answer).collect()))
}

pub async fn get_report_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "report schedule")?;
    let record = state.store.get_report_schedule(&caller.scope, id).await?;
    Ok(tagged(record.version, answer(&record)))
}

pub async fn patch_report_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "report schedule")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_report_schedule(&caller.scope, id).await?;
    allowed(&caller, current.org_id, "changing")?;
    may_leave_standing_work(&caller.principal).map_err(ApiError::forbidden)?;
    caller.acting_in(current.org_id);
    let body: NewSchedule = read_as(overlay(view(&current), patch)?, "report schedule")?;
    if body.org.is_some() {
        return Err(ApiError::bad_request(
            "a schedule cannot move to another organisation",
        ));
    }
    let (site, channel_id, recipients) = check(&state, current.org_id, &body).await?;
    let now = crate::now_ms();
    let mut record = ReportScheduleRecord {
        site,
        next_run_at: match body.next_run_at {
            Some(at) if at != current.next_run_at => next_run(at, now)?,
            _ if body.cadence != current.cadence => next_send(&body.cadence, now),
            _ => current.next_run_at,
        },
        cadence: body.cadence,
        channel_id,
        recipients,
        // It runs as whoever changed it last.
        created_by: caller.principal.username.clone(),
        updated_at: now,
        ..current.clone()
    };
    record.version = state
        .store
        .update_report_schedule(&caller.scope, &record, expected.or(Some(current.version)))
        .await?;
    caller.changed(view(&current), view(&record));
    Ok(tagged(record.version, answer(&record)))
}

pub async fn delete_report_schedule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "report schedule")?;
    let current = state.store.get_report_schedule(&caller.scope, id).await?;
    allowed(&caller, current.org_id, "deleting")?;
    caller.acting_in(current.org_id);
    state
        .store
        .delete_report_schedule(&caller.scope, id)
        .await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

/// `POST /api/v1/report-schedules/{id}/send`: sends the last full period
/// now, counted as the caller sees it.
pub async fn send_report_now(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "report schedule")?;
    let schedule = state.store.get_report_schedule(&caller.scope, id).await?;
    allowed(&caller, schedule.org_id, "sending")?;
    caller.acting_in(schedule.org_id);
    let now = crate::now_ms();
    let sees = crate::authz::scope_for(&caller.principal, crate::authz::Permission::DevicesView);
    let period = crate::report_mail::send(&state, &schedule, &sees, now)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e))?;
    Ok(Json(json!({
        "sent": true, "period": period, "recipients": schedule.recipients,
    })))
}
