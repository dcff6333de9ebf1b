//! PostgreSQL's residue: connecting. Replicas share one database; the
//! migration runner takes an advisory lock so replicas starting together
//! migrate once.

use crate::db::Db;
use crate::{SqlStore, backend};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;
use steward_store::{Result, Store, StoreError};

impl SqlStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and migrates the
    /// database.
    pub async fn connect_postgres(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Refused(format!("bad database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = Self::new(Db::Postgres(pool));
        store.migrate().await?;
        Ok(store)
    }
}
