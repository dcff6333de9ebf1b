//! [`AgingStore`] on both databases: one row per device, replaced by
//! each judgement; read within the caller's scope.

use crate::db::{Row, q};
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn record(row: &Row) -> Result<AgingRecord> {
    let detail: String = row.get("detail");
    Ok(AgingRecord {
        device_id: uuid(row.get("device_id"))?,
        device_name: row.get("device_name"),
        site: row.get("site"),
        worst: row.get("worst"),
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("aging: {e}")))?,
        updated_at: row.get("updated_at"),
    })
}

#[async_trait]
impl AgingStore for SqlStore {
    async fn save_aging(
        &self,
        device: Uuid,
        org: Uuid,
        worst: i64,
        detail: &serde_json::Value,
        at: i64,
    ) -> Result<()> {
        q(
            "INSERT INTO device_aging (device_id, org_id, worst, detail, updated_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (device_id) DO UPDATE SET org_id = excluded.org_id, worst = excluded.worst,
               detail = excluded.detail, updated_at = excluded.updated_at",
        )
        .bind(device.to_string())
        .bind(org.to_string())
        .bind(worst)
        .bind(detail.to_string())
        .bind(at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn device_aging(&self, scope: &Scope, device: Uuid) -> Result<Option<AgingRecord>> {
        let sql = format!(
            "SELECT p.device_id, d.name AS device_name, d.site, p.worst, p.detail, p.updated_at
             FROM device_aging p JOIN devices d ON d.id = p.device_id
             WHERE p.device_id = $2 AND {}",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        q(sql)
            .bind(scope_param(scope))
            .bind(device.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .first()
            .map(record)
            .transpose()
    }

    async fn list_aging(&self, scope: &Scope) -> Result<Vec<AgingRecord>> {
        let sql = format!(
            "SELECT p.device_id, d.name AS device_name, d.site, p.worst, p.detail, p.updated_at
             FROM device_aging p JOIN devices d ON d.id = p.device_id
             WHERE d.retired_at IS NULL AND {}
             ORDER BY p.worst DESC, d.name, p.device_id
             LIMIT 10000",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        q(sql)
            .bind(scope_param(scope))
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(record)
            .collect()
    }
}
