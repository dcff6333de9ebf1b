//! Jobs: what a scope sees of a job's runs.

use std::sync::Arc;
use steward_store::*;
use uuid::Uuid;

/// A job's counts cover only the runs on devices of the caller's scope, so
/// they reveal no device outside it (an approver denied on a site saw how
/// many runs the job had there).
pub async fn job_counts_cover_only_runs_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let hq = crate::device(store.as_ref(), org, "fp-hq").await;
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
