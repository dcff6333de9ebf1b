//! Metric ingest, queries and retention over compressed chunks.
//!
//! Each series' newest chunk stays open: new samples are appended by
//! decoding it, pushing and re-encoding (a chunk is at most
//! [`CHUNK_SAMPLES`] samples, a few hundred bytes), inside the same
//! transaction that advances the device's stored sequence number. What a
//! group of batches changes is planned in `steward_store::ingest`; here it
//! is read and written set-wise (a handful of round trips per group,
//! however many batches and points it holds), with device rows locked in id
//! order so replicas writing for overlapping devices cannot deadlock.

use crate::{PgStore, backend, in_scope, scope_param};
use sqlx::{Postgres, Row, Transaction};
use std::collections::{BTreeMap, HashMap};
use steward_store::*;
use uuid::Uuid;

fn corrupt(error: steward_tsdb::CodecError) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

impl PgStore {
    pub(crate) async fn ingest_impl(&self, batches: &[IngestBatch]) -> Result<Vec<IngestOutcome>> {
        let mut tx = self.write_tx().await.map_err(backend)?;
        let mut ids: Vec<String> = batches.iter().map(|b| b.device_id.to_string()).collect();
        ids.sort();
        ids.dedup();
        let rows = sqlx::query(
            "SELECT id, org_id, stored_seq, revoked FROM devices WHERE id = ANY($1)
             ORDER BY id FOR NO KEY UPDATE",
        )
        .bind(&ids)
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
        if !plan.devices.is_empty() {
            let d = &plan.devices;
            sqlx::query(
                "UPDATE devices d SET stored_seq = u.seq,
                     last_seen = GREATEST(COALESCE(d.last_seen, 0), $6),
                     cpu = COALESCE(u.cpu, d.cpu), mem = COALESCE(u.mem, d.mem),
                     disk = COALESCE(u.disk, d.disk)
                 FROM UNNEST($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[])
                     AS u(id, seq, cpu, mem, disk)
                 WHERE d.id = u.id",
            )
            .bind(d.iter().map(|u| u.device.to_string()).collect::<Vec<_>>())
            .bind(d.iter().map(|u| u.stored_seq).collect::<Vec<_>>())
            .bind(d.iter().map(|u| u.cpu).collect::<Vec<_>>())
            .bind(d.iter().map(|u| u.mem).collect::<Vec<_>>())
            .bind(d.iter().map(|u| u.disk).collect::<Vec<_>>())
            .bind(crate::now_secs())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let keys: Vec<&SeriesKey> = plan.samples.keys().collect();
        let (ids, new_series) = self.series_ids_for(&mut tx, &keys).await?;
        let mut refused = 0u64;
        let appends: Vec<(i64, Vec<(i64, f64)>)> = plan
            .samples
            .into_values()
            .zip(ids)
            .filter_map(|(samples, id)| match id {
                Some(id) => Some((id, samples)),
                None => {
                    refused += samples.len() as u64;
                    None
                }
            })
            .collect();
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

    /// The id of each series in `keys` (in order), creating those that do
    /// not exist yet while their device has fewer than
    /// [`MAX_SERIES_PER_DEVICE`] (None for the rest); also returns the ones
    /// not cached before, to cache once the transaction commits.
    async fn series_ids_for(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        keys: &[&SeriesKey],
    ) -> Result<(Vec<Option<i64>>, Vec<(SeriesKey, i64)>)> {
        let mut ids: Vec<Option<i64>> = match self.series_ids.lock() {
            Ok(cache) => keys.iter().map(|k| cache.get(*k).copied()).collect(),
            Err(_) => vec![None; keys.len()],
        };
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| ids[i].is_none()).collect();
        if missing.is_empty() {
            return Ok((ids, Vec::new()));
        }
        let column =
            |f: fn(&SeriesKey) -> String| missing.iter().map(|&i| f(keys[i])).collect::<Vec<_>>();
        let (devices, names, labels, orgs) = (
            column(|k| k.device.to_string()),
            column(|k| k.name.clone()),
            column(|k| k.labels.clone()),
            column(|k| k.org.to_string()),
        );
        // New series are numbered per device and created while the device
        // stays within the cap (its existing series count first).
        sqlx::query(
            "INSERT INTO series (org_id, device_id, name, labels)
             SELECT k.org_id, k.device_id, k.name, k.labels FROM (
                 SELECT k.*, row_number() OVER (PARTITION BY k.device_id ORDER BY k.i) AS n
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
                     AS k(org_id, device_id, name, labels, i)
                 WHERE NOT EXISTS (SELECT 1 FROM series s
                     WHERE s.device_id = k.device_id AND s.name = k.name AND s.labels = k.labels)
             ) k
             WHERE k.n + (SELECT COUNT(*) FROM series s WHERE s.device_id = k.device_id) <= $5
             ON CONFLICT DO NOTHING",
        )
        .bind(&orgs)
        .bind(&devices)
        .bind(&names)
        .bind(&labels)
        .bind(MAX_SERIES_PER_DEVICE)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        let rows = sqlx::query(
            "SELECT s.id, k.i FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
                 AS k(device_id, name, labels, i)
             JOIN series s ON s.device_id = k.device_id AND s.name = k.name AND s.labels = k.labels",
        )
        .bind(&devices)
        .bind(&names)
        .bind(&labels)
        .fetch_all(&mut **tx)
        .await
        .map_err(backend)?;
        let mut fresh = Vec::with_capacity(rows.len());
        for row in rows {
            let position = usize::try_from(row.get::<i64, _>("i") - 1).ok();
            let Some(&index) = position.and_then(|p| missing.get(p)) else {
                continue;
            };
            let id: i64 = row.get("id");
            ids[index] = Some(id);
            fresh.push((keys[index].clone(), id));
        }
        Ok((ids, fresh))
    }

    pub(crate) async fn stored_seq_impl(&self, device: Uuid) -> Result<u64> {
        let seq: i64 = sqlx::query("SELECT stored_seq FROM devices WHERE id = $1")
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
             LEFT JOIN chunks c ON c.series_id = s.id AND c.end_ts >= $3 AND c.start_ts <= $4
             WHERE s.device_id = $2 AND s.name = $5 AND {}
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
                    "SELECT id, series_id, count, data FROM chunks
                     WHERE resolution = $1 AND start_ts < $2 AND end_ts < $2
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
                let mut means: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
                let mut folded = Vec::with_capacity(aged.len());
                for chunk in &aged {
                    let samples =
                        steward_tsdb::decode(&chunk.get::<Vec<u8>, _>("data")).map_err(corrupt)?;
                    means
                        .entry(chunk.get("series_id"))
                        .or_default()
                        .extend(steward_tsdb::bucket_means(&samples, to));
                    folded.push(chunk.get::<i64, _>("id"));
                    outcome.rolled_up += chunk.get::<i64, _>("count").max(0) as u64;
                }
                let means: Vec<(i64, Vec<(i64, f64)>)> = means.into_iter().collect();
                append_many(&mut tx, to, &means).await?;
                sqlx::query("DELETE FROM chunks WHERE id = ANY($1)")
                    .bind(&folded)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
            }
        }
        let dropped: i64 =
            sqlx::query("DELETE FROM chunks WHERE resolution = $1 AND start_ts < $2 AND end_ts < $2 RETURNING count")
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
            "SELECT (SELECT COUNT(*) FROM series), COUNT(*), COALESCE(SUM(count), 0)::BIGINT, COALESCE(SUM(LENGTH(data)), 0)::BIGINT FROM chunks",
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

/// Appends each series' samples (in order) at one resolution: one read of
/// the open chunks, one update and one insert for the whole group.
async fn append_many(
    tx: &mut Transaction<'_, Postgres>,
    resolution: i64,
    appends: &[(i64, Vec<(i64, f64)>)],
) -> Result<()> {
    if appends.is_empty() {
        return Ok(());
    }
    let series: Vec<i64> = appends.iter().map(|(id, _)| *id).collect();
    let rows = sqlx::query(
        "SELECT DISTINCT ON (series_id) id, series_id, start_ts, end_ts, count, data FROM chunks
         WHERE series_id = ANY($1) AND resolution = $2
         ORDER BY series_id, start_ts DESC, id DESC",
    )
    .bind(&series)
    .bind(resolution)
    .fetch_all(&mut **tx)
    .await
    .map_err(backend)?;
    let mut open: HashMap<i64, OpenChunk> = rows
        .into_iter()
        .map(|row| {
            (
                row.get("series_id"),
                OpenChunk {
                    id: row.get("id"),
                    start_ts: row.get("start_ts"),
                    end_ts: row.get("end_ts"),
                    count: row.get("count"),
                    data: row.get("data"),
                },
            )
        })
        .collect();
    let (mut grown, mut new) = (Vec::new(), Vec::new());
    for (id, samples) in appends {
        for write in plan_appends(open.remove(id), samples).map_err(corrupt)? {
            match write.id {
                Some(chunk) => grown.push((chunk, write)),
                None => new.push((*id, write)),
            }
        }
    }
    if !grown.is_empty() {
        sqlx::query(
            "UPDATE chunks c SET end_ts = u.end_ts, count = u.count, data = u.data
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[]) AS u(id, end_ts, count, data)
             WHERE c.id = u.id",
        )
        .bind(grown.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(grown.iter().map(|(_, w)| w.end_ts).collect::<Vec<_>>())
        .bind(grown.iter().map(|(_, w)| w.count).collect::<Vec<_>>())
        .bind(grown.into_iter().map(|(_, w)| w.data).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    if !new.is_empty() {
        // Rows are numbered in order, so a series' later chunk gets the
        // higher id (the open chunk on a start tie).
        sqlx::query(
            "INSERT INTO chunks (series_id, resolution, start_ts, end_ts, count, data)
             SELECT u.series_id, $6, u.start_ts, u.end_ts, u.count, u.data
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[])
                 WITH ORDINALITY AS u(series_id, start_ts, end_ts, count, data, i)
             ORDER BY u.i",
        )
        .bind(new.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(new.iter().map(|(_, w)| w.start_ts).collect::<Vec<_>>())
        .bind(new.iter().map(|(_, w)| w.end_ts).collect::<Vec<_>>())
        .bind(new.iter().map(|(_, w)| w.count).collect::<Vec<_>>())
        .bind(new.into_iter().map(|(_, w)| w.data).collect::<Vec<_>>())
        .bind(resolution)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}
