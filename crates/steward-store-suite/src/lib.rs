//! The store conformance suite: the same behaviour checks against every
//! back end. Each check takes a fresh, empty store; `store_suite!` turns
//! them into tests for a back end (see the SQLite and PostgreSQL crates'
//! `tests/suite.rs`).

mod agent_updates;
mod agentless;
mod aging;
mod alerts;
mod audit;
mod backups;
mod devices;
pub mod fixture;
mod fleet;
mod inbound;
mod incidents;
mod ingest;
mod jobs;
mod lifecycle;
mod methods;
mod metrics;
mod otlp;
mod patch_policies;
mod patching;
mod people;
mod posture;
mod problems;
mod report_mail;
mod runbooks;
mod schedules;
mod signin;
mod sites;
mod sla;
mod tasks;
mod telemetry;
mod traps;

pub use agent_updates::*;
pub use agentless::*;
pub use aging::*;
pub use alerts::*;
pub use audit::*;
pub use backups::*;
pub use devices::*;
pub use fixture::a_populated_store_reads_back;
pub use fleet::*;
pub use inbound::*;
pub use incidents::*;
pub use ingest::*;
pub use jobs::*;
pub use lifecycle::*;
pub use methods::METHODS;
pub use metrics::*;
pub use otlp::*;
pub use patch_policies::*;
pub use patching::*;
pub use people::*;
pub use posture::*;
pub use problems::*;
pub use report_mail::*;
pub use runbooks::*;
pub use schedules::*;
pub use signin::*;
pub use sites::*;
pub use sla::*;
pub use tasks::*;
pub use telemetry::*;
pub use traps::*;

use std::sync::Arc;
use steward_proto::Point;
use steward_store::*;
use uuid::Uuid;

/// Generates one `#[tokio::test]` per check. `$open` is an async fn
/// returning `Option<(guard, Arc<dyn Store>)>`: `None` skips (the back end
/// is not available here); the guard cleans up when dropped.
#[macro_export]
macro_rules! store_suite {
    ($open:path) => {
        $crate::store_suite!(@tests $open;
            ingest_is_idempotent_and_queryable,
            a_group_of_batches_is_stored_as_one,
            series_per_device_are_capped,
            scope_hides_other_tenants,
            organisations_are_found_within_scope,
            job_counts_cover_only_runs_in_scope,
            enroll_tokens_are_spent_and_expire,
            status_changes_are_recorded_once,
            tokens_resolve_to_principals_with_grants,
            site_scopes_and_denies_apply_in_sql,
            audit_log_is_chained,
            retention_rolls_up_then_drops,
            concurrent_writers_do_not_fail,
            channels_route_by_severity_and_tag,
            a_repeated_condition_is_one_alert,
            device_pages_filter_sort_and_count,
            tags_change_in_bulk_within_scope_only,
            fleet_days_are_recorded_per_place_and_summed_in_scope,
            migrations_are_idempotent,
            totp_steps_are_accepted_once,
            required_totp_reaches_existing_sessions_and_tokens,
            a_transfer_forgets_its_file_content,
            // people.rs
            users_are_found_by_name_and_id_and_listed_in_scope,
            recovery_codes_are_spent_once_and_replaced_whole,
            roles_are_listed_in_scope_and_found_by_id,
            api_tokens_are_listed_and_revoked_per_user,
            sessions_expire_and_end_when_deleted,
            enroll_tokens_are_listed_and_revoked_in_scope,
            grants_are_edited_in_place_and_users_have_a_profile,
            a_grant_with_another_organisations_role_grants_nothing,
            // devices.rs
            certificates_rotate_by_fingerprint,
            devices_are_got_listed_and_revoked_in_scope,
            stale_devices_go_offline_once,
            inventory_is_stored_and_shown,
            upstreams_stay_within_one_organisation,
            check_results_are_kept_per_name_in_scope,
            // alerts.rs
            monitors_are_listed_and_deleted_in_scope,
            people_acknowledge_then_resolve_alerts,
            events_are_appended_to_an_alerts_history,
            noise_rules_are_kept_per_kind_in_scope,
            suppressed_alerts_are_counted_by_reason,
            outbox_items_are_sent_or_retried,
            // lifecycle.rs
            monitors_are_edited_under_a_version,
            channels_are_edited_disabled_and_deleted,
            noise_rules_are_edited_and_deleted_per_kind,
            schedules_are_edited_under_a_version,
            users_are_disabled_deleted_and_lose_grants,
            retired_devices_leave_the_lists_and_keep_their_history,
            organisations_are_renamed_and_deleted_only_when_empty,
            // sites.rs
            sites_are_listed_renamed_and_merged,
            // audit.rs
            audit_pages_follow_cursors_and_scope,
            concurrent_audit_appends_make_one_chain,
            // metrics.rs
            metric_queries_select_by_range_name_and_labels,
            writers_and_refusals_are_reported,
            an_empty_store_has_nothing_to_retain,
            a_closed_store_refuses_calls,
            // jobs.rs
            scripts_keep_their_versions_within_scope,
            runs_are_sent_reported_and_final_once,
            queued_runs_expire_or_are_cancelled,
            device_runs_are_newest_first_in_scope,
            refused_capabilities_show_on_the_device,
            // schedules.rs
            schedules_are_due_claimed_once_and_scoped,
            // fleet.rs
            forecast_alerts_are_counted_and_filtered,
            // patch_policies.rs
            patch_policies_and_holds_are_edited_per_kind_and_scoped,
            a_patch_deployment_is_claimed_once,
            // patching.rs
            software_is_found_by_name_within_scope,
            pending_updates_keep_their_first_seen_time,
            a_hostile_package_list_cannot_crowd_out_a_fleet_search,
            compliance_days_are_replaced_per_day_and_scoped,
            // backups.rs
            backups_are_recorded_once_and_replaced_per_report,
            backup_success_rates_count_outcomes_in_scope,
            // posture.rs
            posture_is_replaced_per_device_and_listed_worst_first,
            // aging.rs
            aging_is_replaced_per_device_and_listed_worst_first,
            // inbound.rs
            incident_webhooks_are_scoped_and_deliveries_claimed_once,
            problem_rules_are_saved_per_organisation_under_a_version,
            // otlp.rs
            otlp_tokens_are_hashed_scoped_and_revoked,
            otlp_resources_name_live_devices_of_one_organisation,
            // incidents.rs
            incidents_are_edited_under_a_version_within_scope,
            an_alert_joins_one_incident_only,
            problems_are_kept_once_per_signature_and_edited_in_scope,
            // runbooks.rs
            runbooks_keep_every_version_within_scope,
            // sla.rs
            sla_targets_are_kept_per_priority_and_warnings_claimed_once,
            // tasks.rs
            task_slots_are_claimed_once_and_only_forward,
            // agentless.rs
            agentless_devices_are_probed_by_an_agent_of_their_organisation,
            // report_mail.rs
            report_schedules_are_scoped_and_claimed_once,
            email_routes_are_scoped_and_messages_claimed_once,
            // agent_updates.rs
            agent_releases_rollouts_and_answers_are_kept,
            // traps.rs: where SQLite and PostgreSQL part ways
            plain_lists_sort_names_alike,
            device_pages_sort_names_case_insensitively,
            device_search_folds_case_beyond_ascii,
            security_flags_are_json_booleans,
            sequence_numbers_keep_their_width,
            wide_integers_survive_a_round_trip,
            metric_timestamps_keep_every_digit,
            a_populated_store_reads_back,
            // telemetry.rs
            latest_samples_are_the_newest_of_each_series_in_scope,
        );
    };
    (@tests $open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some((_guard, store)) = $open().await else { return };
                $crate::$name(store).await;
            }
        )*
    };
}

pub async fn device(store: &dyn Store, org: Uuid, fingerprint: &str) -> Uuid {
    let id = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id,
            org_id: org,
            site: "hq".into(),
            name: fingerprint.into(),
            hostname: "host".into(),
            tags: vec!["linux".into()],
            cert_fingerprint: fingerprint.into(),
            enrolled_at: 1,
        })
        .await
        .unwrap();
    id
}

pub fn batch(device: Uuid, org: Uuid, seq: u64, ts: i64, value: f64) -> IngestBatch {
    IngestBatch {
        device_id: device,
        org_id: org,
        seq,
        ts_ms: ts,
        points: vec![
            Point {
                name: "system.cpu.utilization".into(),
                labels: Default::default(),
                value,
            },
            Point {
                name: "system.filesystem.utilization".into(),
                labels: [("mountpoint".to_string(), "/".to_string())].into(),
                value: 0.5,
            },
        ],
    }
}

pub async fn ingest_is_idempotent_and_queryable(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(store.as_ref(), org, "fp1").await;
    let mut outcomes = Vec::new();
    for seq in 1..=300u64 {
        outcomes.extend(
            store
                .ingest(&[batch(
                    dev,
                    org,
                    seq,
                    seq as i64 * 60_000,
                    (seq % 7) as f64 / 10.0,
                )])
                .await
                .unwrap(),
        );
    }
    assert!(outcomes.iter().all(|o| *o == IngestOutcome::Stored));
    // Re-sent batches are acknowledged but not stored twice.
    let again = store
        .ingest(&[
            batch(dev, org, 5, 5 * 60_000, 9.0),
            batch(dev, org, 300, 1, 9.0),
        ])
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![IngestOutcome::Duplicate, IngestOutcome::Duplicate]
    );
    assert_eq!(store.stored_seq(dev).await.unwrap(), 300);
    let query = MetricQuery {
        device_id: dev,
        name: "system.cpu.utilization".into(),
        from_ms: 0,
        to_ms: i64::MAX,
    };
    let series = store.query_metric(&Scope::all(), &query).await.unwrap();
    assert_eq!(series.len(), 1);
    let ts: Vec<i64> = series[0].samples.iter().map(|s| s.0).collect();
    assert_eq!(ts, (1..=300).map(|s| s * 60_000).collect::<Vec<_>>());
    let stats = store.storage_stats().await.unwrap();
    assert_eq!(stats.samples, 600);
    assert!(
        (stats.chunk_bytes as f64 / stats.samples as f64) < 2.0,
        "{stats:?}"
    );
    let listed = store.list_devices(&Scope::all()).await.unwrap();
    assert_eq!(listed[0].disk_utilization, Some(0.5));
}

pub async fn scope_hides_other_tenants(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(store.as_ref(), org, "fp1").await;
    let other = Scope::org(Uuid::now_v7());
    assert!(store.list_devices(&other).await.unwrap().is_empty());
    assert!(matches!(
        store.get_device(&other, dev).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.revoke_device(&other, dev).await,
        Err(StoreError::NotFound)
    ));
    let query = MetricQuery {
        device_id: dev,
        name: "system.cpu.utilization".into(),
        from_ms: 0,
        to_ms: i64::MAX,
    };
    store
        .ingest(&[batch(dev, org, 1, 1000, 0.1)])
        .await
        .unwrap();
    assert!(store.query_metric(&other, &query).await.unwrap().is_empty());
    assert_eq!(
        store
            .query_metric(&Scope::org(org), &query)
            .await
            .unwrap()
            .len(),
        1
    );
    // A batch claiming another organisation is refused.
    assert_eq!(
        store
            .ingest(&[batch(dev, Uuid::now_v7(), 2, 2000, 0.1)])
            .await
            .unwrap(),
        vec![IngestOutcome::Refused]
    );
}

pub async fn enroll_tokens_are_spent_and_expire(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let token = |secret: &str, uses, expires_at| NewEnrollToken {
        id: Uuid::now_v7(),
        org_id: org,
        site: "hq".into(),
        tags: vec![],
        secret_hash: secret.into(),
        created_at: 0,
        expires_at,
        uses_left: uses,
        created_by: "admin".into(),
    };
    store
        .create_enroll_token(&token("once", Some(1), 100))
        .await
        .unwrap();
    store
        .create_enroll_token(&token("old", None, 10))
        .await
        .unwrap();
    assert!(store.consume_enroll_token("once", 50).await.is_ok());
    assert!(matches!(
        store.consume_enroll_token("once", 50).await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store.consume_enroll_token("old", 50).await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store.consume_enroll_token("never", 50).await,
        Err(StoreError::Refused(_))
    ));
}

pub async fn status_changes_are_recorded_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(store.as_ref(), org, "fp1").await;
    assert!(store.set_status(dev, Status::Online, 10).await.unwrap());
    assert!(!store.set_status(dev, Status::Online, 11).await.unwrap());
    assert!(store.set_status(dev, Status::Offline, 20).await.unwrap());
    let history = store.status_history(&Scope::all(), dev).await.unwrap();
    assert_eq!(
        history.iter().map(|c| (c.to, c.at)).collect::<Vec<_>>(),
        vec![(Status::Online, 10), (Status::Offline, 20)]
    );
}

pub async fn tokens_resolve_to_principals_with_grants(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    store
        .upsert_builtin_role(&RoleRecord {
            id: "viewer".into(),
            org_id: None,
            name: "viewer".into(),
            permissions: vec!["devices.view".into()],
            version: 1,
        })
        .await
        .unwrap();
    let user = store
        .create_user(&NewUser {
            id: Uuid::now_v7(),
            org_id: org,
            username: "admin".into(),
            password_hash: "x".into(),
            created_at: 0,
            full_name: None,
            email: None,
        })
        .await
        .unwrap();
    store
        .create_grant(&NewGrant {
            id: Uuid::now_v7(),
            user_id: user,
            org_id: Some(org),
            site: None,
            role_id: "viewer".into(),
            deny: false,
        })
        .await
        .unwrap();
    let token = NewApiToken {
        id: Uuid::now_v7(),
        user_id: user,
        name: "t".into(),
        token_hash: "h".into(),
        created_at: 0,
        expires_at: Some(100),
        role_id: None,
        scope_org: None,
        scope_site: None,
    };
    store.create_api_token(&token).await.unwrap();
    let principal = store.principal_for_token("h", 50).await.unwrap();
    assert_eq!(principal.grants.len(), 1);
    assert_eq!(
        principal.grants[0].permissions,
        vec!["devices.view".to_string()]
    );
    // What the token is limited to comes back with it.
    let limit = principal.token.clone().unwrap();
    assert_eq!(limit.expires_at, Some(100));
    assert_eq!(limit.role_id, None);
    assert!(
        limit.is_restricted(),
        "a token with an expiry manages only itself"
    );
    store
        .create_api_token(&NewApiToken {
            id: Uuid::now_v7(),
            token_hash: "limited".into(),
            role_id: Some("viewer".into()),
            scope_org: Some(org),
            scope_site: Some("hq".into()),
            expires_at: None,
            ..token.clone()
        })
        .await
        .unwrap();
    let limited = store.principal_for_token("limited", 50).await.unwrap();
    let limit = limited.token.unwrap();
    assert_eq!(limit.role_id.as_deref(), Some("viewer"));
    assert_eq!(limit.site.as_deref(), Some("hq"));
    assert_eq!(limit.expires_at, None);
    assert!(limit.is_restricted());
    // A user's authority without any token: what their schedules run with.
    let now = store.principal_for_user(user).await.unwrap();
    assert!(now.token.is_none() && now.mfa_done);
    assert_eq!(now.username, "admin");
    assert_eq!(now.grants.len(), 1);
    assert!(matches!(
        store.principal_for_user(Uuid::now_v7()).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.principal_for_token("h", 150).await.is_err());
    assert!(store.principal_for_token("nope", 50).await.is_err());
    store.revoke_api_token(Some(user), token.id).await.unwrap();
    assert!(store.principal_for_token("h", 50).await.is_err());
}

/// An organisation-limited scope finds its own organisation by name, and
/// not another's (SQLite once compared the id with json_each's own `id`).
pub async fn organisations_are_found_within_scope(store: Arc<dyn Store>) {
    let root = store.default_org().await.unwrap();
    let acme = store.create_org("acme").await.unwrap();
    let in_acme = Scope::org(acme.id);
    assert_eq!(
        store.org_by_name(&in_acme, "acme").await.unwrap().id,
        acme.id
    );
    assert!(matches!(
        store.org_by_name(&in_acme, &root.name).await,
        Err(StoreError::NotFound)
    ));
    let names: Vec<String> = store
        .list_orgs(&in_acme)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, vec!["acme".to_string()]);
    // A deny of one site does not hide the organisation itself.
    let denied = Scope {
        allow: in_acme.allow.clone(),
        deny: vec![Place {
            org: Some(acme.id),
            site: Some("vault".into()),
        }],
    };
    assert_eq!(
        store.org_by_name(&denied, "acme").await.unwrap().id,
        acme.id
    );
    store
        .set_org_require_totp(&in_acme, acme.id, true)
        .await
        .unwrap();
}

pub async fn site_scopes_and_denies_apply_in_sql(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let hq = device(store.as_ref(), org, "fp1").await; // site "hq"
    let scope = |allow_site: Option<&str>, deny_site: Option<&str>| Scope {
        allow: vec![Place {
            org: Some(org),
            site: allow_site.map(String::from),
        }],
        deny: deny_site
            .map(|s| Place {
                org: Some(org),
                site: Some(s.into()),
            })
            .into_iter()
            .collect(),
    };
    assert_eq!(
        store
            .list_devices(&scope(Some("hq"), None))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_devices(&scope(Some("branch"), None))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .list_devices(&scope(None, Some("hq")))
            .await
            .unwrap()
            .len(),
        0
    );
    assert!(
        store
            .get_device(&scope(None, Some("hq")), hq)
            .await
            .is_err()
    );
    assert!(store.get_device(&scope(None, None), hq).await.is_ok());
}

pub async fn audit_log_is_chained(store: Arc<dyn Store>) {
    for i in 0..3 {
        store
            .append_audit(&NewAuditEntry {
                org_id: None,
                at: i,
                actor: "admin".into(),
                source: "127.0.0.1".into(),
                action: "test".into(),
                target: format!("t{i}"),
                detail: "{}".into(),
            })
            .await
            .unwrap();
    }
    let entries = store
        .audit_entries(&Scope::all(), 0, 100, &Default::default())
        .await
        .unwrap();
    assert_eq!(verify_audit_chain(&entries, AUDIT_GENESIS), Ok(3));
    // Newest first, before a cursor (the console's pages).
    let recent = store
        .audit_recent(&Scope::all(), i64::MAX, 2, &Default::default())
        .await
        .unwrap();
    assert_eq!(recent.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 2]);
    let older = store
        .audit_recent(&Scope::all(), 2, 10, &Default::default())
        .await
        .unwrap();
    assert_eq!(older.iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
    // An org-scoped reader does not see server-wide entries.
    assert!(
        store
            .audit_entries(&Scope::org(Uuid::now_v7()), 0, 100, &Default::default())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn retention_rolls_up_then_drops(store: Arc<dyn Store>) {
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    let org = store.default_org().await.unwrap().id;
    let dev = device(store.as_ref(), org, "fp1").await;
    // One day of one-minute samples (CPU = minute % 10, a filesystem at
    // 0.5): twelve raw chunks of two hours per series.
    let start = 1_700_000_000_000 / HOUR * HOUR;
    let batches: Vec<IngestBatch> = (0..1440)
        .map(|i| batch(dev, org, i as u64 + 1, start + i * MIN, (i % 10) as f64))
        .collect();
    for chunk in batches.chunks(500) {
        store.ingest(chunk).await.unwrap();
    }
    let end = start + 1440 * MIN;
    let policy = Retention {
        raw_ms: 6 * HOUR,
        five_minute_ms: 12 * HOUR,
        hourly_ms: 20 * HOUR,
    };
    let outcome = store.apply_retention(end, &policy).await.unwrap();
    // Per series: 9 raw chunks (1,080 samples) ended before end - 6 h and
    // became 216 five-minute means; the first full chunk of those (120)
    // ended before end - 12 h and became 10 hourly means.
    assert_eq!(
        outcome,
        RetentionOutcome {
            rolled_up: 2 * (1080 + 120),
            dropped: 0
        }
    );
    let cpu = |from: i64, to: i64| {
        let store = store.clone();
        async move {
            let query = MetricQuery {
                device_id: dev,
                name: "system.cpu.utilization".into(),
                from_ms: from,
                to_ms: to,
            };
            store
                .query_metric(&Scope::all(), &query)
                .await
                .unwrap()
                .pop()
                .map(|s| s.samples)
                .unwrap_or_default()
        }
    };
    let day = cpu(start, end).await;
    assert_eq!(day.len(), 10 + 96 + 360);
    assert!(day.windows(2).all(|w| w[0].0 < w[1].0), "in time order");
    assert!(
        day[..10].iter().all(|(_, v)| *v == 4.5),
        "hourly means: {:?}",
        &day[..10]
    );
    assert!(
        day[10..106].iter().all(|(_, v)| *v == 2.0 || *v == 7.0),
        "5-minute means"
    );
    assert_eq!(day[106], (start + 1080 * MIN, 0.0), "raw samples untouched");
    assert_eq!(store.storage_stats().await.unwrap().samples, 2 * 466);
    // A month later everything has become hourly means, and those have aged
    // out too.
    let later = store
        .apply_retention(end + 30 * 24 * HOUR, &policy)
        .await
        .unwrap();
    assert!(later.dropped > 0 && later.rolled_up > 0, "{later:?}");
    assert!(cpu(start, end).await.is_empty());
    assert_eq!(store.storage_stats().await.unwrap().samples, 0);
}

/// Regression: read-then-write transactions used to fail with "database is
/// locked" when another writer committed in between (deferred BEGIN).
pub async fn concurrent_writers_do_not_fail(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let mut devices = Vec::new();
    for i in 0..40 {
        devices.push(device(store.as_ref(), org, &format!("fp{i}")).await);
    }
    let mut tasks = Vec::new();
    for (i, dev) in devices.into_iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..10i64 {
                let to = if round % 2 == 0 {
                    Status::Online
                } else {
                    Status::Offline
                };
                store.set_status(dev, to, round).await?;
                store
                    .ingest(&[batch(
                        dev,
                        org,
                        round as u64 + 1,
                        round * 1000 + i as i64,
                        0.1,
                    )])
                    .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
}
