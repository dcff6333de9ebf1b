//! SLA targets per organisation and priority (time to acknowledge, time
//! to resolve), and the warnings sent as incidents near or pass them:
//! claiming a warning is the conditional write that makes one replica send
//! it, once per incident and threshold.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// An SLA target as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaTargetRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    /// One of [`crate::INCIDENT_PRIORITIES`]; one target per priority and
    /// organisation.
    pub priority: String,
    pub acknowledge_ms: Option<i64>,
    pub resolve_ms: Option<i64>,
    /// Who set it last: warnings go out with their authority.
    pub updated_by: String,
    pub updated_at: i64,
    pub version: i64,
}

#[async_trait]
pub trait SlaStore: Send + Sync {
    /// Stores a new target ([`crate::StoreError::Conflict`] when the
    /// organisation has one for that priority).
    async fn create_sla_target(&self, target: &SlaTargetRecord) -> Result<()>;
    /// Targets in scope (organisation-wide rows), by organisation and
    /// priority.
    async fn list_sla_targets(&self, scope: &Scope) -> Result<Vec<SlaTargetRecord>>;
    async fn get_sla_target(&self, scope: &Scope, id: Uuid) -> Result<SlaTargetRecord>;
    /// Replaces the times and who set them; returns the new version.
    async fn update_sla_target(
        &self,
        scope: &Scope,
        target: &SlaTargetRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn delete_sla_target(&self, scope: &Scope, id: Uuid) -> Result<()>;
    /// Records the warning `threshold` of an incident (`acknowledge.at_risk`,
    /// `resolve.breached`, …) in one transaction: the claim, its timeline
    /// entry, the notifications queued for the organisation's channels and
    /// the audit entry. True once; false ever after, with nothing written.
    /// A failure writes nothing either, so the next sweep tries again.
    async fn record_sla_warning(&self, warning: &SlaWarning) -> Result<bool>;
}

/// Everything one SLA warning writes (see [`SlaStore::record_sla_warning`]).
#[derive(Debug, Clone)]
pub struct SlaWarning {
    pub org_id: Uuid,
    pub incident: Uuid,
    /// `acknowledge.at_risk`, `resolve.breached`, …
    pub threshold: String,
    pub at: i64,
    pub timeline: crate::TimelineEntry,
    /// The severity the channels rank it as (`warning`, `critical`).
    pub severity: String,
    /// The notification body (JSON text).
    pub payload: String,
    pub audit: crate::NewAuditEntry,
}
