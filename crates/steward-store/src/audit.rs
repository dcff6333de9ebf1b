//! The append-only, hash-chained audit log.

use crate::*;
use async_trait::async_trait;

/// The audit log: appended to, read in pages, never changed.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry, chained to the previous one; returns it.
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry>;
    /// Entries after `after_id`, oldest first, at most `limit`, in scope
    /// (entries without an organisation need an all-organisation scope).
    async fn audit_entries(
        &self,
        scope: &Scope,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    /// Entries before `before_id`, newest first, at most `limit`, in scope.
    async fn audit_recent(
        &self,
        scope: &Scope,
        before_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
}
