//! Patching: packages per device, pending updates with their first-seen
//! times, and the figures compliance is computed from.

use crate::db::{Row, Tx, q};
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use steward_store::*;
use uuid::Uuid;

/// Rows per multi-row INSERT (4–8 parameters each: far below both
/// databases' parameter limits).
const CHUNK: usize = 400;

/// FNV-1a over the package list: stable across builds, enough to tell
/// whether a list changed (a collision only delays a rewrite).
fn packages_hash(packages: &[steward_proto::Package]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for package in packages {
        for part in [&package.name, &package.version, &package.manager] {
            for byte in part.bytes().chain([0xff]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    format!("{hash:016x}:{}", packages.len())
}

/// `($1, $2, …), (…)` for `rows` rows of `width` parameters after the
/// first `skip`.
fn values(rows: usize, width: usize, skip: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (0..width)
                .map(|c| format!("${}", skip + r * width + c + 1))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn write_packages(
    tx: &mut Tx,
    device: &str,
    packages: &[steward_proto::Package],
) -> Result<()> {
    q("DELETE FROM device_packages WHERE device_id = $1")
        .bind(device)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    // Each (name, version) once, and a few versions of a name at most.
    let mut kept: std::collections::BTreeMap<&str, Vec<&steward_proto::Package>> =
        std::collections::BTreeMap::new();
    for package in packages {
        let versions = kept.entry(package.name.as_str()).or_default();
        if versions.len() < MAX_VERSIONS_PER_NAME
            && !versions.iter().any(|p| p.version == package.version)
        {
            versions.push(package);
        }
    }
    let packages: Vec<&steward_proto::Package> = kept.into_values().flatten().collect();
    for chunk in packages.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO device_packages (device_id, name, version, manager) VALUES {}",
            values(chunk.len(), 4, 0)
        );
        let mut insert = q(sql);
        for package in chunk {
            insert = insert
                .bind(device)
                .bind(&package.name)
                .bind(&package.version)
                .bind(&package.manager);
        }
        insert.execute(&mut *tx).await.map_err(backend)?;
    }
    Ok(())
}

async fn write_updates(
    tx: &mut Tx,
    device: &str,
    updates: &[steward_proto::PendingUpdate],
    at: i64,
) -> Result<()> {
    let before: HashMap<(String, String), (i64, Option<i64>)> = q(
        "SELECT name, arch, first_seen, security_since FROM pending_updates WHERE device_id = $1",
    )
    .bind(device)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?
    .iter()
    .map(|row| {
        (
            (row.get("name"), row.get("arch")),
            (row.get("first_seen"), row.get("security_since")),
        )
    })
    .collect();
    q("DELETE FROM pending_updates WHERE device_id = $1")
        .bind(device)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    // An agent may repeat a package (hostile or confused): the first wins.
    let mut seen = HashSet::new();
    let unique: Vec<&steward_proto::PendingUpdate> = updates
        .iter()
        .filter(|u| seen.insert((u.name.as_str(), u.arch.as_str())))
        .collect();
    for chunk in unique.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO pending_updates (device_id, name, arch, current_version, available, security, rule, first_seen, security_since) VALUES {}",
            values(chunk.len(), 9, 0)
        );
        let mut insert = q(sql);
        for update in chunk {
            let (first_seen, security_since) = before
                .get(&(update.name.clone(), update.arch.clone()))
                .copied()
                .unwrap_or((at, None));
            let security_since = update.security.then(|| security_since.unwrap_or(at));
            insert = insert
                .bind(device)
                .bind(&update.name)
                .bind(&update.arch)
                .bind(&update.current)
                .bind(&update.available)
                .bind(update.security)
                .bind(&update.rule)
                .bind(first_seen)
                .bind(security_since);
        }
        insert.execute(&mut *tx).await.map_err(backend)?;
    }
    Ok(())
}

fn pending_record(row: &Row) -> PendingRecord {
    PendingRecord {
        name: row.get("name"),
        arch: row.get("arch"),
        current: row.get("current_version"),
        available: row.get("available"),
        security: row.get("security"),
        rule: row.get("rule"),
        first_seen: row.get("first_seen"),
        security_since: row.get("security_since"),
    }
}

#[async_trait]
impl PatchingStore for SqlStore {
    async fn record_software(
        &self,
        device: Uuid,
        inventory: &steward_proto::Inventory,
        at: i64,
    ) -> Result<()> {
        let id = device.to_string();
        let mut tx = self.db.begin().await.map_err(backend)?;
        let Some(row) = q("SELECT packages_hash FROM devices WHERE id = $1")
            .bind(&id)
            .fetch_optional(&mut tx)
            .await
            .map_err(backend)?
        else {
            return Err(StoreError::NotFound);
        };
        let stored: Option<String> = row.get("packages_hash");
        let hash = packages_hash(&inventory.packages);
        if stored.as_deref() != Some(hash.as_str()) {
            write_packages(&mut tx, &id, &inventory.packages).await?;
            q("UPDATE devices SET packages_hash = $1 WHERE id = $2")
                .bind(&hash)
                .bind(&id)
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        // No answer from the package manager this time: keep the last one.
        if let Some(updates) = &inventory.updates {
            write_updates(&mut tx, &id, updates, at).await?;
            q("UPDATE devices SET updates_at = $1 WHERE id = $2")
                .bind(at)
                .bind(&id)
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        // The reboot state when the agent could read one (else: unknown).
        let reboot = inventory.patching.as_ref().and_then(|p| p.reboot.required);
        q("UPDATE devices SET reboot_required = $1 WHERE id = $2")
            .bind(reboot)
            .bind(&id)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn pending_updates(&self, scope: &Scope, device: Uuid) -> Result<Vec<PendingRecord>> {
        let found = q(format!(
            "SELECT id FROM devices WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", Some("site"))
        ))
        .bind(scope_param(scope))
        .bind(device.to_string())
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        let rows = q(
            "SELECT name, arch, current_version, available, security, rule, first_seen, security_since
             FROM pending_updates WHERE device_id = $1 ORDER BY name, arch",
        )
        .bind(device.to_string())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(pending_record).collect())
    }

    async fn find_software(
        &self,
        scope: &Scope,
        name: &str,
        limit: u32,
    ) -> Result<Vec<SoftwareRow>> {
        let sql = format!(
            "SELECT d.id, d.name AS device_name, d.org_id, d.site, p.name, p.version, p.manager
             FROM device_packages p JOIN devices d ON d.id = p.device_id
             WHERE p.name = $2 AND d.retired_at IS NULL AND {}
             ORDER BY {}, d.id, p.version LIMIT $3",
            self.in_scope(1, "d.org_id", Some("d.site")),
            self.nocase("d.name")
        );
        let rows = q(sql)
            .bind(scope_param(scope))
            .bind(name)
            .bind(i64::from(limit.min(MAX_SOFTWARE_ROWS + 1)))
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(SoftwareRow {
                    device_id: uuid(row.get("id"))?,
                    device_name: row.get("device_name"),
                    org_id: uuid(row.get("org_id"))?,
                    site: row.get("site"),
                    name: row.get("name"),
                    version: row.get("version"),
                    manager: row.get("manager"),
                })
            })
            .collect()
    }

    async fn patch_figures(&self, scope: &Scope) -> Result<Vec<DevicePatchFigures>> {
        let sql = format!(
            "SELECT d.id, d.name, d.org_id, d.site, d.updates_at IS NOT NULL AS reported, d.updates_at, d.reboot_required,
                    (SELECT COUNT(*) FROM pending_updates u WHERE u.device_id = d.id) AS pending,
                    (SELECT COUNT(*) FROM pending_updates u WHERE u.device_id = d.id AND u.security) AS security_pending,
                    (SELECT MIN(u.security_since) FROM pending_updates u WHERE u.device_id = d.id AND u.security) AS oldest
             FROM devices d WHERE d.retired_at IS NULL AND {} ORDER BY {}, d.id",
            self.in_scope(1, "d.org_id", Some("d.site")),
            self.nocase("d.name")
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(|row| {
                Ok(DevicePatchFigures {
                    device_id: uuid(row.get("id"))?,
                    device_name: row.get("name"),
                    org_id: uuid(row.get("org_id"))?,
                    site: row.get("site"),
                    reported: row.get("reported"),
                    updates_at: row.get("updates_at"),
                    pending: row.get::<i64, _>("pending").clamp(0, i64::from(u32::MAX)) as u32,
                    security_pending: row
                        .get::<i64, _>("security_pending")
                        .clamp(0, i64::from(u32::MAX)) as u32,
                    oldest_security_since: row.get("oldest"),
                    reboot_required: row.get("reboot_required"),
                })
            })
            .collect()
    }

    async fn record_compliance_days(&self, days: &[ComplianceDay]) -> Result<()> {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut tx = self.db.begin().await.map_err(backend)?;
        for d in days {
            q("INSERT INTO patch_compliance_days (org_id, site, day, devices, reporting, compliant, stale, reboot_required)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (org_id, site, day) DO UPDATE SET devices = excluded.devices, reporting = excluded.reporting,
                   compliant = excluded.compliant, stale = excluded.stale, reboot_required = excluded.reboot_required")
            .bind(d.org_id.to_string())
            .bind(&d.site)
            .bind(d.day)
            .bind(count(d.devices))
            .bind(count(d.reporting))
            .bind(count(d.compliant))
            .bind(count(d.stale))
            .bind(count(d.reboot_required))
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn compliance_history(
        &self,
        scope: &Scope,
        since_day: i64,
    ) -> Result<Vec<ComplianceDay>> {
        let sql = format!(
            "SELECT * FROM patch_compliance_days c WHERE c.day >= $2 AND {} ORDER BY c.day, c.org_id, c.site",
            self.in_scope(1, "c.org_id", Some("c.site"))
        );
        let rows = q(sql)
            .bind(scope_param(scope))
            .bind(since_day)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        let count = |row: &Row, column: &str| row.get::<i64, _>(column).max(0) as u64;
        rows.iter()
            .map(|row| {
                Ok(ComplianceDay {
                    day: row.get("day"),
                    org_id: uuid(row.get("org_id"))?,
                    site: row.get("site"),
                    devices: count(row, "devices"),
                    reporting: count(row, "reporting"),
                    compliant: count(row, "compliant"),
                    stale: count(row, "stale"),
                    reboot_required: count(row, "reboot_required"),
                })
            })
            .collect()
    }
}
