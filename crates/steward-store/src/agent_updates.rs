//! Agent self-update: signed releases per platform (installation-wide),
//! rollouts by ring per organisation, and each device's offer and answer.
//! The decisions are `steward_patch::rollout`'s; the store keeps what they
//! read.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// A release as stored, without its bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentReleaseRecord {
    pub id: Uuid,
    pub target: String,
    pub version: String,
    pub sha256: String,
    pub size: i64,
    pub key_id: String,
    pub signature: String,
    pub created_by: String,
    pub created_at: i64,
}

/// Rollout states: `active` offers; `stopped` (failures, or by hand) and
/// `done` no longer do.
pub const ROLLOUT_STATES: [&str; 3] = ["active", "stopped", "done"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRolloutRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub release_id: Uuid,
    pub pilot_tags: Vec<String>,
    pub ring_delay_ms: i64,
    pub max_failures: i64,
    pub state: String,
    pub reason: String,
    /// Whose authority the offers go out with (re-checked each time).
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One device's offer and answer in a rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentUpdateRecord {
    pub rollout_id: Uuid,
    pub device_id: Uuid,
    pub offered_at: Option<i64>,
    /// `steward_proto::UpdateOutcome` as text.
    pub outcome: Option<String>,
    pub detail: String,
    pub answered_at: Option<i64>,
}

/// The version and platform an agent last said hello with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentVersionRecord {
    pub device_id: Uuid,
    pub version: String,
    pub target: String,
    /// When it first said hello with this version and target.
    pub seen_at: i64,
}

#[async_trait]
pub trait AgentUpdateStore: Send + Sync {
    /// Stores a release and its bytes ([`crate::StoreError::Conflict`]
    /// when the platform has that version already).
    async fn create_agent_release(
        &self,
        release: &AgentReleaseRecord,
        content: &[u8],
    ) -> Result<()>;
    /// Every release, newest first.
    async fn list_agent_releases(&self) -> Result<Vec<AgentReleaseRecord>>;
    async fn get_agent_release(&self, id: Uuid) -> Result<AgentReleaseRecord>;
    /// At most `len` bytes of a release's binary from `offset` (empty past
    /// its end).
    async fn agent_release_chunk(&self, id: Uuid, offset: i64, len: i64) -> Result<Vec<u8>>;
    async fn create_agent_rollout(&self, rollout: &AgentRolloutRecord) -> Result<()>;
    /// Rollouts in scope (organisation-wide rows), newest first; only
    /// active ones with `active_only`.
    async fn list_agent_rollouts(
        &self,
        scope: &Scope,
        active_only: bool,
    ) -> Result<Vec<AgentRolloutRecord>>;
    async fn get_agent_rollout(&self, scope: &Scope, id: Uuid) -> Result<AgentRolloutRecord>;
    /// Moves an active rollout to `state` with `reason`; false when it was
    /// not active (another replica, or a person, got there first).
    async fn finish_agent_rollout(
        &self,
        scope: &Scope,
        id: Uuid,
        state: &str,
        reason: &str,
        at: i64,
    ) -> Result<bool>;
    async fn record_agent_offer(&self, rollout: Uuid, device: Uuid, at: i64) -> Result<()>;
    async fn record_agent_answer(
        &self,
        rollout: Uuid,
        device: Uuid,
        outcome: &str,
        detail: &str,
        at: i64,
    ) -> Result<()>;
    async fn list_agent_updates(&self, rollout: Uuid) -> Result<Vec<AgentUpdateRecord>>;
    /// Remembers what an agent said hello with. Every connection says it;
    /// only a change is written (a fleet reconnecting after a restart must
    /// not queue thousands of writes behind ingest).
    async fn set_agent_version(
        &self,
        device: Uuid,
        version: &str,
        target: &str,
        at: i64,
    ) -> Result<()>;
    /// The versions of an organisation's agents.
    async fn agent_versions(&self, org: Uuid) -> Result<Vec<AgentVersionRecord>>;
}
