//! Telemetry standards: the fleet's newest samples for the Prometheus
//! exposition (`GET /api/v1/metrics/prometheus`).

use crate::*;
use async_trait::async_trait;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The newest raw sample of one series, with where its device sits.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestSample {
    /// The series' id: the paging key (`after`).
    pub series_id: i64,
    pub device_id: Uuid,
    /// The device's name.
    pub device: String,
    /// The organisation's name.
    pub organisation: String,
    pub site: String,
    pub tags: Vec<String>,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ts_ms: i64,
    pub value: f64,
}

/// One page of [`LatestSample`]s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatestPage {
    pub samples: Vec<LatestSample>,
    /// The `after` of the next page; `None` on the last.
    pub next: Option<i64>,
}

#[async_trait]
pub trait TelemetryStore: Send + Sync {
    /// The newest raw sample of each series of a device in `scope` (not
    /// revoked) whose newest raw chunk ends at or after `since_ms`: series
    /// with an id above `after`, at most `limit`, in id order. A series
    /// whose chunk does not decode is left out (and logged), not an error.
    async fn latest_samples(
        &self,
        scope: &Scope,
        since_ms: i64,
        after: i64,
        limit: u32,
    ) -> Result<LatestPage>;
}
