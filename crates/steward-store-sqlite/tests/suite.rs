//! The store conformance suite on SQLite: each check on a fresh database
//! file in a temporary directory.

use std::sync::Arc;
use steward_store::Store;
use steward_store_sqlite::SqliteStore;

async fn open() -> Option<(tempfile::TempDir, Arc<dyn Store>)> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("steward.db"))
        .await
        .unwrap();
    Some((dir, Arc::new(store)))
}

steward_store_suite::store_suite!(open);
