//! Scheduled reports and inbound email routes: kept per organisation,
//! edited under a version within scope, deleted; a due report is claimed
//! once and its outcome recorded; a Message-ID is claimed once.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub async fn report_schedules_are_scoped_and_claimed_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-reports").await.unwrap().id;
    let mut schedule = ReportScheduleRecord {
        id: Uuid::now_v7(),
        org_id: org,
        site: None,
        cadence: "monthly".into(),
        channel_id: Uuid::now_v7(),
        recipients: vec!["client@example.com".into()],
        created_by: "alice".into(),
        next_run_at: 5_000,
        last_sent_at: None,
        last_period: None,
        last_error: None,
        created_at: 1_000,
        updated_at: 1_000,
        version: 1,
    };
    store.create_report_schedule(&schedule).await.unwrap();
    let scope = Scope::org(org);
    assert_eq!(
        store.list_report_schedules(&scope).await.unwrap(),
        vec![schedule.clone()]
    );
    assert!(
        store
            .list_report_schedules(&Scope::org(other))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .get_report_schedule(&Scope::org(other), schedule.id)
            .await,
        Err(StoreError::NotFound)
    ));
    // Edited under a version, within scope only.
    schedule.cadence = "weekly".into();
    schedule.site = Some("hq".into());
    schedule.recipients = vec!["a@example.com".into(), "b@example.com".into()];
    schedule.created_by = "bob".into();
    assert!(matches!(
        store
            .update_report_schedule(&Scope::org(other), &schedule, Some(1))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .update_report_schedule(&scope, &schedule, Some(1))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store
            .update_report_schedule(&scope, &schedule, Some(1))
            .await,
        Err(StoreError::Stale(2))
    ));
    let stored = store
        .get_report_schedule(&scope, schedule.id)
        .await
        .unwrap();
    assert_eq!(
        (
            stored.cadence.as_str(),
            stored.site.as_deref(),
            stored.recipients.len(),
            stored.created_by.as_str()
        ),
        ("weekly", Some("hq"), 2, "bob")
    );
    // Due at its time, claimed once.
    assert!(store.due_report_schedules(4_999).await.unwrap().is_empty());
    let due = store.due_report_schedules(5_000).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(
        store
            .claim_report_schedule(schedule.id, 5_000, 9_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_report_schedule(schedule.id, 5_000, 9_000)
            .await
            .unwrap()
    );
    assert!(store.due_report_schedules(5_000).await.unwrap().is_empty());
    store
        .record_report_sent(schedule.id, 5_100, Err("relay refused"))
        .await
        .unwrap();
    let failed = store
        .get_report_schedule(&scope, schedule.id)
        .await
        .unwrap();
    assert_eq!(failed.last_error.as_deref(), Some("relay refused"));
    assert_eq!(failed.last_sent_at, None);
    store
        .record_report_sent(schedule.id, 5_200, Ok("2026-W45"))
        .await
        .unwrap();
    let sent = store
        .get_report_schedule(&scope, schedule.id)
        .await
        .unwrap();
    assert_eq!(
        (
            sent.last_sent_at,
            sent.last_period.as_deref(),
            sent.last_error
        ),
        (Some(5_200), Some("2026-W45"), None)
    );
    assert!(matches!(
        store
            .delete_report_schedule(&Scope::org(other), schedule.id)
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .delete_report_schedule(&scope, schedule.id)
        .await
        .unwrap();
    assert!(
        store
            .list_report_schedules(&scope)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn email_routes_are_scoped_and_messages_claimed_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-email").await.unwrap().id;
    let mut route = InboundEmailRouteRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: "support".into(),
        secret: "s".repeat(40),
        senders: vec!["@client.example".into()],
        priority: "p3".into(),
        created_by: "alice".into(),
        created_at: 1_000,
        updated_at: 1_000,
        version: 1,
    };
    store.create_email_route(&route).await.unwrap();
    let scope = Scope::org(org);
    assert_eq!(
        store.list_email_routes(&scope).await.unwrap(),
        vec![route.clone()]
    );
    assert!(
        store
            .list_email_routes(&Scope::org(other))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.get_email_route(&Scope::org(other), route.id).await,
        Err(StoreError::NotFound)
    ));
    route.senders.push("boss@elsewhere.example".into());
    route.priority = "p2".into();
    assert_eq!(
        store
            .update_email_route(&scope, &route, Some(1))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.update_email_route(&scope, &route, Some(1)).await,
        Err(StoreError::Stale(2))
    ));
    let stored = store.get_email_route(&scope, route.id).await.unwrap();
    assert_eq!(
        (
            stored.senders.len(),
            stored.priority.as_str(),
            stored.secret
        ),
        (2, "p2", route.secret.clone())
    );
    // A Message-ID once; forgotten after the window.
    assert!(
        store
            .claim_email_message(route.id, "<a@b>", 10_000, 0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_email_message(route.id, "<a@b>", 10_001, 0)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_email_message(route.id, "<a@b>", 20_000, 15_000)
            .await
            .unwrap()
    );
    assert!(matches!(
        store.delete_email_route(&Scope::org(other), route.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_email_route(&scope, route.id).await.unwrap();
    assert!(store.list_email_routes(&scope).await.unwrap().is_empty());
}
