//! [`PostureStore`] on both databases: one row per device, replaced by
//! each report; read within the caller's scope.

use crate::db::{Row, q};
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn record(row: &Row) -> Result<PostureRecord> {
    let detail: String = row.get("detail");
    Ok(PostureRecord {
        device_id: uuid(row.get("device_id"))?,
        device_name: row.get("device_name"),
        site: row.get("site"),
        score: row.get("score"),
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("posture: {e}")))?,
        updated_at: row.get("updated_at"),
    })
}

#[async_trait]
impl PostureStore for SqlStore {
    async fn save_posture(
        &self,
        device: Uuid,
        org: Uuid,
        score: Option<f64>,
        detail: &serde_json::Value,
        at: i64,
    ) -> Result<()> {
        q(
            "INSERT INTO device_posture (device_id, org_id, score, detail, updated_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (device_id) DO UPDATE SET org_id = excluded.org_id, score = excluded.score,
               detail = excluded.detail, updated_at = excluded.updated_at",
        )
        .bind(device.to_string())
        .bind(org.to_string())
        .bind(score)
        .bind(detail.to_string())
        .bind(at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn device_posture(&self, scope: &Scope, device: Uuid) -> Result<Option<PostureRecord>> {
        let sql = format!(
            "SELECT p.device_id, d.name AS device_name, d.site, p.score, p.detail, p.updated_at
             FROM device_posture p JOIN devices d ON d.id = p.device_id
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

    async fn list_posture(&self, scope: &Scope) -> Result<Vec<PostureRecord>> {
        let sql = format!(
            "SELECT p.device_id, d.name AS device_name, d.site, p.score, p.detail, p.updated_at
             FROM device_posture p JOIN devices d ON d.id = p.device_id
             WHERE d.retired_at IS NULL AND {}
             ORDER BY CASE WHEN p.score IS NULL THEN 1 ELSE 0 END, p.score, d.name, p.device_id
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
