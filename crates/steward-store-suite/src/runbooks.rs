//! Runbooks: created at version 1, each save a new version with the old
//! ones kept and readable, saves under a stale version refused, everything
//! scoped to the organisation, deleted with their versions.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub async fn runbooks_keep_every_version_within_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-runbooks").await.unwrap().id;
    let first = serde_json::json!({ "title": "Disk full", "body": "1. clean /tmp" });
    let runbook = RunbookRecord {
        id: Uuid::now_v7(),
        org_id: org,
        title: "Disk full".into(),
        definition: first.clone(),
        version: 1,
        updated_at: 1_000,
        updated_by: "alice".into(),
    };
    store.create_runbook(&runbook).await.unwrap();
    let scope = Scope::org(org);
    assert_eq!(
        store.get_runbook(&scope, runbook.id).await.unwrap(),
        runbook
    );
    assert_eq!(
        store.list_runbooks(&scope).await.unwrap(),
        vec![runbook.clone()]
    );
    // Another organisation sees nothing of it.
    let theirs = Scope::org(other);
    assert!(store.list_runbooks(&theirs).await.unwrap().is_empty());
    assert!(matches!(
        store.get_runbook(&theirs, runbook.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.runbook_versions(&theirs, runbook.id).await,
        Err(StoreError::NotFound)
    ));

    // An edit is a new version; the old one stays readable.
    let edit = |title: &str, definition: &serde_json::Value, by: &str, at: i64| RunbookRecord {
        title: title.into(),
        definition: definition.clone(),
        updated_by: by.into(),
        updated_at: at,
        ..runbook.clone()
    };
    let second = serde_json::json!({ "title": "Disk almost full", "body": "1. clean /var/log" });
    let version = store
        .save_runbook_version(
            &scope,
            &edit("Disk almost full", &second, "bob", 2_000),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(version, 2);
    // A save over the version read before is refused, naming the current.
    assert!(matches!(
        store
            .save_runbook_version(&scope, &edit("x", &first, "carol", 3_000), Some(1))
            .await,
        Err(StoreError::Stale(2))
    ));
    assert!(matches!(
        store
            .save_runbook_version(&theirs, &edit("x", &first, "mallory", 3_000), None)
            .await,
        Err(StoreError::NotFound)
    ));
    let stored = store.get_runbook(&scope, runbook.id).await.unwrap();
    assert_eq!(
        (
            stored.title.as_str(),
            &stored.definition,
            stored.version,
            stored.updated_by.as_str(),
            stored.updated_at
        ),
        ("Disk almost full", &second, 2, "bob", 2_000)
    );
    let versions = store.runbook_versions(&scope, runbook.id).await.unwrap();
    assert_eq!(
        versions,
        vec![
            RunbookVersion {
                version: 2,
                definition: second,
                created_at: 2_000,
                created_by: "bob".into()
            },
            RunbookVersion {
                version: 1,
                definition: first,
                created_at: 1_000,
                created_by: "alice".into()
            },
        ]
    );

    // Deleted: only within scope, and its versions go with it.
    assert!(matches!(
        store.delete_runbook(&theirs, runbook.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_runbook(&scope, runbook.id).await.unwrap();
    assert!(store.list_runbooks(&scope).await.unwrap().is_empty());
    assert!(matches!(
        store.runbook_versions(&scope, runbook.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_runbook(&scope, runbook.id).await,
        Err(StoreError::NotFound)
    ));
}
