//! Checks of the job store.

use crate::device;
use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

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
