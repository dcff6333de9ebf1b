//! Problems: saved once per organisation, signature and rule kind (saved
//! again, updated in place keeping what people wrote), edited under a
//! version within scope; alert occurrences carry their incident.

use crate::fleet::placed_device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn change(org: Uuid, device: Uuid, monitor: &str, at: i64) -> AlertChange {
    AlertChange {
        org_id: org,
        monitor_id: monitor.into(),
        monitor_name: monitor.into(),
        device_id: device,
        subject: String::new(),
        severity: "critical".into(),
        at,
        summary: "broken".into(),
        notify: true,
        flapping: false,
        suppressed: None,
    }
}

pub async fn problems_are_kept_once_per_signature_and_edited_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-problems").await.unwrap().id;
    let web = placed_device(store.as_ref(), org, "hq", "web", &[]).await;
    let alert = store
        .record_alert_change(&change(org, web, "disk", 5_000))
        .await
        .unwrap()
        .unwrap();
    let incident = Uuid::now_v7();
    let opened = IncidentRecord {
        id: incident,
        org_id: org,
        title: "disk".into(),
        status: "open".into(),
        priority: "p2".into(),
        assignee: None,
        devices: vec![],
        alerts: vec![],
        time_spent_ms: 0,
        opened_at: 5_000,
        opened_by: "alerting".into(),
        acknowledged_at: None,
        resolved_at: None,
        closed_at: None,
        last_activity: 5_000,
        version: 1,
    };
    let link = AlertLink {
        alert_id: alert,
        device_id: web,
        monitor_id: "disk".into(),
        group_key: None,
    };
    let entry = TimelineEntry {
        at: 5_000,
        actor: "alerting".into(),
        kind: "alert".into(),
        body: serde_json::json!({}),
    };
    assert!(
        store
            .link_alert(incident, &link, Some(&opened), &entry)
            .await
            .unwrap()
    );
    let seen = store.alert_occurrences(4_000).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (
            seen[0].monitor_id.as_str(),
            seen[0].device_id,
            seen[0].at,
            seen[0].incident_id
        ),
        ("disk", web, 5_000, Some(incident))
    );
    assert!(store.alert_occurrences(5_001).await.unwrap().is_empty());

    let mut found = ProblemRecord {
        id: Uuid::now_v7(),
        org_id: org,
        signature: "disk".into(),
        rule_kind: "spread".into(),
        rule: serde_json::json!({ "kind": "spread" }),
        status: "open".into(),
        count: 20,
        first_seen: 1_000,
        last_seen: 5_000,
        devices: vec![web],
        incidents: vec![incident],
        root_cause: None,
        workaround: None,
        fix: None,
        known_error: false,
        resolved_at: None,
        version: 1,
    };
    store.save_problem(&found).await.unwrap();
    let scope = Scope::org(org);
    let mut stored = store.list_problems(&scope).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].devices, vec![web]);
    assert_eq!(stored[0].incidents, vec![incident]);
    assert!(
        store
            .list_problems(&Scope::org(other))
            .await
            .unwrap()
            .is_empty()
    );

    // People write what they learn, under the version they read.
    let mut edited = stored.remove(0);
    edited.root_cause = Some("log rotation off".into());
    edited.known_error = true;
    edited.status = "known_error".into();
    let version = store
        .update_problem(&scope, &edited, Some(edited.version))
        .await
        .unwrap();
    assert_eq!(version, 2);
    assert!(matches!(
        store.update_problem(&scope, &edited, Some(1)).await,
        Err(StoreError::Stale(2))
    ));
    assert!(matches!(
        store
            .update_problem(&Scope::org(other), &edited, None)
            .await,
        Err(StoreError::NotFound)
    ));

    // Found again (another id): the same record, counts moved on, what
    // people wrote kept.
    found.id = Uuid::now_v7();
    found.count = 25;
    found.last_seen = 9_000;
    store.save_problem(&found).await.unwrap();
    let again = store.get_problem(&scope, edited.id).await.unwrap();
    assert_eq!(
        (again.count, again.last_seen, again.version),
        (25, 9_000, 3)
    );
    assert_eq!(again.root_cause.as_deref(), Some("log rotation off"));
    assert!(again.known_error);
    assert!(matches!(
        store.get_problem(&Scope::org(other), edited.id).await,
        Err(StoreError::NotFound)
    ));
}
