//! Checks of the job store: scripts and their versions; jobs and their runs
//! (approval, sending, reports, expiry, cancellation); what a scope sees of
//! a job's runs; a device's run history and refused capabilities; what a
//! file transfer leaves behind. Schedules are in `schedules.rs`.

use crate::device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

/// A job's counts cover only the runs on devices of the caller's scope, so
/// they reveal no device outside it (an approver denied on a site saw how
/// many runs the job had there).
pub async fn job_counts_cover_only_runs_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let hq = device(store.as_ref(), org, "fp-hq").await;
    let vault = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id: vault,
            org_id: org,
            site: "vault".into(),
            name: "vault-1".into(),
            hostname: "vault".into(),
            tags: vec![],
            cert_fingerprint: "fp-vault".into(),
            enrolled_at: 1,
        })
        .await
        .unwrap();
    let job = Uuid::now_v7();
    store
        .create_job(&NewJob {
            id: job,
            org_id: org,
            name: "ping".into(),
            action: serde_json::json!({ "kind": "ping" }),
            selector: serde_json::json!({}),
            policy: serde_json::json!({}),
            created_at: 1,
            created_by: "admin".into(),
            expires_at: i64::MAX,
            state: "pending_approval".into(),
            origin: None,
            runs: vec![
                (Uuid::now_v7(), hq, "queued".into(), String::new()),
                (Uuid::now_v7(), vault, "refused".into(), "no".into()),
            ],
        })
        .await
        .unwrap();
    let total = |record: &JobRecord| record.counts.values().sum::<u64>();
    let all = store.get_job(&Scope::all(), job).await.unwrap();
    assert_eq!(total(&all), 2);
    assert_eq!(all.counts.get("refused"), Some(&1));
    let denied = Scope {
        allow: vec![Place {
            org: Some(org),
            site: None,
        }],
        deny: vec![Place {
            org: Some(org),
            site: Some("vault".into()),
        }],
    };
    let seen = store.get_job(&denied, job).await.unwrap();
    assert_eq!(total(&seen), 1, "{:?}", seen.counts);
    assert_eq!(seen.counts.get("queued"), Some(&1));
    let listed = store.list_jobs(&denied, 10).await.unwrap();
    assert_eq!(total(&listed[0]), 1, "{:?}", listed[0].counts);
    assert_eq!(store.job_runs(&denied, job).await.unwrap().len(), 1);
}

fn job(org: Uuid, device: Uuid, action: serde_json::Value) -> (NewJob, Uuid) {
    let run = Uuid::now_v7();
    let job = NewJob {
        id: Uuid::now_v7(),
        org_id: org,
        name: "transfer".into(),
        action,
        selector: serde_json::json!({}),
        policy: serde_json::json!({}),
        created_at: 1,
        created_by: "admin".into(),
        expires_at: i64::MAX / 2,
        state: "active".into(),
        origin: None,
        runs: vec![(run, device, "queued".into(), String::new())],
    };
    (job, run)
}

fn done(run: Uuid, device: Uuid, stdout: &str) -> RunReport {
    RunReport {
        run_id: run,
        device_id: device,
        status: "succeeded".into(),
        exit_code: None,
        stdout: stdout.into(),
        stderr: String::new(),
        truncated: false,
        message: "sha256:abc".into(),
        started_at: Some(2),
        duration_ms: Some(1),
        at: 3,
    }
}

/// A file transfer's content is replaced in its job and runs, and only
/// there.
pub async fn a_transfer_forgets_its_file_content(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "transfer-fp").await;
    let upload = serde_json::json!({ "kind": "file_put", "path": "/x", "content_b64": "c2VjcmV0", "sha256": "abc" });
    let (transfer, run) = job(org, dev, upload.clone());
    let (other, other_run) = job(org, dev, upload.clone());
    for (job, run) in [(&transfer, run), (&other, other_run)] {
        store.create_job(job).await.unwrap();
        let outcomes = store
            .apply_run_reports(&[done(run, dev, "c2VjcmV0")])
            .await
            .unwrap();
        assert_eq!(outcomes, vec![ReportOutcome::Applied]);
    }

    let kept = serde_json::json!({ "kind": "file_put", "path": "/x", "sha256": "abc", "bytes": 6 });
    store
        .forget_file_content(transfer.id, &kept, "not kept: 6 bytes")
        .await
        .unwrap();

    let all = Scope::all();
    assert_eq!(store.get_job(&all, transfer.id).await.unwrap().action, kept);
    let runs = store.job_runs(&all, transfer.id).await.unwrap();
    assert_eq!(runs[0].stdout, "not kept: 6 bytes");
    assert_eq!(runs[0].status, "succeeded");
    assert_eq!(runs[0].message, "sha256:abc");
    assert_eq!(store.get_job(&all, other.id).await.unwrap().action, upload);
    assert_eq!(
        store.job_runs(&all, other.id).await.unwrap()[0].stdout,
        "c2VjcmV0"
    );
}

pub(crate) fn not_found<T: std::fmt::Debug>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

pub(crate) fn site_scope(org: Uuid, site: &str) -> Scope {
    Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some(site.into()),
        }],
        deny: Vec::new(),
    }
}

pub async fn scripts_keep_their_versions_within_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let v1 = serde_json::json!({ "interpreter": "sh", "body": "echo 1", "timeout_secs": 60 });
    let v2 = serde_json::json!({ "interpreter": "sh", "body": "echo 2", "args": [{ "name": "x", "required": true }] });
    let first = store
        .save_script(org, "cleanup", &v1, "ana", 10, None)
        .await
        .unwrap();
    assert_eq!(
        (first.org_id, first.name.as_str(), first.version),
        (org, "cleanup", 1)
    );
    let second = store
        .save_script(org, "cleanup", &v2, "bob", 20, None)
        .await
        .unwrap();
    assert_eq!((second.id, second.version), (first.id, 2), "same script");
    // A save based on version 1, after version 2: refused, nothing lost.
    assert!(matches!(
        store
            .save_script(org, "cleanup", &v1, "eve", 25, Some(1))
            .await,
        Err(StoreError::Stale(2))
    ));
    assert_eq!(
        (
            &second.definition,
            second.updated_at,
            second.updated_by.as_str()
        ),
        (&v2, 20, "bob")
    );
    let foreign = store
        .save_script(other, "cleanup", &v1, "eve", 30, None)
        .await
        .unwrap();
    assert_ne!(foreign.id, first.id);
    store
        .save_script(org, "audit", &v1, "ana", 40, None)
        .await
        .unwrap();

    let names = |list: Vec<ScriptRecord>| {
        list.into_iter()
            .map(|s| (s.name, s.version))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list_scripts(&Scope::org(org)).await.unwrap()),
        [("audit".to_string(), 1), ("cleanup".to_string(), 2)]
    );
    // A site technician runs the organisation's scripts: reads them.
    assert_eq!(
        names(store.list_scripts(&site_scope(org, "hq")).await.unwrap()).len(),
        2
    );
    assert!(store.list_scripts(&Scope::none()).await.unwrap().is_empty());

    let by_id = store
        .get_script(&Scope::org(org), &first.id.to_string())
        .await
        .unwrap();
    assert_eq!((by_id.name.as_str(), by_id.version), ("cleanup", 2));
    assert_eq!(by_id.definition, v2);
    let by_name = store
        .get_script(&Scope::org(other), "cleanup")
        .await
        .unwrap();
    assert_eq!(by_name.id, foreign.id);
    // One name in two organisations: ambiguous for a caller seeing both.
    assert!(matches!(
        store.get_script(&Scope::all(), "cleanup").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(not_found(
        store
            .get_script(&Scope::org(other), &first.id.to_string())
            .await
    ));
    assert!(not_found(store.get_script(&Scope::all(), "nope").await));

    let versions = store
        .script_versions(&Scope::org(org), first.id)
        .await
        .unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.created_at, v.created_by.as_str()))
            .collect::<Vec<_>>(),
        [(2, 20, "bob"), (1, 10, "ana")],
        "newest first"
    );
    assert_eq!(
        (&versions[0].definition, &versions[1].definition),
        (&v2, &v1)
    );
    assert!(
        store
            .script_versions(&Scope::org(other), first.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting: not another organisation's, not from a site-limited grant.
    assert!(not_found(
        store.delete_script(&Scope::org(other), first.id).await
    ));
    assert!(not_found(
        store.delete_script(&site_scope(org, "hq"), first.id).await
    ));
    store
        .delete_script(&Scope::org(org), first.id)
        .await
        .unwrap();
    assert!(not_found(
        store.get_script(&Scope::all(), &first.id.to_string()).await
    ));
    assert!(not_found(
        store.delete_script(&Scope::all(), first.id).await
    ));
    assert!(
        store
            .script_versions(&Scope::all(), first.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.get_script(&Scope::all(), "cleanup").await.unwrap().id,
        foreign.id
    );
}

fn new_job(org: Uuid, state: &str, expires_at: i64, runs: &[(Uuid, Uuid)]) -> NewJob {
    NewJob {
        id: Uuid::now_v7(),
        org_id: org,
        name: "restart nginx".into(),
        action: serde_json::json!({ "kind": "script", "script": "restart", "args": { "unit": "nginx" } }),
        selector: serde_json::json!({ "tags": ["web"] }),
        policy: serde_json::json!({ "concurrency": 5, "stop_after_failures": 2 }),
        created_at: 100,
        created_by: "ana".into(),
        expires_at,
        state: state.into(),
        origin: Some("alert:a1".into()),
        runs: runs
            .iter()
            .map(|&(run, dev)| (run, dev, "queued".to_string(), String::new()))
            .collect(),
    }
}

fn report(run: Uuid, device: Uuid, status: &str, at: i64) -> RunReport {
    RunReport {
        run_id: run,
        device_id: device,
        status: status.into(),
        exit_code: (status != "running").then_some(3),
        stdout: format!("{status} out"),
        stderr: "warn".into(),
        truncated: status == "failed",
        message: String::new(),
        started_at: Some(at - 1),
        duration_ms: (status != "running").then_some(1_500),
        at,
    }
}

pub async fn runs_are_sent_reported_and_final_once(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let a = device(&*store, org, "fp-a").await;
    let b = device(&*store, org, "fp-b").await;
    let (run_a, run_b) = (Uuid::now_v7(), Uuid::now_v7());
    let job = new_job(org, "pending_approval", 1_000, &[(run_a, a), (run_b, b)]);
    store.create_job(&job).await.unwrap();
    let record = store.get_job(&Scope::org(org), job.id).await.unwrap();
    assert_eq!(
        (
            record.name.as_str(),
            record.state.as_str(),
            record.origin.as_deref(),
            record.approved_by.as_deref()
        ),
        ("restart nginx", "pending_approval", Some("alert:a1"), None)
    );
    assert_eq!(
        (&record.action, &record.selector, &record.policy),
        (&job.action, &job.selector, &job.policy)
    );
    assert_eq!(
        (
            record.created_at,
            record.expires_at,
            record.created_by.as_str()
        ),
        (100, 1_000, "ana")
    );
    assert!(not_found(
        store.get_job(&Scope::org(Uuid::now_v7()), job.id).await
    ));
    assert!(not_found(
        store.get_job(&Scope::all(), Uuid::now_v7()).await
    ));
    // Waiting for approval: nothing to send.
    assert!(
        store
            .runs_to_send(Some(a), None, 200)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(not_found(
        store
            .set_job_state(&Scope::org(Uuid::now_v7()), job.id, "active", Some("eve"))
            .await
    ));
    assert!(not_found(
        store
            .set_job_state(&Scope::all(), Uuid::now_v7(), "active", None)
            .await
    ));
    store
        .set_job_state(&Scope::org(org), job.id, "active", Some("bob"))
        .await
        .unwrap();
    let approved = store.get_job(&Scope::all(), job.id).await.unwrap();
    assert_eq!(
        (approved.state.as_str(), approved.approved_by.as_deref()),
        ("active", Some("bob"))
    );

    let for_a = store.runs_to_send(Some(a), None, 200).await.unwrap();
    assert_eq!(for_a.len(), 1);
    let pending = &for_a[0];
    assert_eq!(
        (
            pending.run_id,
            pending.job_id,
            pending.device_id,
            pending.status.as_str()
        ),
        (run_a, job.id, a, "queued")
    );
    assert_eq!(
        (
            pending.created_at,
            pending.expires_at,
            &pending.action,
            &pending.policy
        ),
        (100, 1_000, &job.action, &job.policy)
    );
    assert_eq!(
        store
            .runs_to_send(None, Some(job.id), 200)
            .await
            .unwrap()
            .len(),
        2
    );
    // Past its expiry: nothing to send.
    assert!(
        store
            .runs_to_send(None, Some(job.id), 1_000)
            .await
            .unwrap()
            .is_empty()
    );

    // A run whose report lands before it is marked sent (the agent answered
    // first) keeps its status and still gets its sent time.
    let run_b = store.runs_to_send(Some(b), None, 200).await.unwrap()[0].run_id;
    store
        .apply_run_reports(&[report(run_b, b, "succeeded", 205)])
        .await
        .unwrap();
    store.mark_sent(&[run_b], 204).await.unwrap();
    let runs = store.job_runs(&Scope::all(), job.id).await.unwrap();
    let run = runs.iter().find(|r| r.run_id == run_b).unwrap();
    assert_eq!((run.status.as_str(), run.sent_at), ("succeeded", Some(204)));

    store.mark_sent(&[run_a], 210).await.unwrap();
    let resent = store.runs_to_send(Some(a), None, 220).await.unwrap();
    assert_eq!(
        resent[0].status, "sent",
        "a sent run is sent again on reconnect"
    );
    let runs = store.job_runs(&Scope::all(), job.id).await.unwrap();
    let run = runs.iter().find(|r| r.run_id == run_a).unwrap();
    assert_eq!((run.status.as_str(), run.sent_at), ("sent", Some(210)));
    assert_eq!(run.device_name, "fp-a");

    // Reports: running, then final once; nobody else's.
    let outcomes = store
        .apply_run_reports(&[
            report(run_a, a, "running", 230),
            report(run_a, b, "succeeded", 231),
            report(Uuid::now_v7(), a, "succeeded", 231),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            ReportOutcome::Applied,
            ReportOutcome::Unknown,
            ReportOutcome::Unknown
        ]
    );
    let run = store
        .job_runs(&Scope::all(), job.id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (run.status.as_str(), run.started_at),
        ("running", Some(229))
    );
    let outcomes = store
        .apply_run_reports(&[
            report(run_a, a, "failed", 240),
            report(run_a, a, "succeeded", 241),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [ReportOutcome::Applied, ReportOutcome::AlreadyFinal]
    );
    let run = store
        .job_runs(&Scope::all(), job.id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (
            run.status.as_str(),
            run.exit_code,
            run.stdout.as_str(),
            run.stderr.as_str(),
            run.truncated
        ),
        ("failed", Some(3), "failed out", "warn", true)
    );
    assert_eq!(
        (run.started_at, run.finished_at, run.duration_ms),
        (Some(239), Some(240), Some(1_500))
    );
    assert!(
        store
            .runs_to_send(Some(a), None, 250)
            .await
            .unwrap()
            .is_empty()
    );
    let counts = store.get_job(&Scope::all(), job.id).await.unwrap().counts;
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [("failed".to_string(), 1), ("succeeded".to_string(), 1)]
    );
    let listed = store.list_jobs(&Scope::org(org), 10).await.unwrap();
    assert_eq!(listed.iter().map(|j| j.id).collect::<Vec<_>>(), [job.id]);
    assert!(
        store
            .list_jobs(&Scope::none(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn queued_runs_expire_or_are_cancelled(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let a = device(&*store, org, "fp-a").await;
    let b = device(&*store, org, "fp-b").await;
    let (queued, sent) = (Uuid::now_v7(), Uuid::now_v7());
    let expiring = new_job(org, "active", 500, &[(queued, a), (sent, b)]);
    store.create_job(&expiring).await.unwrap();
    store.mark_sent(&[sent], 110).await.unwrap();
    let (c1, c2) = (Uuid::now_v7(), Uuid::now_v7());
    let cancelled = new_job(org, "active", 10_000, &[(c1, a), (c2, b)]);
    store.create_job(&cancelled).await.unwrap();
    store.mark_sent(&[c2], 110).await.unwrap();

    assert!(store.expire_runs(499).await.unwrap().is_empty());
    assert_eq!(store.expire_runs(500).await.unwrap(), [expiring.id]);
    assert!(store.expire_runs(501).await.unwrap().is_empty(), "once");
    let status = |job: Uuid| {
        let store = store.clone();
        async move {
            let mut runs: Vec<(Uuid, String, String, Option<i64>)> = store
                .job_runs(&Scope::all(), job)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.run_id, r.status, r.message, r.finished_at))
                .collect();
            runs.sort();
            runs
        }
    };
    let runs = status(expiring.id).await;
    let expired = runs.iter().find(|r| r.0 == queued).unwrap();
    assert_eq!((expired.1.as_str(), expired.3), ("expired", Some(500)));
    assert!(!expired.2.is_empty(), "says why");
    assert_eq!(runs.iter().find(|r| r.0 == sent).unwrap().1, "sent");
    // The agent's late word beats the server's guess.
    assert_eq!(
        store
            .apply_run_reports(&[report(queued, a, "succeeded", 600)])
            .await
            .unwrap(),
        [ReportOutcome::Applied]
    );

    assert_eq!(
        store
            .cancel_queued(cancelled.id, "cancelled by ana", 700)
            .await
            .unwrap(),
        1,
        "only the queued run"
    );
    assert_eq!(
        store
            .cancel_queued(cancelled.id, "again", 701)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.cancel_queued(Uuid::now_v7(), "x", 702).await.unwrap(),
        0
    );
    let runs = status(cancelled.id).await;
    let c = runs.iter().find(|r| r.0 == c1).unwrap();
    assert_eq!(
        (c.1.as_str(), c.2.as_str(), c.3),
        ("cancelled", "cancelled by ana", Some(700))
    );
    assert_eq!(runs.iter().find(|r| r.0 == c2).unwrap().1, "sent");
}

pub async fn device_runs_are_newest_first_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-a").await;
    let other = device(&*store, org, "fp-b").await;
    let mut jobs = Vec::new();
    for created_at in [100, 300, 200] {
        let run = Uuid::now_v7();
        let job = NewJob {
            created_at,
            ..new_job(
                org,
                "active",
                10_000,
                &[(run, dev), (Uuid::now_v7(), other)],
            )
        };
        store.create_job(&job).await.unwrap();
        jobs.push((created_at, job.id, run));
    }
    let runs = store.device_runs(&Scope::org(org), dev, 10).await.unwrap();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.0));
    assert_eq!(
        runs.iter()
            .map(|r| (r.job_id, r.run_id))
            .collect::<Vec<_>>(),
        jobs.iter().map(|j| (j.1, j.2)).collect::<Vec<_>>()
    );
    assert!(
        runs.iter()
            .all(|r| r.device_id == dev && r.device_name == "fp-a")
    );
    assert_eq!(
        store.device_runs(&Scope::all(), dev, 1).await.unwrap()[0].job_id,
        jobs[0].1
    );
    assert!(
        store
            .device_runs(&Scope::org(Uuid::now_v7()), dev, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .device_runs(&Scope::all(), Uuid::now_v7(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn refused_capabilities_show_on_the_device(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-a").await;
    let refuses = |store: Arc<dyn Store>| async move {
        store
            .get_device(&Scope::all(), dev)
            .await
            .unwrap()
            .summary
            .refuses
    };
    store
        .set_device_refuses(dev, &["shell".into(), "files".into()])
        .await
        .unwrap();
    assert_eq!(refuses(store.clone()).await, ["shell", "files"]);
    // Said again on every connection: no change.
    store
        .set_device_refuses(dev, &["shell".into(), "files".into()])
        .await
        .unwrap();
    assert_eq!(
        store.list_devices(&Scope::all()).await.unwrap()[0].refuses,
        ["shell", "files"]
    );
    store.set_device_refuses(dev, &[]).await.unwrap();
    assert!(refuses(store.clone()).await.is_empty());
}
