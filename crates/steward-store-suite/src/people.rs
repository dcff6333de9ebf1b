//! Organisations and people: users, recovery codes, roles, API tokens,
//! sessions and enrollment tokens, each within its caller's scope.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub(crate) async fn new_user(store: &dyn Store, org: Uuid, name: &str) -> Uuid {
    store
        .create_user(&NewUser {
            id: Uuid::now_v7(),
            org_id: org,
            username: name.into(),
            password_hash: format!("hash-of-{name}"),
            created_at: 7,
            full_name: None,
            email: None,
        })
        .await
        .unwrap()
}

fn not_found<T: std::fmt::Debug>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

pub async fn users_are_found_by_name_and_id_and_listed_in_scope(store: Arc<dyn Store>) {
    assert_eq!(store.user_count().await.unwrap(), 0);
    let root = store.default_org().await.unwrap().id;
    let acme = store.create_org("acme").await.unwrap().id;
    let ana = new_user(&*store, root, "ana").await;
    let bob = new_user(&*store, acme, "bob").await;
    assert_eq!(store.user_count().await.unwrap(), 2);

    let found = store.user_by_name("bob").await.unwrap();
    assert_eq!(
        (found.id, found.org_id, found.username.as_str()),
        (bob, acme, "bob")
    );
    assert_eq!(found.password_hash, "hash-of-bob");
    assert_eq!(found.totp_secret, None);
    assert!(!found.totp_enabled && !found.org_requires_totp);
    assert_eq!(store.user_by_id(ana).await.unwrap().username, "ana");
    assert!(not_found(store.user_by_name("carol").await));
    assert!(not_found(store.user_by_id(Uuid::now_v7()).await));

    // A second user of one name is refused.
    let twin = store
        .create_user(&NewUser {
            id: Uuid::now_v7(),
            org_id: acme,
            username: "bob".into(),
            password_hash: "x".into(),
            created_at: 8,
            full_name: None,
            email: None,
        })
        .await;
    assert!(matches!(twin, Err(StoreError::Conflict(_))), "{twin:?}");
    assert_eq!(store.user_count().await.unwrap(), 2);

    let names = |users: Vec<UserSummary>| {
        users
            .into_iter()
            .map(|u| (u.username, u.org_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list_users(&Scope::all()).await.unwrap()),
        [("ana".to_string(), root), ("bob".to_string(), acme)]
    );
    assert_eq!(
        names(store.list_users(&Scope::org(acme)).await.unwrap()),
        [("bob".to_string(), acme)]
    );
    assert!(store.list_users(&Scope::none()).await.unwrap().is_empty());

    // TOTP set up shows on the record and in the list.
    store.set_totp(bob, Some("BASE32"), true).await.unwrap();
    let bob_now = store.user_by_id(bob).await.unwrap();
    assert_eq!(
        (bob_now.totp_secret.as_deref(), bob_now.totp_enabled),
        (Some("BASE32"), true)
    );
    let listed = store.list_users(&Scope::org(acme)).await.unwrap();
    assert!(listed[0].totp_enabled);
    // An organisation's requirement shows on its users' records; another
    // organisation's caller cannot set it.
    assert!(not_found(
        store
            .set_org_require_totp(&Scope::org(root), acme, true)
            .await
    ));
    assert!(!store.user_by_id(bob).await.unwrap().org_requires_totp);
    assert!(not_found(
        store
            .set_org_require_totp(&Scope::all(), Uuid::now_v7(), true)
            .await
    ));
    store
        .set_org_require_totp(&Scope::org(acme), acme, true)
        .await
        .unwrap();
    assert!(store.user_by_name("bob").await.unwrap().org_requires_totp);
    assert!(!store.user_by_name("ana").await.unwrap().org_requires_totp);
}

pub async fn recovery_codes_are_spent_once_and_replaced_whole(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let ana = new_user(&*store, org, "ana").await;
    let bob = new_user(&*store, org, "bob").await;
    store
        .replace_recovery_codes(ana, &["one".into(), "two".into()])
        .await
        .unwrap();
    // Another user's code is not this user's.
    assert!(!store.use_recovery_code(bob, "one", 10).await.unwrap());
    assert!(store.use_recovery_code(ana, "one", 10).await.unwrap());
    assert!(!store.use_recovery_code(ana, "one", 11).await.unwrap());
    assert!(!store.use_recovery_code(ana, "three", 11).await.unwrap());
    // New codes replace every old one, used or not.
    store
        .replace_recovery_codes(ana, &["three".into()])
        .await
        .unwrap();
    assert!(!store.use_recovery_code(ana, "two", 12).await.unwrap());
    assert!(store.use_recovery_code(ana, "three", 12).await.unwrap());
    store.replace_recovery_codes(ana, &[]).await.unwrap();
    assert!(!store.use_recovery_code(ana, "three", 13).await.unwrap());
}

pub async fn roles_are_listed_in_scope_and_found_by_id(store: Arc<dyn Store>) {
    let acme = store.create_org("acme").await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let role = |id: &str, org: Option<Uuid>, perms: &[&str]| RoleRecord {
        id: id.into(),
        org_id: org,
        name: id.into(),
        permissions: perms.iter().map(|p| p.to_string()).collect(),
        version: 1,
    };
    store
        .upsert_builtin_role(&role("viewer", None, &["devices.view"]))
        .await
        .unwrap();
    // Upserting again replaces the permissions.
    store
        .upsert_builtin_role(&role("viewer", None, &["devices.view", "alerts.view"]))
        .await
        .unwrap();
    let viewer = store.role("viewer").await.unwrap();
    assert_eq!(viewer.org_id, None);
    assert_eq!(viewer.permissions, ["devices.view", "alerts.view"]);
    store
        .create_role(&role("acme-ops", Some(acme), &["jobs.run"]))
        .await
        .unwrap();
    store
        .create_role(&role("other-ops", Some(other), &["jobs.run"]))
        .await
        .unwrap();
    assert!(
        store
            .create_role(&role("acme-ops", Some(acme), &[]))
            .await
            .is_err(),
        "a role id is unique"
    );
    let acme_ops = store.role("acme-ops").await.unwrap();
    assert_eq!(
        (acme_ops.org_id, acme_ops.permissions),
        (Some(acme), vec!["jobs.run".to_string()])
    );
    assert!(not_found(store.role("nope").await));

    let ids = |roles: Vec<RoleRecord>| roles.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let seen = ids(store.list_roles(&Scope::org(acme)).await.unwrap());
    assert!(seen.contains(&"viewer".to_string()), "{seen:?}");
    assert!(seen.contains(&"acme-ops".to_string()), "{seen:?}");
    assert!(!seen.contains(&"other-ops".to_string()), "{seen:?}");
    // Built-in roles first, then the organisations' own.
    assert_eq!(seen.last().map(String::as_str), Some("acme-ops"));
    let all = ids(store.list_roles(&Scope::all()).await.unwrap());
    assert!(all.contains(&"other-ops".to_string()) && all.contains(&"acme-ops".to_string()));
    // Without any grant, only the built-in roles.
    let none = store.list_roles(&Scope::none()).await.unwrap();
    assert!(none.iter().all(|r| r.org_id.is_none()), "{none:?}");
    assert!(none.iter().any(|r| r.id == "viewer"));
}

pub async fn api_tokens_are_listed_and_revoked_per_user(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let ana = new_user(&*store, org, "ana").await;
    let bob = new_user(&*store, org, "bob").await;
    let token = |user: Uuid, name: &str, created_at: i64| NewApiToken {
        id: Uuid::now_v7(),
        user_id: user,
        name: name.into(),
        token_hash: format!("hash-{name}"),
        created_at,
        expires_at: (name == "short").then_some(500),
        role_id: None,
        scope_org: None,
        scope_site: None,
    };
    let (ci, short, bobs) = (
        token(ana, "ci", 2),
        token(ana, "short", 1),
        token(bob, "bobs", 3),
    );
    for t in [&ci, &short, &bobs] {
        assert_eq!(store.create_api_token(t).await.unwrap(), t.id);
    }
    // A token for nobody is not made.
    assert!(not_found(
        store
            .create_api_token(&token(Uuid::now_v7(), "ghost", 4))
            .await
    ));
    let listed = store.list_api_tokens(ana).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| (t.name.as_str(), t.created_at, t.expires_at, t.revoked))
            .collect::<Vec<_>>(),
        [("short", 1, Some(500), false), ("ci", 2, None, false)],
        "oldest first"
    );
    assert!(
        listed
            .iter()
            .all(|t| t.user_id == ana && t.role_id.is_none())
    );
    assert!(
        store
            .list_api_tokens(Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );

    // Revoking another user's token: not found, and it still works.
    assert!(not_found(store.revoke_api_token(Some(bob), ci.id).await));
    assert!(store.principal_for_token("hash-ci", 10).await.is_ok());
    store.revoke_api_token(Some(ana), ci.id).await.unwrap();
    assert!(not_found(store.principal_for_token("hash-ci", 10).await));
    let listed = store.list_api_tokens(ana).await.unwrap();
    let revoked: Vec<(&str, bool)> = listed
        .iter()
        .map(|t| (t.name.as_str(), t.revoked))
        .collect();
    assert_eq!(revoked, [("short", false), ("ci", true)]);
    // Any user's token, for the server itself.
    store.revoke_api_token(None, bobs.id).await.unwrap();
    assert!(store.list_api_tokens(bob).await.unwrap()[0].revoked);
    assert!(not_found(
        store.revoke_api_token(None, Uuid::now_v7()).await
    ));
    // Deleted: gone from the list, and only by its own user.
    let short = listed[0].id;
    assert!(not_found(store.delete_api_token(bob, short).await));
    store.delete_api_token(ana, short).await.unwrap();
    assert!(not_found(store.principal_for_token("hash-short", 10).await));
    let left: Vec<String> = store
        .list_api_tokens(ana)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(left, ["ci"]);
    assert!(not_found(store.delete_api_token(ana, short).await));
}

pub async fn sessions_expire_and_end_when_deleted(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let ana = new_user(&*store, org, "ana").await;
    store
        .create_session(&NewSession {
            session_hash: "s1".into(),
            user_id: ana,
            created_at: 10,
            expires_at: 100,
            mfa_done: true,
        })
        .await
        .unwrap();
    let principal = store.principal_for_session("s1", 99).await.unwrap();
    assert_eq!(
        (
            principal.user_id,
            principal.username.as_str(),
            principal.org_id
        ),
        (ana, "ana", org)
    );
    assert!(principal.token.is_none() && principal.mfa_done);
    assert!(not_found(store.principal_for_session("s1", 100).await));
    assert!(not_found(store.principal_for_session("other", 50).await));
    store.delete_session("s1").await.unwrap();
    assert!(not_found(store.principal_for_session("s1", 50).await));
    // Deleting what is not there is no error (a second sign-out).
    store.delete_session("s1").await.unwrap();

    // A new password ends every session but the one that set it.
    for hash in ["keep", "other-1", "other-2"] {
        store
            .create_session(&NewSession {
                session_hash: hash.into(),
                user_id: ana,
                created_at: 10,
                expires_at: 100,
                mfa_done: true,
            })
            .await
            .unwrap();
    }
    store
        .set_password(ana, "new-hash", Some("keep"))
        .await
        .unwrap();
    let user = store.user_by_id(ana).await.unwrap();
    assert_eq!(user.password_hash, "new-hash");
    assert!(store.principal_for_session("keep", 50).await.is_ok());
    assert!(not_found(store.principal_for_session("other-1", 50).await));
    assert!(not_found(store.principal_for_session("other-2", 50).await));
    // Reset by someone else: every session ends.
    store.set_password(ana, "reset", None).await.unwrap();
    assert!(not_found(store.principal_for_session("keep", 50).await));
    assert!(not_found(
        store.set_password(Uuid::now_v7(), "x", None).await
    ));
}

pub async fn enroll_tokens_are_listed_and_revoked_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let token = |org_id: Uuid, site: &str, secret: &str, created_at: i64| NewEnrollToken {
        id: Uuid::now_v7(),
        org_id,
        site: site.into(),
        tags: vec!["linux".into(), "web".into()],
        secret_hash: secret.into(),
        created_at,
        expires_at: 1_000,
        uses_left: Some(3),
        created_by: "admin".into(),
    };
    let branch = token(org, "branch", "b", 2);
    let hq = token(org, "hq", "h", 1);
    let foreign = token(other, "hq", "f", 3);
    for t in [&branch, &hq, &foreign] {
        store.create_enroll_token(t).await.unwrap();
    }
    let listed = store.list_enroll_tokens(&Scope::org(org)).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| (t.id, t.site.as_str()))
            .collect::<Vec<_>>(),
        [(hq.id, "hq"), (branch.id, "branch")],
        "oldest first, only the organisation's"
    );
    let first = &listed[1];
    assert_eq!(first.tags, ["linux", "web"]);
    assert_eq!(
        (
            first.org_id,
            first.created_at,
            first.expires_at,
            first.uses_left,
            first.revoked
        ),
        (org, 2, 1_000, Some(3), false)
    );
    let at_hq = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("hq".into()),
        }],
        deny: Vec::new(),
    };
    let seen: Vec<Uuid> = store
        .list_enroll_tokens(&at_hq)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(seen, [hq.id]);

    // Spending a use shows in the list.
    let spent = store.consume_enroll_token("b", 10).await.unwrap();
    assert_eq!((spent.id, spent.uses_left), (branch.id, Some(2)));
    assert_eq!(spent.tags, ["linux", "web"]);

    // Revoking: out of scope (another site, another organisation) is not
    // found and changes nothing.
    assert!(not_found(
        store.revoke_enroll_token(&at_hq, branch.id).await
    ));
    assert!(not_found(
        store
            .revoke_enroll_token(&Scope::org(org), foreign.id)
            .await
    ));
    assert!(not_found(
        store
            .revoke_enroll_token(&Scope::all(), Uuid::now_v7())
            .await
    ));
    assert!(store.consume_enroll_token("b", 11).await.is_ok());
    store
        .revoke_enroll_token(&Scope::org(org), branch.id)
        .await
        .unwrap();
    let after = store.list_enroll_tokens(&Scope::all()).await.unwrap();
    let states: Vec<(Uuid, bool, Option<u32>)> = after
        .iter()
        .map(|t| (t.id, t.revoked, t.uses_left))
        .collect();
    assert_eq!(
        states,
        [
            (hq.id, false, Some(3)),
            (branch.id, true, Some(1)),
            (foreign.id, false, Some(3))
        ]
    );
    assert!(matches!(
        store.consume_enroll_token("b", 12).await,
        Err(StoreError::Refused(_))
    ));
}

pub async fn grants_are_edited_in_place_and_users_have_a_profile(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let ana = new_user(&*store, org, "ana").await;
    for role in ["admin", "read_only"] {
        store
            .upsert_builtin_role(&RoleRecord {
                id: role.into(),
                org_id: None,
                name: role.into(),
                permissions: vec![format!("{role}.perm")],
                version: 1,
            })
            .await
            .unwrap();
    }
    let grant = Uuid::now_v7();
    store
        .create_grant(&NewGrant {
            id: grant,
            user_id: ana,
            org_id: Some(org),
            site: None,
            role_id: "read_only".into(),
            deny: false,
        })
        .await
        .unwrap();
    let read = store.user_grants(ana).await.unwrap();
    assert_eq!(read[0].version, 1);

    // Out of scope, or unknown: not found; nothing changes.
    assert!(not_found(
        store
            .update_grant(&Scope::org(other), grant, "admin", None, false, None)
            .await
    ));
    assert!(not_found(
        store
            .update_grant(&Scope::all(), Uuid::now_v7(), "admin", None, false, None)
            .await
    ));
    // Changed in place: role, site and effect; the id and organisation stay,
    // and the principal holds the new role at once.
    let version = store
        .update_grant(&Scope::org(org), grant, "admin", Some("hq"), true, Some(1))
        .await
        .unwrap();
    assert_eq!(version, 2);
    let edited = &store.user_grants(ana).await.unwrap()[0];
    assert_eq!(
        (
            edited.id,
            edited.org_id,
            edited.role_id.as_str(),
            edited.site.as_deref(),
            edited.deny,
            edited.permissions.clone()
        ),
        (
            grant,
            Some(org),
            "admin",
            Some("hq"),
            true,
            vec!["admin.perm".to_string()]
        )
    );
    let principal = store.principal_for_user(ana).await.unwrap();
    assert_eq!(principal.grants[0].role_id, "admin");
    // An edit based on the version read before is refused.
    assert!(matches!(
        store
            .update_grant(&Scope::org(org), grant, "read_only", None, false, Some(1))
            .await,
        Err(StoreError::Stale(2))
    ));

    // A profile: set, read back in the list, cleared; versioned.
    let user = &store.list_users(&Scope::org(org)).await.unwrap()[0];
    assert_eq!(
        (user.full_name.as_deref(), user.email.as_deref()),
        (None, None)
    );
    assert!(not_found(
        store
            .set_user_profile(&Scope::org(other), ana, Some("Ana"), None, None)
            .await
    ));
    let version = store
        .set_user_profile(
            &Scope::org(org),
            ana,
            Some("Ana Lima"),
            Some("ana@example.com"),
            Some(user.version),
        )
        .await
        .unwrap();
    assert_eq!(version, user.version + 1);
    let user = &store.list_users(&Scope::org(org)).await.unwrap()[0];
    assert_eq!(
        (
            user.full_name.as_deref(),
            user.email.as_deref(),
            user.version
        ),
        (Some("Ana Lima"), Some("ana@example.com"), version)
    );
    assert!(matches!(
        store
            .set_user_profile(&Scope::org(org), ana, None, None, Some(version - 1))
            .await,
        Err(StoreError::Stale(v)) if v == version
    ));
    store
        .set_user_profile(&Scope::org(org), ana, None, None, None)
        .await
        .unwrap();
    let user = &store.list_users(&Scope::org(org)).await.unwrap()[0];
    assert_eq!(
        (user.full_name.as_deref(), user.email.as_deref()),
        (None, None)
    );
    // Created with a profile.
    store
        .create_user(&NewUser {
            id: Uuid::now_v7(),
            org_id: org,
            username: "bea".into(),
            password_hash: "x".into(),
            created_at: 9,
            full_name: Some("Bea".into()),
            email: Some("bea@example.com".into()),
        })
        .await
        .unwrap();
    let bea = store
        .list_users(&Scope::org(org))
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "bea")
        .unwrap();
    assert_eq!(bea.email.as_deref(), Some("bea@example.com"));
}

/// A grant that names another organisation's role (possible before grants
/// were checked against the role's organisation) is listed, so it can be
/// seen and removed, but grants nothing: that organisation's admins could
/// otherwise widen it by editing their role. A denial counts whatever its
/// role.
pub async fn a_grant_with_another_organisations_role_grants_nothing(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("elsewhere").await.unwrap().id;
    let bea = new_user(&*store, org, "bea").await;
    let role = |id: &str, org: Uuid, perms: &[&str]| RoleRecord {
        id: id.into(),
        org_id: Some(org),
        name: id.into(),
        permissions: perms.iter().map(|p| p.to_string()).collect(),
        version: 1,
    };
    store
        .create_role(&role("foreign-ops", other, &["jobs.run"]))
        .await
        .unwrap();
    store
        .create_role(&role("own-ops", org, &["devices.view"]))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (role_id, deny) in [
        ("foreign-ops", false),
        ("own-ops", false),
        ("foreign-ops", true),
    ] {
        let id = Uuid::now_v7();
        ids.push(id);
        store
            .create_grant(&NewGrant {
                id,
                user_id: bea,
                org_id: Some(org),
                site: None,
                role_id: role_id.into(),
                deny,
            })
            .await
            .unwrap();
    }
    let listed: Vec<Uuid> = store
        .user_grants(bea)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(listed, ids);
    let counted: Vec<(String, bool)> = store
        .principal_for_user(bea)
        .await
        .unwrap()
        .grants
        .into_iter()
        .map(|g| (g.role_id, g.deny))
        .collect();
    assert_eq!(
        counted,
        [
            ("own-ops".to_string(), false),
            ("foreign-ops".to_string(), true)
        ]
    );
}
