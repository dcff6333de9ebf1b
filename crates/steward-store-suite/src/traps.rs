//! Where SQLite and PostgreSQL are known to part ways unless the back end
//! takes care: the order of names with capitals and non-ASCII letters,
//! case-insensitive search beyond ASCII, JSON booleans read in SQL, and
//! integers at the edges of the widths the API carries.

use crate::devices::device_at;
use crate::{batch, device};
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

/// Names whose order depends on how a database compares text: ASCII
/// capitals, and non-ASCII letters in both cases.
const NAMES: [&str; 6] = ["zeta", "Örebro", "alpha", "ärla", "Beta", "Ängelholm"];

/// The order a person expects: case-insensitive (full Unicode lower case),
/// then by code point.
fn case_insensitive(names: &[&str]) -> Vec<String> {
    let mut sorted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    sorted.sort_by_key(|n| (n.to_lowercase(), n.clone()));
    sorted
}

/// Lists of named objects (organisations, devices, users) sort by name as
/// a person expects, alike on both databases and whatever PostgreSQL's
/// locale: case-insensitive beyond ASCII ("alpha", "Beta", … "zeta",
/// "Ängelholm", "ärla", "Örebro").
pub async fn plain_lists_sort_names_alike(store: Arc<dyn Store>) {
    for name in NAMES {
        store.create_org(name).await.unwrap();
    }
    let orgs: Vec<String> = store
        .list_orgs(&Scope::all())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .filter(|n| n != "default")
        .collect();
    assert_eq!(orgs, case_insensitive(&NAMES));
    let org = store.default_org().await.unwrap().id;
    for name in NAMES {
        device_at(&*store, org, "hq", name).await;
    }
    let devices: Vec<String> = store
        .list_devices(&Scope::all())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(devices, case_insensitive(&NAMES));
    for name in NAMES {
        store
            .create_user(&NewUser {
                id: Uuid::now_v7(),
                org_id: org,
                username: name.into(),
                password_hash: "x".into(),
                created_at: 1,
                full_name: None,
                email: None,
            })
            .await
            .unwrap();
    }
    let users: Vec<String> = store
        .list_users(&Scope::all())
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(users, case_insensitive(&NAMES));
}

/// The console's device list sorts by name case-insensitively, non-ASCII
/// letters included: "ärla" before "Örebro", both after "zeta". (SQLite's
/// own `COLLATE NOCASE` folds ASCII only and put "Örebro" before "ärla".)
pub async fn device_pages_sort_names_case_insensitively(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    for name in NAMES {
        device_at(&*store, org, "hq", name).await;
    }
    let sorted = |desc: bool| {
        let store = store.clone();
        async move {
            store
                .device_page(
                    &Scope::all(),
                    &DeviceQuery {
                        sort: DeviceSort::Name,
                        desc,
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|d| d.summary.name)
                .collect::<Vec<_>>()
        }
    };
    let expected = case_insensitive(&NAMES);
    assert_eq!(sorted(false).await, expected);
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(sorted(true).await, reversed);
}

/// The device search `q` is case-insensitive beyond ASCII: "ÄNGEL" finds
/// "ängelholm" and "ängel" finds "Ängelholm" (SQLite's own LIKE folds
/// ASCII only), and the text is matched literally: no character of it is a
/// wildcard or a pattern on either database.
pub async fn device_search_folds_case_beyond_ascii(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    device_at(&*store, org, "hq", "ängelholm-1").await;
    device_at(&*store, org, "hq", "Ängelholm-2").await;
    device_at(&*store, org, "hq", "Malmö").await;
    let found = |q: &str| {
        let store = store.clone();
        let q = q.to_string();
        async move {
            let mut names: Vec<String> = store
                .device_page(
                    &Scope::all(),
                    &DeviceQuery {
                        q: Some(q),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|d| d.summary.name)
                .collect();
            names.sort();
            names
        }
    };
    // ASCII letters fold on both.
    assert_eq!(found("MALM").await, ["Malmö"]);
    assert_eq!(found("ngelholm").await, ["Ängelholm-2", "ängelholm-1"]);
    // Beyond ASCII.
    assert_eq!(found("MALMÖ").await, ["Malmö"]);
    assert_eq!(found("ÄNGEL").await, ["Ängelholm-2", "ängelholm-1"]);
    assert_eq!(found("ängel").await, ["Ängelholm-2", "ängelholm-1"]);
    // Literally: LIKE's wildcards and regular-expression syntax.
    device_at(&*store, org, "hq", "sale_50%").await;
    device_at(&*store, org, "hq", "salex50x").await;
    device_at(&*store, org, "hq", "web(1).example").await;
    assert_eq!(found("_50%").await, ["sale_50%"]);
    assert_eq!(found("e_5").await, ["sale_50%"]);
    assert_eq!(found("(1).").await, ["web(1).example"]);
    assert_eq!(found("b(1)\\").await, Vec::<String>::new());
    assert_eq!(found(".*").await, Vec::<String>::new());
}

/// Pending updates are JSON booleans inside the stored inventory: `true`
/// counts as a security update, `false` does not, and a device with two
/// counts once; the day's record carries the figure.
pub async fn security_flags_are_json_booleans(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let update = |name: &str, security: bool| steward_proto::PendingUpdate {
        name: name.into(),
        current: "1".into(),
        available: "2".into(),
        security,
        ..Default::default()
    };
    let inventories = [
        (
            "two-security",
            Some(vec![update("openssl", true), update("curl", true)]),
        ),
        ("plain", Some(vec![update("tzdata", false)])),
        (
            "mixed",
            Some(vec![update("tzdata", false), update("sudo", true)]),
        ),
        ("none-pending", Some(vec![])),
        ("unknown", None),
    ];
    let mut ids = Vec::new();
    for (name, updates) in inventories {
        let id = device_at(&*store, org, "hq", name).await;
        let inventory = steward_proto::Inventory {
            updates,
            ..Default::default()
        };
        store.set_inventory(id, &inventory, 5).await.unwrap();
        // The flags come back as they went in.
        let stored = store.get_device(&Scope::all(), id).await.unwrap();
        assert_eq!(stored.inventory, Some(inventory));
        ids.push(id);
    }
    let counts = store.fleet_counts(&Scope::all()).await.unwrap();
    assert_eq!(
        (
            counts.devices,
            counts.missing_updates,
            counts.security_updates
        ),
        (5, 3, 2)
    );
    let page = store
        .device_page(
            &Scope::all(),
            &DeviceQuery {
                missing_updates: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut names: Vec<&str> = page.items.iter().map(|d| d.summary.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["mixed", "plain", "two-security"]);
    store.record_fleet_day(19_000).await.unwrap();
    let day = store.fleet_history(&Scope::org(org), 0).await.unwrap();
    assert_eq!(
        (
            day[0].counts.missing_updates,
            day[0].counts.security_updates
        ),
        (3, 2)
    );
    // A boolean column read back as a boolean, not 0/1, in an alert's
    // JSON history.
    let dev = ids[0];
    let alert = store
        .record_alert_change(&AlertChange {
            org_id: org,
            monitor_id: "m".into(),
            monitor_name: "m".into(),
            device_id: dev,
            subject: String::new(),
            severity: "warning".into(),
            at: 1,
            summary: "s".into(),
            notify: false,
            flapping: true,
            suppressed: None,
        })
        .await
        .unwrap()
        .unwrap();
    let history = store.alert_history(&Scope::all(), alert).await.unwrap();
    assert_eq!(history[0].event["flapping"], serde_json::Value::Bool(true));
    assert_eq!(history[0].event["notified"], serde_json::Value::Bool(false));
    assert!(store.list_alerts(&Scope::all(), true).await.unwrap()[0].flapping);
}

/// Sequence numbers at the top of the range: `i64::MAX` is stored and read
/// back; above it (the API carries `u64`) the store keeps `i64::MAX`, so a
/// batch numbered `u64::MAX` is stored once and everything after it is a
/// duplicate.
pub async fn sequence_numbers_keep_their_width(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    let top = i64::MAX as u64;
    let ts = 1_700_000_000_000;
    assert_eq!(
        store
            .ingest(&[
                batch(dev, org, top - 1, ts, 0.1),
                batch(dev, org, top, ts + 1, 0.2)
            ])
            .await
            .unwrap(),
        [IngestOutcome::Stored, IngestOutcome::Stored]
    );
    assert_eq!(store.stored_seq(dev).await.unwrap(), top);
    assert_eq!(
        store
            .get_device(&Scope::all(), dev)
            .await
            .unwrap()
            .stored_seq,
        top
    );
    assert_eq!(
        store
            .ingest(&[
                batch(dev, org, top, ts + 2, 0.3),
                batch(dev, org, u64::MAX, ts + 3, 0.4)
            ])
            .await
            .unwrap(),
        [IngestOutcome::Duplicate, IngestOutcome::Duplicate]
    );
    let other = device(&*store, org, "fp-2").await;
    assert_eq!(
        store
            .ingest(&[batch(other, org, u64::MAX, ts, 0.1)])
            .await
            .unwrap(),
        [IngestOutcome::Stored]
    );
    assert_eq!(store.stored_seq(other).await.unwrap(), top);
}

/// Timestamps and counters near the ends of `i64`, `u64`, `u32` and `i32`
/// where the API carries them.
pub async fn wide_integers_survive_a_round_trip(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    // Enrollment: the most uses a token can have, the latest expiry.
    store
        .create_enroll_token(&NewEnrollToken {
            id: Uuid::now_v7(),
            org_id: org,
            site: "hq".into(),
            tags: vec![],
            secret_hash: "wide".into(),
            created_at: i64::MIN,
            expires_at: i64::MAX,
            uses_left: Some(u32::MAX),
            created_by: "admin".into(),
        })
        .await
        .unwrap();
    let spent = store
        .consume_enroll_token("wide", i64::MAX - 1)
        .await
        .unwrap();
    assert_eq!(
        (spent.uses_left, spent.created_at, spent.expires_at),
        (Some(u32::MAX - 1), i64::MIN, i64::MAX)
    );
    assert_eq!(
        store.list_enroll_tokens(&Scope::all()).await.unwrap()[0].uses_left,
        Some(u32::MAX - 1)
    );

    // A device: enrolled, seen and changing status at the end of time.
    let dev = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id: dev,
            org_id: org,
            site: "hq".into(),
            name: "wide".into(),
            hostname: "wide".into(),
            tags: vec![],
            cert_fingerprint: "fp-wide".into(),
            enrolled_at: i64::MAX,
        })
        .await
        .unwrap();
    assert!(
        store
            .set_status(dev, Status::Online, i64::MAX)
            .await
            .unwrap()
    );
    store.set_last_seen(&[(dev, i64::MAX)]).await.unwrap();
    let detail = store.get_device(&Scope::all(), dev).await.unwrap();
    assert_eq!(
        (
            detail.enrolled_at,
            detail.summary.status_since,
            detail.summary.last_seen
        ),
        (i64::MAX, Some(i64::MAX), Some(i64::MAX))
    );
    assert!(store.stale_online(i64::MAX).await.unwrap().is_empty());
    assert_eq!(
        store.status_history(&Scope::all(), dev).await.unwrap()[0].at,
        i64::MAX
    );
    // Inventory figures as wide as their types.
    let inventory = steward_proto::Inventory {
        cpu_cores: u32::MAX,
        memory_total_bytes: u64::MAX,
        swap_total_bytes: u64::MAX - 1,
        boot_time: i64::MIN,
        uptime_secs: u64::MAX,
        ..Default::default()
    };
    store
        .set_inventory(dev, &inventory, i64::MAX)
        .await
        .unwrap();
    let detail = store.get_device(&Scope::all(), dev).await.unwrap();
    assert_eq!(detail.inventory, Some(inventory));
    assert_eq!(detail.inventory_at, Some(i64::MAX));

    // TOTP steps at the top of the range.
    let user = crate::people::new_user(&*store, org, "ana").await;
    assert!(store.claim_totp_step(user, i64::MAX - 1).await.unwrap());
    assert!(store.claim_totp_step(user, i64::MAX).await.unwrap());
    assert!(!store.claim_totp_step(user, i64::MAX).await.unwrap());

    // A run reporting the extreme exit code and duration.
    let run = Uuid::now_v7();
    let job = NewJob {
        id: Uuid::now_v7(),
        org_id: org,
        name: "wide".into(),
        action: serde_json::json!({ "kind": "ping" }),
        selector: serde_json::json!({}),
        policy: serde_json::json!({}),
        created_at: 1,
        created_by: "ana".into(),
        expires_at: i64::MAX,
        state: "active".into(),
        origin: None,
        runs: vec![(run, dev, "queued".into(), String::new())],
    };
    store.create_job(&job).await.unwrap();
    assert_eq!(
        store
            .runs_to_send(Some(dev), None, i64::MAX - 1)
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .apply_run_reports(&[RunReport {
            run_id: run,
            device_id: dev,
            status: "failed".into(),
            exit_code: Some(i32::MIN),
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
            message: String::new(),
            started_at: Some(i64::MIN),
            duration_ms: Some(i64::MAX),
            at: i64::MAX,
        }])
        .await
        .unwrap();
    let stored = store
        .job_runs(&Scope::all(), job.id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (
            stored.exit_code,
            stored.started_at,
            stored.duration_ms,
            stored.finished_at
        ),
        (
            Some(i32::MIN),
            Some(i64::MIN),
            Some(i64::MAX),
            Some(i64::MAX)
        )
    );

    // The audit log at the end of time.
    let entry = store
        .append_audit(&NewAuditEntry {
            org_id: None,
            at: i64::MAX,
            actor: "ana".into(),
            source: "::1".into(),
            action: "test".into(),
            target: "wide".into(),
            detail: "{}".into(),
        })
        .await
        .unwrap();
    let read = store
        .audit_entries(&Scope::all(), 0, u32::MAX, &Default::default())
        .await
        .unwrap();
    assert_eq!(read, [entry]);
    assert_eq!(verify_audit_chain(&read, AUDIT_GENESIS), Ok(1));

    // A retry put off to the end of time is never due before it.
    store
        .create_channel(&ChannelRecord {
            enabled: true,
            version: 1,
            id: Uuid::now_v7(),
            org_id: org,
            name: "chat".into(),
            kind: "webhook".into(),
            config: serde_json::json!({}),
            min_severity: "warning".into(),
            pending: 0,
            undelivered: 0,
            last_error: None,
        })
        .await
        .unwrap();
    store
        .enqueue_notification(org, Uuid::now_v7(), "critical", None, "{}", 1)
        .await
        .unwrap();
    let item = store
        .due_notifications(1, u32::MAX)
        .await
        .unwrap()
        .remove(0);
    store
        .notification_failed(item.id, "later", Some(i64::MAX), 1)
        .await
        .unwrap();
    assert!(
        store
            .due_notifications(i64::MAX - 1, u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .due_notifications(i64::MAX, u32::MAX)
            .await
            .unwrap()
            .len(),
        1
    );

    // Paging far past the end, and the widest limits.
    let page = store
        .device_page(
            &Scope::all(),
            &DeviceQuery {
                limit: u32::MAX,
                offset: u32::MAX,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (1, 0));
    assert_eq!(
        store
            .list_jobs(&Scope::all(), u32::MAX)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .device_runs(&Scope::all(), dev, u32::MAX)
            .await
            .unwrap()
            .len(),
        1
    );
    // Days far in the future.
    store.record_fleet_day(1 << 40).await.unwrap();
    let days = store
        .fleet_history(&Scope::all(), (1 << 40) - 1)
        .await
        .unwrap();
    assert_eq!(days.iter().map(|d| d.day).collect::<Vec<_>>(), [1 << 40]);
}

/// Metric samples at timestamps beyond 2^53 ms keep every digit (a back end
/// that stored them as doubles would round them).
pub async fn metric_timestamps_keep_every_digit(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    let base: i64 = (1 << 53) + 1;
    let outcomes = store
        .ingest(&[
            batch(dev, org, 1, base, 0.1),
            batch(dev, org, 2, base + 1, 0.2),
            batch(dev, org, 3, base + 3, 0.3),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![IngestOutcome::Stored; 3]);
    let series = store
        .query_metric(
            &Scope::all(),
            &MetricQuery {
                device_id: dev,
                name: "system.cpu.utilization".into(),
                from_ms: i64::MIN,
                to_ms: i64::MAX,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        series[0].samples,
        [(base, 0.1), (base + 1, 0.2), (base + 3, 0.3)]
    );
    let narrow = store
        .query_metric(
            &Scope::all(),
            &MetricQuery {
                device_id: dev,
                name: "system.cpu.utilization".into(),
                from_ms: base + 1,
                to_ms: base + 1,
            },
        )
        .await
        .unwrap();
    let samples: Vec<(i64, f64)> = narrow
        .into_iter()
        .flat_map(|s| s.samples)
        .filter(|(t, _)| *t == base + 1)
        .collect();
    assert_eq!(samples, [(base + 1, 0.2)]);
}
