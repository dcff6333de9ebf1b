//! Monitors, alerts as people handle them, noise rules, suppression counts
//! and the notification outbox.

use crate::device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn not_found<T: std::fmt::Debug>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

fn change(org: Uuid, device: Uuid, subject: &str, severity: &str, at: i64) -> AlertChange {
    AlertChange {
        org_id: org,
        monitor_id: "m1".into(),
        monitor_name: "disk".into(),
        device_id: device,
        subject: subject.into(),
        severity: severity.into(),
        at,
        summary: format!("{subject} {severity}"),
        notify: true,
        flapping: false,
        suppressed: None,
    }
}

async fn channel(store: &dyn Store, org: Uuid, name: &str, min: &str, tags: &[&str]) -> Uuid {
    let id = Uuid::now_v7();
    store
        .create_channel(&ChannelRecord {
            enabled: true,
            version: 1,
            id,
            org_id: org,
            name: name.into(),
            kind: "webhook".into(),
            config: serde_json::json!({ "url": "http://127.0.0.1:9/", "tags": tags }),
            min_severity: min.into(),
            pending: 0,
            undelivered: 0,
            last_error: None,
        })
        .await
        .unwrap();
    id
}

pub async fn monitors_are_listed_and_deleted_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let monitor = |org_id: Uuid, name: &str| MonitorRecord {
        enabled: true,
        version: 1,
        id: Uuid::now_v7(),
        org_id,
        name: name.into(),
        definition: serde_json::json!({ "spec": { "kind": "threshold", "above": 0.9 }, "enabled": true }),
    };
    let (disk, cpu, foreign) = (
        monitor(org, "disk"),
        monitor(org, "cpu"),
        monitor(other, "disk"),
    );
    for m in [&disk, &cpu, &foreign] {
        store.create_monitor(m).await.unwrap();
    }
    assert!(
        matches!(
            store.create_monitor(&monitor(org, "disk")).await,
            Err(StoreError::Conflict(_))
        ),
        "one name per organisation"
    );
    let listed = store.list_monitors(&Scope::org(org)).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|m| (m.id, m.name.as_str()))
            .collect::<Vec<_>>(),
        [(cpu.id, "cpu"), (disk.id, "disk")]
    );
    assert_eq!(listed[1].definition, disk.definition);
    assert_eq!(listed[1].org_id, org);
    assert_eq!(store.list_monitors(&Scope::all()).await.unwrap().len(), 3);
    assert!(
        store
            .list_monitors(&Scope::none())
            .await
            .unwrap()
            .is_empty()
    );

    assert!(not_found(
        store.delete_monitor(&Scope::org(other), disk.id).await
    ));
    store
        .delete_monitor(&Scope::org(org), disk.id)
        .await
        .unwrap();
    assert!(not_found(
        store.delete_monitor(&Scope::all(), disk.id).await
    ));
    let left: Vec<Uuid> = store
        .list_monitors(&Scope::all())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&cpu.id) && left.contains(&foreign.id));
}

pub async fn people_acknowledge_then_resolve_alerts(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "web-1").await;
    let id = store
        .record_alert_change(&change(org, dev, "/", "critical", 10))
        .await
        .unwrap()
        .unwrap();
    let alert = store
        .list_alerts(&Scope::all(), true)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (
            alert.id,
            alert.org_id,
            alert.device_id,
            alert.device_name.as_str(),
            alert.monitor_id.as_str(),
            alert.monitor_name.as_str(),
            alert.subject.as_str()
        ),
        (id, org, dev, "web-1", "m1", "disk", "/")
    );
    assert_eq!(
        (
            alert.state.as_str(),
            alert.severity.as_str(),
            alert.summary.as_str(),
            alert.opened_at,
            alert.updated_at
        ),
        ("open", "critical", "/ critical", 10, 10)
    );
    assert_eq!(
        (alert.acknowledged_by, alert.resolved_at, alert.flapping),
        (None, None, false)
    );

    let elsewhere = Scope::org(Uuid::now_v7());
    assert!(not_found(
        store.acknowledge_alert(&elsewhere, id, "eve", 11).await
    ));
    assert!(not_found(
        store
            .acknowledge_alert(&Scope::all(), Uuid::now_v7(), "ana", 11)
            .await
    ));
    assert!(not_found(
        store.resolve_alert(&elsewhere, id, "eve", 11).await
    ));
    assert!(not_found(store.alert_history(&elsewhere, id).await));
    assert!(
        store
            .list_alerts(&elsewhere, false)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .acknowledge_alert(&Scope::org(org), id, "ana", 20)
        .await
        .unwrap();
    let acked = store
        .list_alerts(&Scope::all(), true)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (
            acked.state.as_str(),
            acked.acknowledged_by.as_deref(),
            acked.acknowledged_at,
            acked.updated_at
        ),
        ("acknowledged", Some("ana"), Some(20), 20)
    );
    assert!(matches!(
        store.acknowledge_alert(&Scope::all(), id, "bob", 21).await,
        Err(StoreError::Refused(_))
    ));
    let resolved = store
        .resolve_alert(&Scope::org(org), id, "bob", 30)
        .await
        .unwrap();
    assert_eq!(
        (resolved.id, resolved.state.as_str()),
        (id, "acknowledged"),
        "the alert as it was before"
    );
    assert!(matches!(
        store.resolve_alert(&Scope::all(), id, "bob", 31).await,
        Err(StoreError::Refused(_))
    ));
    assert!(
        store
            .list_alerts(&Scope::all(), true)
            .await
            .unwrap()
            .is_empty()
    );
    let resolved = store.list_alerts(&Scope::all(), false).await.unwrap();
    assert_eq!(
        resolved
            .iter()
            .map(|a| (
                a.id,
                a.state.as_str(),
                a.resolved_at,
                a.resolved_by.as_deref()
            ))
            .collect::<Vec<_>>(),
        [(id, "resolved", Some(30), Some("bob"))]
    );
    assert!(store.device_open_alerts(dev).await.unwrap().is_empty());
    let history = store.alert_history(&Scope::all(), id).await.unwrap();
    let events: Vec<(i64, &str, Option<&str>)> = history
        .iter()
        .map(|e| {
            (
                e.at,
                e.event["event"].as_str().unwrap(),
                e.event["by"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (10, "opened", None),
            (20, "acknowledged", Some("ana")),
            (30, "resolved", Some("bob"))
        ]
    );
    // A new condition afterwards opens a new alert.
    let again = store
        .record_alert_change(&change(org, dev, "/", "warning", 40))
        .await
        .unwrap();
    assert!(again.is_some() && again != Some(id));
    assert_eq!(
        store.list_alerts(&Scope::all(), false).await.unwrap().len(),
        2
    );
}

pub async fn events_are_appended_to_an_alerts_history(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    let id = store
        .record_alert_change(&change(org, dev, "/", "critical", 10))
        .await
        .unwrap()
        .unwrap();
    let tried = serde_json::json!({ "event": "remediation", "job": "j1", "ok": true, "n": 3 });
    store.append_alert_event(id, 15, &tried).await.unwrap();
    store
        .append_alert_event(id, 16, &serde_json::json!({ "event": "escalated" }))
        .await
        .unwrap();
    let history = store.alert_history(&Scope::all(), id).await.unwrap();
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!((history[1].at, &history[1].event), (15, &tried));
    assert_eq!(history[2].event["event"], "escalated");
}

pub async fn noise_rules_are_kept_per_kind_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let rule = |org_id: Uuid, kind: NoiseKind, created_at: i64| NoiseRule {
        version: 1,
        id: Uuid::now_v7(),
        org_id,
        kind: Some(kind),
        definition: serde_json::json!({ "from": 100, "to": 200, "devices": ["*"], "created": created_at }),
        created_by: "ana".into(),
        created_at,
    };
    let window = rule(org, NoiseKind::Maintenance, 1);
    let late = rule(org, NoiseKind::Silence, 3);
    let early = rule(org, NoiseKind::Silence, 2);
    let foreign = rule(other, NoiseKind::Silence, 4);
    for r in [&window, &late, &early, &foreign] {
        store.create_noise_rule(r).await.unwrap();
    }
    let silences = store
        .list_noise_rules(&Scope::org(org), NoiseKind::Silence)
        .await
        .unwrap();
    assert_eq!(
        silences
            .iter()
            .map(|r| (r.id, r.kind, r.created_at))
            .collect::<Vec<_>>(),
        [
            (early.id, Some(NoiseKind::Silence), 2),
            (late.id, Some(NoiseKind::Silence), 3)
        ],
        "oldest first, only the organisation's"
    );
    assert_eq!(silences[0].definition, early.definition);
    assert_eq!(
        (silences[0].org_id, silences[0].created_by.as_str()),
        (org, "ana")
    );
    let windows = store
        .list_noise_rules(&Scope::org(org), NoiseKind::Maintenance)
        .await
        .unwrap();
    assert_eq!(
        windows.iter().map(|r| (r.id, r.kind)).collect::<Vec<_>>(),
        [(window.id, Some(NoiseKind::Maintenance))]
    );
    assert_eq!(
        store
            .list_noise_rules(&Scope::all(), NoiseKind::Silence)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        store
            .list_noise_rules(&Scope::none(), NoiseKind::Maintenance)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn suppressed_alerts_are_counted_by_reason(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    channel(&*store, org, "all", "warning", &[]).await;
    for (subject, why) in [
        ("/", "maintenance"),
        ("/var", "maintenance"),
        ("/tmp", "silence"),
    ] {
        let id = store
            .record_alert_change(&AlertChange {
                suppressed: Some(why.into()),
                ..change(org, dev, subject, "critical", 5)
            })
            .await
            .unwrap()
            .unwrap();
        let history = store.alert_history(&Scope::all(), id).await.unwrap();
        assert_eq!(history[0].event["suppressed"], why);
        assert_eq!(history[0].event["notified"], false);
    }
    // Recorded, kept quiet: nothing queued.
    assert!(store.due_notifications(100, 10).await.unwrap().is_empty());
    let alerts = store.list_alerts(&Scope::all(), true).await.unwrap();
    assert_eq!(alerts.len(), 3);
    assert!(alerts.iter().all(|a| a.suppressed.is_some()));
    assert_eq!(
        store.suppression_counts(&Scope::all()).await.unwrap(),
        [("maintenance".to_string(), 2), ("silence".to_string(), 1)]
    );
    assert!(
        store
            .suppression_counts(&Scope::org(Uuid::now_v7()))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn outbox_items_are_sent_or_retried(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    channel(&*store, org, "pager", "critical", &["windows"]).await;
    channel(&*store, org, "chat", "warning", &[]).await;
    channel(&*store, other, "foreign", "warning", &[]).await;
    // A grouped notification: every channel of the organisation at or
    // below its severity, whatever their tags; none of another's.
    let alert = Uuid::now_v7();
    store
        .enqueue_notification(org, alert, "critical", None, r#"{"grouped":3}"#, 50)
        .await
        .unwrap();
    assert!(store.due_notifications(49, 10).await.unwrap().is_empty());
    let due = store.due_notifications(50, 10).await.unwrap();
    let mut names: Vec<&str> = due.iter().map(|i| i.channel.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["chat", "pager"]);
    assert!(
        due.iter()
            .all(|i| i.payload == r#"{"grouped":3}"# && i.attempts == 0)
    );
    assert_eq!(due[0].channel.org_id, org);
    // A warning reaches only the channel that wants warnings.
    store
        .enqueue_notification(org, alert, "warning", None, "{}", 51)
        .await
        .unwrap();
    assert_eq!(store.due_notifications(51, 10).await.unwrap().len(), 3);
    assert_eq!(store.due_notifications(51, 1).await.unwrap().len(), 1);

    let (first, second) = (due[0].id, due[1].id);
    store.notification_sent(first, 60).await.unwrap();
    store
        .notification_failed(second, "connection refused", Some(120), 61)
        .await
        .unwrap();
    let due: Vec<i64> = store
        .due_notifications(100, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert!(!due.contains(&first) && !due.contains(&second), "{due:?}");
    let retry = store
        .due_notifications(120, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id == second)
        .expect("due again at its retry time");
    assert_eq!(retry.attempts, 1);
    let channels = store.list_channels(&Scope::org(org)).await.unwrap();
    assert_eq!(
        channels
            .iter()
            .map(|c| (c.name.as_str(), c.min_severity.as_str(), c.kind.as_str()))
            .collect::<Vec<_>>(),
        [
            ("chat", "warning", "webhook"),
            ("pager", "critical", "webhook")
        ]
    );
    let failing = channels.iter().find(|c| c.id == retry.channel.id).unwrap();
    assert_eq!(failing.last_error.as_deref(), Some("connection refused"));
    // Sent clears the error and leaves the queue.
    store.notification_sent(second, 121).await.unwrap();
    let pending: u64 = store
        .list_channels(&Scope::org(org))
        .await
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c.last_error, None);
            c.pending
        })
        .sum();
    assert_eq!(pending, 1, "the warning to chat is still waiting");
    assert_eq!(
        store
            .list_channels(&Scope::org(other))
            .await
            .unwrap()
            .iter()
            .map(|c| (c.name.as_str(), c.pending))
            .collect::<Vec<_>>(),
        [("foreign", 0)]
    );
    assert!(
        store
            .list_channels(&Scope::none())
            .await
            .unwrap()
            .is_empty()
    );
    // One device's notice (a resolve by hand) routes by its tags too.
    channel(&*store, other, "windows-only", "warning", &["windows"]).await;
    store
        .enqueue_notification(other, alert, "critical", Some(&["linux".into()]), "{}", 200)
        .await
        .unwrap();
    let mut routed: Vec<String> = store
        .due_notifications(200, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.channel.org_id == other)
        .map(|i| i.channel.name)
        .collect();
    routed.sort();
    assert_eq!(routed, ["foreign"]);
}

pub async fn channels_route_by_severity_and_tag(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(store.as_ref(), org, "fp1").await; // tagged "linux"
    for (name, min, tags) in [
        ("all", "warning", vec![]),
        ("critical-only", "critical", vec![]),
        ("linux", "warning", vec!["linux"]),
        ("windows", "warning", vec!["windows"]),
    ] {
        store
            .create_channel(&ChannelRecord { enabled: true, version: 1,
                id: Uuid::now_v7(),
                org_id: org,
                name: name.into(),
                kind: "webhook".into(),
                config: serde_json::json!({ "url": "http://127.0.0.1:9/", "secret": "x", "tags": tags }),
                min_severity: min.into(),
                pending: 0,
                undelivered: 0,
                last_error: None,
            })
            .await
            .unwrap();
    }
    let change = |severity: &str, at| AlertChange {
        org_id: org,
        monitor_id: "m".into(),
        monitor_name: "m".into(),
        device_id: dev,
        subject: String::new(),
        severity: severity.into(),
        at,
        summary: "s".into(),
        notify: true,
        flapping: false,
        suppressed: None,
    };
    let alert_id = store
        .record_alert_change(&change("warning", 1))
        .await
        .unwrap()
        .expect("an alert opens");
    let mut names: Vec<String> = store
        .due_notifications(10, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.channel.name)
        .collect();
    names.sort();
    assert_eq!(names, vec!["all", "linux"]);
    // The resolution goes where the alert went (not to critical-only).
    store.record_alert_change(&change("ok", 2)).await.unwrap();
    assert_eq!(store.due_notifications(10, 100).await.unwrap().len(), 4);
    // A failing delivery shows on its channel.
    let first = store.due_notifications(10, 1).await.unwrap().remove(0);
    store
        .notification_failed(first.id, "HTTP 500", Some(1_000_000), 10)
        .await
        .unwrap();
    let failing = |channels: Vec<ChannelRecord>| {
        let c = channels
            .into_iter()
            .find(|c| c.name == first.channel.name)
            .unwrap();
        (c.pending, c.undelivered, c.last_error)
    };
    let channels = store.list_channels(&Scope::all()).await.unwrap();
    assert_eq!(failing(channels), (2, 0, Some("HTTP 500".into())));
    // Given up: no longer due, counted undelivered with its error, and its
    // alert's history says so.
    store
        .notification_failed(first.id, "DNS: cannot resolve x", None, 1_000_000)
        .await
        .unwrap();
    assert!(
        store
            .due_notifications(i64::MAX, 100)
            .await
            .unwrap()
            .iter()
            .all(|i| i.id != first.id),
        "a notification given up is never due again"
    );
    let channels = store.list_channels(&Scope::all()).await.unwrap();
    assert_eq!(
        failing(channels),
        (1, 1, Some("DNS: cannot resolve x".into()))
    );
    let history = store.alert_history(&Scope::all(), alert_id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.event["status"] == "undelivered"
                && e.event["error"] == "DNS: cannot resolve x"),
        "{history:?}"
    );
    // A later delivery through the channel clears the warning.
    let next = store
        .due_notifications(i64::MAX, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.channel.name == first.channel.name)
        .expect("the channel's other notification");
    store.notification_sent(next.id, 2_000_000).await.unwrap();
    let channels = store.list_channels(&Scope::all()).await.unwrap();
    assert_eq!(failing(channels), (0, 0, None));
}

/// The same open condition reported twice (a second replica's evaluator
/// after the device moved) records nothing new and pages nobody again.
pub async fn a_repeated_condition_is_one_alert(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(store.as_ref(), org, "fp1").await;
    let change = |severity: &str, at: i64| AlertChange {
        org_id: org,
        monitor_id: "m1".into(),
        monitor_name: "disk".into(),
        device_id: dev,
        subject: "/".into(),
        severity: severity.into(),
        at,
        summary: "full".into(),
        notify: true,
        flapping: false,
        suppressed: None,
    };
    let first = store
        .record_alert_change(&change("critical", 1))
        .await
        .unwrap();
    let again = store
        .record_alert_change(&change("critical", 2))
        .await
        .unwrap();
    assert_eq!(first, again);
    let history = store
        .alert_history(&Scope::all(), first.unwrap())
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    // A real change is still recorded.
    store
        .record_alert_change(&change("warning", 3))
        .await
        .unwrap();
    let history = store
        .alert_history(&Scope::all(), first.unwrap())
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(
        store.list_alerts(&Scope::all(), true).await.unwrap().len(),
        1
    );
    // What an evaluator taking the device over starts from: its open
    // alerts, not another device's, not resolved ones.
    let other = device(store.as_ref(), org, "fp2").await;
    store
        .record_alert_change(&AlertChange {
            device_id: other,
            ..change("critical", 4)
        })
        .await
        .unwrap();
    let open = store.device_open_alerts(dev).await.unwrap();
    assert_eq!(
        open.iter()
            .map(|a| (a.device_id, a.severity.as_str(), a.opened_at))
            .collect::<Vec<_>>(),
        [(dev, "warning", 1)]
    );
    store.record_alert_change(&change("ok", 5)).await.unwrap();
    assert!(store.device_open_alerts(dev).await.unwrap().is_empty());
    assert_eq!(store.device_open_alerts(other).await.unwrap().len(), 1);
}
