//! The `Store` trait: everything the server keeps, behind one interface so
//! SQLite (embedded default) and PostgreSQL (scale-out) back ends can share
//! one conformance suite.
//!
//! Invariants:
//! - every row belongs to an organisation;
//! - every call that reads or changes tenant data takes the caller's
//!   [`Scope`] and applies it in the query itself;
//! - the device of ingested data is the authenticated device the gateway
//!   passes in, never a field of the payload.

mod alerts;
mod fleet;
mod ingest;
mod jobs;
mod records;

pub use alerts::*;
pub use fleet::*;
pub use ingest::*;
pub use jobs::*;
pub use records::*;

use async_trait::async_trait;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One place in the tenancy tree: an organisation (or every one, `None`)
/// and optionally one site in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Place {
    #[serde(rename = "o")]
    pub org: Option<Uuid>,
    #[serde(rename = "s")]
    pub site: Option<String>,
}

impl Place {
    pub fn covers(&self, org: Uuid, site: Option<&str>) -> bool {
        self.org.is_none_or(|o| o == org) && (self.site.is_none() || self.site.as_deref() == site)
    }
}

/// What a caller may see or touch for one permission: the places allowed,
/// minus the places denied. Store queries apply it in SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Scope {
    #[serde(rename = "a")]
    pub allow: Vec<Place>,
    #[serde(rename = "d")]
    pub deny: Vec<Place>,
}

impl Scope {
    /// Everything (the server's own bookkeeping).
    pub fn all() -> Self {
        Self {
            allow: vec![Place {
                org: None,
                site: None,
            }],
            deny: Vec::new(),
        }
    }

    pub fn org(org: Uuid) -> Self {
        Self {
            allow: vec![Place {
                org: Some(org),
                site: None,
            }],
            deny: Vec::new(),
        }
    }

    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
    }

    /// Whether a row of `org` (and `site`, for rows that have one) is in scope.
    pub fn allows(&self, org: Uuid, site: Option<&str>) -> bool {
        self.allow.iter().any(|p| p.covers(org, site))
            && !self.deny.iter().any(|p| p.covers(org, site))
    }

    /// Whether whole-organisation rows of `org` are in scope (rows without a
    /// site: a site-limited grant does not reach them).
    pub fn allows_org(&self, org: Uuid) -> bool {
        self.allow
            .iter()
            .any(|p| p.site.is_none() && p.org.is_none_or(|o| o == org))
            && !self
                .deny
                .iter()
                .any(|p| p.site.is_none() && p.org.is_none_or(|o| o == org))
    }
}

#[async_trait]
pub trait Store: JobStore + FleetStore + Send + Sync + 'static {
    // --- the database itself --------------------------------------------
    /// Applies pending schema migrations; returns the schema version.
    async fn migrate(&self) -> Result<usize>;
    /// Closes the connections (after the last use).
    async fn close(&self) {}

    // --- organisations and people -------------------------------------
    /// The root (service provider) organisation; created on first use.
    async fn default_org(&self) -> Result<Org>;
    async fn create_org(&self, name: &str) -> Result<Org>;
    async fn org_by_name(&self, scope: &Scope, name: &str) -> Result<Org>;
    async fn list_orgs(&self, scope: &Scope) -> Result<Vec<Org>>;
    async fn set_org_require_totp(&self, scope: &Scope, org: Uuid, require: bool) -> Result<()>;
    async fn user_count(&self) -> Result<u64>;
    async fn create_user(&self, user: &NewUser) -> Result<Uuid>;
    async fn user_by_name(&self, username: &str) -> Result<UserRecord>;
    async fn user_by_id(&self, id: Uuid) -> Result<UserRecord>;
    async fn list_users(&self, scope: &Scope) -> Result<Vec<UserSummary>>;
    async fn set_totp(&self, user: Uuid, secret: Option<&str>, enabled: bool) -> Result<()>;
    async fn replace_recovery_codes(&self, user: Uuid, code_hashes: &[String]) -> Result<()>;
    /// Spends a recovery code; false if unknown or used.
    async fn use_recovery_code(&self, user: Uuid, code_hash: &str, now: i64) -> Result<bool>;
    /// Accepts TOTP time step `step` for `user` if it is later than the
    /// last one accepted (and records it); false for that step or an
    /// earlier one: a code is good once. Conditional, so of replicas
    /// seeing the same code at once only one accepts it.
    async fn claim_totp_step(&self, user: Uuid, step: i64) -> Result<bool>;
    /// Creates or updates a built-in role (organisation-less).
    async fn upsert_builtin_role(&self, role: &RoleRecord) -> Result<()>;
    async fn create_role(&self, role: &RoleRecord) -> Result<()>;
    async fn list_roles(&self, scope: &Scope) -> Result<Vec<RoleRecord>>;
    async fn role(&self, id: &str) -> Result<RoleRecord>;
    async fn create_grant(&self, grant: &NewGrant) -> Result<()>;
    async fn create_api_token(&self, token: &NewApiToken) -> Result<Uuid>;
    async fn list_api_tokens(&self, user: Uuid) -> Result<Vec<ApiTokenSummary>>;
    /// Revokes a token of `user` (or any token when `user` is None).
    async fn revoke_api_token(&self, user: Option<Uuid>, id: Uuid) -> Result<()>;
    /// The principal behind a token hash, if the token is live at `now`.
    /// Its `mfa_done` is false while the user's organisation requires two
    /// factors and the user has not turned TOTP on (the server refuses
    /// such a token).
    async fn principal_for_token(&self, token_hash: &str, now: i64) -> Result<Principal>;
    /// A user's authority as it is now (grants, no token limit): what a
    /// schedule or remediation they set up runs with, looked up at run time.
    async fn principal_for_user(&self, user: Uuid) -> Result<Principal>;
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// The principal behind a session; `mfa_done` is false for a session
    /// that owes its second factor: its user's organisation requires two
    /// factors and the session presented none (decided at every call, so
    /// a requirement applies at once to sessions on every replica).
    async fn principal_for_session(&self, session_hash: &str, now: i64) -> Result<Principal>;
    async fn complete_session_mfa(&self, session_hash: &str) -> Result<()>;
    async fn delete_session(&self, session_hash: &str) -> Result<()>;

    // --- audit ----------------------------------------------------------
    /// Appends an entry, chained to the previous one; returns it.
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry>;
    /// Entries after `after_id`, oldest first, at most `limit`, in scope
    /// (entries without an organisation need an all-organisation scope).
    async fn audit_entries(
        &self,
        scope: &Scope,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    /// Entries before `before_id`, newest first, at most `limit`, in scope.
    async fn audit_recent(
        &self,
        scope: &Scope,
        before_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;

    // --- enrollment -----------------------------------------------------
    async fn create_enroll_token(&self, token: &NewEnrollToken) -> Result<()>;
    /// Spends one use of a live token; refuses expired, revoked and used-up
    /// tokens.
    async fn consume_enroll_token(&self, secret_hash: &str, now: i64) -> Result<EnrollTokenRecord>;
    async fn list_enroll_tokens(&self, scope: &Scope) -> Result<Vec<EnrollTokenRecord>>;
    async fn revoke_enroll_token(&self, scope: &Scope, id: Uuid) -> Result<()>;

    // --- devices --------------------------------------------------------
    async fn create_device(&self, device: &NewDevice) -> Result<()>;
    /// The device whose current or next certificate has this fingerprint.
    async fn device_by_fingerprint(&self, fingerprint: &str) -> Result<DeviceAuth>;
    /// Records a rotated certificate; both work until the device connects
    /// with the new one.
    async fn set_next_fingerprint(&self, device: Uuid, fingerprint: &str) -> Result<()>;
    /// The device connected with its next certificate: the old one stops
    /// working.
    async fn promote_fingerprint(&self, device: Uuid) -> Result<()>;
    async fn list_devices(&self, scope: &Scope) -> Result<Vec<DeviceSummary>>;
    async fn get_device(&self, scope: &Scope, id: Uuid) -> Result<DeviceDetail>;
    async fn revoke_device(&self, scope: &Scope, id: Uuid) -> Result<()>;
    async fn set_inventory(
        &self,
        device: Uuid,
        inventory: &steward_proto::Inventory,
        at: i64,
    ) -> Result<()>;
    /// Records a status change if `to` differs from the stored status.
    async fn set_status(&self, device: Uuid, to: Status, at: i64) -> Result<bool>;
    /// Online → offline, only when the device was last seen before
    /// `seen_before` (by whichever replica holds it): of several replicas
    /// noticing the silence, one makes the transition. True when this call
    /// made it.
    async fn mark_offline_if_stale(&self, device: Uuid, at: i64, seen_before: i64) -> Result<bool>;
    /// Devices stored as online but last seen before `seen_before`.
    async fn stale_online(&self, seen_before: i64) -> Result<Vec<Uuid>>;
    async fn set_last_seen(&self, seen: &[(Uuid, i64)]) -> Result<()>;
    /// Every device with its stored status, for the status tracker at start.
    async fn device_statuses(&self) -> Result<Vec<(Uuid, Status)>>;
    async fn status_history(&self, scope: &Scope, device: Uuid) -> Result<Vec<StatusChange>>;

    /// Sets (or clears) the device this one depends on; both must be in
    /// scope and in the same organisation.
    async fn set_upstream(&self, scope: &Scope, device: Uuid, upstream: Option<Uuid>)
    -> Result<()>;
    /// Every (device, upstream) pair, for the alerting engine.
    async fn upstreams(&self) -> Result<Vec<(Uuid, Uuid)>>;

    // --- local script checks --------------------------------------------
    async fn save_check_results(
        &self,
        device: Uuid,
        org: Uuid,
        results: &[CheckResultRecord],
    ) -> Result<()>;
    async fn check_results(&self, scope: &Scope, device: Uuid) -> Result<Vec<CheckResultRecord>>;

    // --- monitors and alerts --------------------------------------------
    async fn create_monitor(&self, monitor: &MonitorRecord) -> Result<()>;
    async fn list_monitors(&self, scope: &Scope) -> Result<Vec<MonitorRecord>>;
    async fn delete_monitor(&self, scope: &Scope, id: Uuid) -> Result<()>;
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
    async fn resolve_alert(&self, scope: &Scope, id: Uuid, by: &str, at: i64) -> Result<()>;
    async fn create_noise_rule(&self, rule: &NoiseRule) -> Result<()>;
    /// Rules of one kind in scope (all of them with `Scope::all()`).
    async fn list_noise_rules(&self, scope: &Scope, kind: NoiseKind) -> Result<Vec<NoiseRule>>;
    /// Queues one notification (a grouped one, say) for every matching
    /// channel of the organisation.
    async fn enqueue_notification(
        &self,
        org: Uuid,
        alert: Uuid,
        severity: &str,
        payload: &str,
        at: i64,
    ) -> Result<()>;
    async fn create_channel(&self, channel: &ChannelRecord) -> Result<()>;
    async fn list_channels(&self, scope: &Scope) -> Result<Vec<ChannelRecord>>;
    /// How many alerts were kept quiet, by reason.
    async fn suppression_counts(&self, scope: &Scope) -> Result<Vec<(String, u64)>>;
    /// Unsent notifications due at `now`, oldest first.
    async fn due_notifications(&self, now: i64, limit: u32) -> Result<Vec<OutboxItem>>;
    async fn notification_sent(&self, id: i64, at: i64) -> Result<()>;
    async fn notification_failed(&self, id: i64, error: &str, next_at: i64) -> Result<()>;

    // --- metrics --------------------------------------------------------
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

/// The chain hash of an audit entry: SHA-256 over the previous hash and the
/// entry's fields in a fixed order (ids, times and text), hex.
/// The `prev_hash` of the first audit entry.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn audit_hash(entry: &AuditEntry) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!([
        entry.id,
        entry.org_id.map(|o| o.to_string()),
        entry.at,
        entry.actor,
        entry.source,
        entry.action,
        entry.target,
        entry.detail,
    ]);
    let mut hasher = Sha256::new();
    hasher.update(entry.prev_hash.as_bytes());
    hasher.update(canonical.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// Checks a run of audit entries (oldest first, starting at id 1 with the
/// genesis hash): every hash matches its content, every entry chains to the
/// one before, and no id is missing. Returns the first broken id.
pub fn verify_audit_chain(entries: &[AuditEntry], genesis: &str) -> Result<usize, (i64, String)> {
    let mut prev = genesis.to_string();
    for (index, entry) in entries.iter().enumerate() {
        let expected_id = index as i64 + 1;
        if entry.id != expected_id {
            return Err((expected_id, format!("entry {expected_id} is missing")));
        }
        if entry.prev_hash != prev {
            return Err((
                entry.id,
                format!("entry {} does not chain to its predecessor", entry.id),
            ));
        }
        if audit_hash(entry) != entry.hash {
            return Err((entry.id, format!("entry {} was altered", entry.id)));
        }
        prev = entry.hash.clone();
    }
    Ok(entries.len())
}
