//! Aging infrastructure: each device's latest aging view as the server
//! judged it (OS end of life, uptime, disks with rising SMART counters,
//! the counters compared against next time), one row per device,
//! replaced by each judgement.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// A device's aging view as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgingRecord {
    pub device_id: Uuid,
    pub device_name: String,
    pub site: String,
    /// 0 nothing flagged, 1 a warning, 2 critical.
    pub worst: i64,
    /// The server's view (`steward_server::aging::decide::State`), as JSON.
    pub detail: serde_json::Value,
    /// When it was judged (Unix ms).
    pub updated_at: i64,
}

#[async_trait]
pub trait AgingStore: Send + Sync {
    /// Replaces the device's view (the gateway's authenticated device).
    async fn save_aging(
        &self,
        device: Uuid,
        org: Uuid,
        worst: i64,
        detail: &serde_json::Value,
        at: i64,
    ) -> Result<()>;
    /// The device's view; `None` outside the scope or before a judgement.
    async fn device_aging(&self, scope: &Scope, device: Uuid) -> Result<Option<AgingRecord>>;
    /// Every live device's view within the scope, worst first, then by
    /// name (at most 10,000).
    async fn list_aging(&self, scope: &Scope) -> Result<Vec<AgingRecord>>;
}
