//! Backup monitoring: each configured job (restic, borg, a systemd unit, a
//! freshness check, a script hook) is read by a thin shell around a pure
//! parser and turned into the one model of `steward_proto::BackupJob`.
//!
//! Repositories are not rescanned every cycle: a job is read again when
//! its repository's files changed (the names, sizes and times of the
//! repository directory and its `snapshots`, `index` and `locks`
//! directories: a new snapshot or archive changes them) or after its slow
//! `rescan` interval. Each outcome is kept until it changes; a failure
//! keeps the time it was first seen. Every tool runs with a timeout, so a
//! hanging or locked repository yields a status for its job and nothing
//! else waits for it.

pub mod borg;
pub mod config;
pub mod freshness;
pub mod restic;
pub mod restore;
/// The agent's bounded command runner, under the name the backup sources use.
pub(crate) use crate::command as run;
pub mod script;
pub mod systemd;
pub mod time;

use config::{Job, Kind};
use std::path::Path;
use std::time::Instant;
use steward_proto::{BackupJob, BackupReport, BackupResult, BackupSource, RestoreTest};

/// What one read of a job's source saw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    pub result: BackupResult,
    pub reason: String,
    pub run_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<u64>,
    pub file_count: Option<u64>,
    pub newest_good_ms: Option<i64>,
    /// The snapshot or archive the outcome is about (restore tests use it).
    pub copy_id: String,
    /// A run is in progress: keep the previous outcome.
    pub running: bool,
}

impl Observation {
    pub fn with(result: BackupResult, reason: String) -> Self {
        Self {
            result,
            reason,
            ..Self::default()
        }
    }

    pub fn failed(reason: &str) -> Self {
        Self::with(BackupResult::Failed, reason.to_string())
    }
}

fn source(kind: Kind) -> BackupSource {
    match kind {
        Kind::Restic => BackupSource::Restic,
        Kind::Borg => BackupSource::Borg,
        Kind::Systemd => BackupSource::Systemd,
        Kind::Freshness => BackupSource::Freshness,
        Kind::Script => BackupSource::Script,
    }
}

/// The job's outcome after an observation at `now_ms`: a success is the
/// run it saw; a failure with no time of its own is dated when first seen
/// (so the same failure seen again is the same outcome), and the newest
/// good copy is remembered across failures.
pub fn merge(
    previous: Option<&BackupJob>,
    seen: &Observation,
    job: &Job,
    now_ms: i64,
) -> BackupJob {
    if seen.running
        && let Some(previous) = previous
    {
        return previous.clone();
    }
    let same_failure = previous.filter(|p| p.result == seen.result && p.reason == seen.reason);
    let last_run_ms = seen
        .run_ms
        .or_else(|| same_failure.and_then(|p| p.last_run_ms))
        .or((seen.result != BackupResult::Unknown).then_some(now_ms));
    let newest_good_ms = match (seen.newest_good_ms, previous.and_then(|p| p.newest_good_ms)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    BackupJob {
        name: job.name.clone(),
        source: source(job.kind),
        last_run_ms,
        result: seen.result,
        reason: run::clean(&seen.reason, steward_proto::MAX_BACKUP_REASON),
        duration_ms: seen.duration_ms,
        size_bytes: seen.size_bytes,
        file_count: seen.file_count,
        newest_good_ms,
        max_age_hours: Some(job.max_age_hours),
        restore_test: previous.and_then(|p| p.restore_test.clone()),
    }
}

/// What a repository directory looks like, cheaply (no file is read): the
/// names, sizes and modification times of its entries and of those of its
/// `snapshots`, `index` and `locks` directories. `None` for a repository
/// that is not a local directory (then only the slow interval applies).
pub fn fingerprint(repository: &str) -> Option<Vec<(String, u64, i128)>> {
    let root = Path::new(repository);
    if !root.is_dir() {
        return None;
    }
    let mut seen = Vec::new();
    for dir in [
        root.to_path_buf(),
        root.join("snapshots"),
        root.join("index"),
        root.join("locks"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten().take(10_000) {
            let Ok(meta) = entry.metadata() else { continue };
            let mtime = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128);
            seen.push((
                format!("{}/{}", dir.display(), entry.file_name().to_string_lossy()),
                meta.len(),
                mtime,
            ));
        }
    }
    seen.sort();
    Some(seen)
}

/// Whether a job is read now.
pub fn due(
    last_read: Option<Instant>,
    now: Instant,
    rescan: std::time::Duration,
    changed: bool,
) -> bool {
    match last_read {
        None => true,
        Some(at) => changed || now.duration_since(at) >= rescan,
    }
}

/// One job's state between cycles.
#[derive(Debug, Default)]
struct Watched {
    outcome: Option<BackupJob>,
    last_read: Option<Instant>,
    print: Option<Vec<(String, u64, i128)>>,
    copy_id: String,
    last_restore: Option<Instant>,
}

/// Reads every job that is due and keeps the current report.
pub struct Watcher {
    jobs: Vec<Job>,
    watched: Vec<Watched>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn observe(job: &Job) -> Observation {
    match job.kind {
        Kind::Restic => restic::scan(job).await,
        Kind::Borg => borg::scan(job).await,
        Kind::Systemd => systemd::scan(job.unit.as_deref().unwrap_or_default(), job.timeout).await,
        Kind::Freshness => {
            let (path, max_age, min) = (
                job.path.clone().unwrap_or_default(),
                job.max_age_hours,
                job.min_bytes,
            );
            tokio::task::spawn_blocking(move || freshness::scan(&path, max_age, min))
                .await
                .unwrap_or_else(|_| Observation::failed("the freshness check stopped"))
        }
        Kind::Script => script::scan(job.command.as_deref().unwrap_or_default(), job.timeout).await,
    }
}

async fn restore_test(job: &Job, copy_id: &str) -> Option<RestoreTest> {
    let spec = job.restore.as_ref()?;
    let started = Instant::now();
    let sampled = match job.kind {
        Kind::Restic => {
            restic::restore_test(job, copy_id, spec.sample, &spec.read_data_subset).await
        }
        Kind::Borg => borg::restore_test(job, copy_id, spec.sample).await,
        _ => return None,
    };
    Some(RestoreTest {
        at_ms: now_ms(),
        result: sampled.result,
        reason: run::clean(&sampled.reason, steward_proto::MAX_BACKUP_REASON),
        snapshot: run::clean(copy_id, 128),
        files_restored: sampled.files_restored,
        files_compared: sampled.files_compared,
        duration_ms: started.elapsed().as_millis() as i64,
    })
}

/// Reads one job if it is due, then runs its restore test if that is due.
async fn visit(job: &Job, mut watched: Watched, now: Instant) -> Watched {
    let print = job.repository.as_deref().and_then(fingerprint);
    // A repository appearing or vanishing is a change too.
    let changed = print != watched.print;
    if !due(watched.last_read, now, job.rescan, changed) {
        return watched;
    }
    let seen = observe(job).await;
    // Fingerprinted after the read: what the read itself touched
    // (restic's cache, borg's hints) does not count as a change.
    watched.print = job.repository.as_deref().and_then(fingerprint);
    watched.last_read = Some(Instant::now());
    let outcome = merge(watched.outcome.as_ref(), &seen, job, now_ms());
    if outcome.result == BackupResult::Ok && !seen.copy_id.is_empty() {
        watched.copy_id.clone_from(&seen.copy_id);
    }
    if watched.outcome.as_ref() != Some(&outcome) {
        tracing::info!(job = %job.name, result = outcome.result.as_str(), reason = %outcome.reason, "Backup job outcome.");
    }
    watched.outcome = Some(outcome);
    let restore_due = job.restore.as_ref().is_some_and(|spec| {
        watched
            .last_restore
            .is_none_or(|at| at.elapsed().as_secs_f64() >= spec.every_hours * 3600.0)
    });
    if restore_due && !watched.copy_id.is_empty() {
        let test = restore_test(job, &watched.copy_id).await;
        watched.last_restore = Some(Instant::now());
        // The test reads the repository too.
        watched.print = job.repository.as_deref().and_then(fingerprint);
        if let (Some(outcome), Some(test)) = (watched.outcome.as_mut(), test) {
            tracing::info!(job = %job.name, result = test.result.as_str(), reason = %test.reason, "Restore test.");
            outcome.restore_test = Some(test);
        }
    }
    watched
}

impl Watcher {
    pub fn new(jobs: Vec<Job>) -> Self {
        let watched = jobs.iter().map(|_| Watched::default()).collect();
        Self { jobs, watched }
    }

    /// The jobs' outcomes as they stand.
    pub fn report(&self) -> BackupReport {
        BackupReport {
            jobs: self
                .watched
                .iter()
                .filter_map(|w| w.outcome.clone())
                .collect(),
        }
    }

    /// Reads the jobs that are due (concurrently, each bounded by its
    /// timeout) and runs the restore tests that are due; `publish` gets the
    /// report each time a job finishes, so a slow or hanging repository
    /// holds back no other job's news. Answers the final report.
    pub async fn cycle_with(&mut self, mut publish: impl FnMut(BackupReport)) -> BackupReport {
        use futures_util::StreamExt;
        let now = Instant::now();
        // Jobs still being read keep their last outcome in what is published.
        let mut current: Vec<Option<BackupJob>> =
            self.watched.iter().map(|w| w.outcome.clone()).collect();
        let jobs = &self.jobs;
        let mut visits: futures_util::stream::FuturesUnordered<_> = self
            .watched
            .iter_mut()
            .enumerate()
            .map(|(index, watched)| {
                let taken = std::mem::take(watched);
                async move { (index, visit(&jobs[index], taken, now).await) }
            })
            .collect();
        while let Some((index, watched)) = visits.next().await {
            current[index].clone_from(&watched.outcome);
            self.watched[index] = watched;
            publish(BackupReport {
                jobs: current.iter().flatten().cloned().collect(),
            });
        }
        drop(visits);
        self.report()
    }

    /// [`Watcher::cycle_with`] without the intermediate reports.
    pub async fn cycle(&mut self) -> BackupReport {
        self.cycle_with(|_| {}).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        config::parse(
            r#"{"jobs":[{"name":"home","kind":"restic","repository":"/r","max_age_hours":10}]}"#,
            |_| None,
        )
        .unwrap()
        .remove(0)
    }

    #[test]
    fn a_failure_seen_again_is_the_same_outcome_and_good_copies_are_remembered() {
        let job = job();
        let good = Observation {
            result: BackupResult::Ok,
            reason: "snapshot ab".into(),
            run_ms: Some(1_000),
            newest_good_ms: Some(1_000),
            size_bytes: Some(5),
            ..Observation::default()
        };
        let first = merge(None, &good, &job, 2_000);
        assert_eq!(
            (first.last_run_ms, first.newest_good_ms, first.max_age_hours),
            (Some(1_000), Some(1_000), Some(10))
        );
        let bad = Observation::failed("wrong password for the repository");
        let failing = merge(Some(&first), &bad, &job, 5_000);
        assert_eq!(
            (failing.result, failing.last_run_ms, failing.newest_good_ms),
            (BackupResult::Failed, Some(5_000), Some(1_000))
        );
        let again = merge(Some(&failing), &bad, &job, 9_000);
        assert_eq!(again, failing, "the same failure is not a new outcome");
        let other = merge(
            Some(&failing),
            &Observation::failed("no repository at this location"),
            &job,
            9_000,
        );
        assert_eq!(other.last_run_ms, Some(9_000));
        let running = Observation {
            running: true,
            ..Observation::default()
        };
        assert_eq!(merge(Some(&first), &running, &job, 9_000), first);
    }

    /// A repository whose tool hangs gets a status of its own within its
    /// timeout; the other jobs report as usual.
    #[tokio::test]
    async fn a_hanging_repository_is_one_jobs_status() {
        let dir = tempfile::tempdir().unwrap();
        let hang = dir.path().join("hang.sh");
        std::fs::write(&hang, "#!/bin/sh\nsleep 30\n").unwrap();
        std::fs::set_permissions(&hang, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        std::fs::create_dir(dir.path().join("dumps")).unwrap();
        std::fs::write(dir.path().join("dumps/db.sql"), vec![b'x'; 2048]).unwrap();
        let text = format!(
            r#"{{"jobs":[
                {{"name":"stuck","kind":"restic","repository":"sftp:host:/r","program":"{}","timeout_secs":1}},
                {{"name":"borg","kind":"borg","repository":"/nowhere","program":"{}","timeout_secs":1}},
                {{"name":"dumps","kind":"freshness","path":"{}","min_bytes":1000}}]}}"#,
            hang.display(),
            hang.display(),
            dir.path().join("dumps").display()
        );
        let jobs = config::parse(&text, |_| None).unwrap();
        let started = Instant::now();
        let report = Watcher::new(jobs).cycle().await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        let by_name = |name: &str| report.jobs.iter().find(|j| j.name == name).unwrap();
        let stuck = by_name("stuck");
        assert_eq!(stuck.result, BackupResult::Failed);
        assert_eq!(
            stuck.reason,
            "restic did not answer within 1 s (repository unreachable or hanging)"
        );
        assert!(
            by_name("borg").reason.contains("did not answer within 1 s"),
            "{:?}",
            by_name("borg")
        );
        assert_eq!(by_name("dumps").result, BackupResult::Ok);
    }

    /// What is published while a job is being read still holds that job's
    /// last outcome, and a fast job's news does not wait for a slow one.
    #[tokio::test]
    async fn reports_go_out_as_each_job_finishes() {
        let dir = tempfile::tempdir().unwrap();
        // The slow job watches a directory: changing it makes the job due.
        let text = format!(
            r#"{{"jobs":[
            {{"name":"slow","kind":"script","repository":"{}","command":"sleep 2; echo '{{\"result\":\"ok\",\"last_run_ms\":1000}}'"}},
            {{"name":"fast","kind":"script","command":"echo '{{\"result\":\"ok\",\"last_run_ms\":2000}}'"}}]}}"#,
            dir.path().display()
        );
        let mut watcher = Watcher::new(config::parse(&text, |_| None).unwrap());
        assert_eq!(watcher.cycle().await.jobs.len(), 2);
        std::fs::write(dir.path().join("new-snapshot"), b"x").unwrap();
        let started = Instant::now();
        let mut published = Vec::new();
        let last = watcher
            .cycle_with(|report| published.push((started.elapsed(), report.jobs.len())))
            .await;
        assert_eq!(last.jobs.len(), 2);
        assert_eq!(published.len(), 2);
        assert!(
            published.iter().all(|(_, jobs)| *jobs == 2),
            "{published:?}"
        );
        assert!(
            published[0].0 < std::time::Duration::from_secs(1),
            "{published:?}"
        );
        assert!(
            published[1].0 >= std::time::Duration::from_secs(2),
            "{published:?}"
        );
    }

    #[test]
    fn repositories_are_read_when_they_change_or_slowly() {
        let t0 = Instant::now();
        let hour = std::time::Duration::from_secs(3600);
        assert!(due(None, t0, hour, false));
        assert!(!due(Some(t0), t0 + hour / 2, hour, false));
        assert!(due(Some(t0), t0 + hour / 2, hour, true));
        assert!(due(Some(t0), t0 + hour, hour, false));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("snapshots")).unwrap();
        let repo = dir.path().to_str().unwrap();
        let before = fingerprint(repo);
        assert!(before.is_some());
        assert_eq!(fingerprint(repo), before);
        std::fs::write(dir.path().join("snapshots/abc"), b"x").unwrap();
        assert_ne!(fingerprint(repo), before);
        assert_eq!(fingerprint("sftp:host:/repo"), None);
    }
}
