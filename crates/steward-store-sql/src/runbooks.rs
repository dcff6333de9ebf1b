//! Runbooks and their versions (see `steward_store::RunbookStore`).

use crate::db::{Row, q};
use crate::{SqlStore, backend, json, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn runbook(row: &Row) -> Result<RunbookRecord> {
    Ok(RunbookRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        title: row.get("title"),
        definition: json(row.get("definition")),
        version: row.get("version"),
        updated_at: row.get("updated_at"),
        updated_by: row.get("updated_by"),
    })
}

#[async_trait]
impl RunbookStore for SqlStore {
    async fn create_runbook(&self, r: &RunbookRecord) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let text = r.definition.to_string();
        q("INSERT INTO runbooks (id, org_id, title, definition, version, updated_at, updated_by) VALUES ($1, $2, $3, $4, 1, $5, $6)")
            .bind(r.id.to_string())
            .bind(r.org_id.to_string())
            .bind(&r.title)
            .bind(&text)
            .bind(r.updated_at)
            .bind(&r.updated_by)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        q("INSERT INTO runbook_versions (runbook_id, version, definition, created_at, created_by) VALUES ($1, 1, $2, $3, $4)")
            .bind(r.id.to_string())
            .bind(&text)
            .bind(r.updated_at)
            .bind(&r.updated_by)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn save_runbook_version(
        &self,
        scope: &Scope,
        r: &RunbookRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        let (id, title, definition, by, at) = (
            r.id,
            r.title.as_str(),
            &r.definition,
            r.updated_by.as_str(),
            r.updated_at,
        );
        let condition = self.in_scope(1, "org_id", None);
        let mut tx = self.db.begin().await.map_err(backend)?;
        let text = definition.to_string();
        // Only over the version read: of two saves racing, one wins and
        // the other is told the row moved on.
        let saved = q(format!(
            "UPDATE runbooks SET title = $4, definition = $5, updated_at = $6, updated_by = $7, version = version + 1
             WHERE id = $2 AND {condition} AND ($3 IS NULL OR version = $3) RETURNING version"
        ))
        .bind(scope_param(scope))
        .bind(id.to_string())
        .bind(expected)
        .bind(title)
        .bind(&text)
        .bind(at)
        .bind(by)
        .fetch_optional(&mut tx)
        .await
        .map_err(backend)?;
        let Some(row) = saved else {
            let current = q(format!(
                "SELECT version FROM runbooks WHERE id = $2 AND {condition}"
            ))
            .bind(scope_param(scope))
            .bind(id.to_string())
            .fetch_optional(&mut tx)
            .await
            .map_err(backend)?;
            return match current {
                Some(row) => Err(StoreError::Stale(row.get("version"))),
                None => Err(StoreError::NotFound),
            };
        };
        let version: i64 = row.get("version");
        q("INSERT INTO runbook_versions (runbook_id, version, definition, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.to_string())
            .bind(version)
            .bind(&text)
            .bind(at)
            .bind(by)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(version)
    }

    async fn list_runbooks(&self, scope: &Scope) -> Result<Vec<RunbookRecord>> {
        let sql = format!(
            "SELECT * FROM runbooks r WHERE {} ORDER BY {}, r.id",
            self.in_org(1, "r.org_id"),
            self.nocase("r.title")
        );
        self.scoped(sql, scope).await?.iter().map(runbook).collect()
    }

    async fn get_runbook(&self, scope: &Scope, id: Uuid) -> Result<RunbookRecord> {
        let sql = format!(
            "SELECT * FROM runbooks r WHERE r.id = $2 AND {}",
            self.in_org(1, "r.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(runbook)
            .unwrap_or(Err(StoreError::NotFound))
    }

    async fn runbook_versions(&self, scope: &Scope, id: Uuid) -> Result<Vec<RunbookVersion>> {
        // Not found (rather than an empty list) outside scope.
        self.get_runbook(scope, id).await?;
        let sql = format!(
            "SELECT v.* FROM runbook_versions v JOIN runbooks r ON r.id = v.runbook_id WHERE r.id = $2 AND {} ORDER BY v.version DESC",
            self.in_org(1, "r.org_id")
        );
        self.scoped_by(sql, scope, &id.to_string())
            .await?
            .iter()
            .map(|row| {
                Ok(RunbookVersion {
                    version: row.get("version"),
                    definition: json(row.get("definition")),
                    created_at: row.get("created_at"),
                    created_by: row.get("created_by"),
                })
            })
            .collect()
    }

    async fn delete_runbook(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let condition = self.in_scope(1, "org_id", None);
        let found = q(format!(
            "SELECT id FROM runbooks WHERE id = $2 AND {condition}"
        ))
        .bind(scope_param(scope))
        .bind(id.to_string())
        .fetch_optional(&mut tx)
        .await
        .map_err(backend)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        q("DELETE FROM runbook_versions WHERE runbook_id = $1")
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        q("DELETE FROM runbooks WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}
