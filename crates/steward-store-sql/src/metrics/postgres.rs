//! PostgreSQL's metric-ingest hot path: read and written set-wise
//! (`UNNEST` of arrays, a handful of round trips per group however many
//! batches and points it holds), with device rows locked in id order so
//! replicas writing for overlapping devices cannot deadlock. Open raw
//! chunks are held in memory between groups (`heads.rs`): a group reads
//! only the series it does not hold, and writes each series once.

use super::append::{ChunkRows, Grown, append_held};
use crate::db::Row as DbRow;
use crate::{SqlStore, backend};
use async_trait::async_trait;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Row, Transaction};
use steward_store::*;

impl SqlStore {
    pub(super) async fn ingest_postgres(
        &self,
        pool: &PgPool,
        batches: &[IngestBatch],
    ) -> Result<Vec<IngestOutcome>> {
        let mut tx = pool.begin().await.map_err(backend)?;
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
        let devices = super::device_seqs(rows.into_iter().map(crate::db::Row::Postgres));
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
        let (ids, new_series) = series_ids_for(self, &mut tx, &keys).await?;
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
        let held = self.heads.take(appends.iter().map(|(id, _)| *id));
        let heads = append_held(&mut tx, RAW, &appends, held).await?;
        tx.commit().await.map_err(backend)?;
        self.heads.put(heads);
        self.ingested(refused, new_series);
        Ok(plan.outcomes)
    }
}

/// The id of each series in `keys` (in order), creating those that do
/// not exist yet while their device has fewer than
/// [`MAX_SERIES_PER_DEVICE`] (None for the rest); also returns the ones
/// not cached before, to cache once the transaction commits.
async fn series_ids_for(
    store: &SqlStore,
    tx: &mut Transaction<'static, Postgres>,
    keys: &[&SeriesKey],
) -> Result<(Vec<Option<i64>>, Vec<(SeriesKey, i64)>)> {
    let mut ids: Vec<Option<i64>> = match store.series_ids.lock() {
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

#[async_trait]
impl ChunkRows for Transaction<'static, Postgres> {
    async fn read_open(&mut self, series: &[i64], resolution: i64) -> Result<Vec<DbRow>> {
        let rows = sqlx::query(
            "SELECT DISTINCT ON (series_id) id, series_id, start_ts, end_ts, count, data FROM chunks
             WHERE series_id = ANY($1) AND resolution = $2
             ORDER BY series_id, start_ts DESC, id DESC",
        )
        .bind(series)
        .bind(resolution)
        .fetch_all(&mut **self)
        .await
        .map_err(backend)?;
        Ok(rows.into_iter().map(DbRow::Postgres).collect())
    }

    async fn update_grown(&mut self, grown: &[Grown<'_>]) -> Result<Vec<DbRow>> {
        let column = |f: fn(&Grown<'_>) -> i64| grown.iter().map(f).collect::<Vec<_>>();
        let updated = sqlx::query(
            "UPDATE chunks c SET end_ts = u.end_ts, count = u.count, data = u.data
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                 $5::bigint[], $6::bigint[], $7::bytea[])
                 AS u(id, series_id, start_ts, before, end_ts, count, data)
             WHERE c.id = u.id AND c.series_id = u.series_id
                 AND c.start_ts = u.start_ts AND c.count = u.before
             RETURNING c.series_id",
        )
        .bind(column(|g| g.chunk.id.unwrap_or_default()))
        .bind(column(|g| g.series))
        .bind(column(|g| g.chunk.start_ts))
        .bind(column(|g| g.before))
        .bind(column(|g| g.chunk.end_ts))
        .bind(column(|g| g.chunk.count))
        .bind(
            grown
                .iter()
                .map(|g| g.chunk.data.as_slice())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut **self)
        .await
        .map_err(backend)?;
        Ok(updated.into_iter().map(DbRow::Postgres).collect())
    }

    async fn insert_new(
        &mut self,
        resolution: i64,
        new: &[(i64, ChunkWrite)],
    ) -> Result<Vec<DbRow>> {
        // Rows are numbered in order, so a series' later chunk gets the
        // higher id (the open chunk on a start tie).
        let ids = sqlx::query(
            "INSERT INTO chunks (series_id, resolution, start_ts, end_ts, count, data)
             SELECT u.series_id, $6, u.start_ts, u.end_ts, u.count, u.data
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[])
                 WITH ORDINALITY AS u(series_id, start_ts, end_ts, count, data, i)
             ORDER BY u.i
             RETURNING id",
        )
        .bind(new.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(new.iter().map(|(_, w)| w.start_ts).collect::<Vec<_>>())
        .bind(new.iter().map(|(_, w)| w.end_ts).collect::<Vec<_>>())
        .bind(new.iter().map(|(_, w)| w.count).collect::<Vec<_>>())
        .bind(
            new.iter()
                .map(|(_, w)| w.data.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(resolution)
        .fetch_all(&mut **self)
        .await
        .map_err(backend)?;
        Ok(ids.into_iter().map(DbRow::Postgres).collect())
    }
}
