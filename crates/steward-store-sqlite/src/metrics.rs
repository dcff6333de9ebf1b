//! Metric ingest, queries and retention over compressed chunks.
//!
//! Each series' newest chunk stays open: new samples are appended by
//! decoding it, pushing and re-encoding (a chunk is at most
//! [`CHUNK_SAMPLES`] samples, a few hundred bytes), inside the same
//! transaction that advances the device's stored sequence number. What a
//! group of batches changes is planned in `steward_store::ingest`; SQLite
//! runs in-process, so it is read and written a row at a time.

use crate::{SqliteStore, backend, in_scope, scope_param};
use sqlx::{Row, Sqlite, Transaction};
use std::collections::{BTreeMap, HashMap};
use steward_store::*;
use uuid::Uuid;

fn corrupt(error: steward_tsdb::CodecError) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

impl SqliteStore {
    pub(crate) async fn ingest_impl(&self, batches: &[IngestBatch]) -> Result<Vec<IngestOutcome>> {
        let mut tx = self.write_tx().await.map_err(backend)?;
        let ids: Vec<String> = batches.iter().map(|b| b.device_id.to_string()).collect();
        let rows = sqlx::query(
            "SELECT id, org_id, stored_seq, revoked FROM devices
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let devices: HashMap<Uuid, DeviceSeq> = rows
            .iter()
            .filter_map(|row| {
                let (id, org) = (row.get("id"), row.get("org_id"));
                DeviceSeq::from_row(id, org, row.get("stored_seq"), row.get("revoked"))
            })
            .collect();
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
        if refused > 0 {
            self.points_refused
                .fetch_add(refused, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(
                points = refused,
                cap = MAX_SERIES_PER_DEVICE,
                "Dropped points of new series beyond the per-device cap."
            );
        }
        append_many(&mut tx, RAW, &appends).await?;
        tx.commit().await.map_err(backend)?;
        if let Ok(mut cache) = self.series_ids.lock() {
            cache.extend(new_series);
        }
        Ok(plan.outcomes)
    }

    pub(crate) async fn stored_seq_impl(&self, device: Uuid) -> Result<u64> {
        let seq: i64 = sqlx::query("SELECT stored_seq FROM devices WHERE id = ?")
            .bind(device.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?
            .get(0);
        Ok(seq.max(0) as u64)
    }

    pub(crate) async fn query_metric_impl(
        &self,
        scope: &Scope,
        query: &MetricQuery,
    ) -> Result<Vec<Series>> {
        let sql = format!(
            "SELECT s.id, s.name, s.labels, c.data FROM series s JOIN devices d ON d.id = s.device_id
             LEFT JOIN chunks c ON c.series_id = s.id AND c.end_ts >= ?3 AND c.start_ts <= ?4
             WHERE s.device_id = ?2 AND s.name = ?5 AND {}
             ORDER BY s.id, c.start_ts",
            in_scope(1, "d.org_id", Some("d.site"))
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope_param(scope))
            .bind(query.device_id.to_string())
            .bind(query.from_ms)
            .bind(query.to_ms)
            .bind(&query.name)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let mut by_series: BTreeMap<i64, Series> = BTreeMap::new();
        for row in rows {
            let id: i64 = row.get("id");
            let series = by_series.entry(id).or_insert_with(|| {
                let labels: String = row.get("labels");
                Series {
                    name: row.get("name"),
                    labels: serde_json::from_str(&labels).unwrap_or_default(),
                    samples: Vec::new(),
                }
            });
            if let Some(data) = row.get::<Option<Vec<u8>>, _>("data") {
                let samples = steward_tsdb::decode(&data).map_err(corrupt)?;
                series.samples.extend(
                    samples
                        .into_iter()
                        .filter(|(t, _)| (query.from_ms..=query.to_ms).contains(t)),
                );
            }
        }
        let mut out: Vec<Series> = by_series.into_values().collect();
        for series in &mut out {
            series.samples.sort_by_key(|(t, _)| *t);
        }
        Ok(out)
    }

    /// Folds aged chunks into coarser means (raw → 5 min → hourly) and
    /// drops hourly means past their retention. Each chunk is folded and
    /// deleted in one transaction, a batch of chunks at a time, so the
    /// ingest path is never held up for long.
    pub(crate) async fn apply_retention_impl(
        &self,
        now_ms: i64,
        policy: &Retention,
    ) -> Result<RetentionOutcome> {
        let mut outcome = RetentionOutcome::default();
        for (from, to, keep) in [
            (RAW, FIVE_MINUTES, policy.raw_ms),
            (FIVE_MINUTES, HOURLY, policy.five_minute_ms),
        ] {
            let cutoff = now_ms.saturating_sub(keep);
            loop {
                let mut tx = self.write_tx().await.map_err(backend)?;
                let aged = sqlx::query(
                    "SELECT id, series_id, count, data FROM chunks WHERE resolution = ? AND end_ts < ?
                     ORDER BY series_id, start_ts, id LIMIT 200",
                )
                .bind(from)
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
                if aged.is_empty() {
                    break;
                }
                for chunk in &aged {
                    let samples =
                        steward_tsdb::decode(&chunk.get::<Vec<u8>, _>("data")).map_err(corrupt)?;
                    let means = steward_tsdb::bucket_means(&samples, to);
                    append_many(&mut tx, to, &[(chunk.get("series_id"), means)]).await?;
                    sqlx::query("DELETE FROM chunks WHERE id = ?")
                        .bind(chunk.get::<i64, _>("id"))
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                    outcome.rolled_up += chunk.get::<i64, _>("count").max(0) as u64;
                }
                tx.commit().await.map_err(backend)?;
            }
        }
        let dropped: i64 =
            sqlx::query("DELETE FROM chunks WHERE resolution = ? AND end_ts < ? RETURNING count")
                .bind(HOURLY)
                .bind(now_ms.saturating_sub(policy.hourly_ms))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?
                .iter()
                .map(|row| row.get::<i64, _>(0))
                .sum();
        outcome.dropped = dropped.max(0) as u64;
        Ok(outcome)
    }

    pub(crate) async fn storage_stats_impl(&self) -> Result<StorageStats> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM series), COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(LENGTH(data)), 0) FROM chunks",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        let get = |i: usize| row.get::<i64, _>(i).max(0) as u64;
        Ok(StorageStats {
            series: get(0),
            chunks: get(1),
            samples: get(2),
            chunk_bytes: get(3),
        })
    }
}

/// The id of a series, created when its device has fewer than
/// [`MAX_SERIES_PER_DEVICE`]; None when it does not exist and may not.
async fn series_id(tx: &mut Transaction<'_, Sqlite>, key: &SeriesKey) -> Result<Option<i64>> {
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
async fn append_many(
    tx: &mut Transaction<'_, Sqlite>,
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
