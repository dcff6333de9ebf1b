//! Objects edited in place: read one, change it under the version read (a
//! stale version loses), disable, delete; always within the caller's scope.

use crate::device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

fn not_found<T: std::fmt::Debug>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

pub async fn monitors_are_edited_under_a_version(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let monitor = |name: &str| MonitorRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: name.into(),
        definition: serde_json::json!({ "threshold": 0.9 }),
        enabled: true,
        version: 1,
    };
    let (disk, cpu) = (monitor("disk"), monitor("cpu"));
    for m in [&disk, &cpu] {
        store.create_monitor(m).await.unwrap();
    }
    let read = store.get_monitor(&Scope::org(org), disk.id).await.unwrap();
    assert_eq!(
        (read.name.as_str(), read.enabled, read.version),
        ("disk", true, 1)
    );
    assert_eq!(read.definition, disk.definition);
    assert!(not_found(
        store.get_monitor(&Scope::org(other), disk.id).await
    ));

    let edited = MonitorRecord {
        name: "root disk".into(),
        definition: serde_json::json!({ "threshold": 0.8 }),
        enabled: false,
        ..read.clone()
    };
    assert_eq!(
        store
            .update_monitor(&Scope::org(org), &edited, Some(1))
            .await
            .unwrap(),
        2
    );
    let now = store.get_monitor(&Scope::all(), disk.id).await.unwrap();
    assert_eq!(
        (now.name.as_str(), now.enabled, now.version),
        ("root disk", false, 2)
    );
    assert_eq!(now.definition, edited.definition);
    assert!(
        !store.list_monitors(&Scope::org(org)).await.unwrap()[1].enabled,
        "listed with its flag"
    );
    // A second writer who read version 1 loses, and changes nothing.
    let late = MonitorRecord {
        name: "late".into(),
        ..read
    };
    assert!(matches!(
        store.update_monitor(&Scope::org(org), &late, Some(1)).await,
        Err(StoreError::Stale(2))
    ));
    assert!(not_found(
        store.update_monitor(&Scope::org(other), &late, None).await
    ));
    assert_eq!(
        store
            .get_monitor(&Scope::all(), disk.id)
            .await
            .unwrap()
            .name,
        "root disk"
    );
    // No version named: the edit applies to whatever is stored.
    assert_eq!(
        store
            .update_monitor(&Scope::all(), &late, None)
            .await
            .unwrap(),
        3
    );
    let taken = MonitorRecord {
        name: "cpu".into(),
        ..late
    };
    assert!(
        matches!(
            store.update_monitor(&Scope::all(), &taken, None).await,
            Err(StoreError::Conflict(_))
        ),
        "a rename keeps one name per organisation"
    );
}

pub async fn channels_are_edited_disabled_and_deleted(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let dev = device(&*store, org, "web-1").await;
    let created = ChannelRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: "ops".into(),
        kind: "webhook".into(),
        config: serde_json::json!({ "url": "http://127.0.0.1:9/" }),
        min_severity: "warning".into(),
        enabled: true,
        version: 1,
        pending: 0,
        undelivered: 0,
        last_error: None,
    };
    store.create_channel(&created).await.unwrap();
    let alert = |subject: &str, at: i64| AlertChange {
        org_id: org,
        monitor_id: "m1".into(),
        monitor_name: "disk".into(),
        device_id: dev,
        subject: subject.into(),
        severity: "critical".into(),
        at,
        summary: format!("{subject} full"),
        notify: true,
        flapping: false,
        suppressed: None,
    };
    store.record_alert_change(&alert("/", 10)).await.unwrap();
    let read = store
        .get_channel(&Scope::org(org), created.id)
        .await
        .unwrap();
    assert_eq!(
        (read.name.as_str(), read.enabled, read.version, read.pending),
        ("ops", true, 1, 1)
    );
    assert!(not_found(
        store.get_channel(&Scope::org(other), created.id).await
    ));

    let disabled = ChannelRecord {
        name: "ops-pager".into(),
        min_severity: "critical".into(),
        config: serde_json::json!({ "url": "http://127.0.0.1:9/pager" }),
        enabled: false,
        ..read.clone()
    };
    assert_eq!(
        store
            .update_channel(&Scope::org(org), &disabled, Some(1))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.update_channel(&Scope::org(org), &read, Some(1)).await,
        Err(StoreError::Stale(2))
    ));
    let now = store.get_channel(&Scope::all(), created.id).await.unwrap();
    assert_eq!(
        (
            now.name.as_str(),
            now.min_severity.as_str(),
            now.enabled,
            now.config["url"].as_str()
        ),
        (
            "ops-pager",
            "critical",
            false,
            Some("http://127.0.0.1:9/pager")
        )
    );
    // A disabled channel is sent nothing: neither what waits nor what
    // comes.
    assert!(store.due_notifications(1_000, 10).await.unwrap().is_empty());
    store.record_alert_change(&alert("/var", 20)).await.unwrap();
    assert_eq!(
        store
            .get_channel(&Scope::all(), created.id)
            .await
            .unwrap()
            .pending,
        1
    );
    let enabled = ChannelRecord {
        enabled: true,
        ..now
    };
    store
        .update_channel(&Scope::all(), &enabled, Some(2))
        .await
        .unwrap();
    assert_eq!(store.due_notifications(1_000, 10).await.unwrap().len(), 1);

    assert!(not_found(
        store.delete_channel(&Scope::org(other), created.id).await
    ));
    assert_eq!(
        store
            .delete_channel(&Scope::org(org), created.id)
            .await
            .unwrap(),
        1,
        "the waiting notification is dropped with it"
    );
    assert!(not_found(
        store.get_channel(&Scope::all(), created.id).await
    ));
    assert!(not_found(
        store.delete_channel(&Scope::all(), created.id).await
    ));
    assert!(store.due_notifications(1_000, 10).await.unwrap().is_empty());
}

pub async fn noise_rules_are_edited_and_deleted_per_kind(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let silence = NoiseRule {
        id: Uuid::now_v7(),
        org_id: org,
        kind: Some(NoiseKind::Silence),
        definition: serde_json::json!({ "until": 100 }),
        created_by: "ana".into(),
        created_at: 1,
        version: 1,
    };
    store.create_noise_rule(&silence).await.unwrap();
    let read = store
        .get_noise_rule(&Scope::org(org), NoiseKind::Silence, silence.id)
        .await
        .unwrap();
    assert_eq!(
        (read.definition.clone(), read.version, read.kind),
        (silence.definition.clone(), 1, Some(NoiseKind::Silence))
    );
    assert!(not_found(
        store
            .get_noise_rule(&Scope::org(org), NoiseKind::Maintenance, silence.id)
            .await
    ));
    assert!(not_found(
        store
            .get_noise_rule(&Scope::org(other), NoiseKind::Silence, silence.id)
            .await
    ));
    let longer = serde_json::json!({ "until": 200 });
    assert_eq!(
        store
            .update_noise_rule(
                &Scope::org(org),
                NoiseKind::Silence,
                silence.id,
                &longer,
                Some(1)
            )
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store
            .update_noise_rule(
                &Scope::org(org),
                NoiseKind::Silence,
                silence.id,
                &longer,
                Some(1)
            )
            .await,
        Err(StoreError::Stale(2))
    ));
    assert!(not_found(
        store
            .update_noise_rule(
                &Scope::all(),
                NoiseKind::Maintenance,
                silence.id,
                &longer,
                None
            )
            .await
    ));
    assert_eq!(
        store
            .list_noise_rules(&Scope::org(org), NoiseKind::Silence)
            .await
            .unwrap()[0]
            .definition,
        longer
    );
    assert!(not_found(
        store
            .delete_noise_rule(&Scope::org(other), NoiseKind::Silence, silence.id)
            .await
    ));
    store
        .delete_noise_rule(&Scope::org(org), NoiseKind::Silence, silence.id)
        .await
        .unwrap();
    assert!(
        store
            .list_noise_rules(&Scope::all(), NoiseKind::Silence)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn schedules_are_edited_under_a_version(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let nightly = ScheduleRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: "nightly".into(),
        timing: serde_json::json!({ "every_secs": 3600 }),
        job: serde_json::json!({ "name": "nightly" }),
        enabled: true,
        next_run_at: 1_000,
        last_run_at: None,
        created_by: "ana".into(),
        version: 1,
    };
    store.create_schedule(&nightly).await.unwrap();
    let read = store
        .get_schedule(&Scope::org(org), nightly.id)
        .await
        .unwrap();
    assert_eq!((read.name.as_str(), read.version), ("nightly", 1));
    assert!(not_found(
        store.get_schedule(&Scope::org(other), nightly.id).await
    ));
    let paused = ScheduleRecord {
        name: "weekly".into(),
        timing: serde_json::json!({ "every_secs": 604800 }),
        enabled: false,
        next_run_at: 5_000,
        created_by: "bo".into(),
        ..read.clone()
    };
    assert_eq!(
        store
            .update_schedule(&Scope::org(org), &paused, Some(1))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store
            .update_schedule(&Scope::org(org), &read, Some(1))
            .await,
        Err(StoreError::Stale(2))
    ));
    assert!(not_found(
        store.update_schedule(&Scope::org(other), &read, None).await
    ));
    let now = store.get_schedule(&Scope::all(), nightly.id).await.unwrap();
    assert_eq!(
        (now.name.as_str(), now.enabled, now.next_run_at, now.version),
        ("weekly", false, 5_000, 2)
    );
    assert_eq!(now.timing, paused.timing);
    assert_eq!(now.created_by, "bo", "it runs as who changed it last");
    assert!(
        store.due_schedules(10_000).await.unwrap().is_empty(),
        "disabled"
    );
}

pub async fn users_are_disabled_deleted_and_lose_grants(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let ana = crate::people::new_user(&*store, org, "ana").await;
    let grant = |id: Uuid, role: &str| NewGrant {
        id,
        user_id: ana,
        org_id: Some(org),
        site: None,
        role_id: role.into(),
        deny: false,
    };
    let (admin, viewer) = (Uuid::now_v7(), Uuid::now_v7());
    for role in ["admin", "read_only"] {
        store
            .upsert_builtin_role(&RoleRecord {
                id: role.into(),
                org_id: None,
                name: role.into(),
                permissions: vec!["devices.view".into()],
                version: 1,
            })
            .await
            .unwrap();
    }
    store.create_grant(&grant(admin, "admin")).await.unwrap();
    store
        .create_grant(&grant(viewer, "read_only"))
        .await
        .unwrap();
    store
        .create_api_token(&NewApiToken {
            id: Uuid::now_v7(),
            user_id: ana,
            name: "ci".into(),
            token_hash: "ana-token".into(),
            created_at: 1,
            expires_at: None,
            role_id: None,
            scope_org: None,
            scope_site: None,
        })
        .await
        .unwrap();
    let session = NewSession {
        session_hash: "ana-session".into(),
        user_id: ana,
        created_at: 1,
        expires_at: 1_000,
        mfa_done: true,
    };
    store.create_session(&session).await.unwrap();

    // Grants carry their ids; one is removed, in scope only.
    let grants = store.user_grants(ana).await.unwrap();
    assert_eq!(
        grants
            .iter()
            .map(|g| (g.id, g.role_id.as_str()))
            .collect::<Vec<_>>(),
        [(admin, "admin"), (viewer, "read_only")]
    );
    assert!(not_found(
        store.delete_grant(&Scope::org(other), ana, admin).await
    ));
    assert!(not_found(
        store
            .delete_grant(&Scope::all(), Uuid::now_v7(), admin)
            .await
    ));
    store
        .delete_grant(&Scope::org(org), ana, admin)
        .await
        .unwrap();
    let left = store.principal_for_token("ana-token", 10).await.unwrap();
    assert_eq!(
        left.grants.iter().map(|g| g.id).collect::<Vec<_>>(),
        [viewer]
    );

    // Disabled: no credential of hers resolves, her sessions end.
    assert!(not_found(
        store
            .set_user_disabled(&Scope::org(other), ana, true, None)
            .await
    ));
    // A change based on a version read before another is refused.
    let read = store.list_users(&Scope::org(org)).await.unwrap()[0].version;
    let disabled = store
        .set_user_disabled(&Scope::org(org), ana, true, Some(read))
        .await
        .unwrap();
    assert_eq!(disabled, read + 1);
    assert!(matches!(
        store
            .set_user_disabled(&Scope::org(org), ana, false, Some(read))
            .await,
        Err(StoreError::Stale(v)) if v == disabled
    ));
    assert!(store.user_by_id(ana).await.unwrap().disabled);
    assert!(store.list_users(&Scope::org(org)).await.unwrap()[0].disabled);
    assert!(store.principal_for_token("ana-token", 10).await.is_err());
    assert!(store.principal_for_user(ana).await.is_err());
    assert!(
        store
            .principal_for_session("ana-session", 10)
            .await
            .is_err()
    );
    // Enabled again: the token works; the ended session stays ended.
    store
        .set_user_disabled(&Scope::org(org), ana, false, Some(disabled))
        .await
        .unwrap();
    assert!(store.principal_for_token("ana-token", 10).await.is_ok());
    assert!(
        store
            .principal_for_session("ana-session", 10)
            .await
            .is_err()
    );

    // Deleted with what was hers.
    store.create_session(&session).await.unwrap();
    assert!(not_found(store.delete_user(&Scope::org(other), ana).await));
    store.delete_user(&Scope::org(org), ana).await.unwrap();
    assert!(not_found(store.user_by_id(ana).await));
    assert!(store.principal_for_token("ana-token", 10).await.is_err());
    assert!(store.user_grants(ana).await.unwrap().is_empty());
    assert!(not_found(store.delete_user(&Scope::all(), ana).await));
    assert_eq!(store.user_count().await.unwrap(), 0);
}

pub async fn retired_devices_leave_the_lists_and_keep_their_history(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let (old, kept) = (
        device(&*store, org, "fp-old").await,
        device(&*store, org, "fp-kept").await,
    );
    store
        .ingest(&[crate::batch(old, org, 1, 1_000, 0.4)])
        .await
        .unwrap();
    // Renamed and moved under its version; a lost update is refused.
    assert!(not_found(
        store
            .edit_device(&Scope::org(other), kept, "x", "hq", None)
            .await
    ));
    let read = store.get_device(&Scope::all(), kept).await.unwrap().version;
    let moved = store
        .edit_device(&Scope::org(org), kept, "web-01", "branch", Some(read))
        .await
        .unwrap();
    assert_eq!(moved, read + 1);
    assert!(matches!(
        store
            .edit_device(&Scope::org(org), kept, "web-02", "hq", Some(read))
            .await,
        Err(StoreError::Stale(v)) if v == moved
    ));
    let detail = store.get_device(&Scope::all(), kept).await.unwrap();
    assert_eq!(
        (
            detail.summary.name.as_str(),
            detail.summary.site.as_str(),
            detail.version
        ),
        ("web-01", "branch", moved)
    );
    assert!(not_found(
        store.retire_device(&Scope::org(other), old, 50).await
    ));
    store
        .retire_device(&Scope::org(org), old, 50)
        .await
        .unwrap();
    // A retired device is not edited.
    assert!(not_found(
        store
            .edit_device(&Scope::all(), old, "again", "hq", None)
            .await
    ));
    store
        .retire_device(&Scope::org(org), old, 60)
        .await
        .unwrap();
    assert!(not_found(
        store.retire_device(&Scope::all(), Uuid::now_v7(), 50).await
    ));
    // Out of the lists and the fleet pages, revoked pages included.
    let listed: Vec<Uuid> = store
        .list_devices(&Scope::org(org))
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, [kept]);
    let page = store
        .device_page(
            &Scope::all(),
            &DeviceQuery {
                include_revoked: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|d| d.summary.id).collect::<Vec<_>>(),
        [kept]
    );
    // Its identity is refused; what it reported stays readable.
    let detail = store.get_device(&Scope::all(), old).await.unwrap();
    assert!(detail.summary.revoked);
    assert_eq!(
        store
            .ingest(&[crate::batch(old, org, 2, 2_000, 0.5)])
            .await
            .unwrap(),
        [IngestOutcome::Refused]
    );
    let series = store
        .query_metric(
            &Scope::all(),
            &MetricQuery {
                device_id: old,
                name: crate::batch(old, org, 1, 1_000, 0.4).points[0].name.clone(),
                from_ms: 0,
                to_ms: 10_000,
            },
        )
        .await
        .unwrap();
    assert_eq!(series.iter().map(|s| s.samples.len()).sum::<usize>(), 1);
}

pub async fn organisations_are_renamed_and_deleted_only_when_empty(store: Arc<dyn Store>) {
    let root = store.default_org().await.unwrap().id;
    let acme = store.create_org("acme").await.unwrap().id;
    store.create_org("globex").await.unwrap();
    assert!(not_found(
        store
            .rename_org(&Scope::org(root), acme, "acme corp", None)
            .await
    ));
    let renamed = store
        .rename_org(&Scope::org(acme), acme, "Acme Corp", Some(1))
        .await
        .unwrap();
    assert_eq!(renamed, 2);
    assert!(matches!(
        store
            .rename_org(&Scope::org(acme), acme, "Acme Inc", Some(1))
            .await,
        Err(StoreError::Stale(2))
    ));
    let listed = store.list_orgs(&Scope::org(acme)).await.unwrap();
    assert_eq!(
        (listed[0].name.as_str(), listed[0].version),
        ("Acme Corp", 2)
    );
    assert_eq!(
        store
            .org_by_name(&Scope::all(), "Acme Corp")
            .await
            .unwrap()
            .id,
        acme
    );
    assert!(matches!(
        store.rename_org(&Scope::all(), acme, "globex", None).await,
        Err(StoreError::Conflict(_))
    ));

    // What it holds keeps it: named and counted.
    let dev = device(&*store, acme, "fp-acme").await;
    let token = NewEnrollToken {
        id: Uuid::now_v7(),
        org_id: acme,
        site: "hq".into(),
        tags: vec![],
        secret_hash: "enroll-acme".into(),
        created_at: 1,
        expires_at: 1_000,
        uses_left: Some(1),
        created_by: "admin".into(),
    };
    store.create_enroll_token(&token).await.unwrap();
    let role = RoleRecord {
        id: "acme-helpdesk".into(),
        org_id: Some(acme),
        name: "helpdesk".into(),
        permissions: vec!["devices.view".into()],
        version: 1,
    };
    store.create_role(&role).await.unwrap();
    assert_eq!(
        store.org_contents(acme).await.unwrap(),
        [
            ("devices".to_string(), 1),
            ("roles".to_string(), 1),
            ("enrollment tokens".to_string(), 1)
        ]
    );
    match store.delete_org(&Scope::all(), acme).await {
        Err(StoreError::Refused(why)) => assert!(
            why.contains("1 device (fp-acme)")
                && why.contains("1 role (helpdesk)")
                && why.contains("1 enrollment token (for site hq)"),
            "{why}"
        ),
        other => panic!("deleted a non-empty organisation: {other:?}"),
    }

    // Emptied (the device retired still counts: its history is there).
    store.retire_device(&Scope::all(), dev, 5).await.unwrap();
    assert_eq!(
        store.org_contents(acme).await.unwrap()[0],
        ("retired devices (with their history)".to_string(), 1)
    );
    assert!(not_found(
        store.delete_enroll_token(&Scope::org(root), token.id).await
    ));
    store
        .delete_enroll_token(&Scope::org(acme), token.id)
        .await
        .unwrap();
    assert!(
        store
            .list_enroll_tokens(&Scope::all())
            .await
            .unwrap()
            .is_empty()
    );

    // A role: edited in scope, deleted once unused.
    let edited = RoleRecord {
        name: "service desk".into(),
        permissions: vec!["devices.view".into(), "devices.manage".into()],
        ..role.clone()
    };
    assert!(not_found(
        store.update_role(&Scope::org(root), &edited, None).await
    ));
    assert_eq!(
        store
            .update_role(&Scope::org(acme), &edited, Some(1))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.update_role(&Scope::org(acme), &role, Some(1)).await,
        Err(StoreError::Stale(2))
    ));
    let read = store.role("acme-helpdesk").await.unwrap();
    assert_eq!(
        (read.name.as_str(), read.permissions.len(), read.version),
        ("service desk", 2, 2)
    );
    let user = crate::people::new_user(&*store, acme, "wile").await;
    store
        .create_grant(&NewGrant {
            id: Uuid::now_v7(),
            user_id: user,
            org_id: Some(acme),
            site: None,
            role_id: role.id.clone(),
            deny: false,
        })
        .await
        .unwrap();
    assert_eq!(
        store.role_holders(&role.id).await.unwrap(),
        [("wile".to_string(), "grant of wile".to_string())]
    );
    store.delete_user(&Scope::all(), user).await.unwrap();
    assert!(store.role_holders(&role.id).await.unwrap().is_empty());
    store
        .delete_role(&Scope::org(acme), &role.id)
        .await
        .unwrap();
    assert!(store.role(&role.id).await.is_err());
    assert!(not_found(store.delete_role(&Scope::all(), &role.id).await));

    // Only history left: still refused. Without it, deleted.
    assert!(matches!(
        store.delete_org(&Scope::all(), acme).await,
        Err(StoreError::Refused(_))
    ));
    let empty = store.create_org("initech").await.unwrap().id;
    assert!(not_found(store.delete_org(&Scope::org(acme), empty).await));
    store.delete_org(&Scope::org(empty), empty).await.unwrap();
    assert!(store.org_by_name(&Scope::all(), "initech").await.is_err());
    assert!(
        store
            .list_orgs(&Scope::all())
            .await
            .unwrap()
            .iter()
            .all(|o| o.id != empty),
        "a deleted organisation leaves the list"
    );
    store
        .create_org("initech")
        .await
        .expect("its name is free again");
    assert!(
        not_found(store.delete_org(&Scope::all(), root).await),
        "the root organisation stays"
    );
}
