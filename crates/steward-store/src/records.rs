//! The records the store keeps and returns.

use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    /// Bumped by every change (HTTP `ETag`/`If-Match`).
    pub version: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub org_id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub created_at: i64,
    pub full_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    /// The user's organisation requires two-factor sign-in.
    pub org_requires_totp: bool,
    /// Kept, but signs in no more.
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    pub id: Uuid,
    pub org_id: Uuid,
    pub username: String,
    pub totp_enabled: bool,
    pub disabled: bool,
    /// Bumped by every change (HTTP `ETag`/`If-Match`).
    pub version: i64,
    /// What people call them (the username stays the sign-in name).
    pub full_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleRecord {
    pub id: String,
    /// `None` for built-in roles.
    pub org_id: Option<Uuid>,
    pub name: String,
    pub permissions: Vec<String>,
    /// Bumped by every change (HTTP `ETag`/`If-Match`); built-in roles 1.
    pub version: i64,
}

/// A role granted (or denied) to a user at a place.
#[derive(Debug, Clone, Serialize)]
pub struct Grant {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub site: Option<String>,
    pub role_id: String,
    pub permissions: Vec<String>,
    pub deny: bool,
    /// Bumped by every change (HTTP `ETag`/`If-Match`).
    pub version: i64,
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub id: Uuid,
    pub user_id: Uuid,
    pub org_id: Option<Uuid>,
    pub site: Option<String>,
    pub role_id: String,
    pub deny: bool,
}

/// What an API token is limited to (its role at its place).
#[derive(Debug, Clone)]
pub struct TokenLimit {
    pub token_id: Uuid,
    pub permissions: Option<Vec<String>>,
    pub org_id: Option<Uuid>,
    pub site: Option<String>,
    /// The role it is limited to, by id.
    pub role_id: Option<String>,
    /// When it stops working (seconds), if ever.
    pub expires_at: Option<i64>,
}

impl TokenLimit {
    /// Limited to a role, a place or a lifetime: such a token manages only
    /// itself, not its user's other tokens (a short-lived token cannot
    /// revoke or list the long-lived ones).
    pub fn is_restricted(&self) -> bool {
        self.permissions.is_some() || self.org_id.is_some() || self.expires_at.is_some()
    }
}

/// Who is calling: the user's grants, and the token's limit when the call
/// came with an API token. The server turns these into permission checks
/// and [`Scope`]s.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub username: String,
    pub org_id: Uuid,
    pub grants: Vec<Grant>,
    pub token: Option<TokenLimit>,
    /// False for a session that still owes its second factor.
    pub mfa_done: bool,
}

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub role_id: Option<String>,
    pub scope_org: Option<Uuid>,
    pub scope_site: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiTokenSummary {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    pub role_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub session_hash: String,
    pub user_id: Uuid,
    pub created_at: i64,
    pub expires_at: i64,
    /// The sign-in presented a second factor (TOTP or a recovery code), or
    /// the session has set one up since. A session without it is full
    /// only while its user's organisation does not require two factors.
    pub mfa_done: bool,
}

/// One audit entry as written; the store chains it.
#[derive(Debug, Clone, Serialize)]
pub struct NewAuditEntry {
    pub org_id: Option<Uuid>,
    pub at: i64,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub target: String,
    /// JSON: before/after values or other details. Never secrets.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub org_id: Option<Uuid>,
    pub at: i64,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone)]
pub struct NewEnrollToken {
    pub id: Uuid,
    pub org_id: Uuid,
    pub site: String,
    pub tags: Vec<String>,
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub uses_left: Option<u32>,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnrollTokenRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub site: String,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub uses_left: Option<u32>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: Uuid,
    pub org_id: Uuid,
    pub site: String,
    pub name: String,
    pub hostname: String,
    pub tags: Vec<String>,
    pub cert_fingerprint: String,
    pub enrolled_at: i64,
}

/// What the gateway needs to accept a connection.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub id: Uuid,
    pub org_id: Uuid,
    pub revoked: bool,
    /// The fingerprint matched the rotated (next) certificate.
    pub rotated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Online,
    Offline,
    /// An agentless device whose probing agent is offline: its state is
    /// not known (dependency suppression), which is not "down".
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Offline => "offline",
            Status::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Self {
        if text == "online" {
            Status::Online
        } else if text == "unknown" {
            Status::Unknown
        } else {
            Status::Offline
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    pub id: Uuid,
    pub org_id: Uuid,
    pub site: String,
    pub name: String,
    pub hostname: String,
    pub os: String,
    pub tags: Vec<String>,
    pub status: Status,
    pub status_since: Option<i64>,
    pub last_seen: Option<i64>,
    pub revoked: bool,
    pub cpu_utilization: Option<f64>,
    pub memory_utilization: Option<f64>,
    /// The fullest filesystem's utilisation.
    pub disk_utilization: Option<f64>,
    /// Capabilities (scripts, shell, files, actions) the device's local
    /// configuration refuses.
    pub refuses: Vec<String>,
    /// `agent` (enrolled, runs the agent) or `agentless` (checked by
    /// another device's agent: see `AgentlessStore`).
    pub kind: String,
    /// An agentless device's category (switch, printer, website…).
    pub category: Option<String>,
    /// An agentless device's address (host name or IP address).
    pub address: Option<String>,
    /// The agent that probes an agentless device.
    pub probe_agent: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub summary: DeviceSummary,
    pub enrolled_at: i64,
    /// Highest metric batch sequence number stored.
    pub stored_seq: u64,
    pub inventory_at: Option<i64>,
    pub inventory: Option<steward_proto::Inventory>,
    /// Bumped by every edit of its name or site (HTTP `ETag`/`If-Match`).
    pub version: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusChange {
    pub device_id: Uuid,
    pub from: Status,
    pub to: Status,
    pub at: i64,
}

/// One metric batch from an authenticated device.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub device_id: Uuid,
    pub org_id: Uuid,
    pub seq: u64,
    pub ts_ms: i64,
    pub points: Vec<steward_proto::Point>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Stored,
    /// Stored before (same or lower sequence number): acknowledged, not
    /// stored again.
    Duplicate,
    /// The device is unknown or revoked.
    Refused,
}

#[derive(Debug, Clone)]
pub struct MetricQuery {
    pub device_id: Uuid,
    pub name: String,
    pub from_ms: i64,
    pub to_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `(ts_ms, value)` in time order.
    pub samples: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StorageStats {
    pub series: u64,
    pub chunks: u64,
    pub samples: u64,
    pub chunk_bytes: u64,
}

/// A stored monitor; `definition` is the JSON the alerting core reads.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub definition: serde_json::Value,
    /// A disabled monitor is kept but not evaluated.
    pub enabled: bool,
    /// Bumped by every change (1 when created).
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    Maintenance,
    Silence,
}

/// A maintenance window or a silence; `definition` is the JSON the alerting
/// core reads.
#[derive(Debug, Clone, Serialize)]
pub struct NoiseRule {
    pub id: Uuid,
    pub org_id: Uuid,
    #[serde(skip)]
    pub kind: Option<NoiseKind>,
    pub definition: serde_json::Value,
    pub created_by: String,
    pub created_at: i64,
    /// Bumped by every change (1 when created).
    pub version: i64,
}

/// A change computed by the evaluator, to record (and maybe notify).
#[derive(Debug, Clone)]
pub struct AlertChange {
    pub org_id: Uuid,
    pub monitor_id: String,
    pub monitor_name: String,
    pub device_id: Uuid,
    pub subject: String,
    /// "ok" resolves the active alert.
    pub severity: String,
    pub at: i64,
    pub summary: String,
    pub notify: bool,
    pub flapping: bool,
    /// Why no notification goes out (maintenance, silence, dependency,
    /// grouped); recorded on the alert and in its history.
    pub suppressed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub monitor_id: String,
    pub monitor_name: String,
    pub device_id: Uuid,
    pub device_name: String,
    pub subject: String,
    pub state: String,
    pub severity: String,
    pub summary: String,
    pub opened_at: i64,
    pub updated_at: i64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// Who resolved it by hand; None when its condition cleared.
    pub resolved_by: Option<String>,
    pub flapping: bool,
    pub suppressed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertEventRecord {
    pub at: i64,
    pub event: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub kind: String,
    /// Secrets inside are never returned by the API.
    #[serde(skip)]
    pub config: serde_json::Value,
    pub min_severity: String,
    /// A disabled channel is kept but sent nothing.
    pub enabled: bool,
    /// Bumped by every change (1 when created).
    pub version: i64,
    /// Notifications waiting (or retrying) for this channel.
    pub pending: u64,
    /// Notifications given up since the channel last delivered one.
    pub undelivered: u64,
    /// The latest delivery error of a waiting notification, or of one
    /// given up since the last delivery: a failing channel shows here.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub channel: ChannelRecord,
    pub payload: String,
    pub attempts: u32,
    /// When it was queued: retries stop a bound after that.
    pub queued_at: i64,
}

/// The latest result of a device's local script check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResultRecord {
    pub name: String,
    /// ok, warning, critical, unknown.
    pub state: String,
    pub message: String,
    pub long_output: String,
    pub perfdata: serde_json::Value,
    pub at: i64,
}

/// How long metrics are kept at each resolution. Raw samples older than
/// `raw_ms` become 5-minute means; those older than `five_minute_ms` become
/// hourly means; hourly means older than `hourly_ms` are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub raw_ms: i64,
    pub five_minute_ms: i64,
    pub hourly_ms: i64,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: i64 = 24 * 3600 * 1000;
        Self {
            raw_ms: 7 * DAY,
            five_minute_ms: 90 * DAY,
            hourly_ms: 730 * DAY,
        }
    }
}

/// Resolutions of stored metric chunks, in milliseconds (0: raw).
pub const RAW: i64 = 0;
pub const FIVE_MINUTES: i64 = 300_000;
pub const HOURLY: i64 = 3_600_000;

/// What one retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Samples folded into coarser means.
    pub rolled_up: u64,
    /// Hourly means dropped for good.
    pub dropped: u64,
}
