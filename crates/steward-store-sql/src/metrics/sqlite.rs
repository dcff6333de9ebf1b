//! SQLite's metric-ingest hot path: SQLite runs in-process, so a group of
//! batches is read and written a row at a time, under the one write lock
//! the transaction takes at its start. Open raw chunks are held in memory
//! between groups (`heads.rs`): a series costs one update per group.

use super::corrupt;
use crate::{SqlStore, backend};
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, Sqlite, Transaction};
use std::collections::HashMap;
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

/// Appends each series' samples (in order) at one resolution.
pub(super) async fn append_many(
    tx: &mut Transaction<'static, Sqlite>,
    resolution: i64,
    appends: &[(i64, Vec<(i64, f64)>)],
) -> Result<()> {
    append_held(tx, resolution, appends, HashMap::new()).await?;
    Ok(())
}

/// The newest chunk of a series at one resolution, as stored.
async fn read_open(
    tx: &mut Transaction<'static, Sqlite>,
    series: i64,
    resolution: i64,
) -> Result<Option<OpenChunk>> {
    let row = sqlx::query(
        "SELECT id, start_ts, end_ts, count, data FROM chunks WHERE series_id = ? AND resolution = ?
         ORDER BY start_ts DESC, id DESC LIMIT 1",
    )
    .bind(series)
    .bind(resolution)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(row.map(|row| OpenChunk {
        id: row.get("id"),
        start_ts: row.get("start_ts"),
        end_ts: row.get("end_ts"),
        count: row.get("count"),
        data: row.get("data"),
    }))
}

/// Appends each series' samples (in order) at one resolution, starting
/// from the heads `held` in memory where there is one and from the stored
/// open chunk otherwise; returns each series' open chunk afterwards, to
/// hold once the transaction commits.
pub(super) async fn append_held(
    tx: &mut Transaction<'static, Sqlite>,
    resolution: i64,
    appends: &[(i64, Vec<(i64, f64)>)],
    mut held: HashMap<i64, Head>,
) -> Result<Vec<(i64, Head)>> {
    let mut heads = Vec::with_capacity(appends.len());
    for (series, samples) in appends {
        let mut open = match held.remove(series) {
            Some(head) => Some(Open::Held(head)),
            None => read_open(tx, *series, resolution).await?.map(Open::Stored),
        };
        let mut appended = None;
        // A held chunk another writer changed since is read again (once).
        for _ in 0..2 {
            let count_before = match &open {
                Some(Open::Stored(chunk)) => chunk.count,
                Some(Open::Held(head)) => head.samples.len() as i64,
                None => 0,
            };
            let plan = plan_appends_held(open.take(), samples).map_err(corrupt)?;
            if let Some(grown) = plan.writes.first().filter(|w| w.id.is_some()) {
                let updated = sqlx::query(
                    "UPDATE chunks SET end_ts = ?, count = ?, data = ?
                     WHERE id = ? AND series_id = ? AND start_ts = ? AND count = ?",
                )
                .bind(grown.end_ts)
                .bind(grown.count)
                .bind(&grown.data)
                .bind(grown.id)
                .bind(series)
                .bind(grown.start_ts)
                .bind(count_before)
                .execute(&mut **tx)
                .await
                .map_err(backend)?
                .rows_affected();
                if updated == 0 {
                    open = read_open(tx, *series, resolution).await?.map(Open::Stored);
                    continue;
                }
            }
            appended = Some(plan);
            break;
        }
        let Some(Appended {
            writes,
            mut head,
            head_write,
        }) = appended
        else {
            return Err(StoreError::Corrupt(format!(
                "the open chunk of series {series} changed while it was written"
            )));
        };
        for (at, write) in writes.into_iter().enumerate() {
            if write.id.is_some() {
                continue;
            }
            let id: i64 = sqlx::query(
                "INSERT INTO chunks (series_id, resolution, start_ts, end_ts, count, data)
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(series)
            .bind(resolution)
            .bind(write.start_ts)
            .bind(write.end_ts)
            .bind(write.count)
            .bind(write.data)
            .fetch_one(&mut **tx)
            .await
            .map_err(backend)?
            .get(0);
            if head_write == Some(at)
                && let Some(head) = head.as_mut()
            {
                head.id = Some(id);
            }
        }
        heads.extend(head.map(|head| (*series, head)));
    }
    Ok(heads)
}
