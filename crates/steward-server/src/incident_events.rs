//! Incident events sent through the organisation's notification channels
//! (webhooks signed as alert notifications are; see
//! `docs/incident-webhooks.md` for the payload and a mapping to PSA and
//! helpdesk tools): `incident.opened`, `incident.acknowledged`,
//! `incident.resolved`, `incident.closed`, `incident.reopened` and
//! `incident.note`. A failure to queue one is logged, never undoes the
//! change it reports.

use serde_json::{Value, json};
use steward_store::{IncidentRecord, Store};

/// The event a status change makes.
pub fn status_event(status: &str) -> &'static str {
    match status {
        "acknowledged" => "incident.acknowledged",
        "resolved" => "incident.resolved",
        "closed" => "incident.closed",
        _ => "incident.reopened",
    }
}

/// The severity channels filter on: p1 is critical, the others warning.
fn severity(priority: &str) -> &'static str {
    if priority == "p1" {
        "critical"
    } else {
        "warning"
    }
}

/// The body of one event.
pub fn payload(
    incident: &IncidentRecord,
    event: &str,
    actor: &str,
    at: i64,
    note: Option<&str>,
) -> Value {
    let verb = event.trim_start_matches("incident.");
    let mut body = json!({
        "kind": "incident",
        "event": event,
        "incident_id": incident.id,
        "org_id": incident.org_id,
        "title": incident.title,
        "status": incident.status,
        "priority": incident.priority,
        "assignee": incident.assignee,
        "devices": incident.devices,
        "opened_at": incident.opened_at,
        "acknowledged_at": incident.acknowledged_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "actor": actor,
        "at": at,
        // What chat and email channels print.
        "monitor": "Incident",
        "severity": severity(&incident.priority),
        "state": if matches!(incident.status.as_str(), "resolved" | "closed") { "resolved" } else { "open" },
        "summary": format!("incident {:?} ({}) {verb} by {actor}", incident.title, incident.priority),
    });
    if let Some(note) = note {
        body["note"] = json!(note);
    }
    body
}

/// Queues `event` for every channel of the incident's organisation.
pub async fn send(
    store: &dyn Store,
    incident: &IncidentRecord,
    event: &str,
    actor: &str,
    at: i64,
    note: Option<&str>,
) {
    let body = payload(incident, event, actor, at, note);
    let queued = store
        .enqueue_notification(
            incident.org_id,
            incident.id,
            severity(&incident.priority),
            None,
            &body.to_string(),
            at,
        )
        .await;
    if let Err(error) = queued {
        tracing::warn!(%error, incident = %incident.id, event, "An incident event was not queued.");
    }
}
