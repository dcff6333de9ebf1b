//! Incidents: the work around alerts and requests that need a human. An
//! incident belongs to one organisation, links devices and alerts, and
//! keeps a timeline of notes and actions (alert changes, status changes,
//! jobs run), each with who and when. An alert belongs to at most one
//! incident: linking it is the claim that keeps replicas from opening two
//! incidents for one alert.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// Incident statuses, in their usual order.
pub const INCIDENT_STATUSES: [&str; 4] = ["open", "acknowledged", "resolved", "closed"];
/// Incident priorities, most urgent first.
pub const INCIDENT_PRIORITIES: [&str; 4] = ["p1", "p2", "p3", "p4"];

/// An incident as stored. `devices` and `alerts` are read from their link
/// tables (ignored on update: links are added, never rewritten).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub title: String,
    /// One of [`INCIDENT_STATUSES`].
    pub status: String,
    /// One of [`INCIDENT_PRIORITIES`].
    pub priority: String,
    /// A username, or none.
    pub assignee: Option<String>,
    pub devices: Vec<Uuid>,
    pub alerts: Vec<Uuid>,
    /// Time worked on it, in milliseconds.
    pub time_spent_ms: i64,
    pub opened_at: i64,
    pub opened_by: String,
    pub acknowledged_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// The latest change or link (grouping's idle window runs from it).
    pub last_activity: i64,
    /// Bumped by every edit (1 when created).
    pub version: i64,
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub at: i64,
    /// A username, or what decided it (`alerting`, `problems`).
    pub actor: String,
    /// `note`, `status`, `alert`, `job`, `edit`, `opened`.
    pub kind: String,
    /// What happened (a note's text, the change).
    pub body: serde_json::Value,
}

/// An alert as linked to an incident: what grouping compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertLink {
    pub alert_id: Uuid,
    pub device_id: Uuid,
    pub monitor_id: String,
    /// The alert's group (e.g. a site-wide outage's key).
    pub group_key: Option<String>,
}

/// An open incident's keys for grouping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupingCandidate {
    pub id: Uuid,
    pub devices: Vec<Uuid>,
    pub monitors: Vec<String>,
    pub groups: Vec<String>,
    pub last_activity: i64,
}

/// What a list of incidents is narrowed to (each part optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub device: Option<Uuid>,
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Stores a new incident with its linked devices and first timeline
    /// entries.
    async fn create_incident(
        &self,
        incident: &IncidentRecord,
        timeline: &[TimelineEntry],
    ) -> Result<()>;
    /// Incidents in scope matching the filter, newest first.
    async fn list_incidents(
        &self,
        scope: &Scope,
        filter: &IncidentFilter,
    ) -> Result<Vec<IncidentRecord>>;
    async fn get_incident(&self, scope: &Scope, id: Uuid) -> Result<IncidentRecord>;
    /// Replaces title, status, priority, assignee, time spent, the
    /// timestamps and last activity, links the record's devices not yet
    /// linked, and appends `timeline`; returns the new version
    /// ([`crate::StoreError::Stale`] when `expected` is not the stored one).
    async fn update_incident(
        &self,
        scope: &Scope,
        incident: &IncidentRecord,
        expected: Option<i64>,
        timeline: &[TimelineEntry],
    ) -> Result<i64>;
    /// Removes an incident, its links and its timeline.
    async fn delete_incident(&self, scope: &Scope, id: Uuid) -> Result<()>;
    /// Appends to the timeline of an incident in scope and marks it active.
    async fn append_timeline(&self, scope: &Scope, id: Uuid, entry: &TimelineEntry) -> Result<()>;
    /// An incident's timeline, oldest first (not found outside scope).
    async fn incident_timeline(&self, scope: &Scope, id: Uuid) -> Result<Vec<TimelineEntry>>;
    /// Open or acknowledged incidents of `org` active at or after `since`,
    /// with the devices, monitors and groups of their alerts.
    async fn grouping_candidates(&self, org: Uuid, since: i64) -> Result<Vec<GroupingCandidate>>;
    /// Links an alert to an incident in one transaction: creates `new`
    /// first when given (its id is `incident`), links the alert and its
    /// device, appends `entry` and marks the incident active. False (and
    /// nothing changed) when the alert is already linked to an incident:
    /// the claim that makes one incident per alert across replicas.
    async fn link_alert(
        &self,
        incident: Uuid,
        link: &AlertLink,
        new: Option<&IncidentRecord>,
        entry: &TimelineEntry,
    ) -> Result<bool>;
    /// The incident an alert is linked to.
    async fn incident_of_alert(&self, alert: Uuid) -> Result<Option<Uuid>>;
}
