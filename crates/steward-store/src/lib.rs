//! The `Store` traits: everything the server keeps, one trait per product
//! concept ([`TenancyStore`], [`PeopleStore`], [`AuditStore`], [`DeviceStore`], [`AlertStore`],
//! [`MonitorStore`], [`MetricStore`], [`JobStore`], [`FleetStore`], [`PatchingStore`], [`IncidentStore`], [`ProblemStore`], [`RunbookStore`], [`SlaStore`], [`ReportScheduleStore`], [`InboundEmailStore`]) and [`Store`], all of
//! them; one implementation (`steward-store-sql`) runs them on SQLite
//! (embedded default) and PostgreSQL (scale-out), and one conformance suite
//! checks every method on both.
//!
//! Invariants:
//! - every row belongs to an organisation;
//! - every call that reads or changes tenant data takes the caller's
//!   [`Scope`] and applies it in the query itself;
//! - the device of ingested data is the authenticated device the gateway
//!   passes in, never a field of the payload.

mod agent_updates;
mod agentless;
mod aging;
mod alerting;
mod alerts;
mod audit;
mod backups;
mod devices;
mod fleet;
mod inbound;
mod inbound_email;
mod incidents;
mod ingest;
mod jobs;
mod metrics;
mod monitors;
mod otlp;
mod patch_policies;
mod patching;
mod people;
mod posture;
mod problems;
mod records;
mod report_schedules;
mod runbooks;
mod sla;
mod tasks;
mod telemetry;
mod tenancy;

pub use agent_updates::*;
pub use agentless::*;
pub use aging::*;
pub use alerting::*;
pub use alerts::*;
pub use audit::*;
pub use backups::*;
pub use devices::*;
pub use fleet::*;
pub use inbound::*;
pub use inbound_email::*;
pub use incidents::*;
pub use ingest::*;
pub use jobs::*;
pub use metrics::*;
pub use monitors::*;
pub use otlp::*;
pub use patch_policies::*;
pub use patching::*;
pub use people::*;
pub use posture::*;
pub use problems::*;
pub use records::*;
pub use report_schedules::*;
pub use runbooks::*;
pub use sla::*;
pub use tasks::*;
pub use telemetry::*;
pub use tenancy::*;

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
    /// An edit named a version that is no longer the stored one: someone
    /// changed the object since it was read (the current version).
    #[error("changed since it was read (now version {0})")]
    Stale(i64),
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

    /// Whether the scope covers all of (org, site): for a whole
    /// organisation (`site` None) that is also no deny at any of its sites,
    /// since handing out something organisation-wide hands it out there too.
    pub fn allows_all_of(&self, org: Uuid, site: Option<&str>) -> bool {
        self.allows(org, site)
            && (site.is_some() || !self.deny.iter().any(|p| p.org.is_none_or(|o| o == org)))
    }

    /// This scope narrowed to one organisation: what it allows there, and
    /// nothing elsewhere (a name looked up for a job of `org` must not find
    /// another organisation's row of that name).
    pub fn within_org(&self, org: Uuid) -> Scope {
        Scope {
            allow: self
                .allow
                .iter()
                .filter(|p| p.org.is_none_or(|o| o == org))
                .map(|p| Place {
                    org: Some(org),
                    site: p.site.clone(),
                })
                .collect(),
            deny: self.deny.clone(),
        }
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
pub trait Store:
    TenancyStore
    + PeopleStore
    + AuditStore
    + DeviceStore
    + AlertStore
    + MonitorStore
    + MetricStore
    + JobStore
    + FleetStore
    + PatchingStore
    + BackupStore
    + IncidentStore
    + ProblemStore
    + PatchPolicyStore
    + RunbookStore
    + SlaStore
    + AgentlessStore
    + InboundStore
    + OtlpStore
    + InboundEmailStore
    + ReportScheduleStore
    + TelemetryStore
    + PostureStore
    + AgingStore
    + TaskStore
    + AgentUpdateStore
    + Send
    + Sync
    + 'static
{
    // --- the database itself --------------------------------------------
    /// Applies pending schema migrations; returns the schema version.
    async fn migrate(&self) -> Result<usize>;
    /// Closes the connections (after the last use).
    async fn close(&self) {}
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
