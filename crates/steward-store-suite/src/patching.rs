//! Patching: packages searched fleet-wide within scope, pending updates
//! keeping the time they were first seen, the figures compliance uses.

use crate::fleet::placed_device;
use std::sync::Arc;
use steward_proto::{Inventory, Package, PendingUpdate};
use steward_store::*;

fn inventory(packages: &[(&str, &str)], updates: Option<&[(&str, &str, bool)]>) -> Inventory {
    Inventory {
        packages: packages
            .iter()
            .map(|(name, version)| Package {
                name: name.to_string(),
                version: version.to_string(),
                manager: "dpkg".into(),
            })
            .collect(),
        updates: updates.map(|list| {
            list.iter()
                .map(|(name, available, security)| PendingUpdate {
                    name: name.to_string(),
                    current: "1".into(),
                    available: available.to_string(),
                    security: *security,
                    rule: if *security {
                        "label Debian-Security".into()
                    } else {
                        String::new()
                    },
                    ..PendingUpdate::default()
                })
                .collect()
        }),
        ..Inventory::default()
    }
}

pub async fn software_is_found_by_name_within_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-software").await.unwrap().id;
    let web = placed_device(store.as_ref(), org, "hq", "web", &[]).await;
    let db = placed_device(store.as_ref(), org, "branch", "db", &[]).await;
    let foreign = placed_device(store.as_ref(), other, "hq", "foreign", &[]).await;
    for (device, version) in [
        (web, "3.0.11-1~deb12u2"),
        (db, "3.0.15-1~deb12u1"),
        (foreign, "1.1.1"),
    ] {
        store
            .record_software(
                device,
                &inventory(&[("openssl", version), ("bash", "5.2")], None),
                10,
            )
            .await
            .unwrap();
    }
    let found = store
        .find_software(&Scope::org(org), "openssl", 100)
        .await
        .unwrap();
    let seen: Vec<(&str, &str)> = found
        .iter()
        .map(|r| (r.device_name.as_str(), r.version.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("db", "3.0.15-1~deb12u1"), ("web", "3.0.11-1~deb12u2")]
    );
    assert_eq!(
        (
            found[1].device_id,
            found[1].org_id,
            found[1].site.as_str(),
            found[1].manager.as_str()
        ),
        (web, org, "hq", "dpkg")
    );
    assert_eq!(
        store
            .find_software(&Scope::all(), "openssl", 100)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store
            .find_software(&Scope::all(), "openssl", 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .find_software(&Scope::none(), "openssl", 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .find_software(&Scope::org(org), "openss", 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A site-limited scope sees its site only.
    let hq = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("hq".into()),
        }],
        deny: vec![],
    };
    let seen: Vec<Uuid> = store
        .find_software(&hq, "openssl", 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.device_id)
        .collect();
    assert_eq!(seen, [web]);
    // A new list replaces the old one; the same list again changes nothing.
    let upgraded = inventory(&[("openssl", "3.0.15-1~deb12u1")], None);
    store.record_software(web, &upgraded, 20).await.unwrap();
    store.record_software(web, &upgraded, 30).await.unwrap();
    let found = store.find_software(&hq, "openssl", 100).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].version, "3.0.15-1~deb12u1");
    assert!(
        store
            .find_software(&hq, "bash", 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A device at the agent's limit (20,000 packages) is stored whole.
    let big = placed_device(store.as_ref(), org, "hq", "big", &[]).await;
    let many: Vec<(String, String)> = (0..20_000)
        .map(|i| (format!("lib{i:05}+odd.name~x"), format!("1:{i}.0-1")))
        .collect();
    let borrowed: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    store
        .record_software(big, &inventory(&borrowed, None), 35)
        .await
        .unwrap();
    let found = store
        .find_software(&Scope::org(org), "lib19999+odd.name~x", 100)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].version, "1:19999.0-1");
    // Retired devices are out of the search.
    store.retire_device(&Scope::all(), db, 40).await.unwrap();
    assert_eq!(
        store
            .find_software(&Scope::org(org), "openssl", 100)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        store
            .record_software(uuid::Uuid::now_v7(), &upgraded, 50)
            .await,
        Err(StoreError::NotFound)
    ));
}

use uuid::Uuid;

pub async fn pending_updates_keep_their_first_seen_time(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-pending").await.unwrap().id;
    let web = placed_device(store.as_ref(), org, "hq", "web", &[]).await;
    let silent = placed_device(store.as_ref(), org, "hq", "silent", &[]).await;
    let foreign = placed_device(store.as_ref(), other, "hq", "foreign", &[]).await;
    let scope = Scope::org(org);
    // Hostile repeats of a package are stored once.
    store
        .record_software(
            web,
            &inventory(
                &[],
                Some(&[
                    ("libssl3", "2", true),
                    ("tzdata", "2", false),
                    ("libssl3", "9", false),
                ]),
            ),
            100,
        )
        .await
        .unwrap();
    let pending = store.pending_updates(&scope, web).await.unwrap();
    let seen: Vec<(&str, &str, bool, i64, Option<i64>)> = pending
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.available.as_str(),
                p.security,
                p.first_seen,
                p.security_since,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("libssl3", "2", true, 100, Some(100)),
            ("tzdata", "2", false, 100, None)
        ]
    );
    assert_eq!(pending[0].rule, "label Debian-Security");
    assert_eq!(pending[0].current, "1");
    // Newer versions of the same packages: still pending since 100; tzdata
    // becomes a security update now.
    store
        .record_software(
            web,
            &inventory(
                &[],
                Some(&[
                    ("libssl3", "3", true),
                    ("tzdata", "3", true),
                    ("curl", "8", false),
                ]),
            ),
            200,
        )
        .await
        .unwrap();
    let pending = store.pending_updates(&scope, web).await.unwrap();
    let seen: Vec<(&str, &str, i64, Option<i64>)> = pending
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.available.as_str(),
                p.first_seen,
                p.security_since,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("curl", "8", 200, None),
            ("libssl3", "3", 100, Some(100)),
            ("tzdata", "3", 100, Some(200))
        ]
    );
    // "Could not tell" keeps the last answer.
    store
        .record_software(web, &inventory(&[], None), 300)
        .await
        .unwrap();
    assert_eq!(store.pending_updates(&scope, web).await.unwrap().len(), 3);
    store
        .record_software(foreign, &inventory(&[], Some(&[("x", "1", true)])), 300)
        .await
        .unwrap();

    let figures = store.patch_figures(&scope).await.unwrap();
    let seen: Vec<(&str, bool, u32, u32, Option<i64>)> = figures
        .iter()
        .map(|f| {
            (
                f.device_name.as_str(),
                f.reported,
                f.pending,
                f.security_pending,
                f.oldest_security_since,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("silent", false, 0, 0, None),
            ("web", true, 3, 2, Some(100))
        ]
    );
    assert_eq!(
        (
            figures[1].device_id,
            figures[1].org_id,
            figures[1].site.as_str()
        ),
        (web, org, "hq")
    );
    assert_eq!(store.patch_figures(&Scope::all()).await.unwrap().len(), 3);
    assert!(
        store
            .patch_figures(&Scope::none())
            .await
            .unwrap()
            .is_empty()
    );

    // Everything installed: nothing pending, the device still reported.
    store
        .record_software(web, &inventory(&[], Some(&[])), 400)
        .await
        .unwrap();
    assert!(store.pending_updates(&scope, web).await.unwrap().is_empty());
    let figures = store.patch_figures(&scope).await.unwrap();
    assert_eq!((figures[1].reported, figures[1].pending), (true, 0));
    // Another tenant's device is not found.
    assert!(matches!(
        store.pending_updates(&scope, foreign).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .pending_updates(&scope, silent)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A compromised agent reporting thousands of versions of one package
/// keeps a few, so a fleet search still finds the other devices; and a
/// device whose package manager has not answered for days is stale.
pub async fn a_hostile_package_list_cannot_crowd_out_a_fleet_search(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let hostile = placed_device(store.as_ref(), org, "hq", "aaa-hostile", &[]).await;
    let web = placed_device(store.as_ref(), org, "hq", "web", &[]).await;
    let versions: Vec<String> = (0..20_000).map(|n| format!("9.9.{n}")).collect();
    let mut packages: Vec<(&str, &str)> =
        versions.iter().map(|v| ("openssl", v.as_str())).collect();
    packages.push(("openssl", "9.9.0"));
    store
        .record_software(hostile, &inventory(&packages, None), 10)
        .await
        .unwrap();
    store
        .record_software(web, &inventory(&[("openssl", "3.0.11-1")], Some(&[])), 20)
        .await
        .unwrap();
    let found = store
        .find_software(&Scope::org(org), "openssl", 100)
        .await
        .unwrap();
    let of = |device| found.iter().filter(|r| r.device_id == device).count();
    assert_eq!(of(hostile), MAX_VERSIONS_PER_NAME, "{found:?}");
    assert_eq!(of(web), 1, "{found:?}");

    let figures = store.patch_figures(&Scope::org(org)).await.unwrap();
    let web_figures = figures.iter().find(|f| f.device_id == web).unwrap();
    assert_eq!(web_figures.updates_at, Some(20));
    assert!(web_figures.reporting(20 + PATCH_STALE_AFTER_SECS));
    assert!(!web_figures.reporting(21 + PATCH_STALE_AFTER_SECS));
    let hostile_figures = figures.iter().find(|f| f.device_id == hostile).unwrap();
    assert!(!hostile_figures.reported && !hostile_figures.reporting(20));
    assert_eq!(web_figures.reboot_required, None);

    // The reboot state the agent last read is kept for the fleet figures;
    // a report that cannot tell makes it unknown again.
    let mut needs_reboot = inventory(&[("openssl", "3.0.11-1")], Some(&[]));
    let mut status = steward_proto::PatchStatus::default();
    status.reboot.required = Some(true);
    needs_reboot.patching = Some(status);
    store.record_software(web, &needs_reboot, 30).await.unwrap();
    let reboot = |figures: Vec<DevicePatchFigures>| {
        figures
            .iter()
            .find(|f| f.device_id == web)
            .unwrap()
            .reboot_required
    };
    assert_eq!(
        reboot(store.patch_figures(&Scope::org(org)).await.unwrap()),
        Some(true)
    );
    if let Some(status) = needs_reboot.patching.as_mut() {
        status.reboot.required = Some(false);
    }
    store.record_software(web, &needs_reboot, 40).await.unwrap();
    assert_eq!(
        reboot(store.patch_figures(&Scope::org(org)).await.unwrap()),
        Some(false)
    );
    needs_reboot.patching = None;
    store.record_software(web, &needs_reboot, 50).await.unwrap();
    assert_eq!(
        reboot(store.patch_figures(&Scope::org(org)).await.unwrap()),
        None
    );
}

/// Each day's compliance per site: a later recording of a day replaces
/// the earlier one, reads start at a day and see only the places in scope
/// (a site-limited scope sees its site alone).
pub async fn compliance_days_are_replaced_per_day_and_scoped(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other-compliance").await.unwrap().id;
    let day = |day, org, site: &str, compliant| ComplianceDay {
        day,
        org_id: org,
        site: site.into(),
        devices: 4,
        reporting: 3,
        compliant,
        stale: 1,
        reboot_required: 2,
    };
    store
        .record_compliance_days(&[
            day(100, org, "hq", 1),
            day(100, org, "branch", 3),
            day(100, other, "hq", 0),
            day(101, org, "hq", 2),
        ])
        .await
        .unwrap();
    // Later the same day: replaced, not added.
    store
        .record_compliance_days(&[day(101, org, "hq", 3)])
        .await
        .unwrap();
    let seen = |rows: Vec<ComplianceDay>| -> Vec<(i64, String, u64)> {
        rows.into_iter()
            .map(|d| (d.day, d.site, d.compliant))
            .collect()
    };
    let mut rows = seen(store.compliance_history(&Scope::org(org), 0).await.unwrap());
    rows.sort();
    assert_eq!(
        rows,
        [
            (100, "branch".to_string(), 3),
            (100, "hq".to_string(), 1),
            (101, "hq".to_string(), 3)
        ]
    );
    let all = store
        .compliance_history(&Scope::org(org), 101)
        .await
        .unwrap();
    assert_eq!(all, [day(101, org, "hq", 3)]);
    let branch_only = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("branch".into()),
        }],
        deny: Vec::new(),
    };
    assert_eq!(
        seen(store.compliance_history(&branch_only, 0).await.unwrap()),
        [(100, "branch".to_string(), 3)]
    );
    assert!(
        store
            .compliance_history(&Scope::none(), 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .compliance_history(&Scope::all(), 0)
            .await
            .unwrap()
            .len(),
        4
    );
}
