//! SLA targets and warning claims (see `steward_store::SlaStore`).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn target(row: &Row) -> Result<SlaTargetRecord> {
    Ok(SlaTargetRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        priority: row.get("priority"),
        acknowledge_ms: row.get("acknowledge_ms"),
        resolve_ms: row.get("resolve_ms"),
        updated_by: row.get("updated_by"),
        updated_at: row.get("updated_at"),
        version: row.get("version"),
    })
}

#[async_trait]
impl SlaStore for SqlStore {
    async fn create_sla_target(&self, t: &SlaTargetRecord) -> Result<()> {
        let done = q("INSERT INTO sla_targets (id, org_id, priority, acknowledge_ms, resolve_ms, updated_by, updated_at, version)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (org_id, priority) DO NOTHING")
            .bind(t.id.to_string())
            .bind(t.org_id.to_string())
            .bind(&t.priority)
            .bind(t.acknowledge_ms)
            .bind(t.resolve_ms)
            .bind(&t.updated_by)
            .bind(t.updated_at)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "the organisation already has an SLA target for {}: change that one",
                t.priority
            )));
        }
        Ok(())
    }

    async fn list_sla_targets(&self, scope: &Scope) -> Result<Vec<SlaTargetRecord>> {
        let sql = format!(
            "SELECT * FROM sla_targets t WHERE {} ORDER BY t.org_id, t.priority",
            self.in_org(1, "t.org_id")
        );
        self.scoped(sql, scope).await?.iter().map(target).collect()
    }

    async fn get_sla_target(&self, scope: &Scope, id: Uuid) -> Result<SlaTargetRecord> {
        let sql = format!(
            "SELECT * FROM sla_targets t WHERE t.id = $2 AND {}",
            self.in_org(1, "t.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(target)
            .unwrap_or(Err(StoreError::NotFound))
    }

    async fn update_sla_target(
        &self,
        scope: &Scope,
        t: &SlaTargetRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "sla_targets",
            "acknowledge_ms = $4, resolve_ms = $5, updated_by = $6, updated_at = $7",
            &self.in_scope(1, "org_id", None),
            (scope, &t.id.to_string(), expected),
            vec![
                t.acknowledge_ms.arg(),
                t.resolve_ms.arg(),
                t.updated_by.as_str().arg(),
                t.updated_at.arg(),
            ],
        )
        .await
    }

    async fn delete_sla_target(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM sla_targets WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn record_sla_warning(&self, w: &SlaWarning) -> Result<bool> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let claimed = q("INSERT INTO sla_warnings (incident_id, threshold, at) VALUES ($1, $2, $3) ON CONFLICT (incident_id, threshold) DO NOTHING")
            .bind(w.incident.to_string())
            .bind(&w.threshold)
            .bind(w.at)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        let incident = w.incident.to_string();
        let touched = q("UPDATE incidents SET last_activity = CASE WHEN last_activity > $2 THEN last_activity ELSE $2 END WHERE id = $1 AND org_id = $3")
            .bind(&incident)
            .bind(w.timeline.at)
            .bind(w.org_id.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        if touched.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        crate::incidents::insert_event(&mut tx, &incident, &w.timeline).await?;
        crate::alerts::queue(
            &mut tx,
            w.org_id,
            w.incident,
            &w.severity,
            None,
            &w.payload,
            w.at,
        )
        .await?;
        crate::audit::append_in(&mut tx, &w.audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }
}
