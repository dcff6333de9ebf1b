use super::*;
use steward_proto::{BackupSource, RestoreTest};

const HOUR: i64 = 3_600_000;

fn job(result: BackupResult, newest_good_h: Option<i64>, size: Option<u64>) -> BackupJob {
    BackupJob {
        name: "Home Dirs".into(),
        source: BackupSource::Restic,
        last_run_ms: Some(100 * HOUR),
        result,
        reason: "snapshot ab12".into(),
        size_bytes: size,
        newest_good_ms: newest_good_h.map(|h| h * HOUR),
        max_age_hours: Some(24),
        ..BackupJob::default()
    }
}

fn states(judged: &[Judged]) -> Vec<(String, PluginState)> {
    judged.iter().map(|j| (j.check.clone(), j.state)).collect()
}

#[test]
fn a_good_fresh_backup_is_ok() {
    let judged = judge(
        &job(BackupResult::Ok, Some(100), Some(1000)),
        &[1000, 1100, 900],
        101 * HOUR,
    );
    assert_eq!(
        states(&judged),
        vec![("backup.home_dirs".to_string(), PluginState::Ok)]
    );
    assert_eq!(
        judged[0].message,
        "snapshot ab12; newest good copy 1.0 h old"
    );
}

#[test]
fn failures_staleness_and_shrinking_are_found() {
    let failed = judge(
        &BackupJob {
            reason: "wrong password for the repository".into(),
            ..job(BackupResult::Failed, Some(99), None)
        },
        &[],
        101 * HOUR,
    );
    assert_eq!(failed[0].state, PluginState::Critical);
    assert_eq!(
        failed[0].message,
        "last run failed: wrong password for the repository"
    );
    // Older than the 24 h policy.
    let stale = judge(
        &job(BackupResult::Ok, Some(70), Some(1000)),
        &[],
        100 * HOUR,
    );
    assert_eq!(
        (stale[0].state, stale[0].message.as_str()),
        (
            PluginState::Critical,
            "newest good copy is 30.0 h old (policy: 24 h)"
        )
    );
    // Both at once: one check, both reasons.
    let both = judge(&job(BackupResult::Failed, Some(10), None), &[], 100 * HOUR);
    assert!(
        both[0].message.contains("failed") && both[0].message.contains("90.0 h old"),
        "{}",
        both[0].message
    );
    // Under half of its own median: a warning; three earlier runs needed.
    let shrunk = judge(
        &job(BackupResult::Ok, Some(100), Some(400)),
        &[1000, 1200, 900, 1100],
        100 * HOUR,
    );
    assert_eq!(shrunk[0].state, PluginState::Warning);
    assert_eq!(
        shrunk[0].message,
        "size dropped to 400 B from a typical 1.0 KiB (4 earlier runs)"
    );
    assert_eq!(
        judge(
            &job(BackupResult::Ok, Some(100), Some(400)),
            &[1000, 1000],
            100 * HOUR
        )[0]
        .state,
        PluginState::Ok
    );
    assert_eq!(
        judge(
            &job(BackupResult::Ok, Some(100), Some(600)),
            &[1000, 1000, 1000],
            100 * HOUR
        )[0]
        .state,
        PluginState::Ok
    );
    assert_eq!(
        judge(&job(BackupResult::Unknown, None, None), &[], 0)[0].state,
        PluginState::Critical
    );
}

#[test]
fn restore_tests_are_their_own_check() {
    let mut tested = job(BackupResult::Ok, Some(100), None);
    tested.restore_test = Some(RestoreTest {
        result: BackupResult::Failed,
        reason: "restore failed: ciphertext verification failed".into(),
        snapshot: "ab12".into(),
        ..RestoreTest::default()
    });
    let judged = judge(&tested, &[], 100 * HOUR);
    assert_eq!(judged[1].check, "backup.home_dirs.restore");
    assert_eq!(judged[1].state, PluginState::Critical);
    assert_eq!(
        judged[1].message,
        "restore test of ab12 failed: restore failed: ciphertext verification failed"
    );
}

#[test]
fn required_backups_are_checked_only_where_tagged() {
    assert_eq!(configured(&["linux".into()], 0), None);
    let missing = configured(&[REQUIRED_TAG.into()], 0).unwrap();
    assert_eq!(
        (missing.check.as_str(), missing.state),
        ("backup.configured", PluginState::Critical)
    );
    assert_eq!(
        configured(&[REQUIRED_TAG.into()], 2).unwrap().state,
        PluginState::Ok
    );
}

#[test]
fn check_names_are_valid_whatever_the_job_is_called() {
    for name in ["Home Dirs", "ééé", "a/b:c", &"x".repeat(64)] {
        assert!(
            steward_proto::validate::is_metric_name(&format!("{}.restore", check_name(name)), 64),
            "{name}"
        );
    }
    assert_eq!(median(&[3, 1, 2]), Some(2));
    assert_eq!(median(&[u64::MAX, u64::MAX]), Some(u64::MAX - 1));
    assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
}

#[test]
fn jobs_taken_out_of_the_configuration_clear_their_checks() {
    let kept = job(BackupResult::Ok, Some(1), None);
    let cleared = dropped(&["Home Dirs".into(), "old".into()], &[kept]);
    assert_eq!(
        states(&cleared),
        vec![
            ("backup.old".to_string(), PluginState::Ok),
            ("backup.old.restore".to_string(), PluginState::Ok)
        ]
    );
    assert_eq!(cleared[0].message, "backup job old is no longer configured");
}
