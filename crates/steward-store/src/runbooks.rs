//! Runbooks: documented procedures (Markdown) an organisation keeps for
//! what goes wrong. Every edit is a new version and the old versions stay
//! readable; what a runbook is attached to (monitors, scripts, alert kinds,
//! problems) and the scripts it offers to run live in its definition, the
//! JSON the API reads and writes.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// A runbook as stored: its current version's definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunbookRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub title: String,
    /// The whole definition (title, body, attachments, offered scripts).
    pub definition: serde_json::Value,
    pub version: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

/// One saved version of a runbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunbookVersion {
    pub version: i64,
    pub definition: serde_json::Value,
    pub created_at: i64,
    pub created_by: String,
}

#[async_trait]
pub trait RunbookStore: Send + Sync {
    /// Stores a new runbook (version 1) and its first version.
    async fn create_runbook(&self, runbook: &RunbookRecord) -> Result<()>;
    /// Saves the next version of the runbook `runbook.id` in scope: its
    /// title, definition, editor and time replaced, the version kept beside
    /// the old ones; returns the new version ([`crate::StoreError::Stale`]
    /// when `expected` is not the stored one).
    async fn save_runbook_version(
        &self,
        scope: &Scope,
        runbook: &RunbookRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// Runbooks in scope, by title.
    async fn list_runbooks(&self, scope: &Scope) -> Result<Vec<RunbookRecord>>;
    async fn get_runbook(&self, scope: &Scope, id: Uuid) -> Result<RunbookRecord>;
    /// A runbook's versions, newest first (not found outside scope).
    async fn runbook_versions(&self, scope: &Scope, id: Uuid) -> Result<Vec<RunbookVersion>>;
    /// Removes a runbook and its versions.
    async fn delete_runbook(&self, scope: &Scope, id: Uuid) -> Result<()>;
}
