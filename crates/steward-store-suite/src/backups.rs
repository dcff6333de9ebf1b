//! Backup monitoring: reports replace a device's jobs, outcomes are
//! recorded once, everything is read within the caller's scope.

use crate::device;
use std::sync::Arc;
use steward_proto::{BackupJob, BackupResult, BackupSource, RestoreTest};
use steward_store::*;
use uuid::Uuid;

fn job(name: &str, run_ms: i64, result: BackupResult, size: u64) -> BackupJob {
    BackupJob {
        name: name.into(),
        source: BackupSource::Restic,
        last_run_ms: Some(run_ms),
        result,
        reason: format!("{} at {run_ms}", result.as_str()),
        duration_ms: Some(1_500),
        size_bytes: Some(size),
        file_count: Some(12),
        newest_good_ms: Some(run_ms),
        max_age_hours: Some(26),
        restore_test: None,
    }
}

pub async fn backups_are_recorded_once_and_replaced_per_report(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(store.as_ref(), org, "fp-backup").await;
    let all = Scope::org(org);
    let mut home = job("home", 1_000_000, BackupResult::Ok, 5_000_000_000);
    let mail = job("mail", 2_000_000, BackupResult::Failed, 0);
    assert_eq!(
        store
            .record_backups(dev, org, &[home.clone(), mail.clone()], 10)
            .await
            .unwrap(),
        2
    );
    // The same report again records no new outcome.
    assert_eq!(
        store
            .record_backups(dev, org, &[home.clone(), mail.clone()], 11)
            .await
            .unwrap(),
        0
    );
    let jobs = store.device_backups(&all, dev).await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.job.clone()).collect::<Vec<_>>(),
        vec![home.clone(), mail.clone()]
    );
    assert_eq!(jobs[0].updated_at, 11);
    // A restore test and a new run are new outcomes; mail is no longer
    // configured: its state goes, its history stays.
    home.last_run_ms = Some(3_000_000);
    home.size_bytes = Some(u64::MAX);
    home.restore_test = Some(RestoreTest {
        at_ms: 3_500_000,
        result: BackupResult::Failed,
        reason: "a.txt differs".into(),
        snapshot: "ab12".into(),
        files_restored: 5,
        files_compared: 4,
        duration_ms: 900,
    });
    assert_eq!(
        store
            .record_backups(dev, org, std::slice::from_ref(&home), 12)
            .await
            .unwrap(),
        2
    );
    let jobs = store.device_backups(&all, dev).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].job, home,
        "the whole job reads back, a size beyond i64 too"
    );
    let runs = store.backup_runs(&all, dev, None, 0, 100).await.unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| (r.job.as_str(), r.kind, r.run_at, r.result))
            .collect::<Vec<_>>(),
        vec![
            (
                "home",
                RunKind::RestoreTest,
                3_500_000,
                BackupResult::Failed
            ),
            ("home", RunKind::Backup, 3_000_000, BackupResult::Ok),
            ("mail", RunKind::Backup, 2_000_000, BackupResult::Failed),
            ("home", RunKind::Backup, 1_000_000, BackupResult::Ok),
        ]
    );
    assert_eq!(
        runs[1].size_bytes, None,
        "a size beyond i64 is not kept in the history"
    );
    assert_eq!(runs[3].size_bytes, Some(5_000_000_000));
    assert_eq!(runs[0].reason, "a.txt differs");
    let home_only = store
        .backup_runs(&all, dev, Some("home"), 1_500_000, 2)
        .await
        .unwrap();
    assert_eq!(
        home_only.iter().map(|r| r.run_at).collect::<Vec<_>>(),
        vec![3_500_000, 3_000_000]
    );
    // Another tenant sees nothing.
    let other = Scope::org(store.create_org("other").await.unwrap().id);
    assert!(store.device_backups(&other, dev).await.unwrap().is_empty());
    assert!(
        store
            .backup_runs(&other, dev, None, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn backup_success_rates_count_outcomes_in_scope(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let other = store.create_org("other").await.unwrap().id;
    let a = device(store.as_ref(), org, "fp-a").await;
    let b = device(store.as_ref(), other, "fp-b").await;
    for (i, result) in [
        BackupResult::Ok,
        BackupResult::Ok,
        BackupResult::Failed,
        BackupResult::Warning,
    ]
    .into_iter()
    .enumerate()
    {
        let at = 1_000 + i as i64;
        store
            .record_backups(a, org, &[job("home", at, result, 10)], 1)
            .await
            .unwrap();
        store
            .record_backups(b, other, &[job("home", at, BackupResult::Failed, 10)], 1)
            .await
            .unwrap();
    }
    // A restore test is not a backup outcome.
    let mut tested = job("home", 1_003, BackupResult::Warning, 10);
    tested.restore_test = Some(RestoreTest {
        at_ms: 1_004,
        result: BackupResult::Failed,
        ..RestoreTest::default()
    });
    store.record_backups(a, org, &[tested], 2).await.unwrap();
    let mine = store
        .backup_outcomes(&Scope::org(org), 0, 10_000)
        .await
        .unwrap();
    assert_eq!(mine.len(), 4);
    assert!(
        mine.iter().all(|o| o.device_id == a
            && o.org_id == org
            && o.site == "hq"
            && o.device_name == "fp-a")
    );
    let rates = success_rates(&mine);
    assert_eq!(rates.devices[0].tally.success_rate, Some(0.75));
    // The period is half-open.
    assert_eq!(
        store
            .backup_outcomes(&Scope::org(org), 1_001, 1_003)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .backup_outcomes(&Scope::all(), 0, 10_000)
            .await
            .unwrap()
            .len(),
        8
    );
    let site_only = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("elsewhere".into()),
        }],
        deny: Vec::new(),
    };
    assert!(
        store
            .backup_outcomes(&site_only, 0, 10_000)
            .await
            .unwrap()
            .is_empty()
    );
    let _ = Uuid::nil();
}
