//! Devices: enrollment records, inventory, status and its history.

use crate::{PgStore, backend, in_scope, scope_param, uuid};
use sqlx::Row;
use sqlx::postgres::PgRow;
use steward_store::*;
use uuid::Uuid;

pub(crate) const SUMMARY_COLUMNS: &str = "id, org_id, site, name, hostname, os, tags, status, status_since, last_seen, revoked, cpu, mem, disk, refuses";

pub(crate) fn summary(row: &PgRow) -> Result<DeviceSummary> {
    let tags: String = row.get("tags");
    Ok(DeviceSummary {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        site: row.get("site"),
        name: row.get("name"),
        hostname: row.get("hostname"),
        os: row.get("os"),
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        status: Status::parse(row.get("status")),
        status_since: row.get("status_since"),
        last_seen: row.get("last_seen"),
        revoked: row.get("revoked"),
        cpu_utilization: row.get("cpu"),
        memory_utilization: row.get("mem"),
        disk_utilization: row.get("disk"),
        refuses: serde_json::from_str(&row.get::<String, _>("refuses")).unwrap_or_default(),
    })
}

impl PgStore {
    pub(crate) async fn create_device_impl(&self, device: &NewDevice) -> Result<()> {
        sqlx::query(
            "INSERT INTO devices (id, org_id, site, name, hostname, tags, cert_fingerprint, enrolled_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(device.id.to_string())
        .bind(device.org_id.to_string())
        .bind(&device.site)
        .bind(&device.name)
        .bind(&device.hostname)
        .bind(serde_json::to_string(&device.tags).unwrap_or_else(|_| "[]".into()))
        .bind(&device.cert_fingerprint)
        .bind(device.enrolled_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn device_by_fingerprint_impl(&self, fingerprint: &str) -> Result<DeviceAuth> {
        let row = sqlx::query(
            "SELECT id, org_id, revoked, next_fingerprint IS NOT NULL AND next_fingerprint = $1 AS rotated FROM devices
             WHERE cert_fingerprint = $1 OR next_fingerprint = $1",
        )
        .bind(fingerprint)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(DeviceAuth {
            id: uuid(row.get("id"))?,
            org_id: uuid(row.get("org_id"))?,
            revoked: row.get("revoked"),
            rotated: row.get("rotated"),
        })
    }

    pub(crate) async fn set_next_fingerprint_impl(
        &self,
        device: Uuid,
        fingerprint: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE devices SET next_fingerprint = $1 WHERE id = $2")
            .bind(fingerprint)
            .bind(device.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn promote_fingerprint_impl(&self, device: Uuid) -> Result<()> {
        sqlx::query(
            "UPDATE devices SET cert_fingerprint = next_fingerprint, next_fingerprint = NULL
             WHERE id = $1 AND next_fingerprint IS NOT NULL",
        )
        .bind(device.to_string())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn list_devices_impl(&self, scope: &Scope) -> Result<Vec<DeviceSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM devices WHERE {} ORDER BY name, id",
            in_scope(1, "org_id", Some("site"))
        );
        self.scoped(sql, scope).await?.iter().map(summary).collect()
    }

    pub(crate) async fn get_device_impl(&self, scope: &Scope, id: Uuid) -> Result<DeviceDetail> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, enrolled_at, stored_seq, inventory, inventory_at FROM devices WHERE id = $2 AND {}",
            in_scope(1, "org_id", Some("site"))
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope_param(scope))
            .bind(id.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        let inventory: Option<String> = row.get("inventory");
        Ok(DeviceDetail {
            summary: summary(&row)?,
            enrolled_at: row.get("enrolled_at"),
            stored_seq: row.get::<i64, _>("stored_seq").max(0) as u64,
            inventory_at: row.get("inventory_at"),
            inventory: inventory.and_then(|text| serde_json::from_str(&text).ok()),
        })
    }

    pub(crate) async fn revoke_device_impl(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "UPDATE devices SET revoked = true WHERE id = $2 AND {}",
            in_scope(1, "org_id", Some("site"))
        );
        self.scoped_change(sql, scope, id).await
    }

    pub(crate) async fn set_inventory_impl(
        &self,
        device: Uuid,
        inventory: &steward_proto::Inventory,
        at: i64,
    ) -> Result<()> {
        let os = format!("{} {}", inventory.os_name, inventory.os_version);
        let json =
            serde_json::to_string(inventory).map_err(|e| StoreError::Backend(e.to_string()))?;
        sqlx::query(
            "UPDATE devices SET inventory = $1, inventory_at = $2, hostname = $3, os = $4 WHERE id = $5",
        )
        .bind(json)
        .bind(at)
        .bind(&inventory.hostname)
        .bind(os.trim())
        .bind(device.to_string())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn set_status_impl(&self, device: Uuid, to: Status, at: i64) -> Result<bool> {
        self.set_status_where(device, to, at, None).await
    }

    pub(crate) async fn mark_offline_if_stale_impl(
        &self,
        device: Uuid,
        at: i64,
        seen_before: i64,
    ) -> Result<bool> {
        self.set_status_where(device, Status::Offline, at, Some(seen_before))
            .await
    }

    pub(crate) async fn stale_online_impl(&self, seen_before: i64) -> Result<Vec<Uuid>> {
        sqlx::query(
            "SELECT id FROM devices WHERE status = 'online' AND NOT revoked AND COALESCE(last_seen, 0) < $1",
        )
        .bind(seen_before)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| uuid(row.get("id")))
        .collect()
    }

    /// Records a status change (and its history row) when the status
    /// differs, and, with `seen_before`, only when the device was last seen
    /// before it.
    async fn set_status_where(
        &self,
        device: Uuid,
        to: Status,
        at: i64,
        seen_before: Option<i64>,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await.map_err(backend)?;
        let row = sqlx::query(
            "SELECT org_id, status, last_seen FROM devices WHERE id = $1 FOR NO KEY UPDATE",
        )
        .bind(device.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let from = Status::parse(row.get("status"));
        if from == to {
            return Ok(false);
        }
        let last_seen: Option<i64> = row.get("last_seen");
        if seen_before.is_some_and(|before| last_seen.unwrap_or(0) >= before) {
            return Ok(false);
        }
        let org: String = row.get("org_id");
        sqlx::query("UPDATE devices SET status = $1, status_since = $2 WHERE id = $3")
            .bind(to.as_str())
            .bind(at)
            .bind(device.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO status_changes (org_id, device_id, from_status, to_status, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(org)
            .bind(device.to_string())
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    pub(crate) async fn set_last_seen_impl(&self, seen: &[(Uuid, i64)]) -> Result<()> {
        let mut tx = self.write_tx().await.map_err(backend)?;
        for (device, at) in seen {
            sqlx::query(
                "UPDATE devices SET last_seen = GREATEST(COALESCE(last_seen, 0), $1) WHERE id = $2",
            )
            .bind(at)
            .bind(device.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    pub(crate) async fn device_statuses_impl(&self) -> Result<Vec<(Uuid, Status)>> {
        sqlx::query("SELECT id, status FROM devices WHERE NOT revoked")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| Ok((uuid(row.get("id"))?, Status::parse(row.get("status")))))
            .collect()
    }

    pub(crate) async fn status_history_impl(
        &self,
        scope: &Scope,
        device: Uuid,
    ) -> Result<Vec<StatusChange>> {
        let sql = format!(
            "SELECT c.device_id, c.from_status, c.to_status, c.at FROM status_changes c JOIN devices d ON d.id = c.device_id
             WHERE c.device_id = $2 AND {} ORDER BY c.id",
            in_scope(1, "d.org_id", Some("d.site"))
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope_param(scope))
            .bind(device.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| {
                Ok(StatusChange {
                    device_id: uuid(row.get("device_id"))?,
                    from: Status::parse(row.get("from_status")),
                    to: Status::parse(row.get("to_status")),
                    at: row.get("at"),
                })
            })
            .collect()
    }
}

impl PgStore {
    pub(crate) async fn set_upstream_impl(
        &self,
        scope: &Scope,
        device: Uuid,
        upstream: Option<Uuid>,
    ) -> Result<()> {
        let this = self.get_device_impl(scope, device).await?;
        if let Some(up) = upstream {
            let other = self.get_device_impl(scope, up).await?;
            if up == device || other.summary.org_id != this.summary.org_id {
                return Err(StoreError::Refused(
                    "a device can depend on another device of its own organisation".into(),
                ));
            }
        }
        sqlx::query("UPDATE devices SET upstream_id = $1 WHERE id = $2")
            .bind(upstream.map(|u| u.to_string()))
            .bind(device.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn upstreams_impl(&self) -> Result<Vec<(Uuid, Uuid)>> {
        sqlx::query("SELECT id, upstream_id FROM devices WHERE upstream_id IS NOT NULL")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| Ok((uuid(row.get("id"))?, uuid(row.get("upstream_id"))?)))
            .collect()
    }
}
