//! Scheduled reports sent by email: every 30 s the schedules due are
//! claimed (`claim_report_schedule` moves `next_run_at` from the value
//! read, so one replica sends), their setter's authority is read again
//! (they must still manage the whole organisation's devices, as setting
//! one up needs; the report counts what they see now), and the last full
//! week or month is built (`api::reports::build`) and sent through the
//! schedule's email channel with the PDF and CSV attached. Every sending,
//! failure or refusal is audited under the setter's name.

use crate::AppState;
use crate::api::kpis::narrowed;
use crate::api::reports::{build, slug};
use crate::authz::{self, Permission};
use crate::notify::{Attached, email_files};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use steward_incident::report::{Period, csv, next_send};
use steward_store::{NewAuditEntry, ReportScheduleRecord, Scope};
use tokio::sync::watch;

/// What the audit names as the source of a scheduled sending.
pub const SOURCE: &str = "reports";
const EVERY: Duration = Duration::from_secs(30);

/// Builds the last full period's report as `sees` (the sender's
/// devices.view scope) sees it and sends it; records the outcome on the
/// schedule. Returns the period sent, or why not.
pub async fn send(
    state: &AppState,
    schedule: &ReportScheduleRecord,
    sees: &Scope,
    now: i64,
) -> Result<String, String> {
    let outcome = build_and_send(state, schedule, sees, now).await;
    let recorded = state
        .store
        .record_report_sent(
            schedule.id,
            now,
            match &outcome {
                Ok(period) => Ok(period.as_str()),
                Err(why) => Err(why.as_str()),
            },
        )
        .await;
    if let Err(error) = recorded {
        tracing::warn!(%error, schedule = %schedule.id, "A report's sending was not recorded.");
    }
    outcome
}

async fn build_and_send(
    state: &AppState,
    schedule: &ReportScheduleRecord,
    sees: &Scope,
    now: i64,
) -> Result<String, String> {
    let period = Period::before(&schedule.cadence, now);
    let org = schedule.org_id;
    let scope = narrowed(sees, org, schedule.site.as_deref());
    let report = build(state, &scope, org, schedule.site.as_deref(), &period)
        .await
        .map_err(|e| format!("the report could not be built: {}", e.message))?;
    let channel = state
        .store
        .get_channel(&Scope::org(org), schedule.channel_id)
        .await
        .map_err(|_| "its email channel no longer exists".to_string())?;
    if channel.kind != "email" {
        return Err("its channel is not an email channel".into());
    }
    let stem = format!(
        "steward-report-{}-{}",
        slug(&report.name),
        slug(&period.label)
    );
    let subject = format!("Steward report: {} {}", report.name, period.label);
    let mut body = format!(
        "The {} report of {} for {} is attached as PDF and CSV.\n\n",
        schedule.cadence, report.name, period.label
    );
    if !report.figures.has_data() {
        body.push_str("There was no data in this period.\n\n");
    }
    for (_, name, value, _) in &report.figures.kpis {
        let value = if value.is_empty() { "no data" } else { value };
        body.push_str(&format!("{name}: {value}\n"));
    }
    body.push_str(&format!(
        "\nSent for {} (scheduled by them).\n",
        schedule.created_by
    ));
    let files = vec![
        Attached {
            name: format!("{stem}.pdf"),
            content_type: "application/pdf",
            bytes: crate::reports::pdf::render(&report.figures),
        },
        Attached {
            name: format!("{stem}.csv"),
            content_type: "text/csv; charset=utf-8",
            bytes: csv(&report.figures).into_bytes(),
        },
    ];
    email_files(
        state.outbound.policy(),
        &channel.config,
        &schedule.recipients,
        &subject,
        body,
        files,
    )
    .await
    .map_err(|e| format!("the email was not sent: {e}"))?;
    Ok(period.label)
}

/// The setter's devices.view scope when they may still send it (manage
/// the whole organisation's devices); why not.
async fn authority(state: &AppState, schedule: &ReportScheduleRecord) -> Result<Scope, String> {
    let who = &schedule.created_by;
    let principal = crate::jobs::authority::org_manager(
        state.store.as_ref(),
        who,
        schedule.org_id,
        "the report",
    )
    .await?;
    Ok(authz::scope_for(&principal, Permission::DevicesView))
}

async fn audit(
    state: &AppState,
    schedule: &ReportScheduleRecord,
    action: &str,
    detail: serde_json::Value,
) {
    let written = state
        .store
        .append_audit(&NewAuditEntry {
            org_id: Some(schedule.org_id),
            at: crate::now_ms() / 1000,
            actor: schedule.created_by.clone(),
            source: SOURCE.into(),
            action: action.into(),
            target: schedule.id.to_string(),
            detail: detail.to_string(),
        })
        .await;
    if let Err(error) = written {
        tracing::warn!(%error, schedule = %schedule.id, "A scheduled report was not audited.");
    }
}

/// Sends every schedule due at `now` once; returns how many were sent.
pub async fn sweep(state: &AppState, now: i64) -> Result<usize, steward_store::StoreError> {
    let mut sent = 0;
    for schedule in state.store.due_report_schedules(now).await? {
        let next = next_send(&schedule.cadence, now);
        if !state
            .store
            .claim_report_schedule(schedule.id, schedule.next_run_at, next)
            .await?
        {
            continue;
        }
        let sees = match authority(state, &schedule).await {
            Ok(scope) => scope,
            Err(why) => {
                tracing::warn!(schedule = %schedule.id, why, "Scheduled report not sent.");
                let _ = state
                    .store
                    .record_report_sent(schedule.id, now, Err(&why))
                    .await;
                audit(state, &schedule, "report.refused", json!({ "why": why })).await;
                continue;
            }
        };
        match send(state, &schedule, &sees, now).await {
            Ok(period) => {
                sent += 1;
                audit(
                    state,
                    &schedule,
                    "report.sent",
                    json!({ "period": period, "recipients": schedule.recipients, "site": schedule.site }),
                )
                .await;
            }
            Err(why) => {
                tracing::warn!(schedule = %schedule.id, why, "Scheduled report failed.");
                audit(state, &schedule, "report.failed", json!({ "why": why })).await;
            }
        }
    }
    Ok(sent)
}

/// Runs [`sweep`] every 30 s until shutdown.
pub fn spawn(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(error) = sweep(&state, crate::now_ms()).await {
                tracing::warn!(%error, "Scheduled report sweep failed.");
            }
        }
    });
}
