//! Agentless devices (switches, printers, UPSs, websites, certificates…)
//! and the probes the server assigns to their probing agent. An agentless
//! device is a row of `devices` with kind `agentless`, so it is in the
//! inventory, the fleet views, metrics, checks and alerts like any other;
//! its results come in on its probing agent's connection.

use crate::{NewDevice, Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// A probe assigned by the server, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The agentless device the probe's results belong to.
    pub device_id: Uuid,
    /// `probe.NAME` is its check; `probe=NAME` labels its metrics.
    pub name: String,
    /// What the agent runs (`tcp://host:port`, `https://host/path?match=…`…).
    pub url: String,
    /// Who created it: it runs with that person's authority.
    pub created_by: String,
    pub created_at: i64,
}

/// A probe handed to an agent: the record and its device's organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignedProbe {
    pub probe: ProbeRecord,
    /// The device's site (the creator's authority is checked there).
    pub site: String,
}

/// What an agentless device is besides a device row.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentlessFields {
    pub category: String,
    pub address: String,
    pub probe_agent: Uuid,
}

#[async_trait]
pub trait AgentlessStore: Send + Sync {
    /// Stores an agentless device (its fingerprint is `agentless:<id>`,
    /// which no certificate has); the probing agent must be an enrolled
    /// device of the same organisation, not revoked
    /// ([`crate::StoreError::NotFound`] otherwise).
    async fn create_agentless(&self, device: &NewDevice, fields: &AgentlessFields) -> Result<()>;
    /// Changes an agentless device in scope (name, category, address,
    /// probing agent: same rules as at creation) when its version is still
    /// `expected` (checked in the same write: [`crate::StoreError::Stale`]
    /// with the current version otherwise); returns the new version.
    async fn edit_agentless(
        &self,
        scope: &Scope,
        id: Uuid,
        name: &str,
        fields: &AgentlessFields,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// Adds a probe to an agentless device in scope
    /// ([`crate::StoreError::Conflict`] when the name is taken).
    async fn add_probe(&self, scope: &Scope, probe: &ProbeRecord) -> Result<()>;
    /// The probes of a device in scope.
    async fn device_probes(&self, scope: &Scope, device: Uuid) -> Result<Vec<ProbeRecord>>;
    async fn delete_probe(&self, scope: &Scope, device: Uuid, id: Uuid) -> Result<()>;
    /// Every probe of the agentless devices (not retired) `agent` probes:
    /// what the server hands that agent.
    async fn probes_for_agent(&self, agent: Uuid) -> Result<Vec<AssignedProbe>>;
    /// The agentless devices (not retired) `agent` probes.
    async fn agentless_of(&self, agent: Uuid) -> Result<Vec<Uuid>>;
}
