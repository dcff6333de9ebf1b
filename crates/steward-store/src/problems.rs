//! Problems: recurring incidents found by the problem rules
//! (`steward_incident::problems`), one record per organisation, signature
//! and rule kind, with what people learn of them (root cause, workaround,
//! permanent fix, known error).

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// A problem as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    /// What recurs (a monitor's id).
    pub signature: String,
    /// `spread` or `repeat`.
    pub rule_kind: String,
    /// The rule that found it, as JSON.
    pub rule: serde_json::Value,
    /// `open`, `known_error` or `resolved`.
    pub status: String,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub devices: Vec<Uuid>,
    pub incidents: Vec<Uuid>,
    pub root_cause: Option<String>,
    pub workaround: Option<String>,
    pub fix: Option<String>,
    pub known_error: bool,
    pub resolved_at: Option<i64>,
    /// Bumped by every change (1 when created).
    pub version: i64,
}

/// One alert as problem rules see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertOccurrence {
    pub org_id: Uuid,
    pub monitor_id: String,
    pub device_id: Uuid,
    pub at: i64,
    /// The incident it joined, if any.
    pub incident_id: Option<Uuid>,
}

/// An organisation's problem rules, as an administrator set them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemRulesRecord {
    pub org_id: Uuid,
    /// The rules (`steward_incident::problems::Rule`), as JSON.
    pub rules: serde_json::Value,
    pub updated_by: String,
    pub updated_at: i64,
    /// Bumped by every save (1 after the first).
    pub version: i64,
}

#[async_trait]
pub trait ProblemStore: Send + Sync {
    /// Alerts opened at or after `since`, every organisation (the
    /// server's own bookkeeping), oldest first.
    async fn alert_occurrences(&self, since: i64) -> Result<Vec<AlertOccurrence>>;
    /// Stores what the rules found: a new record, or the one of the same
    /// organisation, signature and rule kind with its count, times,
    /// devices, incidents, status and resolve time replaced (what people
    /// wrote stays); bumps its version.
    async fn save_problem(&self, problem: &ProblemRecord) -> Result<()>;
    /// Problems in scope, most recently seen first.
    async fn list_problems(&self, scope: &Scope) -> Result<Vec<ProblemRecord>>;
    async fn get_problem(&self, scope: &Scope, id: Uuid) -> Result<ProblemRecord>;
    /// Replaces what people edit (status, root cause, workaround, fix,
    /// known error, resolve time); returns the new version.
    async fn update_problem(
        &self,
        scope: &Scope,
        problem: &ProblemRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// The problem rules organisations set, in scope (organisation-wide
    /// rows), by organisation.
    async fn list_problem_rules(&self, scope: &Scope) -> Result<Vec<ProblemRulesRecord>>;
    /// Saves an organisation's rules if its version is still `expected`
    /// (0: none saved yet; None: any); returns the new version, or
    /// [`crate::StoreError::Stale`] with the current one.
    async fn save_problem_rules(
        &self,
        rules: &ProblemRulesRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
}
