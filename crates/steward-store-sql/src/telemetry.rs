//! [`TelemetryStore`] on both databases: the newest sample of each series
//! (the last one of its newest raw chunk), for the Prometheus exposition.

use crate::db::q;
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;

#[async_trait]
impl TelemetryStore for SqlStore {
    async fn latest_samples(
        &self,
        scope: &Scope,
        since_ms: i64,
        after: i64,
        limit: u32,
    ) -> Result<LatestPage> {
        // The newest raw chunk of a series is found through the
        // (series_id, resolution, start_ts) index.
        let sql = format!(
            "SELECT s.id, s.device_id, s.name, s.labels, d.name AS device, d.site, d.tags,
                    o.name AS organisation, c.data
             FROM series s
             JOIN devices d ON d.id = s.device_id
             JOIN orgs o ON o.id = d.org_id
             JOIN chunks c ON c.series_id = s.id AND c.resolution = 0
                  AND c.start_ts = (SELECT MAX(c2.start_ts) FROM chunks c2
                                    WHERE c2.series_id = s.id AND c2.resolution = 0)
             WHERE s.id > $2 AND c.end_ts >= $3 AND NOT d.revoked AND {}
             ORDER BY s.id
             LIMIT $4",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        let rows = q(sql)
            .bind(scope_param(scope))
            .bind(after)
            .bind(since_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        let next = (rows.len() >= limit as usize)
            .then(|| rows.last().map(|row| row.get::<i64, _>("id")))
            .flatten();
        let mut samples = Vec::with_capacity(rows.len());
        for row in rows {
            let series_id: i64 = row.get("id");
            let data: Vec<u8> = row.get("data");
            // A chunk that does not decode leaves its series out (and says
            // so) rather than failing every other series of the scrape.
            let last = match steward_tsdb::decode(&data) {
                Ok(samples) => samples.into_iter().max_by_key(|(t, _)| *t),
                Err(e) => {
                    tracing::warn!(series_id, "A chunk does not decode: {e}");
                    None
                }
            };
            let Some((ts_ms, value)) = last else { continue };
            let labels: String = row.get("labels");
            let tags: String = row.get("tags");
            samples.push(LatestSample {
                series_id,
                device_id: uuid(row.get("device_id"))?,
                device: row.get("device"),
                organisation: row.get("organisation"),
                site: row.get("site"),
                tags: serde_json::from_str(&tags).unwrap_or_default(),
                name: row.get("name"),
                labels: serde_json::from_str(&labels).unwrap_or_default(),
                ts_ms,
                value,
            });
        }
        Ok(LatestPage { samples, next })
    }
}
