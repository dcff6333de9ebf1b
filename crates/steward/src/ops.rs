//! `steward backup | restore | migrate`: the embedded store's data,
//! consistently, and schema upgrades of either store.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use steward_server::bootstrap::{DB_FILE, lock_data_dir, open_sqlite, open_store, redact_url};
use steward_store::Store;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a consistent copy of the database to FILE; works while the
    /// server runs (SQLite `VACUUM INTO`). Keys (ca.key, server.key,
    /// job-signing.key) are files in the data directory: back them up too.
    Backup {
        #[arg(long, env = "STEWARD_DATA_DIR", default_value = "./steward-data")]
        data_dir: PathBuf,
        file: PathBuf,
    },
    /// Replace the database with a backup. The server must be stopped; the
    /// database it replaces is kept as steward.db.before-restore.
    Restore {
        #[arg(long, env = "STEWARD_DATA_DIR", default_value = "./steward-data")]
        data_dir: PathBuf,
        file: PathBuf,
    },
    /// Bring the database schema up to this version of Steward and say which
    /// version it is at. SQLite: the server must be stopped. PostgreSQL:
    /// replicas starting together also migrate safely (one at a time, under
    /// a lock); run this before a rolling upgrade to do it once, up front.
    Migrate {
        #[arg(long, env = "STEWARD_DATA_DIR", default_value = "./steward-data")]
        data_dir: PathBuf,
        /// The shared PostgreSQL database (default: SQLite in the data
        /// directory).
        #[arg(long, env = "STEWARD_DATABASE")]
        database: Option<String>,
    },
}

pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Backup { data_dir, file } => backup(&data_dir, &file).await,
        Command::Restore { data_dir, file } => restore(&data_dir, &file).await,
        Command::Migrate { data_dir, database } => migrate(&data_dir, database.as_deref()).await,
    }
}

async fn backup(data_dir: &Path, file: &Path) -> Result<()> {
    if !data_dir.join(DB_FILE).exists() {
        bail!("no database in {}", data_dir.display());
    }
    if file.exists() {
        bail!("{} exists; choose a new file", file.display());
    }
    let store = open_sqlite(data_dir).await?;
    store
        .backup_to(file)
        .await
        .with_context(|| format!("cannot write {}", file.display()))?;
    store.close().await;
    let size = std::fs::metadata(file)?.len();
    println!(
        "Backed up {} to {} ({size} bytes).",
        data_dir.join(DB_FILE).display(),
        file.display()
    );
    Ok(())
}

async fn restore(data_dir: &Path, file: &Path) -> Result<()> {
    // Refuses while a server holds the data directory.
    let _lock = lock_data_dir(data_dir)?;
    // Check the backup by opening (and migrating) a copy, never the file.
    let staged = data_dir.join("steward.db.restoring");
    std::fs::copy(file, &staged).with_context(|| format!("cannot read {}", file.display()))?;
    let checked = steward_store_sql::SqlStore::open_sqlite(&staged).await;
    match checked {
        Ok(store) => store.close().await,
        Err(error) => {
            let _ = std::fs::remove_file(&staged);
            bail!(
                "{} is not a usable Steward database: {error}",
                file.display()
            );
        }
    }
    let db = data_dir.join(DB_FILE);
    if db.exists() {
        // Fold its write-ahead log in first (closing the last connection
        // checkpoints it), so the kept copy is complete in one file.
        steward_store_sql::SqlStore::open_sqlite(&db)
            .await?
            .close()
            .await;
        std::fs::rename(&db, data_dir.join("steward.db.before-restore"))?;
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(data_dir.join(format!("{DB_FILE}{suffix}")));
        let _ = std::fs::remove_file(data_dir.join(format!("steward.db.restoring{suffix}")));
    }
    std::fs::rename(&staged, &db)?;
    println!(
        "Restored {} from {}; the previous database is steward.db.before-restore.",
        db.display(),
        file.display()
    );
    Ok(())
}

async fn migrate(data_dir: &Path, database: Option<&str>) -> Result<()> {
    let database = database.filter(|d| !d.is_empty());
    if database.is_none() {
        crate::local::not_on_postgres(data_dir)?;
    }
    // SQLite: never under a running server.
    let _lock = match database {
        None => Some(lock_data_dir(data_dir)?),
        Some(_) => None,
    };
    let store = open_store(data_dir, database).await?;
    let version = store.migrate().await?;
    store.close().await;
    let place = match database {
        Some(url) => redact_url(url),
        None => data_dir.join(DB_FILE).display().to_string(),
    };
    println!("{place}: schema at version {version}, current for this build.");
    Ok(())
}
