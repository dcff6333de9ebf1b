//! Scheduled reports: an organisation's (or one site's) report sent by
//! email weekly or monthly, run under the name of who set it up.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// The cadences a schedule may have.
pub const REPORT_CADENCES: [&str; 2] = ["weekly", "monthly"];

/// A report schedule as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportScheduleRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    /// One site's report; None: the whole organisation's.
    pub site: Option<String>,
    /// `weekly` or `monthly`.
    pub cadence: String,
    /// The email channel whose SMTP relay and sender it uses.
    pub channel_id: Uuid,
    pub recipients: Vec<String>,
    /// Who set it up (or changed it last): it runs as them.
    pub created_by: String,
    pub next_run_at: i64,
    pub last_sent_at: Option<i64>,
    pub last_period: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

#[async_trait]
pub trait ReportScheduleStore: Send + Sync {
    async fn create_report_schedule(&self, schedule: &ReportScheduleRecord) -> Result<()>;
    /// Schedules in scope (organisation-wide rows).
    async fn list_report_schedules(&self, scope: &Scope) -> Result<Vec<ReportScheduleRecord>>;
    async fn get_report_schedule(&self, scope: &Scope, id: Uuid) -> Result<ReportScheduleRecord>;
    /// Replaces site, cadence, channel, recipients, setter and next run;
    /// returns the new version.
    async fn update_report_schedule(
        &self,
        scope: &Scope,
        schedule: &ReportScheduleRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn delete_report_schedule(&self, scope: &Scope, id: Uuid) -> Result<()>;
    /// Every schedule due at `now` (all organisations: the sender's own
    /// bookkeeping).
    async fn due_report_schedules(&self, now: i64) -> Result<Vec<ReportScheduleRecord>>;
    /// Claims a due run: moves `next_run_at` from `due_at` to `next`; false
    /// when another replica did first.
    async fn claim_report_schedule(&self, id: Uuid, due_at: i64, next: i64) -> Result<bool>;
    /// Records how a sending went: `Ok(period)` sent at `at`, or the error.
    async fn record_report_sent(
        &self,
        id: Uuid,
        at: i64,
        outcome: std::result::Result<&str, &str>,
    ) -> Result<()>;
}
