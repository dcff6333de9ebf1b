//! Sites: listed with what names them, within the caller's scope; renamed
//! and merged where rows name them, never in another organisation.

use crate::fleet::placed_device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn counts(sites: &[SiteRecord], org: Uuid) -> Vec<(String, u64, u64, u64)> {
    sites
        .iter()
        .filter(|s| s.org_id == org)
        .map(|s| (s.name.clone(), s.devices, s.enroll_tokens, s.grants))
        .collect()
}

pub async fn sites_are_listed_renamed_and_merged(store: Arc<dyn Store>) {
    let acme = store.create_org("acme").await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let gateway = placed_device(&*store, acme, "branch", "gateway", &[]).await;
    placed_device(&*store, acme, "hq", "web", &[]).await;
    placed_device(&*store, acme, "hq", "db", &[]).await;
    placed_device(&*store, other, "branch", "theirs", &[]).await;
    store
        .create_enroll_token(&NewEnrollToken {
            id: Uuid::now_v7(),
            org_id: acme,
            site: "branch".into(),
            tags: vec![],
            secret_hash: "enroll-branch".into(),
            created_at: 1,
            expires_at: i64::MAX,
            uses_left: None,
            created_by: "admin".into(),
        })
        .await
        .unwrap();
    store
        .upsert_builtin_role(&RoleRecord {
            id: "viewer".into(),
            org_id: None,
            name: "viewer".into(),
            permissions: vec!["devices.view".into()],
            version: 1,
        })
        .await
        .unwrap();
    let user = Uuid::now_v7();
    store
        .create_user(&NewUser {
            id: user,
            org_id: acme,
            username: "branch-tech".into(),
            password_hash: "x".into(),
            created_at: 0,
            full_name: None,
            email: None,
        })
        .await
        .unwrap();
    store
        .create_grant(&NewGrant {
            id: Uuid::now_v7(),
            user_id: user,
            org_id: Some(acme),
            site: Some("branch".into()),
            role_id: "viewer".into(),
            deny: false,
        })
        .await
        .unwrap();

    let all = store.list_sites(&Scope::all()).await.unwrap();
    assert_eq!(
        counts(&all, acme),
        [("branch".into(), 1, 1, 1), ("hq".into(), 2, 0, 0)]
    );
    assert_eq!(counts(&all, other), [("branch".into(), 1, 0, 0)]);
    // A site-limited caller sees its own site only.
    let hq_only = Scope {
        allow: vec![Place {
            org: Some(acme),
            site: Some("hq".into()),
        }],
        deny: Vec::new(),
    };
    let seen = store.list_sites(&hq_only).await.unwrap();
    assert_eq!(
        seen.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["hq"]
    );

    // Renamed where it is named (device, token, grant), in acme only.
    let version = store
        .get_device(&Scope::all(), gateway)
        .await
        .unwrap()
        .version;
    assert_eq!(
        store
            .rename_site(&Scope::org(acme), acme, "branch", "Branch Office")
            .await
            .unwrap(),
        3
    );
    let all = store.list_sites(&Scope::all()).await.unwrap();
    assert_eq!(
        counts(&all, acme),
        [("Branch Office".into(), 1, 1, 1), ("hq".into(), 2, 0, 0)]
    );
    assert_eq!(counts(&all, other), [("branch".into(), 1, 0, 0)]);
    let moved = store.get_device(&Scope::all(), gateway).await.unwrap();
    assert_eq!(
        (moved.summary.site.as_str(), moved.version),
        ("Branch Office", version + 1),
        "a renamed site bumps its devices' versions"
    );
    let grants = store.user_grants(user).await.unwrap();
    assert_eq!(grants[0].site.as_deref(), Some("Branch Office"));

    // Out of scope, unknown, or to itself: refused, nothing changes.
    assert!(matches!(
        store.rename_site(&Scope::org(other), acme, "hq", "x").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.rename_site(&Scope::all(), acme, "nowhere", "x").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.rename_site(&Scope::all(), acme, "hq", "hq").await,
        Err(StoreError::Refused(_))
    ));

    // Merged into an existing site.
    assert_eq!(
        store
            .rename_site(&Scope::all(), acme, "Branch Office", "hq")
            .await
            .unwrap(),
        3
    );
    let all = store.list_sites(&Scope::all()).await.unwrap();
    assert_eq!(counts(&all, acme), [("hq".into(), 3, 1, 1)]);
}
