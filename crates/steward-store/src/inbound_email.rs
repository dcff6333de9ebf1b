//! Inbound email: per-organisation routes a mail provider or an MTA pipe
//! posts raw messages to, the sender rules that map a message to the
//! organisation, and the Message-IDs received (the claim that refuses a
//! replay on every replica).

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// An inbound email route as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboundEmailRouteRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// Checked on every delivery; never answered after creation.
    #[serde(skip)]
    pub secret: String,
    /// Addresses (`someone@example.com`) and domains (`@example.com`)
    /// whose mail this route takes.
    pub senders: Vec<String>,
    /// The priority of incidents it opens.
    pub priority: String,
    /// Who created it: deliveries act under their name and grants.
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

#[async_trait]
pub trait InboundEmailStore: Send + Sync {
    async fn create_email_route(&self, route: &InboundEmailRouteRecord) -> Result<()>;
    async fn list_email_routes(&self, scope: &Scope) -> Result<Vec<InboundEmailRouteRecord>>;
    async fn get_email_route(&self, scope: &Scope, id: Uuid) -> Result<InboundEmailRouteRecord>;
    /// Replaces name, senders and priority; returns the new version.
    async fn update_email_route(
        &self,
        scope: &Scope,
        route: &InboundEmailRouteRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn delete_email_route(&self, scope: &Scope, id: Uuid) -> Result<()>;
    /// Claims a message's Message-ID at `at`, forgetting those received
    /// before `forget_before`: true the first time, false for a replay.
    async fn claim_email_message(
        &self,
        route: Uuid,
        message_id: &str,
        at: i64,
        forget_before: i64,
    ) -> Result<bool>;
}
