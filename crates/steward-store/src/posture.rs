//! Security posture: each device's latest view as the server judged it
//! (score, checks, ports, administrators, files, recent changes and the
//! login history it decides bursts and unusual logins from), one row per
//! device, replaced by each report.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// A device's posture as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostureRecord {
    pub device_id: Uuid,
    pub device_name: String,
    pub site: String,
    /// Weighted share of applicable checks that pass, 0–100; `None` when
    /// no check applies.
    pub score: Option<f64>,
    /// The server's view (`steward_server::posture::State`), as JSON.
    pub detail: serde_json::Value,
    /// When the report holding this view arrived (Unix ms).
    pub updated_at: i64,
}

#[async_trait]
pub trait PostureStore: Send + Sync {
    /// Replaces the device's posture (the gateway's authenticated device).
    async fn save_posture(
        &self,
        device: Uuid,
        org: Uuid,
        score: Option<f64>,
        detail: &serde_json::Value,
        at: i64,
    ) -> Result<()>;
    /// The device's posture; `None` outside the scope or before a report.
    async fn device_posture(&self, scope: &Scope, device: Uuid) -> Result<Option<PostureRecord>>;
    /// Every device's posture within the scope, lowest score first (those
    /// without a score last).
    async fn list_posture(&self, scope: &Scope) -> Result<Vec<PostureRecord>>;
}
