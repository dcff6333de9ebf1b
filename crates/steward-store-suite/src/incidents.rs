//! Incidents: edited under a version within scope, filtered, with a
//! timeline; an alert links to one incident only, however many replicas
//! try at once.

use crate::fleet::placed_device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn record(org: Uuid, title: &str, devices: Vec<Uuid>, at: i64) -> IncidentRecord {
    IncidentRecord {
        id: Uuid::now_v7(),
        org_id: org,
        title: title.into(),
        status: "open".into(),
        priority: "p2".into(),
        assignee: None,
        devices,
        alerts: Vec::new(),
        time_spent_ms: 0,
        opened_at: at,
        opened_by: "alice".into(),
        acknowledged_at: None,
        resolved_at: None,
        closed_at: None,
        last_activity: at,
        version: 1,
    }
}

fn entry(at: i64, actor: &str, kind: &str, body: serde_json::Value) -> TimelineEntry {
    TimelineEntry {
        at,
        actor: actor.into(),
        kind: kind.into(),
        body,
    }
}

pub async fn incidents_are_edited_under_a_version_within_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-incidents").await.unwrap().id;
    let web = placed_device(store.as_ref(), org, "hq", "web", &[]).await;
    let db = placed_device(store.as_ref(), org, "hq", "db", &[]).await;
    let first = record(org, "web down", vec![web], 1_000);
    let second = record(org, "db slow", vec![db], 2_000);
    let foreign = record(other, "elsewhere", vec![], 3_000);
    store
        .create_incident(
            &first,
            &[entry(1_000, "alice", "opened", "web down".into())],
        )
        .await
        .unwrap();
    store.create_incident(&second, &[]).await.unwrap();
    store.create_incident(&foreign, &[]).await.unwrap();

    let scope = Scope::org(org);
    let all = store
        .list_incidents(&scope, &IncidentFilter::default())
        .await
        .unwrap();
    let titles: Vec<&str> = all.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        ["db slow", "web down"],
        "newest first, own org only"
    );
    let on_web = store
        .list_incidents(
            &scope,
            &IncidentFilter {
                device: Some(web),
                ..IncidentFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(on_web.len(), 1);
    assert_eq!(on_web[0].devices, vec![web]);
    assert!(matches!(
        store.get_incident(&scope, foreign.id).await,
        Err(StoreError::NotFound)
    ));

    // Acknowledged under the version read; a stale version is refused.
    let mut acked = store.get_incident(&scope, first.id).await.unwrap();
    assert_eq!(acked.version, 1);
    acked.status = "acknowledged".into();
    acked.acknowledged_at = Some(5_000);
    acked.assignee = Some("bob".into());
    acked.devices.push(db);
    let version = store
        .update_incident(
            &scope,
            &acked,
            Some(1),
            &[entry(
                5_000,
                "bob",
                "status",
                serde_json::json!({"to": "acknowledged"}),
            )],
        )
        .await
        .unwrap();
    assert_eq!(version, 2);
    assert!(matches!(
        store.update_incident(&scope, &acked, Some(1), &[]).await,
        Err(StoreError::Stale(2))
    ));
    assert!(matches!(
        store
            .update_incident(&Scope::org(other), &acked, None, &[])
            .await,
        Err(StoreError::NotFound)
    ));
    let filtered = store
        .list_incidents(
            &scope,
            &IncidentFilter {
                status: Some("acknowledged".into()),
                priority: Some("p2".into()),
                device: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].assignee.as_deref(), Some("bob"));
    assert_eq!(filtered[0].devices.len(), 2, "a device linked by the edit");

    // Notes go on the timeline in order, only within scope.
    store
        .append_timeline(
            &scope,
            first.id,
            &entry(6_000, "bob", "note", "rebooted".into()),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .append_timeline(
                &Scope::org(other),
                first.id,
                &entry(7_000, "eve", "note", "x".into())
            )
            .await,
        Err(StoreError::NotFound)
    ));
    let timeline = store.incident_timeline(&scope, first.id).await.unwrap();
    let kinds: Vec<(&str, &str)> = timeline
        .iter()
        .map(|e| (e.kind.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("opened", "alice"), ("status", "bob"), ("note", "bob")]
    );
    assert_eq!(timeline[2].body, serde_json::json!("rebooted"));
    assert!(matches!(
        store.incident_timeline(&Scope::org(other), first.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .get_incident(&scope, first.id)
            .await
            .unwrap()
            .last_activity,
        6_000
    );

    // Deleted within scope only, with its timeline.
    assert!(matches!(
        store.delete_incident(&Scope::org(other), first.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_incident(&scope, first.id).await.unwrap();
    assert!(matches!(
        store.get_incident(&scope, first.id).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn an_alert_joins_one_incident_only(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let web = placed_device(store.as_ref(), org, "hq", "web", &[]).await;
    let alert = Uuid::now_v7();
    let link = AlertLink {
        alert_id: alert,
        device_id: web,
        monitor_id: "disk".into(),
        group_key: Some("site:hq".into()),
    };
    // Eight replicas try to open an incident for one alert at once.
    let mut tries = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        let link = link.clone();
        tries.push(tokio::spawn(async move {
            let new = record(org, &format!("try {n}"), vec![], 1_000);
            let opened = entry(
                1_000,
                "alerting",
                "alert",
                serde_json::json!({"state": "open"}),
            );
            store.link_alert(new.id, &link, Some(&new), &opened).await
        }));
    }
    let mut won = 0;
    for t in tries {
        if t.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one incident per alert");
    let scope = Scope::org(org);
    let incidents = store
        .list_incidents(&scope, &IncidentFilter::default())
        .await
        .unwrap();
    assert_eq!(incidents.len(), 1, "the losers left nothing behind");
    let incident = &incidents[0];
    assert_eq!(incident.alerts, vec![alert]);
    assert_eq!(incident.devices, vec![web]);
    assert_eq!(
        store.incident_of_alert(alert).await.unwrap(),
        Some(incident.id)
    );
    assert_eq!(store.incident_of_alert(Uuid::now_v7()).await.unwrap(), None);

    // A second alert joins it; the grouping keys show both.
    let second = AlertLink {
        alert_id: Uuid::now_v7(),
        device_id: web,
        monitor_id: "cpu".into(),
        group_key: None,
    };
    assert!(
        store
            .link_alert(
                incident.id,
                &second,
                None,
                &entry(2_000, "alerting", "alert", serde_json::json!({}))
            )
            .await
            .unwrap()
    );
    let candidates = store.grouping_candidates(org, 1_500).await.unwrap();
    assert_eq!(candidates.len(), 1);
    let mut monitors = candidates[0].monitors.clone();
    monitors.sort();
    assert_eq!(monitors, ["cpu", "disk"]);
    assert_eq!(candidates[0].groups, ["site:hq"]);
    assert_eq!(candidates[0].devices, vec![web]);
    assert_eq!(candidates[0].last_activity, 2_000);
    assert!(
        store
            .grouping_candidates(org, 2_001)
            .await
            .unwrap()
            .is_empty()
    );
    // Resolved incidents take no alerts.
    let mut resolved = store.get_incident(&scope, incident.id).await.unwrap();
    resolved.status = "resolved".into();
    store
        .update_incident(&scope, &resolved, None, &[])
        .await
        .unwrap();
    assert!(store.grouping_candidates(org, 0).await.unwrap().is_empty());
}
