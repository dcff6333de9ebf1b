//! Checks of the job store: what a scope sees of a job's runs, and what a
//! file transfer leaves behind.

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
