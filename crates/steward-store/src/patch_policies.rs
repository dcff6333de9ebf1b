//! Patch policies and holds (issue 16): what installs where and when, and
//! what must not install. Each is an editable object of one organisation
//! whose `definition` is the JSON `steward-patch` reads; `created_by` is
//! the person who last set it (what a policy installs later runs with
//! their authority, looked up again when it runs). An edit names the
//! version it read and loses to a newer one with [`StoreError::Stale`].

use crate::*;
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchRuleKind {
    Policy,
    Hold,
}

/// A stored policy or hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchRule {
    pub id: Uuid,
    pub org_id: Uuid,
    #[serde(skip)]
    pub kind: PatchRuleKind,
    pub definition: serde_json::Value,
    /// Who last set it (a username).
    pub created_by: String,
    pub created_at: i64,
    /// Bumped by every change (1 when created).
    pub version: i64,
}

#[async_trait]
pub trait PatchPolicyStore: Send + Sync {
    async fn create_patch_rule(&self, rule: &PatchRule) -> Result<()>;
    /// Rules of one kind in scope, oldest first (all of them with
    /// `Scope::all()`, as the deployment loop reads them).
    async fn list_patch_rules(&self, scope: &Scope, kind: PatchRuleKind) -> Result<Vec<PatchRule>>;
    async fn get_patch_rule(
        &self,
        scope: &Scope,
        kind: PatchRuleKind,
        id: Uuid,
    ) -> Result<PatchRule>;
    /// Replaces the definition and who set it; returns the new version.
    async fn update_patch_rule(
        &self,
        scope: &Scope,
        kind: PatchRuleKind,
        (id, definition, by): (Uuid, &serde_json::Value, &str),
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn delete_patch_rule(&self, scope: &Scope, kind: PatchRuleKind, id: Uuid) -> Result<()>;
    /// Claims the deployment of `plan` (a key naming its packages and day)
    /// to a device: true for the first caller only, so of several replicas
    /// one sends the job.
    async fn claim_patch_deployment(&self, device: Uuid, plan: &str, at: i64) -> Result<bool>;
}
