//! The agent's background loops beside the connection: script checks and
//! probes, backups, posture and the metric collection, each on its own
//! interval, handing what it found to the session through shared slots.

use super::*;

pub(super) async fn checks_loop(
    (checks, probes): (Vec<crate::checks::Check>, Vec<crate::probes::Probe>),
    every: Duration,
    latest: Shared<Option<steward_proto::CheckRuns>>,
    ready: Arc<Notify>,
    probe_points: Shared<Vec<steward_proto::Point>>,
    (assigned, assigned_changed): (Shared<Vec<crate::probes::assigned::Group>>, Arc<Notify>),
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut counters = crate::probes::snmp::Counters::new();
    let mut assigned_counters = std::collections::HashMap::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // New assignments run at once (then on the usual tick).
            _ = assigned_changed.notified() => {}
        }
        let groups = lock(&assigned).clone();
        if checks.is_empty() && probes.is_empty() && groups.is_empty() {
            continue;
        }
        // Probes (bounded in time and number) run beside the scripts.
        let (mut runs, (probe_runs, points), (assigned_runs, assigned_points)) = tokio::join!(
            crate::checks::run_all(&checks),
            crate::probes::run_all(&probes, &mut counters),
            crate::probes::assigned::run(&groups, &mut assigned_counters, now_ms())
        );
        runs.runs.extend(probe_runs);
        runs.runs.extend(assigned_runs);
        let points = points.into_iter().chain(assigned_points);
        {
            let mut waiting = lock(&probe_points);
            // Unsent for long (no metric batch taken): keep the newest only.
            if waiting.len() > 4 * steward_proto::Limits::default().max_points_per_batch {
                waiting.clear();
            }
            waiting.extend(points);
        }
        *lock(&latest) = Some(runs);
        ready.notify_one();
    }
}

/// How often an unchanged backup report is sent again: the server judges
/// a copy's age at each report.
pub(super) const BACKUPS_RESEND: Duration = Duration::from_secs(600);

/// Looks at the backup jobs every `every`; a report goes out when it
/// differs from the last one, every [`BACKUPS_RESEND`], and at every
/// connection.
pub(super) async fn backups_loop(
    jobs: Vec<crate::collectors::backup::config::Job>,
    every: Duration,
    latest: Shared<Option<steward_proto::BackupReport>>,
    ready: Arc<Notify>,
) {
    let mut watcher = crate::collectors::backup::Watcher::new(jobs);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sent = Instant::now();
    loop {
        tick.tick().await;
        // Published as each job finishes: a hanging repository holds back
        // no other job's news.
        let mut changed = false;
        watcher
            .cycle_with(|report| {
                let mut latest = lock(&latest);
                if latest.as_ref() != Some(&report) {
                    *latest = Some(report);
                    changed = true;
                    ready.notify_one();
                }
            })
            .await;
        if changed || sent.elapsed() >= BACKUPS_RESEND {
            sent = Instant::now();
            if !changed {
                ready.notify_one();
            }
        }
    }
}

/// How often an unchanged posture report is sent again.
pub(super) const POSTURE_RESEND: Duration = Duration::from_secs(600);

/// Reads the login logs every `login_interval` and the full posture every
/// `interval`; a report goes out when the view changed, logins came, and
/// every [`POSTURE_RESEND`].
pub(super) async fn posture_loop(
    config: collectors::posture::Config,
    latest: Shared<steward_proto::PostureReport>,
    ready: Arc<Notify>,
    budget: Arc<Budget>,
) {
    let every = config.login_interval.min(config.interval);
    let mut watcher = collectors::posture::Watcher::new(config);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sent: Option<Instant> = None;
    loop {
        tick.tick().await;
        let mut changed = false;
        // Over budget, the full view waits (the logins are cheap).
        if watcher.full_due() && budget.allow(Pass::Posture) {
            let before = watcher.current.clone();
            watcher.full().await;
            changed = watcher.current != before || sent.is_none();
            drop(before);
            crate::memory::trim();
        }
        let events = watcher.logins().await;
        changed |= !events.is_empty();
        {
            let mut latest = lock(&latest);
            let logins = std::mem::take(&mut latest.logins);
            let dropped = latest.logins_dropped;
            *latest = watcher.current.clone();
            latest.logins = logins;
            latest.logins_dropped = dropped;
            collectors::posture::queue_logins(&mut latest, events);
        }
        if changed || sent.is_some_and(|at| at.elapsed() >= POSTURE_RESEND) {
            sent = Some(Instant::now());
            ready.notify_one();
        }
    }
}

pub(super) async fn collect_loop(
    host: Shared<Host>,
    spool: Shared<Spool>,
    spooled: Arc<Notify>,
    interval: Duration,
    (log_patterns, logs_ready): (Shared<Vec<LogPatternReport>>, Arc<Notify>),
    probe_points: Shared<Vec<steward_proto::Point>>,
) {
    let mut patterns_dropped = 0u64;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let limits = Limits::default();
    let step = interval.as_millis() as i64;
    let mut expected: Option<i64> = None;
    let mut settle = crate::memory::Settle::new(interval);
    loop {
        tick.tick().await;
        if settle.tick() {
            crate::memory::trim();
        }
        let ts_ms = next_timestamp(now_ms(), expected, step);
        expected = Some(ts_ms + step);
        let mut points = collectors::collect_metrics(&mut lock(&host));
        // A probe's newest result per series (one batch holds one time).
        let mut probed = std::mem::take(&mut *lock(&probe_points));
        probed.reverse();
        let mut seen = std::collections::HashSet::new();
        probed.retain(|p| seen.insert((p.name.clone(), p.labels.clone())));
        points.extend(probed);
        points.truncate(limits.max_points_per_batch);
        points.retain(|p| p.validate(&limits).is_ok());
        match lock(&spool).append(ts_ms, points) {
            Ok(seq) => tracing::debug!(seq, "Collected."),
            Err(error) => tracing::error!(error = %format!("{error:#}"), "Cannot spool metrics."),
        }
        spooled.notify_one();
        let reports = collectors::take_log_patterns(&mut lock(&host));
        if !reports.is_empty() {
            let mut pending = lock(&log_patterns);
            pending.extend(reports);
            let excess = pending.len().saturating_sub(MAX_PENDING_PATTERNS);
            if excess > 0 {
                patterns_dropped += excess as u64;
                pending.drain(..excess);
                tracing::warn!(
                    dropped = patterns_dropped,
                    "Log pattern reports dropped while the server was away."
                );
            }
            logs_ready.notify_one();
        }
    }
}

/// Timestamps on a regular grid (whole seconds, one interval apart) compress
/// to almost nothing and never repeat; the grid is re-laid from the wall
/// clock when it drifts by more than 2 s (suspend, clock steps).
pub(super) fn next_timestamp(wall_ms: i64, expected: Option<i64>, step_ms: i64) -> i64 {
    match expected {
        Some(ts) if (wall_ms - ts).abs() <= 2000 => ts,
        _ => (wall_ms + 500) / 1000 * 1000,
    }
    .max(expected.map_or(i64::MIN, |e| e - step_ms + 1))
}
