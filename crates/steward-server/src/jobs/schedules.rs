//! Schedules firing: each due schedule is claimed (one replica creates its
//! job), then its job is created with the authority its owner has now.

use super::{JobRequest, authority, create_job};
use crate::AppState;
use std::sync::Arc;

pub(super) async fn fire_schedules(state: &Arc<AppState>, now: i64) {
    let due = match state.store.due_schedules(now).await {
        Ok(due) => due,
        Err(error) => {
            tracing::error!(%error, "Cannot read due schedules.");
            return;
        }
    };
    for schedule in due {
        let timing: steward_jobs::schedule::Timing =
            match serde_json::from_value(schedule.timing.clone()) {
                Ok(t) => t,
                Err(error) => {
                    tracing::error!(schedule = %schedule.id, %error, "Schedule does not parse.");
                    continue;
                }
            };
        let decision = match timing.decide(schedule.next_run_at, now) {
            Ok(d) => d,
            Err(error) => {
                tracing::error!(schedule = %schedule.id, %error, "Schedule cannot be evaluated.");
                continue;
            }
        };
        use steward_jobs::schedule::Decision;
        let (ran, next) = match decision {
            Decision::Wait => continue,
            Decision::Skip { next } => {
                tracing::warn!(schedule = %schedule.name, "Skipping runs missed while the server was down.");
                (None, next)
            }
            Decision::Run { next } => (Some(now), next),
        };
        // Claim the run first: of several replicas, one creates the job.
        match state
            .store
            .claim_schedule(schedule.id, schedule.next_run_at, ran, next)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::error!(schedule = %schedule.id, %error, "Cannot update a schedule.");
                continue;
            }
        }
        if ran.is_none() {
            continue;
        }
        let request = match serde_json::from_value::<JobRequest>(schedule.job.clone()) {
            Ok(request) => request,
            Err(error) => {
                tracing::error!(schedule = %schedule.id, %error, "Scheduled job request does not parse.");
                continue;
            }
        };
        run_schedule(state, &schedule, &request).await;
    }
}

/// Creates a schedule's job with the authority its owner has now, and
/// audits it under the owner's name.
async fn run_schedule(
    state: &Arc<AppState>,
    schedule: &steward_store::ScheduleRecord,
    request: &JobRequest,
) {
    let target = format!("schedule:{}", schedule.id);
    let audit = |action: &'static str, detail: serde_json::Value| {
        crate::audit::write(
            state,
            Some(schedule.org_id),
            &schedule.created_by,
            "schedule",
            action,
            &target,
            detail,
        )
    };
    let owner = match authority::owner(state, &schedule.created_by).await {
        Ok(owner) => owner,
        Err(reason) => {
            tracing::warn!(schedule = %schedule.name, %reason, "Scheduled job not created.");
            audit(
                "schedule.refused",
                serde_json::json!({ "schedule": schedule.name, "reason": reason }),
            )
            .await;
            return;
        }
    };
    let created = create_job(
        state,
        schedule.org_id,
        &authority::within_org(&owner.scripts, schedule.org_id),
        request,
        &owner.principal.username,
        Some(target.clone()),
    )
    .await;
    match created {
        Ok(created) => {
            audit(
                "schedule.run",
                serde_json::json!({
                    "schedule": schedule.name,
                    "job_id": created.id,
                    "targets": created.targets,
                    "state": created.state,
                    "on_behalf_of": owner.principal.username,
                }),
            )
            .await;
        }
        Err(error) => {
            tracing::warn!(schedule = %schedule.name, error = %error.message, "Scheduled job not created.");
            audit(
                "schedule.refused",
                serde_json::json!({ "schedule": schedule.name, "reason": error.message }),
            )
            .await;
        }
    }
}
