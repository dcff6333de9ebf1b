//! The append-only, hash-chained audit log. Triggers refuse UPDATE and
//! DELETE; each entry's hash covers the previous hash, so an edited or
//! removed row breaks the chain (`steward audit verify`).

use crate::db::{Row, q};
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;

/// The genesis value of `prev_hash`.
pub use steward_store::AUDIT_GENESIS as GENESIS;

/// Advisory lock key (arbitrary, fixed) of the audit chain's tail.
const AUDIT_LOCK: i64 = 0x5354_5744_0002;

fn entry(row: &Row) -> Result<AuditEntry> {
    let org: Option<String> = row.get("org_id");
    Ok(AuditEntry {
        id: row.get("id"),
        org_id: org.as_deref().map(uuid).transpose()?,
        at: row.get("at"),
        actor: row.get("actor"),
        source: row.get("source"),
        action: row.get("action"),
        target: row.get("target"),
        detail: row.get("detail"),
        prev_hash: row.get("prev_hash"),
        hash: row.get("hash"),
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, new: &NewAuditEntry) -> Result<AuditEntry> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let entry = append_in(&mut tx, new).await?;
        tx.commit().await.map_err(backend)?;
        Ok(entry)
    }

    async fn audit_entries(
        &self,
        scope: &Scope,
        after_id: i64,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>> {
        // Entries without an organisation (server-wide) need an
        // every-organisation grant.
        self.audit_page(scope, "id > $2", "id", after_id, limit, filter)
            .await
    }

    async fn audit_recent(
        &self,
        scope: &Scope,
        before_id: i64,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>> {
        self.audit_page(scope, "id < $2", "id DESC", before_id, limit, filter)
            .await
    }
}

impl SqlStore {
    async fn audit_page(
        &self,
        scope: &Scope,
        bound: &str,
        order: &str,
        cursor: i64,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>> {
        let global = scope
            .allow
            .iter()
            .any(|p| p.org.is_none() && p.site.is_none())
            && scope.deny.is_empty();
        let kind = self.kind();
        let contains = |col: &str, n: &str| crate::dialect::contains(kind, col, n);
        let sql = format!(
            "SELECT * FROM audit_log WHERE {bound} AND ((org_id IS NULL AND $4) OR (org_id IS NOT NULL AND {}))
               AND ($5 IS NULL OR actor = $5)
               AND ($6 IS NULL OR {})
               AND ($7 IS NULL OR {} OR {})
               AND ($8 IS NULL OR at >= $8)
               AND ($9 IS NULL OR at <= $9)
             ORDER BY {order} LIMIT $3",
            self.in_scope(1, "org_id", None),
            contains("action", "$6"),
            contains("target", "$7"),
            contains("detail", "$7"),
        );
        let pattern = |text: &Option<String>| {
            text.as_deref()
                .map(|t| crate::dialect::contains_pattern(kind, t))
        };
        q(sql)
            .bind(scope_param(scope))
            .bind(cursor)
            .bind(i64::from(limit))
            .bind(global)
            .bind(filter.actor.clone())
            .bind(pattern(&filter.action))
            .bind(pattern(&filter.object))
            .bind(filter.since)
            .bind(filter.until)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(entry)
            .collect()
    }
}

/// Appends an entry inside the caller's transaction (so it commits, or
/// not, with what it records). Takes the chain's lock: one appender at a
/// time across every replica, so two never chain to the same predecessor.
pub(crate) async fn append_in(tx: &mut crate::db::Tx, new: &NewAuditEntry) -> Result<AuditEntry> {
    // One appender at a time across every replica.
    tx.lock(AUDIT_LOCK).await.map_err(backend)?;
    let last = q("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    let (id, prev_hash) = match last {
        Some(row) => (row.get::<i64, _>("id") + 1, row.get::<String, _>("hash")),
        None => (1, GENESIS.to_string()),
    };
    let mut entry = AuditEntry {
        id,
        org_id: new.org_id,
        at: new.at,
        actor: new.actor.clone(),
        source: new.source.clone(),
        action: new.action.clone(),
        target: new.target.clone(),
        detail: new.detail.clone(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = steward_store::audit_hash(&entry);
    q(
        "INSERT INTO audit_log (id, org_id, at, actor, source, action, target, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(entry.id)
    .bind(entry.org_id.map(|o| o.to_string()))
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.source)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.detail)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    Ok(entry)
}
