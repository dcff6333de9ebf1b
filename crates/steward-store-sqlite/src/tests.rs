//! What only the SQLite back end does: the database itself refuses edits of
//! the audit log, and an edit made behind its back breaks the chain. The
//! behaviour every back end shares is the conformance suite
//! (`steward-store-suite`, run from `tests/suite.rs`).

use super::*;

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("steward.db"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn audit_log_is_chained_and_append_only() {
    let (dir, store) = open().await;
    for i in 0..3 {
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
    let entries = store.audit_entries(&Scope::all(), 0, 100).await.unwrap();
    assert_eq!(verify_audit_chain(&entries, audit::GENESIS), Ok(3));
    // Newest first, before a cursor (the console's pages).
    let recent = store
        .audit_recent(&Scope::all(), i64::MAX, 2)
        .await
        .unwrap();
    assert_eq!(recent.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 2]);
    let older = store.audit_recent(&Scope::all(), 2, 10).await.unwrap();
    assert_eq!(older.iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
    // The database refuses edits and deletions...
    assert!(
        sqlx::query("UPDATE audit_log SET target = 'x' WHERE id = 2")
            .execute(&store.pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM audit_log WHERE id = 2")
            .execute(&store.pool)
            .await
            .is_err()
    );
    // ...and an edit made behind its back (triggers dropped) is detected.
    store.close().await;
    let raw = SqliteStore::open(&dir.path().join("steward.db"))
        .await
        .unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET target = 'forged' WHERE id = 2;",
    )
    .execute(&raw.pool)
    .await
    .unwrap();
    let entries = raw.audit_entries(&Scope::all(), 0, 100).await.unwrap();
    assert_eq!(
        verify_audit_chain(&entries, audit::GENESIS).unwrap_err().0,
        2
    );
    // An org-scoped reader does not see server-wide entries.
    assert!(
        raw.audit_entries(&Scope::org(Uuid::now_v7()), 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
}
