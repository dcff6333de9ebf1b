//! PostgreSQL implementation of [`steward_store::Store`], for several
//! server replicas on one database. The same tables and the same query
//! shapes as the SQLite store (JSON in TEXT columns, cast to jsonb where SQL
//! looks inside); one migration set of its own in `migrations/`, applied
//! under an advisory lock so replicas starting together migrate once.

mod alerts;
pub mod audit;
mod devices;
mod fleet;
mod jobs;
mod metrics;
mod people;
pub mod testdb;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;
use steward_store::*;
use uuid::Uuid;

/// Migrations in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_schema.sql"),
    include_str!("../migrations/0002_rollups.sql"),
    include_str!("../migrations/0003_hot_chunks.sql"),
    include_str!("../migrations/0004_signin.sql"),
];

/// Advisory lock keys (arbitrary, fixed).
const MIGRATION_LOCK: i64 = 0x5354_5744_0001;
pub(crate) const AUDIT_LOCK: i64 = 0x5354_5744_0002;

pub struct PgStore {
    pool: PgPool,
    /// (device, name, labels) → series id, filled after commits only.
    series_ids: Mutex<HashMap<steward_store::SeriesKey, i64>>,
    /// Points dropped for the per-device series cap.
    points_refused: std::sync::atomic::AtomicU64,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and migrates the
    /// database.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Refused(format!("bad database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = Self {
            pool,
            series_ids: Mutex::default(),
            points_refused: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations; returns the schema version.
    pub async fn migrate(&self) -> Result<usize> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let current: i64 =
            sqlx::query("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?
                .get(0);
        if current as usize > MIGRATIONS.len() {
            return Err(StoreError::Refused(format!(
                "database schema version {current} is newer than this build ({}); upgrade Steward",
                MIGRATIONS.len()
            )));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(index as i64 + 1)
                .bind(now_secs())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(MIGRATIONS.len())
    }

    /// A write transaction. PostgreSQL takes row locks as it goes; the
    /// places that read and then write take theirs explicitly
    /// (`FOR NO KEY UPDATE`, which foreign-key checks do not wait for; an
    /// advisory lock for the audit chain).
    pub(crate) async fn write_tx(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// The rows of `sql`, whose only parameter `$1` is the caller's scope
    /// (see [`in_scope`]).
    pub(crate) async fn scoped(
        &self,
        sql: String,
        scope: &Scope,
    ) -> Result<Vec<sqlx::postgres::PgRow>> {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope_param(scope))
            .fetch_all(&self.pool)
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
    ) -> Result<Vec<sqlx::postgres::PgRow>> {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope_param(scope))
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    /// Runs a change whose parameters are the caller's scope (`$1`) and one
    /// id (`$2`); "not found" when it touched no row (absent or out of
    /// scope, indistinguishably).
    pub(crate) async fn scoped_change(&self, sql: String, scope: &Scope, id: Uuid) -> Result<()> {
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope_param(scope))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The connection pool (operations and tests that need raw SQL).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
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

/// Runs `op` again (twice at most) when PostgreSQL aborted it to break a
/// deadlock or a serialization conflict with a concurrent transaction
/// (another replica's, say): the transaction rolled back, so a retry is
/// safe.
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

/// The scope as one bindable JSON text, `{"a": [places], "d": [places]}`,
/// for [`in_scope`].
pub(crate) fn scope_param(scope: &Scope) -> String {
    serde_json::to_string(scope).unwrap_or_else(|_| r#"{"a":[],"d":[]}"#.into())
}

/// SQL condition: the row whose organisation is `org_col` (and site
/// `site_col`, for tables that have one) lies in the scope bound as `$n`.
/// Rows without a site are reached only by grants without a site.
pub(crate) fn in_scope(n: u8, org_col: &str, site_col: Option<&str>) -> String {
    let site = match site_col {
        Some(col) => format!("(sp->>'s' IS NULL OR sp->>'s' = {col})"),
        None => "sp->>'s' IS NULL".to_string(),
    };
    let place = format!("(sp->>'o' IS NULL OR sp->>'o' = {org_col}) AND {site}");
    format!(
        "(EXISTS (SELECT 1 FROM jsonb_array_elements(${n}::jsonb->'a') sp WHERE {place}) AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(${n}::jsonb->'d') sp WHERE {place}))"
    )
}

pub(crate) fn uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("bad id {text:?}: {e}")))
}

/// Ingest transactions a replica runs at once: one writer connection keeps
/// one PostgreSQL backend busy (steward-bench replicas: 0.5–0.7 cores with
/// the machine half idle); four of the pool's 16 connections let a replica
/// use the database's parallelism, the rest stay for the API and sweeps.
const INGEST_WRITERS: usize = 4;

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<usize> {
        PgStore::migrate(self).await
    }
    async fn close(&self) {
        PgStore::close(self).await
    }
    async fn default_org(&self) -> Result<Org> {
        self.default_org_impl().await
    }
    async fn create_org(&self, name: &str) -> Result<Org> {
        self.create_org_impl(name).await
    }
    async fn org_by_name(&self, scope: &Scope, name: &str) -> Result<Org> {
        self.org_by_name_impl(scope, name).await
    }
    async fn list_orgs(&self, scope: &Scope) -> Result<Vec<Org>> {
        self.list_orgs_impl(scope).await
    }
    async fn set_org_require_totp(&self, scope: &Scope, org: Uuid, require: bool) -> Result<()> {
        self.set_org_require_totp_impl(scope, org, require).await
    }
    async fn user_count(&self) -> Result<u64> {
        self.user_count_impl().await
    }
    async fn create_user(&self, user: &NewUser) -> Result<Uuid> {
        self.create_user_impl(user).await
    }
    async fn user_by_name(&self, username: &str) -> Result<UserRecord> {
        self.user_by_name_impl(username).await
    }
    async fn user_by_id(&self, id: Uuid) -> Result<UserRecord> {
        self.user_by_id_impl(id).await
    }
    async fn list_users(&self, scope: &Scope) -> Result<Vec<UserSummary>> {
        self.list_users_impl(scope).await
    }
    async fn set_totp(&self, user: Uuid, secret: Option<&str>, enabled: bool) -> Result<()> {
        self.set_totp_impl(user, secret, enabled).await
    }
    async fn replace_recovery_codes(&self, user: Uuid, code_hashes: &[String]) -> Result<()> {
        self.replace_recovery_codes_impl(user, code_hashes).await
    }
    async fn use_recovery_code(&self, user: Uuid, code_hash: &str, now: i64) -> Result<bool> {
        self.use_recovery_code_impl(user, code_hash, now).await
    }
    async fn claim_totp_step(&self, user: Uuid, step: i64) -> Result<bool> {
        self.claim_totp_step_impl(user, step).await
    }
    async fn upsert_builtin_role(&self, role: &RoleRecord) -> Result<()> {
        self.upsert_builtin_role_impl(role).await
    }
    async fn create_role(&self, role: &RoleRecord) -> Result<()> {
        self.create_role_impl(role).await
    }
    async fn list_roles(&self, scope: &Scope) -> Result<Vec<RoleRecord>> {
        self.list_roles_impl(scope).await
    }
    async fn role(&self, id: &str) -> Result<RoleRecord> {
        self.role_impl(id).await
    }
    async fn create_grant(&self, grant: &NewGrant) -> Result<()> {
        self.create_grant_impl(grant).await
    }
    async fn create_api_token(&self, token: &NewApiToken) -> Result<Uuid> {
        self.create_api_token_impl(token).await
    }
    async fn list_api_tokens(&self, user: Uuid) -> Result<Vec<ApiTokenSummary>> {
        self.list_api_tokens_impl(user).await
    }
    async fn revoke_api_token(&self, user: Option<Uuid>, id: Uuid) -> Result<()> {
        self.revoke_api_token_impl(user, id).await
    }
    async fn principal_for_token(&self, token_hash: &str, now: i64) -> Result<Principal> {
        self.principal_for_token_impl(token_hash, now).await
    }
    async fn principal_for_user(&self, user: Uuid) -> Result<Principal> {
        self.principal_for_user_impl(user).await
    }
    async fn create_session(&self, session: &NewSession) -> Result<()> {
        self.create_session_impl(session).await
    }
    async fn principal_for_session(&self, session_hash: &str, now: i64) -> Result<Principal> {
        self.principal_for_session_impl(session_hash, now).await
    }
    async fn complete_session_mfa(&self, session_hash: &str) -> Result<()> {
        self.complete_session_mfa_impl(session_hash).await
    }
    async fn delete_session(&self, session_hash: &str) -> Result<()> {
        self.delete_session_impl(session_hash).await
    }
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry> {
        self.append_audit_impl(entry).await
    }
    async fn audit_entries(
        &self,
        scope: &Scope,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.audit_entries_impl(scope, after_id, limit).await
    }
    async fn audit_recent(
        &self,
        scope: &Scope,
        before_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.audit_recent_impl(scope, before_id, limit).await
    }
    async fn create_enroll_token(&self, token: &NewEnrollToken) -> Result<()> {
        self.create_enroll_token_impl(token).await
    }
    async fn consume_enroll_token(&self, secret_hash: &str, now: i64) -> Result<EnrollTokenRecord> {
        self.consume_enroll_token_impl(secret_hash, now).await
    }
    async fn list_enroll_tokens(&self, scope: &Scope) -> Result<Vec<EnrollTokenRecord>> {
        self.list_enroll_tokens_impl(scope).await
    }
    async fn revoke_enroll_token(&self, scope: &Scope, id: Uuid) -> Result<()> {
        self.revoke_enroll_token_impl(scope, id).await
    }
    async fn create_device(&self, device: &NewDevice) -> Result<()> {
        self.create_device_impl(device).await
    }
    async fn device_by_fingerprint(&self, fingerprint: &str) -> Result<DeviceAuth> {
        self.device_by_fingerprint_impl(fingerprint).await
    }
    async fn set_next_fingerprint(&self, device: Uuid, fingerprint: &str) -> Result<()> {
        self.set_next_fingerprint_impl(device, fingerprint).await
    }
    async fn promote_fingerprint(&self, device: Uuid) -> Result<()> {
        self.promote_fingerprint_impl(device).await
    }
    async fn list_devices(&self, scope: &Scope) -> Result<Vec<DeviceSummary>> {
        self.list_devices_impl(scope).await
    }
    async fn get_device(&self, scope: &Scope, id: Uuid) -> Result<DeviceDetail> {
        self.get_device_impl(scope, id).await
    }
    async fn revoke_device(&self, scope: &Scope, id: Uuid) -> Result<()> {
        self.revoke_device_impl(scope, id).await
    }
    async fn set_inventory(
        &self,
        device: Uuid,
        inventory: &steward_proto::Inventory,
        at: i64,
    ) -> Result<()> {
        self.set_inventory_impl(device, inventory, at).await
    }
    async fn set_status(&self, device: Uuid, to: Status, at: i64) -> Result<bool> {
        self.set_status_impl(device, to, at).await
    }
    async fn mark_offline_if_stale(&self, device: Uuid, at: i64, seen_before: i64) -> Result<bool> {
        self.mark_offline_if_stale_impl(device, at, seen_before)
            .await
    }
    async fn stale_online(&self, seen_before: i64) -> Result<Vec<Uuid>> {
        self.stale_online_impl(seen_before).await
    }
    async fn set_last_seen(&self, seen: &[(Uuid, i64)]) -> Result<()> {
        self.set_last_seen_impl(seen).await
    }
    async fn device_statuses(&self) -> Result<Vec<(Uuid, Status)>> {
        self.device_statuses_impl().await
    }
    async fn status_history(&self, scope: &Scope, device: Uuid) -> Result<Vec<StatusChange>> {
        self.status_history_impl(scope, device).await
    }
    async fn set_upstream(
        &self,
        scope: &Scope,
        device: Uuid,
        upstream: Option<Uuid>,
    ) -> Result<()> {
        self.set_upstream_impl(scope, device, upstream).await
    }
    async fn upstreams(&self) -> Result<Vec<(Uuid, Uuid)>> {
        self.upstreams_impl().await
    }
    async fn save_check_results(
        &self,
        device: Uuid,
        org: Uuid,
        results: &[CheckResultRecord],
    ) -> Result<()> {
        self.save_check_results_impl(device, org, results).await
    }
    async fn check_results(&self, scope: &Scope, device: Uuid) -> Result<Vec<CheckResultRecord>> {
        self.check_results_impl(scope, device).await
    }
    async fn create_monitor(&self, monitor: &MonitorRecord) -> Result<()> {
        self.create_monitor_impl(monitor).await
    }
    async fn list_monitors(&self, scope: &Scope) -> Result<Vec<MonitorRecord>> {
        self.list_monitors_impl(scope).await
    }
    async fn delete_monitor(&self, scope: &Scope, id: Uuid) -> Result<()> {
        self.delete_monitor_impl(scope, id).await
    }
    async fn record_alert_change(&self, change: &AlertChange) -> Result<Option<Uuid>> {
        self.record_alert_change_impl(change).await
    }
    async fn list_alerts(&self, scope: &Scope, active_only: bool) -> Result<Vec<AlertRecord>> {
        self.list_alerts_impl(scope, active_only).await
    }
    async fn device_open_alerts(&self, device: Uuid) -> Result<Vec<AlertRecord>> {
        self.device_open_alerts_impl(device).await
    }
    async fn alert_history(&self, scope: &Scope, id: Uuid) -> Result<Vec<AlertEventRecord>> {
        self.alert_history_impl(scope, id).await
    }
    async fn acknowledge_alert(&self, scope: &Scope, id: Uuid, by: &str, at: i64) -> Result<()> {
        self.acknowledge_alert_impl(scope, id, by, at).await
    }
    async fn resolve_alert(&self, scope: &Scope, id: Uuid, by: &str, at: i64) -> Result<()> {
        self.resolve_alert_impl(scope, id, by, at).await
    }
    async fn create_noise_rule(&self, rule: &NoiseRule) -> Result<()> {
        self.create_noise_rule_impl(rule).await
    }
    async fn list_noise_rules(&self, scope: &Scope, kind: NoiseKind) -> Result<Vec<NoiseRule>> {
        self.list_noise_rules_impl(scope, kind).await
    }
    async fn enqueue_notification(
        &self,
        org: Uuid,
        alert: Uuid,
        severity: &str,
        payload: &str,
        at: i64,
    ) -> Result<()> {
        self.enqueue_notification_impl(org, alert, severity, payload, at)
            .await
    }
    async fn create_channel(&self, channel: &ChannelRecord) -> Result<()> {
        self.create_channel_impl(channel).await
    }
    async fn list_channels(&self, scope: &Scope) -> Result<Vec<ChannelRecord>> {
        self.list_channels_impl(scope).await
    }
    async fn suppression_counts(&self, scope: &Scope) -> Result<Vec<(String, u64)>> {
        self.suppression_counts_impl(scope).await
    }
    async fn due_notifications(&self, now: i64, limit: u32) -> Result<Vec<OutboxItem>> {
        self.due_notifications_impl(now, limit).await
    }
    async fn notification_sent(&self, id: i64, at: i64) -> Result<()> {
        self.notification_sent_impl(id, at).await
    }
    async fn notification_failed(&self, id: i64, error: &str, next_at: i64) -> Result<()> {
        self.notification_failed_impl(id, error, next_at).await
    }
    async fn ingest(&self, batches: &[IngestBatch]) -> Result<Vec<IngestOutcome>> {
        retrying(|| self.ingest_impl(batches)).await
    }
    fn ingest_writers(&self) -> usize {
        INGEST_WRITERS
    }
    fn points_refused(&self) -> u64 {
        self.points_refused
            .load(std::sync::atomic::Ordering::Relaxed)
    }
    async fn stored_seq(&self, device: Uuid) -> Result<u64> {
        self.stored_seq_impl(device).await
    }
    async fn query_metric(&self, scope: &Scope, query: &MetricQuery) -> Result<Vec<Series>> {
        self.query_metric_impl(scope, query).await
    }
    async fn apply_retention(&self, now_ms: i64, policy: &Retention) -> Result<RetentionOutcome> {
        self.apply_retention_impl(now_ms, policy).await
    }
    async fn storage_stats(&self) -> Result<StorageStats> {
        self.storage_stats_impl().await
    }
}
