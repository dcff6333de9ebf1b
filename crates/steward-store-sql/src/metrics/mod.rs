//! Metric ingest, queries and retention over compressed chunks.
//!
//! Each series' newest chunk stays open: new samples are appended to it
//! and it is re-encoded (a chunk is at most [`CHUNK_SAMPLES`] samples, a
//! few hundred bytes), inside the same transaction that advances the
//! device's stored sequence number. The writer holds open raw chunks
//! decoded in memory between groups (`heads.rs`), so appending reads
//! nothing and each series is written once per group. What a
//! group of batches changes is planned in `steward_store::ingest`; the
//! appending is written once (`append.rs`: a read, an update and an
//! insert for the whole group), its three statements in each database's
//! dialect (`sqlite.rs`: `json_each`; `postgres.rs`: arrays), as are the
//! device and series steps around it. Queries and retention are written
//! once here.

mod append;
mod heads;
mod postgres;
mod sqlite;

pub(crate) use heads::Heads;

use crate::db::{Db, Row, Tx, q};
use crate::{SqlStore, backend, scope_param};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use steward_store::*;
use uuid::Uuid;

fn corrupt(error: steward_tsdb::CodecError) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// Ingest transactions a PostgreSQL replica runs at once: one writer
/// connection keeps one PostgreSQL backend busy (steward-bench replicas:
/// 0.5–0.7 cores with the machine half idle); four of the pool's 16
/// connections let a replica use the database's parallelism, the rest stay
/// for the API and sweeps. SQLite has one writer.
const PG_INGEST_WRITERS: usize = 4;

impl SqlStore {
    /// After an ingest commits: counts the points refused for the series
    /// cap and caches the series it created.
    fn ingested(&self, refused: u64, new_series: Vec<(SeriesKey, i64)>) {
        if refused > 0 {
            self.points_refused
                .fetch_add(refused, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(
                points = refused,
                cap = MAX_SERIES_PER_DEVICE,
                "Dropped points of new series beyond the per-device cap."
            );
        }
        if let Ok(mut cache) = self.series_ids.lock() {
            cache.extend(new_series);
        }
    }
}

/// The devices of an ingest group as `SELECT id, org_id, stored_seq,
/// revoked` read them (rows of other ids are skipped).
fn device_seqs(rows: impl Iterator<Item = Row>) -> HashMap<Uuid, DeviceSeq> {
    rows.filter_map(|row| {
        let (id, org) = (row.get("id"), row.get("org_id"));
        DeviceSeq::from_row(id, org, row.get("stored_seq"), row.get("revoked"))
    })
    .collect()
}

/// Appends each series' samples (in order) at one resolution, in the
/// transaction's database.
async fn append_many(
    tx: &mut Tx,
    resolution: i64,
    appends: &[(i64, Vec<(i64, f64)>)],
) -> Result<()> {
    let none = HashMap::new();
    match tx {
        Tx::Sqlite(tx) => append::append_held(tx, resolution, appends, none).await?,
        Tx::Postgres(tx) => append::append_held(tx, resolution, appends, none).await?,
    };
    Ok(())
}

#[async_trait]
impl MetricStore for SqlStore {
    async fn ingest(&self, batches: &[IngestBatch]) -> Result<Vec<IngestOutcome>> {
        match &self.db {
            Db::Sqlite(pool) => self.ingest_sqlite(pool, batches).await,
            // Another replica's transaction may deadlock with this one; the
            // loser rolled back whole, so it is safe to run again.
            Db::Postgres(pool) => crate::retrying(|| self.ingest_postgres(pool, batches)).await,
        }
    }

    fn ingest_writers(&self) -> usize {
        match self.db {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => PG_INGEST_WRITERS,
        }
    }

    fn points_refused(&self) -> u64 {
        self.points_refused
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn stored_seq(&self, device: Uuid) -> Result<u64> {
        let seq: i64 = q("SELECT stored_seq FROM devices WHERE id = $1")
            .bind(device.to_string())
            .fetch_one(&self.db)
            .await
            .map_err(backend)?
            .get(0);
        Ok(seq.max(0) as u64)
    }

    async fn query_metric(&self, scope: &Scope, query: &MetricQuery) -> Result<Vec<Series>> {
        let sql = format!(
            "SELECT s.id, s.name, s.labels, c.data FROM series s JOIN devices d ON d.id = s.device_id
             LEFT JOIN chunks c ON c.series_id = s.id AND c.end_ts >= $3 AND c.start_ts <= $4
             WHERE s.device_id = $2 AND s.name = $5 AND {}
             ORDER BY s.id, c.start_ts",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        let rows = q(sql)
            .bind(scope_param(scope))
            .bind(query.device_id.to_string())
            .bind(query.from_ms)
            .bind(query.to_ms)
            .bind(&query.name)
            .fetch_all(&self.db)
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
    async fn apply_retention(&self, now_ms: i64, policy: &Retention) -> Result<RetentionOutcome> {
        let mut outcome = RetentionOutcome::default();
        for (from, to, keep) in [
            (RAW, FIVE_MINUTES, policy.raw_ms),
            (FIVE_MINUTES, HOURLY, policy.five_minute_ms),
        ] {
            let cutoff = now_ms.saturating_sub(keep);
            loop {
                let mut tx = self.db.begin().await.map_err(backend)?;
                let aged = q("SELECT id, series_id, count, data FROM chunks
                     WHERE resolution = $1 AND start_ts < $2 AND end_ts < $2
                     ORDER BY series_id, start_ts, id LIMIT 200")
                .bind(from)
                .bind(cutoff)
                .fetch_all(&mut tx)
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
                let kind = self.kind();
                q(format!(
                    "DELETE FROM chunks WHERE id IN (SELECT CAST({} AS BIGINT) FROM {})",
                    crate::dialect::element_text(kind, "e"),
                    crate::dialect::json_elements(kind, "$1", None, "e")
                ))
                .bind(serde_json::to_string(&folded).unwrap_or_else(|_| "[]".into()))
                .execute(&mut tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
            }
        }
        let dropped: i64 =
            q("DELETE FROM chunks WHERE resolution = $1 AND start_ts < $2 AND end_ts < $2 RETURNING count")
                .bind(HOURLY)
                .bind(now_ms.saturating_sub(policy.hourly_ms))
                .fetch_all(&self.db)
                .await
                .map_err(backend)?
                .iter()
                .map(|row| row.get::<i64, _>(0))
                .sum();
        outcome.dropped = dropped.max(0) as u64;
        Ok(outcome)
    }

    async fn storage_stats(&self) -> Result<StorageStats> {
        let row = q(
            "SELECT (SELECT COUNT(*) FROM series), COUNT(*), CAST(COALESCE(SUM(count), 0) AS BIGINT), CAST(COALESCE(SUM(LENGTH(data)), 0) AS BIGINT) FROM chunks",
        )
        .fetch_one(&self.db)
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
