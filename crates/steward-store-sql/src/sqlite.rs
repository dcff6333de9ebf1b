//! SQLite's residue: opening the file and copying it. One file in WAL mode,
//! `synchronous=NORMAL` (a committed transaction survives a process crash,
//! which is what "acked means stored" needs; a power cut may lose the last
//! few commits), foreign keys on.

use crate::db::Db;
use crate::dialect;
use crate::{SqlStore, backend};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;
use steward_store::{Result, Store, StoreError};

impl SqlStore {
    /// Opens (creating if needed) the SQLite database at `path` and
    /// migrates it.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .with_regexp()
            .collation(dialect::SQLITE_NOCASE, dialect::nocase_cmp);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = Self::new(Db::Sqlite(pool));
        store.migrate().await?;
        Ok(store)
    }

    /// A consistent copy of a SQLite database at `dest` (online,
    /// `VACUUM INTO`). PostgreSQL is backed up with its own tools.
    pub async fn backup_to(&self, dest: &Path) -> Result<()> {
        let Db::Sqlite(pool) = &self.db else {
            return Err(StoreError::Refused(
                "backup_to copies a SQLite file; back up PostgreSQL with pg_dump".into(),
            ));
        };
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Refused("backup path must be UTF-8".into()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(dest)
            .execute(pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
