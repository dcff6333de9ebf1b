//! SQLite's metric-ingest hot path, under the one write lock the
//! transaction takes at its start. A group's chunks are read and written
//! set-wise (`json_each` of one bound JSON array, blobs as hex): every
//! statement is a hand-off to SQLite's worker thread, and one per series
//! held ingest to ≈ 27,000 samples/s. Open raw chunks are held in memory
//! between groups (`heads.rs`).

use super::append::{ChunkRows, Grown, append_held};
use crate::db::Row as DbRow;
use crate::{SqlStore, backend};
use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, Sqlite, Transaction};
use std::collections::HashMap;
use std::fmt::Write as _;
use steward_store::*;

impl SqlStore {
    pub(super) async fn ingest_sqlite(
        &self,
        pool: &SqlitePool,
        batches: &[IngestBatch],
    ) -> Result<Vec<IngestOutcome>> {
        // Alert writes waiting for the write lock go first.
        self.write_gate.yield_to_waiting().await;
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
        if !plan.devices.is_empty() {
            // Every device's row in one statement (it was one per device:
            // 16 of a full group's 22 statements, each a hand-off to
            // SQLite's thread).
            let rows: Vec<serde_json::Value> = plan
                .devices
                .iter()
                .map(|u| {
                    serde_json::json!([u.device.to_string(), u.stored_seq, u.cpu, u.mem, u.disk])
                })
                .collect();
            sqlx::query(
                "UPDATE devices SET stored_seq = u.value ->> 1,
                     last_seen = MAX(COALESCE(last_seen, 0), ?),
                     cpu = COALESCE(u.value ->> 2, cpu), mem = COALESCE(u.value ->> 3, mem),
                     disk = COALESCE(u.value ->> 4, disk)
                 FROM json_each(?) u WHERE devices.id = u.value ->> 0",
            )
            .bind(crate::now_secs())
            .bind(serde_json::to_string(&rows).map_err(|e| StoreError::Backend(e.to_string()))?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let mut new_series = Vec::new();
        let mut appends = Vec::with_capacity(plan.samples.len());
        let mut refused = 0u64;
        let cached: Vec<Option<i64>> = match self.series_ids.lock() {
            Ok(cache) => plan.samples.keys().map(|k| cache.get(k).copied()).collect(),
            Err(_) => vec![None; plan.samples.len()],
        };
        // Series not cached yet (all of them after a restart) are looked up
        // in one statement; only those still unknown are created one by one.
        let missing: Vec<&SeriesKey> = plan
            .samples
            .keys()
            .zip(&cached)
            .filter(|(_, id)| id.is_none())
            .map(|(key, _)| key)
            .collect();
        let found = existing_series(&mut tx, &missing).await?;
        for ((key, samples), cached) in plan.samples.into_iter().zip(cached) {
            let known = cached.or_else(|| {
                let id = found.get(&key).copied()?;
                new_series.push((key.clone(), id));
                Some(id)
            });
            let id = match known {
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
        let held = self.heads.take(appends.iter().map(|(id, _)| *id));
        let heads = append_held(&mut tx, RAW, &appends, held).await?;
        tx.commit().await.map_err(backend)?;
        self.heads.put(heads);
        self.ingested(refused, new_series);
        Ok(plan.outcomes)
    }
}

/// The ids of those of `keys` that exist, in one statement.
async fn existing_series(
    tx: &mut Transaction<'static, Sqlite>,
    keys: &[&SeriesKey],
) -> Result<HashMap<SeriesKey, i64>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let triples: Vec<(String, &str, &str)> = keys
        .iter()
        .map(|k| (k.device.to_string(), k.name.as_str(), k.labels.as_str()))
        .collect();
    let rows = sqlx::query(
        "SELECT s.id, k.key FROM json_each(?) k JOIN series s
           ON s.device_id = k.value ->> 0 AND s.name = k.value ->> 1 AND s.labels = k.value ->> 2",
    )
    .bind(serde_json::to_string(&triples).map_err(|e| StoreError::Backend(e.to_string()))?)
    .fetch_all(&mut **tx)
    .await
    .map_err(backend)?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let index: i64 = row.get(1);
        if let Some(key) = usize::try_from(index).ok().and_then(|i| keys.get(i)) {
            found.insert((*key).clone(), row.get(0));
        }
    }
    Ok(found)
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

/// A JSON array of rows of integers and a blob last (as hex, for
/// `unhex`), written straight into one string: this runs for every series
/// of every group.
fn json_rows_with_blob<'a>(rows: impl ExactSizeIterator<Item = (&'a [i64], &'a [u8])>) -> String {
    let mut json = String::with_capacity(rows.len() * 160);
    json.push('[');
    let mut hex_buf = Vec::new();
    for (at, (ints, blob)) in rows.enumerate() {
        json.push_str(if at == 0 { "[" } else { ",[" });
        for int in ints {
            let _ = write!(json, "{int},");
        }
        hex_buf.resize(blob.len() * 2, 0);
        // Sized to fit, so it cannot fail; hex digits are ASCII.
        let _ = hex::encode_to_slice(blob, &mut hex_buf);
        json.push('"');
        json.push_str(std::str::from_utf8(&hex_buf).unwrap_or_default());
        json.push_str("\"]");
    }
    json.push(']');
    json
}

#[async_trait]
impl ChunkRows for Transaction<'static, Sqlite> {
    async fn read_open(&mut self, series: &[i64], resolution: i64) -> Result<Vec<DbRow>> {
        let rows = sqlx::query(
            "SELECT c.id, c.series_id, c.start_ts, c.end_ts, c.count, c.data
             FROM json_each(?1) k JOIN chunks c ON c.id = (
                 SELECT id FROM chunks WHERE series_id = k.value AND resolution = ?2
                 ORDER BY start_ts DESC, id DESC LIMIT 1)",
        )
        .bind(serde_json::to_string(series).map_err(|e| StoreError::Backend(e.to_string()))?)
        .bind(resolution)
        .fetch_all(&mut **self)
        .await
        .map_err(backend)?;
        Ok(rows.into_iter().map(DbRow::Sqlite).collect())
    }

    async fn update_grown(&mut self, grown: &[Grown<'_>]) -> Result<Vec<DbRow>> {
        let ints: Vec<[i64; 6]> = grown
            .iter()
            .map(|g| {
                let c = g.chunk;
                let id = c.id.unwrap_or_default();
                [id, g.series, c.start_ts, g.before, c.end_ts, c.count]
            })
            .collect();
        let rows = ints
            .iter()
            .zip(grown)
            .map(|(ints, g)| (ints.as_slice(), g.chunk.data.as_slice()));
        let updated = sqlx::query(
            "UPDATE chunks SET end_ts = u.value ->> 4, count = u.value ->> 5,
                 data = unhex(u.value ->> 6)
             FROM json_each(?) u
             WHERE chunks.id = u.value ->> 0 AND chunks.series_id = u.value ->> 1
                 AND chunks.start_ts = u.value ->> 2 AND chunks.count = u.value ->> 3
             RETURNING chunks.series_id",
        )
        .bind(json_rows_with_blob(rows))
        .fetch_all(&mut **self)
        .await
        .map_err(backend)?;
        Ok(updated.into_iter().map(DbRow::Sqlite).collect())
    }

    async fn insert_new(
        &mut self,
        resolution: i64,
        new: &[(i64, ChunkWrite)],
    ) -> Result<Vec<DbRow>> {
        let ints: Vec<[i64; 4]> = new
            .iter()
            .map(|(series, w)| [*series, w.start_ts, w.end_ts, w.count])
            .collect();
        let rows = ints
            .iter()
            .zip(new)
            .map(|(ints, (_, w))| (ints.as_slice(), w.data.as_slice()));
        let ids = sqlx::query(
            "INSERT INTO chunks (series_id, resolution, start_ts, end_ts, count, data)
             SELECT u.value ->> 0, ?2, u.value ->> 1, u.value ->> 2, u.value ->> 3,
                 unhex(u.value ->> 4)
             FROM json_each(?1) u ORDER BY u.key
             RETURNING id",
        )
        .bind(json_rows_with_blob(rows))
        .bind(resolution)
        .fetch_all(&mut **self)
        .await
        .map_err(backend)?;
        Ok(ids.into_iter().map(DbRow::Sqlite).collect())
    }
}
