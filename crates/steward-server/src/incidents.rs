//! Alerts that need a human open or join incidents (the decisions are
//! `steward_incident::grouping`: `needs_human`, `place`), and what happens
//! to a linked alert afterwards (acknowledged, resolved) goes on its
//! incident's timeline. The store's `link_alert` is the claim: however
//! many replicas see one alert, it joins one incident. An incident opened
//! here is audited as decided by `alerting`.

use serde_json::json;
use steward_incident::grouping::{self, Grouping, NewAlert, OpenIncident, Placement};
use steward_store::{
    AlertLink, IncidentRecord, NewAuditEntry, Scope, Store, StoreError, TimelineEntry,
};
use uuid::Uuid;

/// Who decides what this module does, in timelines and the audit log.
pub const ACTOR: &str = "alerting";

/// An alert change as incidents see it.
#[derive(Debug, Clone)]
pub struct AlertFacts {
    pub alert: Uuid,
    pub org: Uuid,
    pub device: Uuid,
    pub monitor_id: String,
    pub monitor_name: String,
    pub severity: String,
    pub summary: String,
    /// An alert group (offline alerts of one site and monitor).
    pub group: Option<String>,
    pub suppressed: Option<String>,
    pub at: i64,
}

/// Records an alert change against incidents: a change that needs a
/// human opens or joins one; a resolve goes on the timeline of the
/// incident the alert is linked to. Failures are logged, never raised:
/// alerting goes on.
pub async fn on_alert_change(store: &dyn Store, facts: &AlertFacts) {
    let result = if facts.severity == "ok" {
        note_alert(
            store,
            &AlertNote {
                alert: facts.alert,
                at: facts.at,
                actor: ACTOR.into(),
                state: "resolved".into(),
                summary: facts.summary.clone(),
            },
        )
        .await
    } else if grouping::needs_human(&facts.severity, facts.suppressed.as_deref()) {
        open_or_join(store, facts).await
    } else {
        Ok(())
    };
    if let Err(error) = result {
        tracing::error!(%error, alert = %facts.alert, "Cannot record the alert on its incident.");
    }
}

/// What the incident linker does, one after another.
pub(crate) enum IncidentWork {
    /// A recorded alert change: open, join or note its incident.
    Change(AlertFacts),
    /// A person acknowledged or resolved an alert: noted on its incident
    /// after the change that linked it (queued before).
    Note(
        AlertNote,
        tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    ),
}

/// What happened to an alert, for its incident's timeline.
pub struct AlertNote {
    pub alert: Uuid,
    pub at: i64,
    /// Who: a person's user name, or `alerting`.
    pub actor: String,
    /// `acknowledged` or `resolved`.
    pub state: String,
    pub summary: String,
}

/// The incident linker's queue (`link_incidents` takes it in order).
pub struct IncidentQueue {
    tx: tokio::sync::mpsc::UnboundedSender<IncidentWork>,
    store: std::sync::Arc<dyn Store>,
}

impl IncidentQueue {
    pub(crate) fn new(
        store: std::sync::Arc<dyn Store>,
    ) -> (Self, tokio::sync::mpsc::UnboundedReceiver<IncidentWork>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx, store }, rx)
    }

    /// Opens, joins or notes the incident of a recorded alert change, after
    /// whatever the queue holds.
    pub fn correlate(&self, facts: AlertFacts) {
        let _ = self.tx.send(IncidentWork::Change(facts));
    }

    /// Notes a person's acknowledgement or resolution of an alert on its
    /// incident, after whatever the queue holds (the link of that alert
    /// among it), and waits until it is written.
    pub async fn note(&self, note: AlertNote) -> Result<(), StoreError> {
        let (done, noted) = tokio::sync::oneshot::channel();
        match self.tx.send(IncidentWork::Note(note, done)) {
            // Dropped unanswered: the linker stopped (shutdown).
            Ok(()) => noted.await.unwrap_or(Ok(())),
            Err(unsent) => match unsent.0 {
                IncidentWork::Note(note, _) => note_alert(self.store.as_ref(), &note).await,
                IncidentWork::Change(_) => Ok(()),
            },
        }
    }
}

/// Opens, joins and notes incidents, one after another in the order the
/// work came (an alert's resolution after its opening; a person's note
/// after the link of the alert it is about). An incident's own webhook
/// (`incident.opened`) is queued in the outbox: the notifier is woken.
pub(crate) async fn link_incidents(
    store: std::sync::Arc<dyn Store>,
    outbox: std::sync::Arc<tokio::sync::Notify>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<IncidentWork>,
) {
    while let Some(work) = rx.recv().await {
        match work {
            IncidentWork::Change(facts) => {
                on_alert_change(store.as_ref(), &facts).await;
                outbox.notify_one();
            }
            IncidentWork::Note(note, done) => {
                let _ = done.send(note_alert(store.as_ref(), &note).await);
            }
        }
    }
}

/// Puts what happened to an alert on the timeline of its incident (if
/// it has one).
pub async fn note_alert(store: &dyn Store, note: &AlertNote) -> Result<(), StoreError> {
    let Some(incident) = store.incident_of_alert(note.alert).await? else {
        return Ok(());
    };
    let entry = TimelineEntry {
        at: note.at,
        actor: note.actor.clone(),
        kind: "alert".into(),
        body: json!({ "alert_id": note.alert, "state": note.state, "summary": note.summary }),
    };
    store.append_timeline(&Scope::all(), incident, &entry).await
}

async fn open_or_join(store: &dyn Store, facts: &AlertFacts) -> Result<(), StoreError> {
    if store.incident_of_alert(facts.alert).await?.is_some() {
        return Ok(());
    }
    let rules = Grouping::default();
    let open: Vec<OpenIncident> = store
        .grouping_candidates(facts.org, facts.at - rules.window_ms)
        .await?
        .into_iter()
        .map(|c| OpenIncident {
            id: c.id.to_string(),
            devices: c.devices.iter().map(Uuid::to_string).collect(),
            monitors: c.monitors,
            groups: c.groups,
            last_activity: c.last_activity,
        })
        .collect();
    let alert = NewAlert {
        device: facts.device.to_string(),
        monitor: facts.monitor_id.clone(),
        group: facts.group.clone(),
        at: facts.at,
    };
    let link = AlertLink {
        alert_id: facts.alert,
        device_id: facts.device,
        monitor_id: facts.monitor_id.clone(),
        group_key: facts.group.clone(),
    };
    let entry = TimelineEntry {
        at: facts.at,
        actor: ACTOR.into(),
        kind: "alert".into(),
        body: json!({
            "alert_id": facts.alert,
            "state": "open",
            "severity": facts.severity,
            "monitor": facts.monitor_name,
            "device_id": facts.device,
            "summary": facts.summary,
        }),
    };
    let (incident, new) = match grouping::place(&rules, &alert, &open) {
        Placement::Join(id) => (
            Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            None,
        ),
        Placement::Open => {
            let device = store
                .get_device(&Scope::all(), facts.device)
                .await
                .map(|d| d.summary.name)
                .unwrap_or_else(|_| facts.device.to_string());
            let record = IncidentRecord {
                id: Uuid::now_v7(),
                org_id: facts.org,
                title: format!("{} on {device}", facts.monitor_name),
                status: "open".into(),
                priority: "p2".into(),
                assignee: None,
                devices: vec![facts.device],
                alerts: Vec::new(),
                time_spent_ms: 0,
                opened_at: facts.at,
                opened_by: ACTOR.into(),
                acknowledged_at: None,
                resolved_at: None,
                closed_at: None,
                last_activity: facts.at,
                version: 1,
            };
            (record.id, Some(record))
        }
    };
    if !store
        .link_alert(incident, &link, new.as_ref(), &entry)
        .await?
    {
        // Another replica linked it first.
        return Ok(());
    }
    if let Some(record) = &new {
        crate::incident_events::send(store, record, "incident.opened", ACTOR, facts.at, None).await;
    }
    let (action, rule) = match &new {
        Some(_) => (
            "incident.open",
            "a critical alert that goes out opens an incident",
        ),
        None => (
            "incident.join",
            "an alert joins the open incident of its device or group",
        ),
    };
    let audit = NewAuditEntry {
        org_id: Some(facts.org),
        at: crate::now_secs(),
        actor: ACTOR.into(),
        source: "server".into(),
        action: action.into(),
        target: incident.to_string(),
        detail: json!({ "alert_id": facts.alert, "rule": rule, "grouping": rules.by }).to_string(),
    };
    store.append_audit(&audit).await?;
    Ok(())
}
