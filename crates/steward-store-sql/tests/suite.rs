//! The store conformance suite (`steward-store-suite`) on both databases:
//! each check on a fresh SQLite file in a temporary directory, and on a
//! PostgreSQL database of its own (created and dropped around it; needs
//! STEWARD_TEST_POSTGRES, and fails without it when CI=true).

mod sqlite {
    use std::sync::Arc;
    use steward_store::Store;
    use steward_store_sql::SqlStore;

    async fn open() -> Option<(tempfile::TempDir, Arc<dyn Store>)> {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open_sqlite(&dir.path().join("steward.db"))
            .await
            .unwrap();
        Some((dir, Arc::new(store)))
    }

    steward_store_suite::store_suite!(open);
}

mod postgres {
    use std::sync::Arc;
    use steward_store::Store;
    use steward_store_sql::testdb::{self, TestDb};

    async fn open() -> Option<(TestDb, Arc<dyn Store>)> {
        let (db, store) = testdb::store().await?;
        Some((db, Arc::new(store)))
    }

    steward_store_suite::store_suite!(open);
}
