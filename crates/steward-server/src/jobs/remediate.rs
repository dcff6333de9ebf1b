//! Self-healing: a monitor's remediation script runs on the device when its
//! alert opens; the alert's history records what was tried and how it went;
//! a human is paged only when the script failed or the condition did not
//! clear in the verification window.

use super::{JobRequest, create_job};
use crate::alerting::AlertKey;
use crate::{AppState, now_ms};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use steward_alert::monitor::Remediation;
use steward_store::Scope;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Longest wait for a remediation run to finish.
const RUN_DEADLINE: Duration = Duration::from_secs(15 * 60);
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub struct RemediationRequest {
    pub alert: Uuid,
    pub org: Uuid,
    pub key: AlertKey,
    pub monitor_name: String,
    pub severity: String,
    pub summary: String,
    pub remediation: Remediation,
}

pub async fn run(state: Arc<AppState>, mut rx: mpsc::UnboundedReceiver<RemediationRequest>) {
    while let Some(request) = rx.recv().await {
        tokio::spawn(attempt(state.clone(), request));
    }
}

async fn event(state: &AppState, alert: Uuid, event: serde_json::Value) {
    if let Err(error) = state
        .store
        .append_alert_event(alert, now_ms(), &event)
        .await
    {
        tracing::error!(%alert, %error, "Cannot record a remediation event.");
    }
}

async fn attempt(state: Arc<AppState>, request: RemediationRequest) {
    let device = request.key.1;
    // The script runs as whoever set the remediation up, as they are now.
    let owner = match &request.remediation.owner {
        Some(name) => super::authority::owner(&state, name).await,
        None => Err("the remediation has no owner on record (set up before owners were kept): save the monitor again".into()),
    };
    let owner = match owner {
        Ok(mut owner) => {
            // Only this organisation's script and devices.
            owner.scripts = super::authority::within_org(&owner.scripts, request.org);
            owner
        }
        Err(reason) => {
            let reason = format!("the remediation could not start: {reason}");
            return escalate(&state, &request, &reason).await;
        }
    };
    if state
        .store
        .get_device(&owner.scripts, device)
        .await
        .is_err()
    {
        let reason = format!(
            "the remediation could not start: {} may no longer run scripts on this device",
            owner.principal.username
        );
        return escalate(&state, &request, &reason).await;
    }
    let job_request = JobRequest {
        name: Some(format!("remediation: {}", request.remediation.script)),
        script: Some(request.remediation.script.clone()),
        params: request.remediation.params.clone(),
        targets: vec![format!("device:{device}")],
        expires_in: Some("10m".into()),
        ..JobRequest::default()
    };
    let created = create_job(
        &state,
        request.org,
        &owner.scripts,
        &job_request,
        &owner.principal.username,
        Some(format!("alert:{}", request.alert)),
    )
    .await;
    let job = match created {
        Ok(created) => {
            crate::audit::write(
                &state,
                Some(request.org),
                &owner.principal.username,
                "remediation",
                "remediation.run",
                &format!("alert:{}", request.alert),
                json!({
                    "monitor": request.monitor_name,
                    "script": request.remediation.script,
                    "device": device,
                    "job_id": created.id,
                    "on_behalf_of": owner.principal.username,
                }),
            )
            .await;
            created.id
        }
        Err(error) => {
            let reason = format!("the remediation could not start: {}", error.message);
            return escalate(&state, &request, &reason).await;
        }
    };
    tracing::info!(alert = %request.alert, %job, script = %request.remediation.script, "Remediation started.");
    event(
        &state,
        request.alert,
        json!({ "event": "remediation_started", "job_id": job, "script": request.remediation.script }),
    )
    .await;
    let run = super::wait_for_result(&state, &Scope::all(), job, RUN_DEADLINE)
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%job, %error, "Cannot read the remediation's result.");
            None
        });
    let Some(run) = run else {
        event(
            &state,
            request.alert,
            json!({ "event": "remediation_finished", "job_id": job, "status": "no result" }),
        )
        .await;
        return escalate(
            &state,
            &request,
            "the remediation script did not report back",
        )
        .await;
    };
    let cut = |text: &str| text.chars().take(1024).collect::<String>();
    event(
        &state,
        request.alert,
        json!({
            "event": "remediation_finished",
            "job_id": job,
            "status": run.status,
            "exit_code": run.exit_code,
            "stdout": cut(&run.stdout),
            "stderr": cut(&run.stderr),
        }),
    )
    .await;
    if run.status != "succeeded" {
        let reason = format!("the remediation script {} ({})", run.status, run.message);
        return escalate(&state, &request, &reason).await;
    }
    let verify = Duration::from_millis(request.remediation.verify_ms.max(0) as u64);
    let until = tokio::time::Instant::now() + verify;
    while tokio::time::Instant::now() < until {
        if !state.alerting.remediation_pending(&request.key) {
            event(
                &state,
                request.alert,
                json!({ "event": "remediation_worked", "job_id": job }),
            )
            .await;
            tracing::info!(alert = %request.alert, "Remediation fixed the condition; nobody paged.");
            return;
        }
        tokio::time::sleep(POLL).await;
    }
    let reason = format!(
        "the condition did not clear within {} s of a successful remediation",
        verify.as_secs()
    );
    escalate(&state, &request, &reason).await;
}

async fn escalate(state: &AppState, request: &RemediationRequest, reason: &str) {
    if !state.alerting.escalate(&request.key) {
        return;
    }
    tracing::warn!(alert = %request.alert, %reason, "Remediation did not help; paging.");
    let facts = crate::incidents::AlertFacts {
        alert: request.alert,
        org: request.org,
        device: request.key.1,
        monitor_id: request.key.0.clone(),
        monitor_name: request.monitor_name.clone(),
        severity: request.severity.clone(),
        summary: format!("{} (remediation: {reason})", request.summary),
        group: None,
        suppressed: Some("escalated".into()),
        at: now_ms(),
    };
    // Through the incident queue, after whatever it holds of this alert.
    state.alerting.incidents.correlate(facts);
    event(
        state,
        request.alert,
        json!({ "event": "escalated", "reason": reason }),
    )
    .await;
    let payload = json!({
        "alert_id": request.alert,
        "org_id": request.org,
        "monitor": request.monitor_name,
        "monitor_id": request.key.0,
        "device_id": request.key.1,
        "subject": request.key.2,
        "severity": request.severity,
        "state": "open",
        "summary": request.summary,
        "remediation": reason,
        "at": now_ms(),
    });
    if let Err(error) = state
        .store
        .enqueue_notification(
            request.org,
            request.alert,
            &request.severity,
            None,
            &payload.to_string(),
            now_ms(),
        )
        .await
    {
        tracing::error!(alert = %request.alert, %error, "Cannot queue the escalation.");
    }
    state.alerting.wake_outbox();
}
