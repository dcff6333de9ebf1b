//! What alerting is configured with: monitors, notification channels and
//! noise rules (maintenance windows, silences). Each is read, created,
//! edited in place and deleted; an edit names the version it read
//! (`expected`) and loses to a newer one with [`StoreError::Stale`].

use crate::*;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
pub trait MonitorStore: Send + Sync {
    async fn create_monitor(&self, monitor: &MonitorRecord) -> Result<()>;
    async fn list_monitors(&self, scope: &Scope) -> Result<Vec<MonitorRecord>>;
    async fn get_monitor(&self, scope: &Scope, id: Uuid) -> Result<MonitorRecord>;
    /// Replaces the monitor's name, definition and enabled flag (the
    /// record's id and scope find it); returns the new version.
    async fn update_monitor(
        &self,
        scope: &Scope,
        monitor: &MonitorRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn delete_monitor(&self, scope: &Scope, id: Uuid) -> Result<()>;
    async fn create_noise_rule(&self, rule: &NoiseRule) -> Result<()>;
    /// Rules of one kind in scope (all of them with `Scope::all()`).
    async fn list_noise_rules(&self, scope: &Scope, kind: NoiseKind) -> Result<Vec<NoiseRule>>;
    async fn get_noise_rule(&self, scope: &Scope, kind: NoiseKind, id: Uuid) -> Result<NoiseRule>;
    /// Replaces the rule's definition; returns the new version.
    async fn update_noise_rule(
        &self,
        scope: &Scope,
        kind: NoiseKind,
        id: Uuid,
        definition: &serde_json::Value,
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn delete_noise_rule(&self, scope: &Scope, kind: NoiseKind, id: Uuid) -> Result<()>;
    async fn create_channel(&self, channel: &ChannelRecord) -> Result<()>;
    async fn list_channels(&self, scope: &Scope) -> Result<Vec<ChannelRecord>>;
    async fn get_channel(&self, scope: &Scope, id: Uuid) -> Result<ChannelRecord>;
    /// Replaces the channel's name, kind, configuration, minimum severity
    /// and enabled flag; returns the new version.
    async fn update_channel(
        &self,
        scope: &Scope,
        channel: &ChannelRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// Deletes the channel and the notifications still waiting for it
    /// (returns how many were dropped); sent ones stay in the alerts'
    /// history.
    async fn delete_channel(&self, scope: &Scope, id: Uuid) -> Result<u64>;
}
