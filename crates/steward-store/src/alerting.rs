//! Alerts, their history and the notification outbox (what raises them
//! and where they go: [`crate::MonitorStore`]).

use crate::*;
use async_trait::async_trait;
use uuid::Uuid;

/// The alerting engine's state.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Records a change: opens, updates or resolves the one active alert of
    /// (monitor, device, subject), appends to its history and, when
    /// `notify`, queues a notification for every matching channel, all in
    /// one transaction. Returns the alert id (None when nothing was active
    /// to resolve).
    async fn record_alert_change(&self, change: &AlertChange) -> Result<Option<Uuid>>;
    async fn list_alerts(&self, scope: &Scope, active_only: bool) -> Result<Vec<AlertRecord>>;
    /// Every alert not resolved of one device, whatever its number (an
    /// evaluator taking the device over starts from these).
    async fn device_open_alerts(&self, device: Uuid) -> Result<Vec<AlertRecord>>;
    async fn alert_history(&self, scope: &Scope, id: Uuid) -> Result<Vec<AlertEventRecord>>;
    async fn acknowledge_alert(&self, scope: &Scope, id: Uuid, by: &str, at: i64) -> Result<()>;
    /// Resolves an alert in scope by hand; answers it as it was before.
    async fn resolve_alert(
        &self,
        scope: &Scope,
        id: Uuid,
        by: &str,
        at: i64,
    ) -> Result<AlertRecord>;
    /// Queues one notification (a grouped one, say) for every channel of
    /// the organisation that takes `severity` and, when `device_tags` is
    /// given (one device's notice), routes by one of those tags.
    async fn enqueue_notification(
        &self,
        org: Uuid,
        alert: Uuid,
        severity: &str,
        device_tags: Option<&[String]>,
        payload: &str,
        at: i64,
    ) -> Result<()>;
    /// How many alerts were kept quiet, by reason.
    async fn suppression_counts(&self, scope: &Scope) -> Result<Vec<(String, u64)>>;
    /// Unsent notifications due at `now`, oldest first.
    async fn due_notifications(&self, now: i64, limit: u32) -> Result<Vec<OutboxItem>>;
    async fn notification_sent(&self, id: i64, at: i64) -> Result<()>;
    /// A delivery failed at `at`: tried again at `next_at`, or given up
    /// (kept, marked undelivered) when that is None.
    async fn notification_failed(
        &self,
        id: i64,
        error: &str,
        next_at: Option<i64>,
        at: i64,
    ) -> Result<()>;
}
