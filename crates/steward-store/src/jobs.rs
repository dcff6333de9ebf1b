//! What the store keeps for automation: scripts with their versions, jobs
//! with one run per target device, schedules. A separate trait so each
//! back end implements it in its own file; [`crate::Store`] requires it.

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct ScriptRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub version: i64,
    /// JSON of `steward_jobs::script::ScriptDef`.
    pub definition: serde_json::Value,
    pub updated_at: i64,
    pub updated_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScriptVersion {
    pub version: i64,
    pub definition: serde_json::Value,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// JSON of the `steward_proto::Action` every run carries.
    pub action: serde_json::Value,
    pub selector: serde_json::Value,
    pub policy: serde_json::Value,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: i64,
    /// `active` or `pending_approval`.
    pub state: String,
    /// What started it: `alert:ID`, `schedule:ID`, or None (a person).
    pub origin: Option<String>,
    /// (run id, device id, initial status, message): refused capabilities
    /// are recorded at once.
    pub runs: Vec<(Uuid, Uuid, String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub action: serde_json::Value,
    pub selector: serde_json::Value,
    pub policy: serde_json::Value,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: i64,
    pub state: String,
    pub approved_by: Option<String>,
    pub origin: Option<String>,
    /// Runs per status.
    pub counts: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run_id: Uuid,
    pub job_id: Uuid,
    pub device_id: Uuid,
    pub device_name: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
    pub message: String,
    pub sent_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<i64>,
}

/// A run still to deliver, with what the order needs.
#[derive(Debug, Clone)]
pub struct PendingRun {
    pub run_id: Uuid,
    pub job_id: Uuid,
    pub device_id: Uuid,
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub action: serde_json::Value,
    pub policy: serde_json::Value,
}

/// What an agent reported about one of its runs.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: Uuid,
    /// The authenticated device that reported it.
    pub device_id: Uuid,
    pub status: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
    pub message: String,
    pub started_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Recorded now.
    Applied,
    /// The run already had its final report; this one changed nothing.
    AlreadyFinal,
    /// No such run for this device.
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// JSON of `steward_jobs::schedule::Timing`.
    pub timing: serde_json::Value,
    /// The job request it creates, as the API takes it.
    pub job: serde_json::Value,
    pub enabled: bool,
    pub next_run_at: i64,
    pub last_run_at: Option<i64>,
    pub created_by: String,
    /// Bumped by every change (1 when created).
    pub version: i64,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Creates the script or stores a new version of it (same organisation
    /// and name); returns the current record. With `expected`, only while
    /// the script is at that version ([`StoreError::Stale`] otherwise); a
    /// save racing another is refused the same way, never lost.
    async fn save_script(
        &self,
        org: Uuid,
        name: &str,
        definition: &serde_json::Value,
        by: &str,
        at: i64,
        expected: Option<i64>,
    ) -> Result<ScriptRecord>;
    async fn list_scripts(&self, scope: &Scope) -> Result<Vec<ScriptRecord>>;
    /// By id or by name (a name found in several organisations is a
    /// conflict: use the id).
    async fn get_script(&self, scope: &Scope, id_or_name: &str) -> Result<ScriptRecord>;
    async fn script_versions(&self, scope: &Scope, id: Uuid) -> Result<Vec<ScriptVersion>>;
    async fn delete_script(&self, scope: &Scope, id: Uuid) -> Result<()>;

    async fn create_job(&self, job: &NewJob) -> Result<()>;
    async fn list_jobs(&self, scope: &Scope, limit: u32) -> Result<Vec<JobRecord>>;
    async fn get_job(&self, scope: &Scope, id: Uuid) -> Result<JobRecord>;
    async fn job_runs(&self, scope: &Scope, job: Uuid) -> Result<Vec<RunRecord>>;
    async fn set_job_state(
        &self,
        scope: &Scope,
        id: Uuid,
        state: &str,
        approved_by: Option<&str>,
    ) -> Result<()>;
    /// Queued or sent runs of active, unexpired jobs, for one device or one
    /// job (oldest first).
    async fn runs_to_send(
        &self,
        device: Option<Uuid>,
        job: Option<Uuid>,
        now: i64,
    ) -> Result<Vec<PendingRun>>;
    async fn mark_sent(&self, runs: &[Uuid], at: i64) -> Result<()>;
    /// Records reports in one transaction; a final status is recorded once.
    async fn apply_run_reports(&self, reports: &[RunReport]) -> Result<Vec<ReportOutcome>>;
    /// Queued runs of jobs whose expiry passed become `expired`; returns the
    /// jobs touched.
    async fn expire_runs(&self, now: i64) -> Result<Vec<Uuid>>;
    /// Queued runs of the job become `cancelled` with `message`.
    async fn cancel_queued(&self, job: Uuid, message: &str, at: i64) -> Result<u64>;
    /// What a file transfer keeps of the file once its caller has it: the
    /// job's action becomes `action` (an upload without its content) and
    /// its runs' standard output `stdout` (a note instead of a download's
    /// content).
    async fn forget_file_content(
        &self,
        job: Uuid,
        action: &serde_json::Value,
        stdout: &str,
    ) -> Result<()>;
    /// The capabilities a device's local configuration refuses.
    async fn set_device_refuses(&self, device: Uuid, refuses: &[String]) -> Result<()>;

    async fn create_schedule(&self, schedule: &ScheduleRecord) -> Result<()>;
    async fn list_schedules(&self, scope: &Scope) -> Result<Vec<ScheduleRecord>>;
    async fn get_schedule(&self, scope: &Scope, id: Uuid) -> Result<ScheduleRecord>;
    /// Replaces the schedule's name, timing, job, enabled flag, next run
    /// and author (who changed it last is who it runs as; the record's id
    /// and scope find it); returns the new version.
    async fn update_schedule(
        &self,
        scope: &Scope,
        schedule: &ScheduleRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn delete_schedule(&self, scope: &Scope, id: Uuid) -> Result<()>;
    async fn due_schedules(&self, now: i64) -> Result<Vec<ScheduleRecord>>;
    /// Claims a due run of a schedule: moves `next_run_at` from `due_at`
    /// (as read) to `next_run_at`. False when another replica claimed it
    /// first; only the claimer creates the job.
    async fn claim_schedule(
        &self,
        id: Uuid,
        due_at: i64,
        ran_at: Option<i64>,
        next_run_at: i64,
    ) -> Result<bool>;

    /// Appends an event (remediation tried, escalated...) to an alert's
    /// history.
    async fn append_alert_event(
        &self,
        alert: Uuid,
        at: i64,
        event: &serde_json::Value,
    ) -> Result<()>;
}
