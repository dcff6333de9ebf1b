//! Inbound incident webhooks: per-organisation endpoints a helpdesk or
//! monitoring tool posts signed deliveries to, the deliveries seen within
//! the replay window (the claim that refuses a replay on every replica)
//! and which incident an external id opened.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// An inbound incident webhook as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentWebhookRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// The HMAC key; never answered after creation.
    #[serde(skip)]
    pub secret: String,
    /// Who created it: deliveries act under their name and grants.
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

#[async_trait]
pub trait InboundStore: Send + Sync {
    async fn create_incident_webhook(&self, webhook: &IncidentWebhookRecord) -> Result<()>;
    /// Webhooks in scope (organisation-wide rows), by organisation and name.
    async fn list_incident_webhooks(&self, scope: &Scope) -> Result<Vec<IncidentWebhookRecord>>;
    async fn get_incident_webhook(&self, scope: &Scope, id: Uuid) -> Result<IncidentWebhookRecord>;
    /// Replaces the name; returns the new version.
    async fn update_incident_webhook(
        &self,
        scope: &Scope,
        webhook: &IncidentWebhookRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn delete_incident_webhook(&self, scope: &Scope, id: Uuid) -> Result<()>;
    /// Claims a delivery's signature at `at`, forgetting those seen before
    /// `forget_before`: true the first time, false for a replay.
    async fn claim_inbound_delivery(
        &self,
        webhook: Uuid,
        signature: &str,
        at: i64,
        forget_before: i64,
    ) -> Result<bool>;
    /// The incident an external id of this webhook opened, if any.
    async fn external_incident(&self, webhook: Uuid, external_id: &str) -> Result<Option<Uuid>>;
    /// Records that `incident` is the external id's: false when it already
    /// names one.
    async fn link_external_incident(
        &self,
        webhook: Uuid,
        external_id: &str,
        incident: Uuid,
    ) -> Result<bool>;
}
