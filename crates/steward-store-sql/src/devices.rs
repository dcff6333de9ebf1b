//! Devices: enrollment records, inventory, status and its history.

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, json, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

pub(crate) const SUMMARY_COLUMNS: &str = "id, org_id, site, name, hostname, os, tags, status, status_since, last_seen, revoked, cpu, mem, disk, refuses, kind, category, address, probe_agent_id";

pub(crate) fn summary(row: &Row) -> Result<DeviceSummary> {
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
        kind: row.get("kind"),
        category: row.get("category"),
        address: row.get("address"),
        probe_agent: row
            .get::<Option<String>, _>("probe_agent_id")
            .map(|id| uuid(&id))
            .transpose()?,
    })
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn create_device(&self, device: &NewDevice) -> Result<()> {
        q(
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
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn device_by_fingerprint(&self, fingerprint: &str) -> Result<DeviceAuth> {
        let row = q(
            "SELECT id, org_id, revoked, next_fingerprint IS NOT NULL AND next_fingerprint = $1 AS rotated FROM devices
             WHERE cert_fingerprint = $1 OR next_fingerprint = $1",
        )
        .bind(fingerprint)
        .fetch_one(&self.db)
        .await
        .map_err(backend)?;
        Ok(DeviceAuth {
            id: uuid(row.get("id"))?,
            org_id: uuid(row.get("org_id"))?,
            revoked: row.get("revoked"),
            rotated: row.get("rotated"),
        })
    }

    async fn set_next_fingerprint(&self, device: Uuid, fingerprint: &str) -> Result<()> {
        q("UPDATE devices SET next_fingerprint = $1 WHERE id = $2")
            .bind(fingerprint)
            .bind(device.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn promote_fingerprint(&self, device: Uuid) -> Result<()> {
        q(
            "UPDATE devices SET cert_fingerprint = next_fingerprint, next_fingerprint = NULL
             WHERE id = $1 AND next_fingerprint IS NOT NULL",
        )
        .bind(device.to_string())
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_devices(&self, scope: &Scope) -> Result<Vec<DeviceSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM devices WHERE retired_at IS NULL AND {} ORDER BY {}, id",
            self.in_scope(1, "org_id", Some("site")),
            self.nocase("name")
        );
        self.scoped(sql, scope).await?.iter().map(summary).collect()
    }

    async fn get_device(&self, scope: &Scope, id: Uuid) -> Result<DeviceDetail> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, enrolled_at, stored_seq, inventory, inventory_at, version FROM devices WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", Some("site"))
        );
        let row = q(sql)
            .bind(scope_param(scope))
            .bind(id.to_string())
            .fetch_one(&self.db)
            .await
            .map_err(backend)?;
        let inventory: Option<String> = row.get("inventory");
        Ok(DeviceDetail {
            summary: summary(&row)?,
            enrolled_at: row.get("enrolled_at"),
            stored_seq: row.get::<i64, _>("stored_seq").max(0) as u64,
            inventory_at: row.get("inventory_at"),
            inventory: inventory.and_then(|text| serde_json::from_str(&text).ok()),
            version: row.get("version"),
        })
    }

    async fn revoke_device(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "UPDATE devices SET revoked = true WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", Some("site"))
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn retire_device(&self, scope: &Scope, id: Uuid, at: i64) -> Result<()> {
        let sql = format!(
            "UPDATE devices SET revoked = true, retired_at = COALESCE(retired_at, $3) WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", Some("site"))
        );
        self.one_changed(
            q(sql)
                .bind(scope_param(scope))
                .bind(id.to_string())
                .bind(at),
        )
        .await
    }

    async fn edit_device(
        &self,
        scope: &Scope,
        id: Uuid,
        name: &str,
        site: &str,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "devices",
            "name = $4, site = $5",
            &format!(
                "retired_at IS NULL AND {}",
                self.in_scope(1, "org_id", Some("site"))
            ),
            (scope, &id.to_string(), expected),
            vec![name.arg(), site.arg()],
        )
        .await
    }

    async fn set_inventory(
        &self,
        device: Uuid,
        inventory: &steward_proto::Inventory,
        at: i64,
    ) -> Result<()> {
        let os = format!("{} {}", inventory.os_name, inventory.os_version);
        let json =
            serde_json::to_string(inventory).map_err(|e| StoreError::Backend(e.to_string()))?;
        q(
            "UPDATE devices SET inventory = $1, inventory_at = $2, hostname = $3, os = $4 WHERE id = $5",
        )
        .bind(json)
        .bind(at)
        .bind(&inventory.hostname)
        .bind(os.trim())
        .bind(device.to_string())
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn set_status(&self, device: Uuid, to: Status, at: i64) -> Result<bool> {
        self.set_status_where(device, to, at, None).await
    }

    async fn mark_offline_if_stale(&self, device: Uuid, at: i64, seen_before: i64) -> Result<bool> {
        self.set_status_where(device, Status::Offline, at, Some(seen_before))
            .await
    }

    async fn stale_online(&self, seen_before: i64) -> Result<Vec<Uuid>> {
        q(
            "SELECT id FROM devices WHERE status = 'online' AND kind = 'agent' AND NOT revoked AND COALESCE(last_seen, 0) < $1",
        )
        .bind(seen_before)
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| uuid(row.get("id")))
        .collect()
    }

    /// One statement for the whole flush (two on PostgreSQL), however many
    /// devices: a replica flushes thousands every few seconds.
    async fn set_last_seen(&self, seen: &[(Uuid, i64)]) -> Result<()> {
        if seen.is_empty() {
            return Ok(());
        }
        let mut seen = seen.to_vec();
        // Rows locked in id order, as the metric ingest locks them, so
        // replicas writing overlapping devices cannot deadlock.
        seen.sort_unstable();
        let ids: Vec<String> = seen.iter().map(|(id, _)| id.to_string()).collect();
        let ats: Vec<i64> = seen.iter().map(|(_, at)| *at).collect();
        match &self.db {
            crate::db::Db::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(backend)?;
                sqlx::query(
                    "SELECT id FROM devices WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
                )
                .bind(&ids)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                sqlx::query(
                    "UPDATE devices d SET last_seen = GREATEST(COALESCE(d.last_seen, 0), v.at)
                     FROM (SELECT id, MAX(at) AS at FROM UNNEST($1::text[], $2::bigint[]) AS u(id, at)
                           GROUP BY id) AS v
                     WHERE d.id = v.id",
                )
                .bind(&ids)
                .bind(&ats)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)
            }
            crate::db::Db::Sqlite(pool) => {
                let pairs: Vec<(&str, i64)> = ids
                    .iter()
                    .map(String::as_str)
                    .zip(ats.iter().copied())
                    .collect();
                sqlx::query(
                    "UPDATE devices SET last_seen = MAX(COALESCE(devices.last_seen, 0), v.at)
                     FROM (SELECT json_extract(value, '$[0]') AS id, MAX(json_extract(value, '$[1]')) AS at
                           FROM json_each(?) GROUP BY 1) AS v
                     WHERE devices.id = v.id",
                )
                .bind(serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into()))
                .execute(pool)
                .await
                .map_err(backend)?;
                Ok(())
            }
        }
    }

    async fn device_statuses(&self) -> Result<Vec<(Uuid, Status)>> {
        q("SELECT id, status FROM devices WHERE NOT revoked AND kind = 'agent'")
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| Ok((uuid(row.get("id"))?, Status::parse(row.get("status")))))
            .collect()
    }

    async fn status_history(&self, scope: &Scope, device: Uuid) -> Result<Vec<StatusChange>> {
        let sql = format!(
            "SELECT c.device_id, c.from_status, c.to_status, c.at FROM status_changes c JOIN devices d ON d.id = c.device_id
             WHERE c.device_id = $2 AND {} ORDER BY c.id",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        q(sql)
            .bind(scope_param(scope))
            .bind(device.to_string())
            .fetch_all(&self.db)
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

    async fn set_upstream(
        &self,
        scope: &Scope,
        device: Uuid,
        upstream: Option<Uuid>,
    ) -> Result<()> {
        let this = self.get_device(scope, device).await?;
        if let Some(up) = upstream {
            let other = self.get_device(scope, up).await?;
            if up == device || other.summary.org_id != this.summary.org_id {
                return Err(StoreError::Refused(
                    "a device can depend on another device of its own organisation".into(),
                ));
            }
        }
        q("UPDATE devices SET upstream_id = $1 WHERE id = $2")
            .bind(upstream.map(|u| u.to_string()))
            .bind(device.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn upstreams(&self) -> Result<Vec<(Uuid, Uuid)>> {
        q("SELECT id, upstream_id FROM devices WHERE upstream_id IS NOT NULL")
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| Ok((uuid(row.get("id"))?, uuid(row.get("upstream_id"))?)))
            .collect()
    }

    async fn save_check_results(
        &self,
        device: Uuid,
        org: Uuid,
        results: &[CheckResultRecord],
    ) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        for r in results {
            q(
                "INSERT INTO check_results (device_id, org_id, name, state, message, long_output, perfdata, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (device_id, name) DO UPDATE SET state = excluded.state, message = excluded.message,
                     long_output = excluded.long_output, perfdata = excluded.perfdata, at = excluded.at",
            )
            .bind(device.to_string())
            .bind(org.to_string())
            .bind(&r.name)
            .bind(&r.state)
            .bind(&r.message)
            .bind(&r.long_output)
            .bind(r.perfdata.to_string())
            .bind(r.at)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn check_results(&self, scope: &Scope, device: Uuid) -> Result<Vec<CheckResultRecord>> {
        let sql = format!(
            "SELECT c.* FROM check_results c JOIN devices d ON d.id = c.device_id WHERE c.device_id = $2 AND {} ORDER BY {}, c.name",
            self.in_scope(1, "d.org_id", Some("d.site")),
            self.nocase("c.name")
        );
        q(sql)
            .bind(scope_param(scope))
            .bind(device.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| {
                Ok(CheckResultRecord {
                    name: row.get("name"),
                    state: row.get("state"),
                    message: row.get("message"),
                    long_output: row.get("long_output"),
                    perfdata: json(row.get("perfdata")),
                    at: row.get("at"),
                })
            })
            .collect()
    }
}

impl SqlStore {
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
        let mut tx = self.db.begin().await.map_err(backend)?;
        let row = q(format!(
            "SELECT org_id, status, last_seen FROM devices WHERE id = $1{}",
            crate::dialect::for_update(self.kind())
        ))
        .bind(device.to_string())
        .fetch_one(&mut tx)
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
        q("UPDATE devices SET status = $1, status_since = $2 WHERE id = $3")
            .bind(to.as_str())
            .bind(at)
            .bind(device.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        q("INSERT INTO status_changes (org_id, device_id, from_status, to_status, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(org)
            .bind(device.to_string())
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(at)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }
}
