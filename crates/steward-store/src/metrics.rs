//! Metric series: ingest, queries, retention.

use crate::*;
use async_trait::async_trait;
use uuid::Uuid;

/// The time-series store.
#[async_trait]
pub trait MetricStore: Send + Sync {
    /// Stores each batch unless its sequence number was stored before, all in
    /// one durable transaction; returns the outcome per batch, in order.
    async fn ingest(&self, batches: &[IngestBatch]) -> Result<Vec<IngestOutcome>>;
    /// How many `ingest` transactions are worth running at once: one where
    /// writers share one lock (SQLite), more where the database writes in
    /// parallel. Callers keep each device's batches on one writer.
    fn ingest_writers(&self) -> usize {
        1
    }
    /// Points this process dropped because their device has
    /// [`MAX_SERIES_PER_DEVICE`] series already.
    fn points_refused(&self) -> u64 {
        0
    }
    async fn stored_seq(&self, device: Uuid) -> Result<u64>;
    async fn query_metric(&self, scope: &Scope, query: &MetricQuery) -> Result<Vec<Series>>;
    /// Drops whole chunks that end before `before_ms`; returns samples dropped.
    async fn apply_retention(&self, now_ms: i64, policy: &Retention) -> Result<RetentionOutcome>;
    async fn storage_stats(&self) -> Result<StorageStats>;
}
