//! The audit log: what an append returns, pages by cursor both ways, what
//! each scope reads, and one chain under concurrent appends.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn entry(org: Option<Uuid>, at: i64, target: &str) -> NewAuditEntry {
    NewAuditEntry {
        org_id: org,
        at,
        actor: "ana".into(),
        source: "192.0.2.1".into(),
        action: "device.revoke".into(),
        target: target.into(),
        detail: r#"{"before":"active","after":"revoked"}"#.into(),
    }
}

fn ids(entries: &[AuditEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.id).collect()
}

pub async fn audit_pages_follow_cursors_and_scope(store: Arc<dyn Store>) {
    let acme = store.create_org("acme").await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let mut appended = Vec::new();
    for (i, org) in [None, Some(acme), Some(other), Some(acme), None]
        .into_iter()
        .enumerate()
    {
        appended.push(
            store
                .append_audit(&entry(org, 100 + i as i64, &format!("t{i}")))
                .await
                .unwrap(),
        );
    }
    // What an append returns is what is stored, chained.
    let first = &appended[0];
    assert_eq!(
        (first.id, first.prev_hash.as_str(), first.at),
        (1, AUDIT_GENESIS, 100)
    );
    assert_eq!(
        (
            first.actor.as_str(),
            first.source.as_str(),
            first.action.as_str(),
            first.target.as_str()
        ),
        ("ana", "192.0.2.1", "device.revoke", "t0")
    );
    assert_eq!(first.hash, audit_hash(first));
    assert_eq!(appended[1].prev_hash, first.hash);
    assert_eq!(appended[1].org_id, Some(acme));
    let all = store
        .audit_entries(&Scope::all(), 0, 100, &Default::default())
        .await
        .unwrap();
    assert_eq!(all, appended);
    assert_eq!(verify_audit_chain(&all, AUDIT_GENESIS), Ok(5));

    // Oldest first after a cursor; newest first before one; both limited.
    assert_eq!(
        ids(&store
            .audit_entries(&Scope::all(), 2, 2, &Default::default())
            .await
            .unwrap()),
        [3, 4]
    );
    assert!(
        store
            .audit_entries(&Scope::all(), 5, 10, &Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&store
            .audit_recent(&Scope::all(), 5, 3, &Default::default())
            .await
            .unwrap()),
        [4, 3, 2]
    );
    assert!(
        store
            .audit_recent(&Scope::all(), 1, 10, &Default::default())
            .await
            .unwrap()
            .is_empty()
    );

    // An organisation reads its own entries only, server-wide ones not.
    assert_eq!(
        ids(&store
            .audit_entries(&Scope::org(acme), 0, 100, &Default::default())
            .await
            .unwrap()),
        [2, 4]
    );
    assert_eq!(
        ids(&store
            .audit_recent(&Scope::org(acme), i64::MAX, 100, &Default::default())
            .await
            .unwrap()),
        [4, 2]
    );
    assert_eq!(
        ids(&store
            .audit_entries(&Scope::org(other), 0, 100, &Default::default())
            .await
            .unwrap()),
        [3]
    );
    assert!(
        store
            .audit_entries(&Scope::none(), 0, 100, &Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    // A site-limited grant does not reach whole-organisation entries.
    let site_only = Scope {
        allow: vec![Place {
            org: Some(acme),
            site: Some("hq".into()),
        }],
        deny: Vec::new(),
    };
    assert!(
        store
            .audit_entries(&site_only, 0, 100, &Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    // Everything but one organisation: its entries and server-wide ones
    // are hidden.
    let but_other = Scope {
        allow: Scope::all().allow,
        deny: vec![Place {
            org: Some(other),
            site: None,
        }],
    };
    assert_eq!(
        ids(&store
            .audit_entries(&but_other, 0, 100, &Default::default())
            .await
            .unwrap()),
        [2, 4]
    );

    // Filters: who exactly, what the action or the object contains (any
    // case, the details included), and a time range, in both directions.
    let find = |filter: AuditFilter| {
        let store = store.clone();
        async move {
            let up = ids(&store
                .audit_entries(&Scope::all(), 0, 100, &filter)
                .await
                .unwrap());
            let mut down = ids(&store
                .audit_recent(&Scope::all(), i64::MAX, 100, &filter)
                .await
                .unwrap());
            down.reverse();
            assert_eq!(up, down, "{filter:?}");
            up
        }
    };
    let when = |since, until| AuditFilter {
        since,
        until,
        ..Default::default()
    };
    assert_eq!(find(when(Some(102), Some(103))).await, [3, 4]);
    assert_eq!(find(when(None, Some(100))).await, [1]);
    assert_eq!(find(when(Some(104), None)).await, [5]);
    let object = |text: &str| AuditFilter {
        object: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(find(object("T3")).await, [4]);
    assert_eq!(find(object("REVOKED")).await, [1, 2, 3, 4, 5]);
    assert_eq!(find(object("nothing-like-it")).await, Vec::<i64>::new());
    let action = |text: &str| AuditFilter {
        action: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(find(action("Device.")).await, [1, 2, 3, 4, 5]);
    assert_eq!(find(action("shell")).await, Vec::<i64>::new());
    let actor = |name: &str| AuditFilter {
        actor: Some(name.into()),
        ..Default::default()
    };
    assert_eq!(find(actor("ana")).await, [1, 2, 3, 4, 5]);
    // The actor is matched whole.
    assert_eq!(find(actor("an")).await, Vec::<i64>::new());
    // Filters narrow the scope, never widen it.
    assert_eq!(
        ids(&store
            .audit_entries(&Scope::org(acme), 0, 100, &when(Some(103), None))
            .await
            .unwrap()),
        [4]
    );
}

pub async fn concurrent_audit_appends_make_one_chain(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .append_audit(&entry(Some(org), i, &format!("t{i}")))
                    .await
                    .unwrap()
                    .id
            })
        })
        .collect();
    let mut got = Vec::new();
    for task in tasks {
        got.push(task.await.unwrap());
    }
    got.sort();
    assert_eq!(got, (1..=12).collect::<Vec<i64>>());
    let entries = store
        .audit_entries(&Scope::all(), 0, 100, &Default::default())
        .await
        .unwrap();
    assert_eq!(verify_audit_chain(&entries, AUDIT_GENESIS), Ok(12));
}
