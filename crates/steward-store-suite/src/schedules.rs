//! Schedules: which are due, claimed by one replica only, and what each
//! scope may read or delete.

use crate::jobs::{not_found, site_scope};
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub async fn schedules_are_due_claimed_once_and_scoped(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let schedule = |org_id: Uuid, name: &str, enabled: bool, next_run_at: i64| ScheduleRecord {
        version: 1,
        id: Uuid::now_v7(),
        org_id,
        name: name.into(),
        timing: serde_json::json!({ "every_secs": 3600 }),
        job: serde_json::json!({ "name": name, "action": { "kind": "ping" }, "selector": { "all": true } }),
        enabled,
        next_run_at,
        last_run_at: None,
        created_by: "ana".into(),
    };
    let nightly = schedule(org, "nightly", true, 1_000);
    let paused = schedule(org, "paused", false, 500);
    let foreign = schedule(other, "weekly", true, 2_000);
    for s in [&nightly, &paused, &foreign] {
        store.create_schedule(s).await.unwrap();
    }
    assert!(
        store
            .create_schedule(&schedule(org, "nightly", true, 1))
            .await
            .is_err(),
        "one name per organisation"
    );
    assert!(store.due_schedules(999).await.unwrap().is_empty());
    let due = store.due_schedules(1_000).await.unwrap();
    assert_eq!(due.iter().map(|s| s.id).collect::<Vec<_>>(), [nightly.id]);
    assert_eq!(
        (&due[0].timing, &due[0].job, due[0].created_by.as_str()),
        (&nightly.timing, &nightly.job, "ana")
    );
    let both: Vec<Uuid> = store
        .due_schedules(5_000)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(both, [nightly.id, foreign.id], "soonest first");

    // Replicas claiming the same due run: one wins.
    let claims: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .claim_schedule(nightly.id, 1_000, Some(1_000), 4_600)
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for claim in claims {
        won += usize::from(claim.await.unwrap().unwrap());
    }
    assert_eq!(won, 1);
    assert!(
        !store
            .claim_schedule(nightly.id, 1_000, Some(1_000), 4_600)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_schedule(Uuid::now_v7(), 1_000, None, 2)
            .await
            .unwrap()
    );
    let listed = store.list_schedules(&Scope::org(org)).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|s| (s.name.as_str(), s.enabled, s.next_run_at, s.last_run_at))
            .collect::<Vec<_>>(),
        [
            ("nightly", true, 4_600, Some(1_000)),
            ("paused", false, 500, None)
        ]
    );
    // Moving the next run without running keeps the last run.
    assert!(
        store
            .claim_schedule(nightly.id, 4_600, None, 8_200)
            .await
            .unwrap()
    );
    let moved = store
        .list_schedules(&Scope::org(org))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((moved.next_run_at, moved.last_run_at), (8_200, Some(1_000)));
    // A site technician sees the organisation's schedules; nobody else's.
    assert_eq!(
        store
            .list_schedules(&site_scope(org, "hq"))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_schedules(&Scope::org(other))
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [foreign.id]
    );

    assert!(not_found(
        store.delete_schedule(&Scope::org(other), nightly.id).await
    ));
    assert!(not_found(
        store
            .delete_schedule(&site_scope(org, "hq"), nightly.id)
            .await
    ));
    store
        .delete_schedule(&Scope::org(org), nightly.id)
        .await
        .unwrap();
    assert!(not_found(
        store.delete_schedule(&Scope::all(), nightly.id).await
    ));
    assert_eq!(
        store
            .due_schedules(i64::MAX)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [foreign.id]
    );
}
