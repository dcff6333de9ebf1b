//! OTLP ingestion: tokens kept hashed per organisation and revoked within
//! scope; resources name live devices of the token's organisation only;
//! telemetry stored without a sequence number leaves the device row alone.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub async fn otlp_tokens_are_hashed_scoped_and_revoked(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-otlp").await.unwrap().id;
    let token = OtlpTokenRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: "collector".into(),
        secret_hash: "ab".repeat(32),
        created_by: "alice".into(),
        created_at: 1_000,
    };
    store.create_otlp_token(&token).await.unwrap();
    let theirs = OtlpTokenRecord {
        id: Uuid::now_v7(),
        org_id: other,
        secret_hash: "cd".repeat(32),
        ..token.clone()
    };
    store.create_otlp_token(&theirs).await.unwrap();
    // The same secret twice is refused (the hash identifies the token).
    let twin = OtlpTokenRecord {
        id: Uuid::now_v7(),
        ..token.clone()
    };
    assert!(store.create_otlp_token(&twin).await.is_err());
    assert_eq!(
        store.list_otlp_tokens(&Scope::org(org)).await.unwrap(),
        vec![token.clone()]
    );
    assert_eq!(
        store.otlp_token_by_hash(&"ab".repeat(32)).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(store.otlp_token_by_hash("00").await.unwrap(), None);
    // Another organisation's scope cannot revoke it.
    assert!(matches!(
        store.revoke_otlp_token(&Scope::org(other), token.id).await,
        Err(StoreError::NotFound)
    ));
    store
        .revoke_otlp_token(&Scope::org(org), token.id)
        .await
        .unwrap();
    assert_eq!(
        store.otlp_token_by_hash(&"ab".repeat(32)).await.unwrap(),
        None
    );
    assert!(
        store
            .list_otlp_tokens(&Scope::org(org))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_otlp_tokens(&Scope::all()).await.unwrap(),
        vec![theirs]
    );
}

async fn host(store: &dyn Store, org: Uuid, fingerprint: &str, hostname: &str) -> Uuid {
    let id = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id,
            org_id: org,
            site: "hq".into(),
            name: fingerprint.into(),
            hostname: hostname.into(),
            tags: vec![],
            cert_fingerprint: fingerprint.into(),
            enrolled_at: 1,
        })
        .await
        .unwrap();
    id
}

pub async fn otlp_resources_name_live_devices_of_one_organisation(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-otlp-devices").await.unwrap().id;
    let web = host(store.as_ref(), org, "otlp-web", "Web-1").await;
    let db = host(store.as_ref(), org, "otlp-db", "db-1").await;
    let gone = host(store.as_ref(), org, "otlp-gone", "gone-1").await;
    let foreign = host(store.as_ref(), other, "otlp-foreign", "web-1").await;
    store
        .retire_device(&Scope::org(org), gone, 5)
        .await
        .unwrap();
    let found = store
        .otlp_devices(
            org,
            &[db, foreign, gone],
            &["web-1".into(), "GONE-1".into(), "nowhere".into()],
        )
        .await
        .unwrap();
    let mut ids: Vec<Uuid> = found.iter().map(|d| d.id).collect();
    ids.sort();
    let mut expected = vec![web, db];
    expected.sort();
    assert_eq!(ids, expected, "{found:?}");
    assert!(found.iter().all(|d| d.org_id == org));
    assert!(found.iter().any(|d| d.hostname == "Web-1"));
    assert!(store.otlp_devices(org, &[], &[]).await.unwrap().is_empty());
    // The other organisation finds its own web-1 only.
    let theirs = store
        .otlp_devices(other, &[web], &["web-1".into()])
        .await
        .unwrap();
    assert_eq!(theirs.iter().map(|d| d.id).collect::<Vec<_>>(), [foreign]);

    // Pushed telemetry (no sequence number) is stored and leaves the
    // device's sequence alone; the agent's next batch still counts.
    let outcomes = store
        .ingest(&[crate::batch(web, org, UNSEQUENCED, 10_000, 0.5)])
        .await
        .unwrap();
    assert_eq!(outcomes, [IngestOutcome::Stored]);
    assert_eq!(store.stored_seq(web).await.unwrap(), 0);
    let outcomes = store
        .ingest(&[
            crate::batch(web, org, 1, 11_000, 0.6),
            crate::batch(web, org, UNSEQUENCED, 12_000, 0.7),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes, [IngestOutcome::Stored, IngestOutcome::Stored]);
    assert_eq!(store.stored_seq(web).await.unwrap(), 1);
    let series = store
        .query_metric(
            &Scope::org(org),
            &MetricQuery {
                device_id: web,
                name: "system.cpu.utilization".into(),
                from_ms: 0,
                to_ms: 20_000,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        series[0].samples,
        [(10_000, 0.5), (11_000, 0.6), (12_000, 0.7)]
    );
}
