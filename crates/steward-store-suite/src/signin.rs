//! Sign-in state both back ends must keep alike: TOTP codes accepted once,
//! and an organisation's two-factor requirement reaching sessions and
//! tokens that already exist.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

async fn user(store: &dyn Store, org: Uuid, name: &str) -> Uuid {
    store
        .create_user(&NewUser {
            id: Uuid::now_v7(),
            org_id: org,
            username: name.into(),
            password_hash: "x".into(),
            created_at: 0,
            full_name: None,
            email: None,
        })
        .await
        .unwrap()
}

pub async fn migrations_are_idempotent(store: Arc<dyn Store>) {
    let version = store.migrate().await.unwrap();
    assert!(version >= 1);
    assert_eq!(store.migrate().await.unwrap(), version);
}

pub async fn totp_steps_are_accepted_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let (ana, bob) = (
        user(store.as_ref(), org, "ana").await,
        user(store.as_ref(), org, "bob").await,
    );
    assert!(store.claim_totp_step(ana, 1_000).await.unwrap());
    // The same code again, or an earlier one still within the skew: refused.
    assert!(!store.claim_totp_step(ana, 1_000).await.unwrap());
    assert!(!store.claim_totp_step(ana, 999).await.unwrap());
    assert!(store.claim_totp_step(ana, 1_001).await.unwrap());
    // Per user.
    assert!(store.claim_totp_step(bob, 1_000).await.unwrap());
    // Replicas checking one code at the same moment: one accepts it.
    let claims: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_totp_step(bob, 1_002).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for claim in claims {
        accepted += usize::from(claim.await.unwrap());
    }
    assert_eq!(accepted, 1);
}

pub async fn required_totp_reaches_existing_sessions_and_tokens(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let ana = user(store.as_ref(), org, "ana").await;
    let session = |hash: &str, mfa_done: bool| NewSession {
        session_hash: hash.into(),
        user_id: ana,
        created_at: 0,
        expires_at: 100,
        mfa_done,
    };
    // Signed in with a password only, and a token made then.
    store
        .create_session(&session("password-only", false))
        .await
        .unwrap();
    store
        .create_api_token(&NewApiToken {
            id: Uuid::now_v7(),
            user_id: ana,
            name: "t".into(),
            token_hash: "token".into(),
            created_at: 0,
            expires_at: None,
            role_id: None,
            scope_org: None,
            scope_site: None,
        })
        .await
        .unwrap();
    let done = |store: Arc<dyn Store>| async move {
        (
            store
                .principal_for_session("password-only", 1)
                .await
                .unwrap()
                .mfa_done,
            store
                .principal_for_token("token", 1)
                .await
                .unwrap()
                .mfa_done,
        )
    };
    assert_eq!(done(store.clone()).await, (true, true));
    store
        .set_org_require_totp(&Scope::all(), org, true)
        .await
        .unwrap();
    assert_eq!(done(store.clone()).await, (false, false));
    // TOTP turned on (from another session): the token works again; the
    // password-only session still owes its second factor until it
    // presents one.
    store.set_totp(ana, Some("SECRET"), true).await.unwrap();
    assert_eq!(done(store.clone()).await, (false, true));
    store
        .create_session(&session("with-code", true))
        .await
        .unwrap();
    let with_code = store.principal_for_session("with-code", 1).await.unwrap();
    assert!(with_code.mfa_done);
    store.complete_session_mfa("password-only").await.unwrap();
    assert_eq!(done(store.clone()).await, (true, true));
    // Lifting the requirement frees password-only sessions again.
    store.set_totp(ana, None, false).await.unwrap();
    store
        .create_session(&session("later", false))
        .await
        .unwrap();
    assert!(
        !store
            .principal_for_session("later", 1)
            .await
            .unwrap()
            .mfa_done
    );
    store
        .set_org_require_totp(&Scope::all(), org, false)
        .await
        .unwrap();
    assert!(
        store
            .principal_for_session("later", 1)
            .await
            .unwrap()
            .mfa_done
    );
}
