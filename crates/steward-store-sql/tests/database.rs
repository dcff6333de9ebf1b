//! What the databases themselves enforce, beyond the trait: the audit log
//! refuses edits in SQL on both, an edit made behind Steward's back breaks
//! the chain, and replicas starting together migrate once.

use steward_store::*;
use steward_store_sql::db::q;
use steward_store_sql::{SqlStore, migrate, testdb};
use uuid::Uuid;

async fn append(store: &SqlStore, n: i64) {
    for i in 0..n {
        store
            .append_audit(&NewAuditEntry {
                org_id: None,
                at: i,
                actor: "admin".into(),
                source: "127.0.0.1".into(),
                action: "test".into(),
                target: format!("t{i}"),
                detail: "{}".into(),
            })
            .await
            .unwrap();
    }
}

async fn refuses_edits(store: &SqlStore) {
    append(store, 3).await;
    for sql in [
        "UPDATE audit_log SET target = 'x' WHERE id = 2",
        "DELETE FROM audit_log WHERE id = 2",
    ] {
        assert!(
            q(sql).execute(store.db()).await.is_err(),
            "{sql} was allowed"
        );
    }
    let entries = store
        .audit_entries(&Scope::all(), 0, 100, &Default::default())
        .await
        .unwrap();
    assert_eq!(verify_audit_chain(&entries, AUDIT_GENESIS), Ok(3));
}

#[tokio::test]
async fn sqlite_audit_log_is_append_only_and_edits_break_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steward.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    refuses_edits(&store).await;
    // An edit made behind the store's back (triggers dropped) is detected.
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET target = 'forged' WHERE id = 2;",
    )
    .execute(match store.db() {
        steward_store_sql::db::Db::Sqlite(pool) => pool,
        _ => unreachable!(),
    })
    .await
    .unwrap();
    let entries = store
        .audit_entries(&Scope::all(), 0, 100, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        verify_audit_chain(&entries, AUDIT_GENESIS).unwrap_err().0,
        2
    );
    // An org-scoped reader does not see server-wide entries.
    assert!(
        store
            .audit_entries(&Scope::org(Uuid::now_v7()), 0, 100, &Default::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_log_is_append_only() {
    let Some((_db, store)) = testdb::store().await else {
        return;
    };
    refuses_edits(&store).await;
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
            tokio::spawn(async move { SqlStore::connect_postgres(&url).await })
        })
        .collect();
    for start in starts {
        let store = start.await.unwrap().unwrap();
        assert_eq!(store.migrate().await.unwrap(), migrate::POSTGRES.len());
        let versions = q("SELECT COUNT(*) FROM schema_migrations WHERE version > 0")
            .fetch_one(store.db())
            .await
            .unwrap()
            .get::<i64, _>(0);
        assert_eq!(versions as usize, migrate::POSTGRES.len());
        store.close().await;
    }
}
