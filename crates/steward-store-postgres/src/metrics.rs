//! Metric ingest, queries and retention over compressed chunks.
//!
//! Each series' newest chunk stays open: a new sample is appended by
//! decoding it, pushing and re-encoding (a chunk is at most
//! [`CHUNK_SAMPLES`] samples, a few hundred bytes), inside the same
//! transaction that advances the device's stored sequence number.

use crate::{PgStore, backend, in_scope, scope_param};
use sqlx::{Postgres, Row, Transaction};
use std::collections::BTreeMap;
use steward_store::*;
use uuid::Uuid;

/// Samples per chunk before a new one is started (2 h at 60 s).
pub const CHUNK_SAMPLES: i64 = 120;

fn corrupt(error: steward_tsdb::CodecError) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// The headline figures shown in device lists, taken from a batch.
fn headline(points: &[steward_proto::Point]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let find = |name: &str| points.iter().find(|p| p.name == name).map(|p| p.value);
    let disk = points
        .iter()
        .filter(|p| p.name == "system.filesystem.utilization")
        .map(|p| p.value)
        .fold(None, |max: Option<f64>, v| {
            Some(max.map_or(v, |m| m.max(v)))
        });
    (
        find("system.cpu.utilization"),
        find("system.memory.utilization"),
        disk,
    )
}

impl PgStore {
    pub(crate) async fn ingest_impl(&self, batches: &[IngestBatch]) -> Result<Vec<IngestOutcome>> {
        let mut tx = self.write_tx().await.map_err(backend)?;
        let mut outcomes = Vec::with_capacity(batches.len());
        let mut new_series = Vec::new();
        for batch in batches {
            let outcome = self.ingest_one(&mut tx, batch, &mut new_series).await?;
            outcomes.push(outcome);
        }
        tx.commit().await.map_err(backend)?;
        if let Ok(mut cache) = self.series_ids.lock() {
            cache.extend(new_series);
        }
        Ok(outcomes)
    }

    async fn ingest_one(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        batch: &IngestBatch,
        new_series: &mut Vec<((Uuid, String, String), i64)>,
    ) -> Result<IngestOutcome> {
        let device = batch.device_id.to_string();
        let row = sqlx::query(
            "SELECT stored_seq, revoked FROM devices WHERE id = $1 AND org_id = $2 FOR NO KEY UPDATE",
        )
        .bind(&device)
        .bind(batch.org_id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(IngestOutcome::Refused);
        };
        let stored: i64 = row.get("stored_seq");
        if row.get::<bool, _>("revoked") {
            return Ok(IngestOutcome::Refused);
        }
        let seq = i64::try_from(batch.seq).unwrap_or(i64::MAX);
        if seq <= stored {
            return Ok(IngestOutcome::Duplicate);
        }
        for point in &batch.points {
            let labels = serde_json::to_string(&point.labels).unwrap_or_else(|_| "{}".into());
            let key = (batch.device_id, point.name.clone(), labels);
            let cached = self
                .series_ids
                .lock()
                .ok()
                .and_then(|c| c.get(&key).copied());
            let series = match cached.or_else(|| {
                new_series
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, id)| *id)
            }) {
                Some(id) => id,
                None => {
                    let id = series_id(tx, batch, &key.1, &key.2).await?;
                    new_series.push((key, id));
                    id
                }
            };
            append_sample(tx, series, RAW, batch.ts_ms, point.value).await?;
        }
        let (cpu, mem, disk) = headline(&batch.points);
        sqlx::query(
            "UPDATE devices SET stored_seq = $1, last_seen = GREATEST(COALESCE(last_seen, 0), $2),
                 cpu = COALESCE($3, cpu), mem = COALESCE($4, mem), disk = COALESCE($5, disk)
             WHERE id = $6",
        )
        .bind(seq)
        .bind(crate::now_secs())
        .bind(cpu)
        .bind(mem)
        .bind(disk)
        .bind(&device)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        Ok(IngestOutcome::Stored)
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
                    "SELECT id, series_id, count, data FROM chunks WHERE resolution = $1 AND end_ts < $2
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
                    let series: i64 = chunk.get("series_id");
                    for (ts, mean) in steward_tsdb::bucket_means(&samples, to) {
                        append_sample(&mut tx, series, to, ts, mean).await?;
                    }
                    sqlx::query("DELETE FROM chunks WHERE id = $1")
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
            sqlx::query("DELETE FROM chunks WHERE resolution = $1 AND end_ts < $2 RETURNING count")
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

async fn series_id(
    tx: &mut Transaction<'_, Postgres>,
    batch: &IngestBatch,
    name: &str,
    labels: &str,
) -> Result<i64> {
    let device = batch.device_id.to_string();
    sqlx::query("INSERT INTO series (org_id, device_id, name, labels) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(batch.org_id.to_string())
        .bind(&device)
        .bind(name)
        .bind(labels)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    let id: i64 =
        sqlx::query("SELECT id FROM series WHERE device_id = $1 AND name = $2 AND labels = $3")
            .bind(&device)
            .bind(name)
            .bind(labels)
            .fetch_one(&mut **tx)
            .await
            .map_err(backend)?
            .get(0);
    Ok(id)
}

/// Appends to the series' open chunk, or starts a new one when it is full or
/// the sample is older than its end.
async fn append_sample(
    tx: &mut Transaction<'_, Postgres>,
    series: i64,
    resolution: i64,
    ts: i64,
    value: f64,
) -> Result<()> {
    let open = sqlx::query(
        "SELECT id, end_ts, count, data FROM chunks WHERE series_id = $1 AND resolution = $2 ORDER BY start_ts DESC, id DESC LIMIT 1",
    )
    .bind(series)
    .bind(resolution)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    if let Some(row) = open {
        let count: i64 = row.get("count");
        let end: i64 = row.get("end_ts");
        if count < CHUNK_SAMPLES && ts >= end {
            let mut samples =
                steward_tsdb::decode(&row.get::<Vec<u8>, _>("data")).map_err(corrupt)?;
            samples.push((ts, value));
            let data = steward_tsdb::encode(&samples).map_err(corrupt)?;
            sqlx::query("UPDATE chunks SET end_ts = $1, count = $2, data = $3 WHERE id = $4")
                .bind(ts)
                .bind(samples.len() as i64)
                .bind(data)
                .bind(row.get::<i64, _>("id"))
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            return Ok(());
        }
    }
    let data = steward_tsdb::encode(&[(ts, value)]).map_err(corrupt)?;
    sqlx::query(
        "INSERT INTO chunks (series_id, resolution, start_ts, end_ts, count, data) VALUES ($1, $2, $3, $4, 1, $5)",
    )
    .bind(series)
    .bind(resolution)
    .bind(ts)
    .bind(ts)
    .bind(data)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}
