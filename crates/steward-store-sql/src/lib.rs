//! Steward's one data layer: every query of the [`steward_store`] traits,
//! written once, on SQLite (one file in WAL mode, the embedded default) or
//! PostgreSQL (several server replicas on one database).
//!
//! - [`db`]: the seam: a query's SQL and arguments, run on either native
//!   sqlx driver; rows read by the same mapping code on both.
//! - [`dialect`]: the short table of what the two spell differently
//!   (JSON, case-insensitive matching, row locks).
//! - one module per product concept (`people`, `audit`, `devices`,
//!   `alerts`, `metrics`, `jobs`, `fleet`), each the `impl` of its trait:
//!   a feature's storage lives in one room.
//! - what differs in plan, not spelling, each in one named place:
//!   connection set-up and backup (`sqlite`, `postgres`), migrations
//!   (`migrate`, one file set per database, same version numbers), the
//!   metric-ingest hot path (`metrics::ingest_*`).

mod agent_updates;
mod agentless;
mod aging;
mod alerts;
mod audit;
mod backups;
pub mod db;
mod devices;
pub mod dialect;
mod fleet;
mod inbound;
mod inbound_email;
mod incidents;
mod jobs;
mod metrics;
pub mod migrate;
mod monitors;
mod otlp;
mod patch_policies;
mod patching;
mod people;
mod postgres;
mod posture;
mod problems;
mod report_schedules;
mod runbooks;
mod sites;
mod sla;
mod sqlite;
mod tasks;
mod telemetry;
mod tenancy;
pub mod testdb;
mod write_gate;

use async_trait::async_trait;
use db::{Db, Kind};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use steward_store::*;
use uuid::Uuid;

pub use db::Kind as DatabaseKind;

/// The store, on either database.
pub struct SqlStore {
    pub(crate) db: Db,
    /// (device, name, labels) → series id, filled after commits only.
    pub(crate) series_ids: Mutex<HashMap<steward_store::SeriesKey, i64>>,
    /// Points dropped for the per-device series cap.
    pub(crate) points_refused: AtomicU64,
    /// Open raw chunks held decoded between ingest groups.
    pub(crate) heads: metrics::Heads,
    /// Lets alert writes take SQLite's write lock ahead of ingest.
    pub(crate) write_gate: write_gate::WriteGate,
}

impl SqlStore {
    /// A store on an open PostgreSQL pool, as it is (not migrated): for
    /// tools and tests that migrate it themselves. (A SQLite store opens
    /// with [`SqlStore::open_sqlite`] only: its connections need Steward's
    /// collation and `REGEXP`.)
    pub fn on_postgres(pool: sqlx::PgPool) -> Self {
        Self::new(Db::Postgres(pool))
    }

    fn new(db: Db) -> Self {
        Self {
            db,
            series_ids: Mutex::default(),
            points_refused: AtomicU64::new(0),
            heads: metrics::Heads::default(),
            write_gate: write_gate::WriteGate::default(),
        }
    }

    /// Which database this store runs on.
    pub fn kind(&self) -> Kind {
        self.db.kind()
    }

    /// The connection pool, for tests and tools that need raw SQL.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// SQL condition: the row of organisation `org_col` (and site
    /// `site_col`) lies in the scope bound as `$n` ([`scope_param`]).
    pub(crate) fn in_scope(&self, n: u8, org_col: &str, site_col: Option<&str>) -> String {
        dialect::in_scope(self.kind(), n, org_col, site_col)
    }

    /// SQL condition: organisation-wide rows (scripts, schedules) of
    /// `org_col` are readable by any grant in that organisation, a
    /// site-limited one too (a site technician runs the organisation's
    /// scripts on their site).
    pub(crate) fn in_org(&self, n: u8, org_col: &str) -> String {
        dialect::org_in_scope(self.kind(), n, org_col)
    }

    /// Text sorted without regard to case (Unicode, alike on both).
    pub(crate) fn nocase(&self, expr: &str) -> String {
        dialect::nocase(self.kind(), expr)
    }

    /// The rows of `sql`, whose only parameter `$1` is the caller's scope.
    pub(crate) async fn scoped(&self, sql: String, scope: &Scope) -> Result<Vec<db::Row>> {
        db::q(sql)
            .bind(scope_param(scope))
            .fetch_all(&self.db)
            .await
            .map_err(backend)
    }

    /// The rows of `sql`, whose parameters are the caller's scope (`$1`)
    /// and one key (`$2`).
    pub(crate) async fn scoped_by(
        &self,
        sql: String,
        scope: &Scope,
        key: &str,
    ) -> Result<Vec<db::Row>> {
        db::q(sql)
            .bind(scope_param(scope))
            .bind(key)
            .fetch_all(&self.db)
            .await
            .map_err(backend)
    }

    /// Runs a change whose parameters are the caller's scope (`$1`) and one
    /// id (`$2`); "not found" when it touched no row (absent or out of
    /// scope, indistinguishably).
    pub(crate) async fn scoped_change(&self, sql: String, scope: &Scope, id: Uuid) -> Result<()> {
        self.one_changed(db::q(sql).bind(scope_param(scope)).bind(id.to_string()))
            .await
    }

    /// Runs a change that must touch a row: "not found" when it touched
    /// none (absent or out of scope, indistinguishably).
    pub(crate) async fn one_changed(&self, change: db::Q) -> Result<()> {
        let done = change.execute(&self.db).await.map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Runs an edit of one versioned row of `table`: `set` is the `SET`
    /// list (its parameters from `$4`, bound in `values`), `condition` the
    /// scope test on `$1`; `$2` is the id and `$3` the version the caller
    /// read (any when None). Returns the new version; [`StoreError::Stale`]
    /// when the row moved on, "not found" when it is absent or out of
    /// scope (indistinguishably).
    pub(crate) async fn versioned_edit(
        &self,
        table: &str,
        set: &str,
        condition: &str,
        (scope, id, expected): (&Scope, &str, Option<i64>),
        values: Vec<db::Arg>,
    ) -> Result<i64> {
        let mut edit = db::q(format!(
            "UPDATE {table} SET {set}, version = version + 1
             WHERE id = $2 AND {condition} AND ($3 IS NULL OR version = $3) RETURNING version"
        ))
        .bind(scope_param(scope))
        .bind(id)
        .bind(expected);
        for value in values {
            edit = edit.bind(value);
        }
        if let Some(row) = edit.fetch_optional(&self.db).await.map_err(backend)? {
            return Ok(row.get("version"));
        }
        let current = db::q(format!(
            "SELECT version FROM {table} WHERE id = $2 AND {condition}"
        ))
        .bind(scope_param(scope))
        .bind(id)
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        match current {
            Some(row) => Err(StoreError::Stale(row.get("version"))),
            None => Err(StoreError::NotFound),
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> Result<usize> {
        migrate::run(&self.db).await
    }
    async fn close(&self) {
        self.db.close().await
    }
}

pub(crate) fn backend(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

/// Runs `op` again (twice at most) when PostgreSQL aborted it for a
/// deadlock or a serialization conflict with a concurrent transaction
/// (another replica's, say): the transaction rolled back, so a retry is
/// safe. SQLite's one writer never sees either.
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0u64;
    loop {
        match op().await {
            Err(StoreError::Backend(message))
                if attempt < 2
                    && (message.contains("deadlock detected")
                        || message.contains("could not serialize")) =>
            {
                attempt += 1;
                tracing::info!(
                    attempt,
                    "Retrying a transaction PostgreSQL aborted: {message}"
                );
                tokio::time::sleep(Duration::from_millis(10 * attempt)).await;
            }
            other => return other,
        }
    }
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The scope as one bindable JSON value, `{"a": [places], "d": [places]}`,
/// for [`dialect::in_scope`].
pub(crate) fn scope_param(scope: &Scope) -> String {
    serde_json::to_string(scope).unwrap_or_else(|_| r#"{"a":[],"d":[]}"#.into())
}

/// JSON kept as text; what does not parse reads as null.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

pub(crate) fn uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("bad id {text:?}: {e}")))
}
