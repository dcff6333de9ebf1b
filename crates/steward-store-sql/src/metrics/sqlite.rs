//! SQLite's metric-ingest hot path: SQLite runs in-process, so a group of
//! batches is read and written a row at a time, under the one write lock
//! the transaction takes at its start.

use super::corrupt;
use crate::{SqlStore, backend};
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, Sqlite, Transaction};
use steward_store::*;

impl SqlStore {
    pub(super) async fn ingest_sqlite(
        &self,
        pool: &SqlitePool,
        batches: &[IngestBatch],
    ) -> Result<Vec<IngestOutcome>> {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        let ids: Vec<String> = batches.iter().map(|b| b.device_id.to_string()).collect();
        let rows = sqlx::query(
            "SELECT id, org_id, stored_seq, revoked FROM devices
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let devices = super::device_seqs(rows.into_iter().map(crate::db::Row::Sqlite));
        let plan = plan_ingest(batches, &devices);
        for update in &plan.devices {
            sqlx::query(
                "UPDATE devices SET stored_seq = ?, last_seen = MAX(COALESCE(last_seen, 0), ?),
                     cpu = COALESCE(?, cpu), mem = COALESCE(?, mem), disk = COALESCE(?, disk)
                 WHERE id = ?",
            )
            .bind(update.stored_seq)
            .bind(crate::now_secs())
            .bind(update.cpu)
            .bind(update.mem)
            .bind(update.disk)
            .bind(update.device.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let mut new_series = Vec::new();
        let mut appends = Vec::with_capacity(plan.samples.len());
        let mut refused = 0u64;
        for (key, samples) in plan.samples {
            let cached = self
                .series_ids
                .lock()
                .ok()
                .and_then(|c| c.get(&key).copied());
            let id = match cached {
                Some(id) => id,
                None => match series_id(&mut tx, &key).await? {
                    Some(id) => {
                        new_series.push((key, id));
                        id
                    }
                    None => {
                        refused += samples.len() as u64;
                        continue;
                    }
                },
            };
            appends.push((id, samples));
        }
        append_many(&mut tx, RAW, &appends).await?;
        tx.commit().await.map_err(backend)?;
        self.ingested(refused, new_series);
        Ok(plan.outcomes)
    }
}

/// The id of a series, created when its device has fewer than
/// [`MAX_SERIES_PER_DEVICE`]; None when it does not exist and may not.
async fn series_id(tx: &mut Transaction<'static, Sqlite>, key: &SeriesKey) -> Result<Option<i64>> {
    let device = key.device.to_string();
    sqlx::query(
        "INSERT INTO series (org_id, device_id, name, labels) SELECT ?1, ?2, ?3, ?4
         WHERE (SELECT COUNT(*) FROM series WHERE device_id = ?2) < ?5 ON CONFLICT DO NOTHING",
    )
    .bind(key.org.to_string())
    .bind(&device)
    .bind(&key.name)
    .bind(&key.labels)
    .bind(MAX_SERIES_PER_DEVICE)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    let row = sqlx::query("SELECT id FROM series WHERE device_id = ? AND name = ? AND labels = ?")
        .bind(&device)
        .bind(&key.name)
        .bind(&key.labels)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(row.map(|row| row.get(0)))
}

/// Appends each series' samples (in order) at one resolution.
pub(super) async fn append_many(
    tx: &mut Transaction<'static, Sqlite>,
    resolution: i64,
    appends: &[(i64, Vec<(i64, f64)>)],
) -> Result<()> {
    for (series, samples) in appends {
        let open = sqlx::query(
            "SELECT id, start_ts, end_ts, count, data FROM chunks WHERE series_id = ? AND resolution = ?
             ORDER BY start_ts DESC, id DESC LIMIT 1",
        )
        .bind(series)
        .bind(resolution)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?
        .map(|row| OpenChunk {
            id: row.get("id"),
            start_ts: row.get("start_ts"),
            end_ts: row.get("end_ts"),
            count: row.get("count"),
            data: row.get("data"),
        });
        for write in plan_appends(open, samples).map_err(corrupt)? {
            let query = match write.id {
                Some(id) => {
                    sqlx::query("UPDATE chunks SET end_ts = ?, count = ?, data = ? WHERE id = ?")
                        .bind(write.end_ts)
                        .bind(write.count)
                        .bind(write.data)
                        .bind(id)
                }
                None => sqlx::query(
                    "INSERT INTO chunks (series_id, resolution, start_ts, end_ts, count, data)
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(series)
                .bind(resolution)
                .bind(write.start_ts)
                .bind(write.end_ts)
                .bind(write.count)
                .bind(write.data),
            };
            query.execute(&mut **tx).await.map_err(backend)?;
        }
    }
    Ok(())
}
