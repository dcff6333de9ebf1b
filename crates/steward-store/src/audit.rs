//! The append-only, hash-chained audit log.

use crate::*;
use async_trait::async_trait;

/// Which audit entries a reader wants (each `None` matches all).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// Who acted, exactly (a username, `device:ID`, `enrollment-token:ID`).
    pub actor: Option<String>,
    /// Text the action contains, any case (`shell`, `POST /api/v1/monitors`).
    pub action: Option<String>,
    /// Text the target or the details contain, any case (a device's id or
    /// name, a path, a monitor's name).
    pub object: Option<String>,
    /// At or after this time (Unix seconds).
    pub since: Option<i64>,
    /// At or before this time (Unix seconds).
    pub until: Option<i64>,
}

/// The audit log: appended to, read in pages, never changed.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry, chained to the previous one; returns it.
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry>;
    /// Entries after `after_id` that match `filter`, oldest first, at most
    /// `limit`, in scope (entries without an organisation need an
    /// all-organisation scope).
    async fn audit_entries(
        &self,
        scope: &Scope,
        after_id: i64,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>>;
    /// Entries before `before_id` that match `filter`, newest first, at
    /// most `limit`, in scope.
    async fn audit_recent(
        &self,
        scope: &Scope,
        before_id: i64,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>>;
}
