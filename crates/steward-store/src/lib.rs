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

mod records;

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

/// Which organisations a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every organisation (the server's own bookkeeping, the bootstrap admin).
    All,
    Orgs(Vec<Uuid>),
}

impl Scope {
    pub fn allows(&self, org: Uuid) -> bool {
        match self {
            Scope::All => true,
            Scope::Orgs(orgs) => orgs.contains(&org),
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- organisations and people -------------------------------------
    /// The organisation new things land in when none is named; created on
    /// first use.
    async fn default_org(&self) -> Result<Org>;
    async fn org_by_name(&self, scope: &Scope, name: &str) -> Result<Org>;
    async fn user_count(&self) -> Result<u64>;
    async fn create_user(&self, user: &NewUser) -> Result<Uuid>;
    async fn user_by_name(&self, username: &str) -> Result<UserRecord>;
    async fn create_api_token(&self, token: &NewApiToken) -> Result<Uuid>;
    /// The principal behind a token hash, if the token is live at `now`.
    async fn principal_for_token(&self, token_hash: &str, now: i64) -> Result<Principal>;
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    async fn principal_for_session(&self, session_hash: &str, now: i64) -> Result<Principal>;
    async fn delete_session(&self, session_hash: &str) -> Result<()>;

    // --- enrollment -----------------------------------------------------
    async fn create_enroll_token(&self, token: &NewEnrollToken) -> Result<()>;
    /// Spends one use of a live token; refuses expired, revoked and used-up
    /// tokens.
    async fn consume_enroll_token(&self, secret_hash: &str, now: i64) -> Result<EnrollTokenRecord>;
    async fn list_enroll_tokens(&self, scope: &Scope) -> Result<Vec<EnrollTokenRecord>>;
    async fn revoke_enroll_token(&self, scope: &Scope, id: Uuid) -> Result<()>;

    // --- devices --------------------------------------------------------
    async fn create_device(&self, device: &NewDevice) -> Result<()>;
    async fn device_by_fingerprint(&self, fingerprint: &str) -> Result<DeviceAuth>;
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
    async fn set_last_seen(&self, seen: &[(Uuid, i64)]) -> Result<()>;
    /// Every device with its stored status, for the status tracker at start.
    async fn device_statuses(&self) -> Result<Vec<(Uuid, Status)>>;
    async fn status_history(&self, scope: &Scope, device: Uuid) -> Result<Vec<StatusChange>>;

    // --- metrics --------------------------------------------------------
    /// Stores each batch unless its sequence number was stored before, all in
    /// one durable transaction; returns the outcome per batch, in order.
    async fn ingest(&self, batches: &[IngestBatch]) -> Result<Vec<IngestOutcome>>;
    async fn stored_seq(&self, device: Uuid) -> Result<u64>;
    async fn query_metric(&self, scope: &Scope, query: &MetricQuery) -> Result<Vec<Series>>;
    /// Drops whole chunks that end before `before_ms`; returns samples dropped.
    async fn apply_retention(&self, before_ms: i64) -> Result<u64>;
    async fn storage_stats(&self) -> Result<StorageStats>;
}
