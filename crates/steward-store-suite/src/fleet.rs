//! The console's fleet queries: filters, sorting, paging, scope, tags,
//! headline figures and their daily history.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

pub(crate) async fn placed_device(
    store: &dyn Store,
    org: Uuid,
    site: &str,
    name: &str,
    tags: &[&str],
) -> Uuid {
    let id = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id,
            org_id: org,
            site: site.into(),
            name: name.into(),
            hostname: format!("{name}.lan"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            cert_fingerprint: format!("fp-{name}"),
            enrolled_at: 1,
        })
        .await
        .unwrap();
    id
}

fn names(page: &DevicePage) -> Vec<&str> {
    page.items.iter().map(|d| d.summary.name.as_str()).collect()
}

async fn alert(store: &dyn Store, org: Uuid, device: Uuid, severity: &str) {
    store
        .record_alert_change(&AlertChange {
            org_id: org,
            monitor_id: "m1".into(),
            monitor_name: "disk".into(),
            device_id: device,
            subject: "/".into(),
            severity: severity.into(),
            at: 10,
            summary: "full".into(),
            notify: false,
            flapping: false,
            suppressed: None,
        })
        .await
        .unwrap();
}

pub async fn device_pages_filter_sort_and_count(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let mut ids = Vec::new();
    for i in 0..30 {
        let site = if i % 3 == 0 { "branch" } else { "hq" };
        let tags: &[&str] = if i % 2 == 0 {
            &["linux", "web"]
        } else {
            &["linux"]
        };
        ids.push(placed_device(store.as_ref(), org, site, &format!("host-{i:02}"), tags).await);
    }
    placed_device(store.as_ref(), other, "hq", "foreign", &["web"]).await;
    store.set_status(ids[5], Status::Online, 100).await.unwrap();
    store.set_status(ids[7], Status::Online, 100).await.unwrap();
    alert(store.as_ref(), org, ids[9], "critical").await;

    let all = Scope::all();
    let page = |q: DeviceQuery| {
        let store = &store;
        let all = all.clone();
        async move { store.device_page(&all, &q).await.unwrap() }
    };
    let first = page(DeviceQuery {
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(first.total, 31);
    assert_eq!(names(&first)[..2], ["foreign", "host-00"]);
    let third = page(DeviceQuery {
        limit: 10,
        offset: 20,
        ..Default::default()
    })
    .await;
    assert_eq!(names(&third).first(), Some(&"host-19"));

    let online = page(DeviceQuery {
        status: Some(Status::Online),
        ..Default::default()
    })
    .await;
    assert_eq!(names(&online), ["host-05", "host-07"]);
    let search = page(DeviceQuery {
        q: Some("HOST-1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(search.total, 10);
    // LIKE's wildcards in a search are literal.
    let wildcard = page(DeviceQuery {
        q: Some("%".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(wildcard.total, 0);
    let web_branch = page(DeviceQuery {
        tag: Some("web".into()),
        site: Some("branch".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        names(&web_branch),
        ["host-00", "host-06", "host-12", "host-18", "host-24"]
    );
    let by_org = page(DeviceQuery {
        org: Some(other),
        ..Default::default()
    })
    .await;
    assert_eq!(names(&by_org), ["foreign"]);
    let alerting = page(DeviceQuery {
        alerts: Some(AlertFilter::Critical),
        ..Default::default()
    })
    .await;
    assert_eq!(names(&alerting), ["host-09"]);
    assert_eq!(alerting.items[0].open_alerts, 1);
    let quiet = page(DeviceQuery {
        alerts: Some(AlertFilter::None),
        ..Default::default()
    })
    .await;
    assert_eq!(quiet.total, 30);
    // Pending updates from the inventory: one device has a security one.
    let inventory = |updates: Option<Vec<(&str, bool)>>| steward_proto::Inventory {
        updates: updates.map(|list| {
            list.into_iter()
                .map(|(name, security)| steward_proto::PendingUpdate {
                    name: name.into(),
                    available: "2".into(),
                    security,
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    };
    store
        .set_inventory(
            ids[3],
            &inventory(Some(vec![("openssl", true), ("tzdata", false)])),
            5,
        )
        .await
        .unwrap();
    store
        .set_inventory(ids[4], &inventory(Some(vec![("tzdata", false)])), 5)
        .await
        .unwrap();
    store
        .set_inventory(ids[6], &inventory(Some(Vec::new())), 5)
        .await
        .unwrap();
    store
        .set_inventory(ids[8], &inventory(None), 5)
        .await
        .unwrap();
    let updates = page(DeviceQuery {
        missing_updates: true,
        ..Default::default()
    })
    .await;
    assert_eq!(names(&updates), ["host-03", "host-04"]);
    let counts = store.fleet_counts(&Scope::all()).await.unwrap();
    assert_eq!((counts.missing_updates, counts.security_updates), (2, 1));
    let desc = page(DeviceQuery {
        sort: DeviceSort::Name,
        desc: true,
        limit: 1,
        ..Default::default()
    })
    .await;
    assert_eq!(names(&desc), ["host-29"]);
    let by_alerts = page(DeviceQuery {
        sort: DeviceSort::Alerts,
        desc: true,
        limit: 1,
        ..Default::default()
    })
    .await;
    assert_eq!(names(&by_alerts), ["host-09"]);

    // Scope: the default organisation's branch site only.
    let branch = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("branch".into()),
        }],
        deny: Vec::new(),
    };
    let scoped = store
        .device_page(&branch, &DeviceQuery::default())
        .await
        .unwrap();
    assert_eq!(scoped.total, 10);
    let counts = store.fleet_counts(&branch).await.unwrap();
    assert_eq!(
        (counts.devices, counts.online, counts.alerts_critical),
        (10, 0, 1)
    );
    let counts = store.fleet_counts(&Scope::org(other)).await.unwrap();
    assert_eq!((counts.devices, counts.alerts_critical), (1, 0));
}

pub async fn tags_change_in_bulk_within_scope_only(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let a = placed_device(store.as_ref(), org, "hq", "a", &["linux"]).await;
    let b = placed_device(store.as_ref(), org, "hq", "b", &[]).await;
    let foreign = placed_device(store.as_ref(), other, "hq", "c", &["linux"]).await;
    let changed = store
        .change_tags(
            &Scope::org(org),
            &[a, b, foreign],
            &["db".into()],
            &["linux".into()],
        )
        .await
        .unwrap();
    assert_eq!(changed, 2);
    let tags = |id| {
        let store = &store;
        async move {
            store
                .get_device(&Scope::all(), id)
                .await
                .unwrap()
                .summary
                .tags
        }
    };
    assert_eq!(tags(a).await, ["db"]);
    assert_eq!(tags(b).await, ["db"]);
    assert_eq!(tags(foreign).await, ["linux"]);
    // Nothing to change: nothing counted.
    let again = store
        .change_tags(&Scope::org(org), &[a], &["db".into()], &[])
        .await
        .unwrap();
    assert_eq!(again, 0);
}

pub async fn fleet_days_are_recorded_per_place_and_summed_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let a = placed_device(store.as_ref(), org, "hq", "a", &[]).await;
    placed_device(store.as_ref(), org, "branch", "b", &[]).await;
    placed_device(store.as_ref(), other, "hq", "c", &[]).await;
    store.record_fleet_day(100).await.unwrap();
    store.set_status(a, Status::Online, 5).await.unwrap();
    alert(store.as_ref(), org, a, "warning").await;
    store.record_fleet_day(101).await.unwrap();
    // A later recording of the same day replaces the earlier one.
    store.record_fleet_day(101).await.unwrap();

    let days = store.fleet_history(&Scope::org(org), 0).await.unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(
        (days[0].day, days[0].counts.devices, days[0].counts.online),
        (100, 2, 0)
    );
    assert_eq!(
        (days[1].counts.online, days[1].counts.alerts_warning),
        (1, 1)
    );
    let all = store.fleet_history(&Scope::all(), 101).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].counts.devices, 3);
}

/// An open alert of a forecast monitor counts as a disk filling up; one of
/// another kind of monitor, or a resolved one, does not.
pub async fn forecast_alerts_are_counted_and_filtered(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let filling = placed_device(store.as_ref(), org, "hq", "filling", &[]).await;
    let hot = placed_device(store.as_ref(), org, "hq", "hot", &[]).await;
    let fixed = placed_device(store.as_ref(), org, "branch", "fixed", &[]).await;
    let monitor = |kind: &str| MonitorRecord {
        enabled: true,
        version: 1,
        id: Uuid::now_v7(),
        org_id: org,
        name: kind.into(),
        definition: serde_json::json!({ "spec": { "kind": kind, "metric": "system.filesystem.utilization" } }),
    };
    let (forecast, threshold) = (monitor("forecast"), monitor("threshold"));
    store.create_monitor(&forecast).await.unwrap();
    store.create_monitor(&threshold).await.unwrap();
    let change = |monitor: &MonitorRecord, device: Uuid, severity: &str, at: i64| AlertChange {
        org_id: org,
        monitor_id: monitor.id.to_string(),
        monitor_name: monitor.name.clone(),
        device_id: device,
        subject: "/".into(),
        severity: severity.into(),
        at,
        summary: "full in 3 days".into(),
        notify: false,
        flapping: false,
        suppressed: None,
    };
    for c in [
        change(&forecast, filling, "warning", 1),
        change(&threshold, hot, "critical", 1),
        change(&forecast, fixed, "warning", 1),
        change(&forecast, fixed, "ok", 2),
    ] {
        store.record_alert_change(&c).await.unwrap();
    }
    let counts = store.fleet_counts(&Scope::all()).await.unwrap();
    assert_eq!(
        (
            counts.devices,
            counts.forecast_full,
            counts.alerts_critical,
            counts.alerts_warning
        ),
        (3, 1, 1, 1)
    );
    let page = store
        .device_page(
            &Scope::all(),
            &DeviceQuery {
                forecast: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&page), ["filling"]);
    let any = store
        .device_page(
            &Scope::all(),
            &DeviceQuery {
                alerts: Some(AlertFilter::Any),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&any), ["filling", "hot"]);
    assert_eq!(
        any.items.iter().map(|d| d.open_alerts).collect::<Vec<_>>(),
        [1, 1]
    );
    // Recorded for the day, per place.
    store.record_fleet_day(20_000).await.unwrap();
    let days = store.fleet_history(&Scope::all(), 20_000).await.unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(
        (days[0].counts.forecast_full, days[0].counts.devices),
        (1, 3)
    );
    let branch = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("branch".into()),
        }],
        deny: Vec::new(),
    };
    let days = store.fleet_history(&branch, 0).await.unwrap();
    assert_eq!(
        (days[0].counts.devices, days[0].counts.forecast_full),
        (1, 0)
    );
}
