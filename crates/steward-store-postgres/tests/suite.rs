//! The store conformance suite on PostgreSQL: each check on a database of
//! its own (created and dropped around it). Needs STEWARD_TEST_POSTGRES.

use std::sync::Arc;
use steward_store::{NewAuditEntry, Scope, Store};
use steward_store_postgres::testdb::{self, TestDb};

async fn open() -> Option<(TestDb, Arc<dyn Store>)> {
    let (db, store) = testdb::store().await?;
    Some((db, Arc::new(store)))
}

steward_store_suite::store_suite!(open);

/// The database itself refuses edits of the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_is_append_only_in_the_database() {
    let Some((_db, store)) = testdb::store().await else {
        return;
    };
    store
        .append_audit(&NewAuditEntry {
            org_id: None,
            at: 1,
            actor: "admin".into(),
            source: "127.0.0.1".into(),
            action: "test".into(),
            target: "t".into(),
            detail: "{}".into(),
        })
        .await
        .unwrap();
    for sql in ["UPDATE audit_log SET target = 'x'", "DELETE FROM audit_log"] {
        let refused = sqlx::raw_sql(sql).execute(store.pool()).await;
        assert!(refused.is_err(), "{sql} was allowed");
    }
    assert_eq!(
        store
            .audit_entries(&Scope::all(), 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Replicas starting together migrate once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    let Some(db) = testdb::create().await else {
        return;
    };
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { steward_store_postgres::PgStore::connect(&url).await })
        })
        .collect();
    for start in starts {
        let store = start.await.unwrap().unwrap();
        assert_eq!(store.migrate().await.unwrap(), 4);
        store.close().await;
    }
}
