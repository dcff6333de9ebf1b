//! Schema migrations: one file set per database (`migrations/sqlite`,
//! `migrations/postgres`) where the schemas really differ (types,
//! triggers), with the same version numbers on both: version N is the
//! N-th file of each set, and the two sets hold the same file names (a
//! file of one database with nothing to do on the other is a commented
//! `SELECT 1`). `tests/migrations.rs` holds the sets to that: every file
//! is listed here and applied, the numbers match, and the migrated schemas
//! agree table by table, column by column.

use crate::db::{Db, Kind, Tx, q};
use crate::{backend, now_secs};
use steward_store::{Result, StoreError};

/// A migration: its file name and its SQL.
pub struct Migration {
    pub file: &'static str,
    pub sql: &'static str,
}

/// Both databases' migrations, from one list of file names: version N is
/// the N-th name, and each database has a file of that name in its own
/// directory (`include_str!` fails the build when one is missing).
macro_rules! migrations {
    ($($file:literal),* $(,)?) => {
        /// SQLite's migrations in order; the index + 1 is the version.
        pub const SQLITE: &[Migration] = &[$(Migration {
            file: $file,
            sql: include_str!(concat!("../migrations/sqlite/", $file)),
        }),*];
        /// PostgreSQL's migrations in order; the index + 1 is the version.
        pub const POSTGRES: &[Migration] = &[$(Migration {
            file: $file,
            sql: include_str!(concat!("../migrations/postgres/", $file)),
        }),*];
    };
}

migrations!(
    "0001_foundation.sql",
    "0002_access.sql",
    "0003_rotation.sql",
    "0004_alerts.sql",
    "0005_noise.sql",
    "0006_checks.sql",
    "0007_upstream.sql",
    "0008_jobs.sql",
    "0009_fleet.sql",
    "0010_rollups.sql",
    "0011_signin.sql",
    "0012_hot_chunks.sql",
    "0013_lifecycle.sql",
    "0014_versions.sql",
    "0015_undelivered.sql",
    "0016_resolved_by.sql",
    "0017_people.sql",
    "0018_patching.sql",
    "0019_backups.sql",
    "0020_incidents.sql",
    "0021_patch_policies.sql",
    "0022_patch_compliance.sql",
    "0023_posture.sql",
    "0024_incident_work.sql",
    "0025_incident_webhooks.sql",
    "0026_task_slots.sql",
    "0027_otlp_tokens.sql",
    "0028_agentless.sql",
    "0029_report_mail.sql",
    "0030_agent_updates.sql",
    "0031_aging.sql",
    "0032_chunk_indexes.sql",
);

/// The migrations of one database.
pub fn for_kind(kind: Kind) -> &'static [Migration] {
    match kind {
        Kind::Sqlite => SQLITE,
        Kind::Postgres => POSTGRES,
    }
}

/// Advisory lock key (arbitrary, fixed) that makes replicas starting
/// together migrate once.
const MIGRATION_LOCK: i64 = 0x5354_5744_0001;

/// Applies pending migrations in one transaction; returns the schema
/// version.
pub async fn run(db: &Db) -> Result<usize> {
    run_upto(db, usize::MAX).await
}

/// [`run`], stopping after version `last` (for tests of a migration left
/// out).
pub async fn run_upto(db: &Db, last: usize) -> Result<usize> {
    let all = for_kind(db.kind());
    let wanted = &all[..last.min(all.len())];
    let mut tx = db.begin().await.map_err(backend)?;
    tx.lock(MIGRATION_LOCK).await.map_err(backend)?;
    q("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(&mut tx)
        .await
        .map_err(backend)?;
    if db.kind() == Kind::Postgres {
        renumber_postgres_0_1(&mut tx).await?;
    }
    let current: i64 = q("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_migrations")
        .fetch_one(&mut tx)
        .await
        .map_err(backend)?
        .get(0);
    if current as usize > all.len() {
        return Err(StoreError::Refused(format!(
            "database schema version {current} is newer than this build ({}); upgrade Steward",
            all.len()
        )));
    }
    for (index, migration) in wanted.iter().enumerate().skip(current as usize) {
        execute_script(&mut tx, migration.sql)
            .await
            .map_err(|e| StoreError::Backend(format!("migration {}: {e}", migration.file)))?;
        q("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(index as i64 + 1)
            .bind(now_secs())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(wanted.len().max(current as usize))
}

async fn execute_script(tx: &mut Tx, sql: &'static str) -> std::result::Result<(), sqlx::Error> {
    match tx {
        Tx::Sqlite(tx) => sqlx::raw_sql(sql).execute(&mut **tx).await.map(drop),
        Tx::Postgres(tx) => sqlx::raw_sql(sql).execute(&mut **tx).await.map(drop),
    }
}

/// Version 0 in PostgreSQL's `schema_migrations` says its versions are
/// numbered as SQLite's (written at the first migration of this numbering;
/// Steward 0.1 wrote none).
const NUMBERED_ALIKE: i64 = 0;

/// Steward 0.1 numbered PostgreSQL's migrations on their own: 1 (the
/// schema of SQLite's 1–9), 2 (rollups), 3 (hot chunks), 4 (sign-in).
/// Those are versions 1–9, 10, 12 and 11 now. A database with versions
/// and without the [`NUMBERED_ALIKE`] mark is a 0.1 one: its records are
/// renumbered before migrating on. Then the mark is written.
async fn renumber_postgres_0_1(tx: &mut Tx) -> Result<()> {
    let rows = q("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    let old: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    if old.iter().any(|(v, _)| *v == NUMBERED_ALIKE) {
        return Ok(());
    }
    if let Some((v, _)) = old.iter().find(|(v, _)| *v > 4) {
        return Err(StoreError::Refused(format!(
            "this PostgreSQL database records schema version {v} in a numbering no release wrote; restore it from a backup of a release"
        )));
    }
    let mut new: Vec<(i64, i64)> = Vec::new();
    for (version, at) in old {
        match version {
            1 => new.extend((1..=9).map(|v| (v, at))),
            2 => new.push((10, at)),
            3 => new.push((12, at)),
            4 => new.push((11, at)),
            _ => {}
        }
    }
    // 0.1 applied its versions in order, so what it had maps onto a run
    // from 1 (its 1–4 all: 1–12; its 1–2: 1–10).
    new.sort_unstable();
    let mut applied: Vec<(i64, i64)> = Vec::new();
    for (v, at) in new {
        if v == applied.len() as i64 + 1 {
            applied.push((v, at));
        }
    }
    q("DELETE FROM schema_migrations")
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    for (version, at) in &applied {
        q("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(*at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    if !applied.is_empty() {
        tracing::info!(
            versions = applied.len(),
            "Renumbered the migrations of a Steward 0.1 PostgreSQL database"
        );
    }
    q("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
        .bind(NUMBERED_ALIKE)
        .bind(now_secs())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}
