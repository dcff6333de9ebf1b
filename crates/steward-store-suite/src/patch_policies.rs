//! Patch policies and holds: per kind, per organisation, edited under a
//! version naming who last set them.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn not_found<T: std::fmt::Debug>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

pub async fn patch_policies_and_holds_are_edited_per_kind_and_scoped(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let (p, h) = (PatchRuleKind::Policy, PatchRuleKind::Hold);
    let hold = PatchRule {
        id: Uuid::now_v7(),
        org_id: org,
        kind: h,
        definition: serde_json::json!({ "package": "openssl", "version": "3.0.15-1", "reason": "breaks billing" }),
        created_by: "ana".into(),
        created_at: 1,
        version: 1,
    };
    store.create_patch_rule(&hold).await.unwrap();
    let policy = PatchRule {
        id: Uuid::now_v7(),
        org_id: other,
        kind: p,
        definition: serde_json::json!({ "name": "servers", "install": "security" }),
        created_at: 2,
        ..hold.clone()
    };
    store.create_patch_rule(&policy).await.unwrap();
    let read = store
        .get_patch_rule(&Scope::org(org), h, hold.id)
        .await
        .unwrap();
    assert_eq!(read, hold);
    // The other kind's table, the other organisation: not there.
    assert!(not_found(
        store.get_patch_rule(&Scope::org(org), p, hold.id).await
    ));
    assert!(not_found(
        store.get_patch_rule(&Scope::org(other), h, hold.id).await
    ));
    assert!(
        store
            .list_patch_rules(&Scope::org(org), p)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_patch_rules(&Scope::all(), p).await.unwrap(),
        vec![policy.clone()]
    );

    let any_version = serde_json::json!({ "package": "openssl", "reason": "breaks billing" });
    let edit = (hold.id, &any_version, "bob");
    assert_eq!(
        store
            .update_patch_rule(&Scope::org(org), h, edit, Some(1))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store
            .update_patch_rule(&Scope::org(org), h, edit, Some(1))
            .await,
        Err(StoreError::Stale(2))
    ));
    assert!(not_found(
        store
            .update_patch_rule(&Scope::org(other), h, edit, None)
            .await
    ));
    let read = &store.list_patch_rules(&Scope::org(org), h).await.unwrap()[0];
    assert_eq!(
        (&read.definition, read.created_by.as_str(), read.version),
        (&any_version, "bob", 2)
    );

    assert!(not_found(
        store
            .delete_patch_rule(&Scope::org(other), h, hold.id)
            .await
    ));
    store
        .delete_patch_rule(&Scope::org(org), h, hold.id)
        .await
        .unwrap();
    assert!(not_found(
        store.get_patch_rule(&Scope::org(org), h, hold.id).await
    ));
    assert!(not_found(
        store.delete_patch_rule(&Scope::org(org), h, hold.id).await
    ));
}

pub async fn a_patch_deployment_is_claimed_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let device = crate::device(store.as_ref(), org, "patched").await;
    let claim = |plan: &'static str, at: i64| {
        let store = store.clone();
        async move {
            store
                .claim_patch_deployment(device, plan, at)
                .await
                .unwrap()
        }
    };
    assert!(claim("2026-12-06 openssl=3", 1).await);
    assert!(!claim("2026-12-06 openssl=3", 2).await);
    assert!(claim("2026-12-07 openssl=3", 3).await);
}
