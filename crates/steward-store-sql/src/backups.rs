//! [`BackupStore`] on both databases: a device's jobs replaced by each
//! report, outcomes recorded once (the key is device, job, kind and time).

use crate::db::{Row, q};
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use steward_proto::{BackupJob, BackupResult};
use steward_store::*;
use uuid::Uuid;

/// Sizes and counts are stored as signed 64-bit numbers.
fn int(n: Option<u64>) -> Option<i64> {
    n.and_then(|n| i64::try_from(n).ok())
}

fn run(row: &Row) -> Result<BackupRun> {
    let kind: String = row.get("kind");
    Ok(BackupRun {
        device_id: uuid(row.get("device_id"))?,
        job: row.get("name"),
        kind: if kind == "restore_test" {
            RunKind::RestoreTest
        } else {
            RunKind::Backup
        },
        run_at: row.get("run_at"),
        result: BackupResult::parse(row.get("result")),
        reason: row.get("reason"),
        duration_ms: row.get("duration_ms"),
        size_bytes: row.get("size_bytes"),
        file_count: row.get("file_count"),
    })
}

#[async_trait]
impl BackupStore for SqlStore {
    async fn record_backups(
        &self,
        device: Uuid,
        org: Uuid,
        jobs: &[BackupJob],
        at: i64,
    ) -> Result<usize> {
        let (device_id, org_id) = (device.to_string(), org.to_string());
        let mut tx = self.db.begin().await.map_err(backend)?;
        let stored = q("SELECT name FROM backup_jobs WHERE device_id = $1")
            .bind(&device_id)
            .fetch_all(&mut tx)
            .await
            .map_err(backend)?;
        for row in stored {
            let name: String = row.get("name");
            if !jobs.iter().any(|j| j.name == name) {
                q("DELETE FROM backup_jobs WHERE device_id = $1 AND name = $2")
                    .bind(&device_id)
                    .bind(&name)
                    .execute(&mut tx)
                    .await
                    .map_err(backend)?;
            }
        }
        let mut new = 0;
        for job in jobs {
            q("INSERT INTO backup_jobs (device_id, org_id, name, source, result, last_run_at, newest_good_at, detail, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (device_id, name) DO UPDATE SET org_id = excluded.org_id, source = excluded.source,
                   result = excluded.result, last_run_at = excluded.last_run_at,
                   newest_good_at = excluded.newest_good_at, detail = excluded.detail, updated_at = excluded.updated_at")
            .bind(&device_id)
            .bind(&org_id)
            .bind(&job.name)
            .bind(job.source.as_str())
            .bind(job.result.as_str())
            .bind(job.last_run_ms)
            .bind(job.newest_good_ms)
            .bind(serde_json::to_string(job).unwrap_or_else(|_| "{}".into()))
            .bind(at)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
            let mut outcomes = Vec::new();
            if let Some(run_at) = job.last_run_ms {
                outcomes.push((
                    "backup",
                    run_at,
                    job.result,
                    &job.reason,
                    job.duration_ms,
                    int(job.size_bytes),
                    int(job.file_count),
                ));
            }
            if let Some(test) = &job.restore_test {
                outcomes.push((
                    "restore_test",
                    test.at_ms,
                    test.result,
                    &test.reason,
                    Some(test.duration_ms),
                    None,
                    Some(i64::from(test.files_restored)),
                ));
            }
            for (kind, run_at, result, reason, duration, size, files) in outcomes {
                let done = q("INSERT INTO backup_runs (device_id, org_id, name, kind, run_at, result, reason, duration_ms, size_bytes, file_count)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (device_id, name, kind, run_at) DO NOTHING")
                .bind(&device_id)
                .bind(&org_id)
                .bind(&job.name)
                .bind(kind)
                .bind(run_at)
                .bind(result.as_str())
                .bind(reason)
                .bind(duration)
                .bind(size)
                .bind(files)
                .execute(&mut tx)
                .await
                .map_err(backend)?;
                new += done.rows_affected() as usize;
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(new)
    }

    async fn device_backups(&self, scope: &Scope, device: Uuid) -> Result<Vec<BackupJobRecord>> {
        let sql = format!(
            "SELECT b.device_id, b.detail, b.updated_at FROM backup_jobs b JOIN devices d ON d.id = b.device_id
             WHERE b.device_id = $2 AND {} ORDER BY b.name",
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
                let detail: String = row.get("detail");
                Ok(BackupJobRecord {
                    device_id: uuid(row.get("device_id"))?,
                    job: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Corrupt(format!("backup job: {e}")))?,
                    updated_at: row.get("updated_at"),
                })
            })
            .collect()
    }

    async fn backup_runs(
        &self,
        scope: &Scope,
        device: Uuid,
        job: Option<&str>,
        since: i64,
        limit: u32,
    ) -> Result<Vec<BackupRun>> {
        let sql = format!(
            "SELECT r.* FROM backup_runs r JOIN devices d ON d.id = r.device_id
             WHERE r.device_id = $2 AND r.run_at >= $3 AND ($4 IS NULL OR r.name = $4) AND {}
             ORDER BY r.run_at DESC, r.name, r.kind LIMIT $5",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        q(sql)
            .bind(scope_param(scope))
            .bind(device.to_string())
            .bind(since)
            .bind(job)
            .bind(i64::from(limit.min(10_000)))
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(run)
            .collect()
    }

    async fn backup_outcomes(
        &self,
        scope: &Scope,
        since: i64,
        until: i64,
    ) -> Result<Vec<BackupOutcome>> {
        let sql = format!(
            "SELECT r.device_id, d.name AS device_name, d.org_id, d.site, r.name, r.run_at, r.result
             FROM backup_runs r JOIN devices d ON d.id = r.device_id
             WHERE r.kind = 'backup' AND r.run_at >= $2 AND r.run_at < $3 AND {}
             ORDER BY r.run_at",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        q(sql)
            .bind(scope_param(scope))
            .bind(since)
            .bind(until)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| {
                Ok(BackupOutcome {
                    device_id: uuid(row.get("device_id"))?,
                    device_name: row.get("device_name"),
                    org_id: uuid(row.get("org_id"))?,
                    site: row.get("site"),
                    job: row.get("name"),
                    run_at: row.get("run_at"),
                    result: BackupResult::parse(row.get("result")),
                })
            })
            .collect()
    }
}
