//! Devices: certificates and their rotation, status and staleness, last
//! seen, inventory, dependencies, local check results and revocation.

use crate::device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn not_found<T: std::fmt::Debug>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

pub(crate) async fn device_at(store: &dyn Store, org: Uuid, site: &str, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id,
            org_id: org,
            site: site.into(),
            name: name.into(),
            hostname: format!("{name}.lan"),
            tags: vec!["linux".into()],
            cert_fingerprint: format!("fp-{name}"),
            enrolled_at: 42,
        })
        .await
        .unwrap();
    id
}

pub async fn certificates_rotate_by_fingerprint(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-old").await;
    let auth = store.device_by_fingerprint("fp-old").await.unwrap();
    assert_eq!(
        (auth.id, auth.org_id, auth.revoked, auth.rotated),
        (dev, org, false, false)
    );
    assert!(not_found(store.device_by_fingerprint("fp-new").await));
    // A second device with the same certificate is refused.
    let twin = store
        .create_device(&NewDevice {
            id: Uuid::now_v7(),
            org_id: org,
            site: "hq".into(),
            name: "twin".into(),
            hostname: "twin".into(),
            tags: vec![],
            cert_fingerprint: "fp-old".into(),
            enrolled_at: 1,
        })
        .await;
    assert!(matches!(twin, Err(StoreError::Conflict(_))), "{twin:?}");

    // Rotated: both certificates work, the new one says so.
    store.set_next_fingerprint(dev, "fp-new").await.unwrap();
    let old = store.device_by_fingerprint("fp-old").await.unwrap();
    let new = store.device_by_fingerprint("fp-new").await.unwrap();
    assert_eq!((old.id, old.rotated), (dev, false));
    assert_eq!((new.id, new.rotated), (dev, true));
    // Connected with the new one: the old one stops working.
    store.promote_fingerprint(dev).await.unwrap();
    assert!(not_found(store.device_by_fingerprint("fp-old").await));
    let now = store.device_by_fingerprint("fp-new").await.unwrap();
    assert_eq!((now.id, now.rotated), (dev, false));
    // Promoting with no rotation pending changes nothing.
    store.promote_fingerprint(dev).await.unwrap();
    assert_eq!(store.device_by_fingerprint("fp-new").await.unwrap().id, dev);
    // A revoked device is still found, as revoked.
    store.revoke_device(&Scope::all(), dev).await.unwrap();
    assert!(store.device_by_fingerprint("fp-new").await.unwrap().revoked);
}

pub async fn devices_are_got_listed_and_revoked_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let a = device_at(&*store, org, "hq", "a").await;
    let b = device_at(&*store, org, "branch", "b").await;
    let c = device_at(&*store, other, "hq", "c").await;
    let detail = store.get_device(&Scope::org(org), a).await.unwrap();
    assert_eq!(
        (
            detail.summary.id,
            detail.summary.org_id,
            detail.summary.site.as_str(),
            detail.summary.name.as_str(),
            detail.summary.hostname.as_str()
        ),
        (a, org, "hq", "a", "a.lan")
    );
    assert_eq!(detail.summary.tags, ["linux"]);
    assert_eq!(detail.summary.status, Status::Offline);
    assert_eq!(
        (detail.enrolled_at, detail.stored_seq, detail.inventory_at),
        (42, 0, None)
    );
    assert!(detail.inventory.is_none() && !detail.summary.revoked);
    assert!(detail.summary.refuses.is_empty());
    assert!(not_found(
        store.get_device(&Scope::all(), Uuid::now_v7()).await
    ));
    assert!(not_found(store.get_device(&Scope::org(org), c).await));

    let ids = |list: Vec<DeviceSummary>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_devices(&Scope::all()).await.unwrap()),
        [a, b, c]
    );
    assert_eq!(
        ids(store.list_devices(&Scope::org(org)).await.unwrap()),
        [a, b]
    );
    assert!(store.list_devices(&Scope::none()).await.unwrap().is_empty());

    // Revoking out of scope is not found and changes nothing.
    assert!(not_found(store.revoke_device(&Scope::org(other), a).await));
    assert!(not_found(
        store.revoke_device(&Scope::all(), Uuid::now_v7()).await
    ));
    assert!(
        !store
            .get_device(&Scope::all(), a)
            .await
            .unwrap()
            .summary
            .revoked
    );
    store.revoke_device(&Scope::org(org), a).await.unwrap();
    assert!(
        store
            .get_device(&Scope::all(), a)
            .await
            .unwrap()
            .summary
            .revoked
    );
    // The list still shows it, as revoked; its batches are refused.
    let listed = store.list_devices(&Scope::org(org)).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| (d.id, d.revoked)).collect::<Vec<_>>(),
        [(a, true), (b, false)]
    );
    assert_eq!(
        store
            .ingest(&[crate::batch(a, org, 1, 1_000, 0.1)])
            .await
            .unwrap(),
        [IngestOutcome::Refused]
    );
    // The status tracker starts from the devices not revoked.
    let mut statuses = store.device_statuses().await.unwrap();
    statuses.sort_by_key(|s| s.0);
    let mut expected = vec![(b, Status::Offline), (c, Status::Offline)];
    expected.sort_by_key(|s| s.0);
    assert_eq!(statuses, expected);
}

pub async fn stale_devices_go_offline_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    let quiet = device(&*store, org, "fp-2").await;
    assert!(store.set_status(dev, Status::Online, 10).await.unwrap());
    assert!(store.set_status(quiet, Status::Online, 10).await.unwrap());
    assert!(not_found(
        store.set_status(Uuid::now_v7(), Status::Online, 10).await
    ));
    // One flush may name a device twice (the latest time counts) and a
    // device since deleted (ignored).
    store
        .set_last_seen(&[(dev, 70), (quiet, 20), (dev, 100), (Uuid::now_v7(), 5)])
        .await
        .unwrap();
    // Last seen never goes back.
    store.set_last_seen(&[(dev, 50)]).await.unwrap();
    let detail = store.get_device(&Scope::all(), dev).await.unwrap();
    assert_eq!(
        (detail.summary.last_seen, detail.summary.status_since),
        (Some(100), Some(10))
    );
    assert_eq!(store.stale_online(20).await.unwrap(), Vec::<Uuid>::new());
    assert_eq!(store.stale_online(21).await.unwrap(), [quiet]);
    let mut both = store.stale_online(101).await.unwrap();
    both.sort();
    let mut expected = vec![dev, quiet];
    expected.sort();
    assert_eq!(both, expected);

    // Seen at 100: not stale for "seen before 100".
    assert!(!store.mark_offline_if_stale(dev, 200, 100).await.unwrap());
    assert_eq!(
        store
            .get_device(&Scope::all(), dev)
            .await
            .unwrap()
            .summary
            .status,
        Status::Online
    );
    assert!(store.mark_offline_if_stale(dev, 200, 101).await.unwrap());
    // Another replica noticing the same silence makes no second change.
    assert!(!store.mark_offline_if_stale(dev, 201, 101).await.unwrap());
    let history = store.status_history(&Scope::all(), dev).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|c| (c.device_id, c.from, c.to, c.at))
            .collect::<Vec<_>>(),
        [
            (dev, Status::Offline, Status::Online, 10),
            (dev, Status::Online, Status::Offline, 200)
        ]
    );
    assert_eq!(store.stale_online(1_000).await.unwrap(), [quiet]);
    // A revoked device is nobody's to mark.
    store.revoke_device(&Scope::all(), quiet).await.unwrap();
    assert!(store.stale_online(1_000).await.unwrap().is_empty());
    // Out of scope: no history.
    assert!(
        store
            .status_history(&Scope::org(Uuid::now_v7()), dev)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn inventory_is_stored_and_shown(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    let inventory = steward_proto::Inventory {
        hostname: "web-1.example".into(),
        os_name: "Debian GNU/Linux".into(),
        os_version: "12".into(),
        kernel_version: "6.1.0".into(),
        cpu_cores: 8,
        filesystems: vec![steward_proto::Filesystem {
            mountpoint: "/".into(),
            total_bytes: 100,
            available_bytes: 40,
            ..Default::default()
        }],
        ..Default::default()
    };
    store.set_inventory(dev, &inventory, 77).await.unwrap();
    let detail = store.get_device(&Scope::all(), dev).await.unwrap();
    assert_eq!(detail.inventory_at, Some(77));
    assert_eq!(detail.inventory.as_ref(), Some(&inventory));
    assert_eq!(detail.summary.hostname, "web-1.example");
    assert_eq!(detail.summary.os, "Debian GNU/Linux 12");
    // A newer report replaces it.
    let newer = steward_proto::Inventory {
        os_version: "13".into(),
        ..inventory.clone()
    };
    store.set_inventory(dev, &newer, 78).await.unwrap();
    let detail = store.get_device(&Scope::all(), dev).await.unwrap();
    assert_eq!(
        (detail.inventory_at, detail.summary.os.as_str()),
        (Some(78), "Debian GNU/Linux 13")
    );
    let listed = store.list_devices(&Scope::all()).await.unwrap();
    assert_eq!(listed[0].os, "Debian GNU/Linux 13");
}

pub async fn upstreams_stay_within_one_organisation(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let router = device_at(&*store, org, "hq", "router").await;
    let server = device_at(&*store, org, "hq", "server").await;
    let vault = device_at(&*store, org, "vault", "vault").await;
    let foreign = device_at(&*store, other, "hq", "foreign").await;
    assert!(store.upstreams().await.unwrap().is_empty());
    store
        .set_upstream(&Scope::org(org), server, Some(router))
        .await
        .unwrap();
    assert_eq!(store.upstreams().await.unwrap(), [(server, router)]);
    for (device, upstream) in [(server, server), (server, foreign)] {
        let refused = store
            .set_upstream(&Scope::all(), device, Some(upstream))
            .await;
        assert!(
            matches!(refused, Err(StoreError::Refused(_))),
            "{refused:?}"
        );
    }
    // Either end out of the caller's scope: not found.
    let hq_only = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("hq".into()),
        }],
        deny: Vec::new(),
    };
    assert!(not_found(
        store.set_upstream(&hq_only, server, Some(vault)).await
    ));
    assert!(not_found(store.set_upstream(&hq_only, vault, None).await));
    assert!(not_found(
        store
            .set_upstream(&Scope::all(), Uuid::now_v7(), Some(router))
            .await
    ));
    assert_eq!(store.upstreams().await.unwrap(), [(server, router)]);
    store.set_upstream(&hq_only, server, None).await.unwrap();
    assert!(store.upstreams().await.unwrap().is_empty());
}

pub async fn check_results_are_kept_per_name_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    let healthy = device(&*store, org, "fp-2").await;
    let result = |name: &str, state: &str, at: i64| CheckResultRecord {
        name: name.into(),
        state: state.into(),
        message: format!("{name} is {state}"),
        long_output: "line 1\nline 2".into(),
        perfdata: serde_json::json!({ "used": 0.93, "unit": "%" }),
        at,
    };
    store
        .save_check_results(dev, org, &[result("ntp", "ok", 1), result("disk", "ok", 1)])
        .await
        .unwrap();
    store
        .save_check_results(healthy, org, &[result("ntp", "ok", 1)])
        .await
        .unwrap();
    let counts = store.fleet_counts(&Scope::all()).await.unwrap();
    assert_eq!(counts.failing_checks, 0);
    // The latest result of a check replaces the one before.
    store
        .save_check_results(dev, org, &[result("disk", "critical", 2)])
        .await
        .unwrap();
    let results = store.check_results(&Scope::org(org), dev).await.unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| (r.name.as_str(), r.state.as_str(), r.at))
            .collect::<Vec<_>>(),
        [("disk", "critical", 2), ("ntp", "ok", 1)],
        "by name"
    );
    assert_eq!(results[0].message, "disk is critical");
    assert_eq!(results[0].long_output, "line 1\nline 2");
    assert_eq!(results[0].perfdata["used"], 0.93);
    assert!(
        store
            .check_results(&Scope::org(Uuid::now_v7()), dev)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .check_results(&Scope::all(), Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
    // A failing check shows in the fleet's figures and filters.
    assert_eq!(
        store
            .fleet_counts(&Scope::all())
            .await
            .unwrap()
            .failing_checks,
        1
    );
    let failing = store
        .device_page(
            &Scope::all(),
            &DeviceQuery {
                failing_checks: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        failing
            .items
            .iter()
            .map(|d| d.summary.id)
            .collect::<Vec<_>>(),
        [dev]
    );
}
