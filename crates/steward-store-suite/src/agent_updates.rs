//! Agent self-update: releases are unique per platform and version and
//! read back in chunks; rollouts are scoped to their organisation and
//! finished once; offers and answers are kept per device; versions are
//! replaced at each hello.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub async fn agent_releases_rollouts_and_answers_are_kept(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-updates").await.unwrap().id;
    let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let release = AgentReleaseRecord {
        id: Uuid::now_v7(),
        target: "x86_64-unknown-linux-gnu".into(),
        version: "0.2.0".into(),
        sha256: "ab".repeat(32),
        size: binary.len() as i64,
        key_id: "k1".into(),
        signature: "c2ln".into(),
        created_by: "alice".into(),
        created_at: 1_000,
    };
    store.create_agent_release(&release, &binary).await.unwrap();
    let again = AgentReleaseRecord {
        id: Uuid::now_v7(),
        ..release.clone()
    };
    assert!(matches!(
        store.create_agent_release(&again, b"x").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.list_agent_releases().await.unwrap(),
        vec![release.clone()]
    );
    assert_eq!(store.get_agent_release(release.id).await.unwrap(), release);
    // Chunks: every byte, in order, bytes above 127 included; empty past
    // the end.
    let mut read = Vec::new();
    while let Ok(part) = store
        .agent_release_chunk(release.id, read.len() as i64, 1024)
        .await
    {
        if part.is_empty() {
            break;
        }
        read.extend(part);
    }
    assert_eq!(read, binary);
    assert!(
        store
            .agent_release_chunk(release.id, 5000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.agent_release_chunk(Uuid::now_v7(), 0, 10).await,
        Err(StoreError::NotFound)
    ));

    let rollout = AgentRolloutRecord {
        id: Uuid::now_v7(),
        org_id: org,
        release_id: release.id,
        pilot_tags: vec!["pilot".into()],
        ring_delay_ms: 3_600_000,
        max_failures: 1,
        state: "active".into(),
        reason: String::new(),
        created_by: "alice".into(),
        created_at: 2_000,
        updated_at: 2_000,
    };
    store.create_agent_rollout(&rollout).await.unwrap();
    let scope = Scope::org(org);
    assert_eq!(
        store.list_agent_rollouts(&scope, true).await.unwrap(),
        vec![rollout.clone()]
    );
    assert!(
        store
            .list_agent_rollouts(&Scope::org(other), false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .get_agent_rollout(&Scope::org(other), rollout.id)
            .await,
        Err(StoreError::NotFound)
    ));
    // Another tenant cannot stop it; the first stop wins, once.
    assert!(
        !store
            .finish_agent_rollout(&Scope::org(other), rollout.id, "stopped", "x", 3_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_agent_rollout(&scope, rollout.id, "stopped", "p1 rolled back", 3_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_agent_rollout(&scope, rollout.id, "done", "late", 4_000)
            .await
            .unwrap()
    );
    let stopped = store.get_agent_rollout(&scope, rollout.id).await.unwrap();
    assert_eq!(
        (
            stopped.state.as_str(),
            stopped.reason.as_str(),
            stopped.updated_at
        ),
        ("stopped", "p1 rolled back", 3_000)
    );
    assert!(
        store
            .list_agent_rollouts(&scope, true)
            .await
            .unwrap()
            .is_empty()
    );

    let device = crate::device(store.as_ref(), org, "fp-agent-update").await;
    store
        .record_agent_offer(rollout.id, device, 2_500)
        .await
        .unwrap();
    store
        .record_agent_answer(rollout.id, device, "installing", "", 2_600)
        .await
        .unwrap();
    store
        .record_agent_answer(rollout.id, device, "rolled_back", "did not connect", 2_700)
        .await
        .unwrap();
    assert_eq!(
        store.list_agent_updates(rollout.id).await.unwrap(),
        vec![AgentUpdateRecord {
            rollout_id: rollout.id,
            device_id: device,
            offered_at: Some(2_500),
            outcome: Some("rolled_back".into()),
            detail: "did not connect".into(),
            answered_at: Some(2_700),
        }]
    );

    store
        .set_agent_version(device, "0.1.0", "x86_64-unknown-linux-gnu", 10)
        .await
        .unwrap();
    store
        .set_agent_version(device, "0.2.0", "x86_64-unknown-linux-gnu", 20)
        .await
        .unwrap();
    assert_eq!(
        store.agent_versions(org).await.unwrap(),
        vec![AgentVersionRecord {
            device_id: device,
            version: "0.2.0".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            seen_at: 20,
        }]
    );
    // The same hello again changes nothing: `seen_at` is when it first
    // said this version.
    store
        .set_agent_version(device, "0.2.0", "x86_64-unknown-linux-gnu", 30)
        .await
        .unwrap();
    assert_eq!(store.agent_versions(org).await.unwrap()[0].seen_at, 20);
    assert!(store.agent_versions(other).await.unwrap().is_empty());
}
