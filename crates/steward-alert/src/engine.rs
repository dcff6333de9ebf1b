//! The evaluation engine: monitors plus per-series state, fed with samples,
//! status changes and clock ticks; returns the alert changes to record and
//! notify. Incremental: a sample touches only the monitors of its metric.

use crate::flapping::{FlapRule, FlapState, FlapVerdict};
use crate::forecast;
use crate::lifecycle::AlertKey;
use crate::monitor::{ANY_CHECK, Monitor, MonitorSpec, labels_match, subject};
use crate::noise::Target;
use crate::threshold::{Threshold, ThresholdState};
use crate::{Millis, Severity};
use std::collections::{BTreeMap, HashMap, VecDeque};

mod anomaly;
mod logs;
mod takeover;
pub use logs::SeenPattern;
pub use takeover::{HeldAlert, PastSample, ReplayPlan};

/// A fall this far below the trend (as a fraction of capacity) restarts the
/// forecast window.
const LEVEL_SHIFT: f64 = 0.05;

/// One alert-worthy change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: AlertKey,
    pub org_id: String,
    pub monitor_name: String,
    /// `Ok` means the condition cleared.
    pub severity: Severity,
    pub at: Millis,
    pub summary: String,
    /// False while the condition is flapping (record, do not notify).
    pub notify: bool,
    /// This change started a flapping period (notify once, as "flapping").
    pub flapping: bool,
}

#[derive(Debug, Default)]
struct Series {
    /// Newest sample seen: older or equal ones (resends) are ignored.
    last_at: Option<Millis>,
    threshold: ThresholdState,
    points: VecDeque<(Millis, f64)>,
    severity: Severity,
    flap: FlapState,
    /// Taken over with an open alert: a forecast keeps it until it has
    /// points enough for a trend of its own (see `takeover`); an anomaly
    /// monitor until its detector has learnt and the replay has passed
    /// `held_since` (samples from before the alert opened only teach).
    held: bool,
    held_since: Millis,
    /// A check's latest "name: message" (an anomaly's latest summary),
    /// for a change its duration fires.
    check_summary: String,
    /// An anomaly monitor's detector (None for other monitors).
    anomaly: Option<Box<anomaly::Watch>>,
}

#[derive(Debug, Default)]
pub struct Engine {
    monitors: Vec<Monitor>,
    series: HashMap<AlertKey, Series>,
    flap_rule: FlapRule,
    /// Log pattern monitors' templates, by monitor id.
    log_spreads: HashMap<String, logs::LogWatch>,
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn duration(ms: Millis) -> String {
    let minutes = ms / 60_000;
    if minutes >= 48 * 60 {
        format!("{} days", minutes / 1440)
    } else if minutes >= 120 {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

impl Engine {
    pub fn new(flap_rule: FlapRule) -> Self {
        Self {
            monitors: Vec::new(),
            series: HashMap::new(),
            flap_rule,
            log_spreads: HashMap::new(),
        }
    }

    /// Replaces the monitor set; state of removed monitors is dropped.
    pub fn set_monitors(&mut self, monitors: Vec<Monitor>) {
        self.series
            .retain(|key, _| monitors.iter().any(|m| m.id == key.monitor));
        // A log pattern monitor edited starts its templates afresh.
        self.log_spreads.retain(|id, _| {
            self.monitors
                .iter()
                .find(|m| &m.id == id)
                .is_some_and(|old| monitors.iter().any(|m| m.id == *id && m.spec == old.spec))
        });
        self.monitors = monitors;
    }

    pub fn monitors(&self) -> &[Monitor] {
        &self.monitors
    }

    /// Someone resolved the key's alert by hand: the engine no longer holds
    /// it, so a condition still true opens a new alert with its next
    /// evaluation (a sample, a check result, a tick) instead of staying
    /// hidden. The condition's own state (how long it has held) stays.
    pub fn release(&mut self, key: &AlertKey) {
        if let Some(series) = self.series.get_mut(key) {
            series.severity = Severity::Ok;
        }
    }

    /// The severity currently held for a key (Ok when unknown).
    pub fn severity(&self, key: &AlertKey) -> Severity {
        self.series.get(key).map_or(Severity::Ok, |s| s.severity)
    }

    fn record(
        &mut self,
        key: AlertKey,
        monitor: &Monitor,
        severity: Severity,
        at: Millis,
        summary: String,
    ) -> Option<Change> {
        let rule = self.flap_rule;
        let series = self.series.entry(key.clone()).or_default();
        if series.severity == severity {
            return None;
        }
        series.severity = severity;
        let verdict = series.flap.change(&rule, at);
        Some(Change {
            key,
            org_id: monitor.org_id.clone(),
            monitor_name: monitor.name.clone(),
            severity,
            at,
            summary,
            notify: verdict != FlapVerdict::Suppress,
            flapping: verdict == FlapVerdict::StartedFlapping,
        })
    }

    /// A metric sample of a device.
    pub fn on_sample(
        &mut self,
        target: &Target,
        org_id: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
        at: Millis,
        value: f64,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let monitors: Vec<Monitor> = self
            .monitors
            .iter()
            .filter(|m| m.org_id == org_id && m.applies(target))
            .filter(|m| {
                m.metric()
                    .is_some_and(|(metric, wanted)| metric == name && labels_match(wanted, labels))
            })
            .cloned()
            .collect();
        for monitor in monitors {
            let key = AlertKey {
                monitor: monitor.id.clone(),
                device: target.device.clone(),
                subject: subject(labels),
            };
            let series = self.series.entry(key.clone()).or_default();
            if series.last_at.is_some_and(|last| at <= last) {
                continue;
            }
            series.last_at = Some(at);
            let (severity, summary) = match &monitor.spec {
                MonitorSpec::Threshold { threshold, .. } => {
                    series.threshold.observe(threshold, at, value);
                    (
                        series.threshold.severity(),
                        format!("{name} {} = {}", key.subject, percent_or(value, name)),
                    )
                }
                MonitorSpec::Forecast {
                    capacity,
                    horizon_ms,
                    window_ms,
                    min_points,
                    ..
                } => {
                    series.points.push_back((at, value));
                    while series
                        .points
                        .front()
                        .is_some_and(|(t, _)| at - t > *window_ms)
                    {
                        series.points.pop_front();
                    }
                    let points: Vec<(Millis, f64)> = series.points.iter().copied().collect();
                    let mut fit = forecast::fit(&points, *min_points);
                    if fit.is_none() && series.held {
                        // Too few points yet for a trend of its own: the
                        // alert taken over stands.
                        continue;
                    }
                    series.held = false;
                    // A drop well below the trend is a cleanup (a level
                    // shift), not an outlier: start the trend again from it.
                    if fit.is_some_and(|f| value < f.at(at) - LEVEL_SHIFT * capacity.abs()) {
                        series.points.clear();
                        series.points.push_back((at, value));
                        fit = None;
                    }
                    let ttf = fit.and_then(|f| forecast::time_to_reach(&f, *capacity, at));
                    match ttf {
                        Some(ms) if ms <= *horizon_ms => (
                            Severity::Warning,
                            format!(
                                "{name} {} will reach {} in about {}",
                                key.subject,
                                percent_or(*capacity, name),
                                duration(ms)
                            ),
                        ),
                        _ => (
                            Severity::Ok,
                            format!("{name} {} is no longer forecast to fill", key.subject),
                        ),
                    }
                }
                MonitorSpec::Anomaly {
                    min_score, for_ms, ..
                } => {
                    let Some(rule) = monitor.rule() else { continue };
                    if !value.is_finite() {
                        continue;
                    }
                    let watch = series.anomaly.get_or_insert_with(anomaly::Watch::new);
                    let seen = watch.observe(at, value, *min_score, *for_ms);
                    if series.held && (watch.learning() || at <= series.held_since) {
                        // A detector rebuilding its history does not yet
                        // know what is usual: the alert taken over stands.
                        continue;
                    }
                    series.held = false;
                    series
                        .threshold
                        .observe(&rule, at, if seen.anomalous { 1.0 } else { 0.0 });
                    let summary =
                        anomaly::summary(name, &key.subject, &seen, &percent_or(value, name));
                    series.check_summary.clone_from(&summary);
                    (series.threshold.severity(), summary)
                }
                MonitorSpec::Offline
                | MonitorSpec::Check { .. }
                | MonitorSpec::LogPattern { .. } => {
                    continue;
                }
            };
            changes.extend(self.record(key, &monitor, severity, at, summary));
        }
        changes
    }

    /// A local script check reported `state` with `message`.
    pub fn on_check(
        &mut self,
        target: &Target,
        org_id: &str,
        check: &str,
        state: crate::plugin::PluginState,
        message: &str,
        at: Millis,
    ) -> Vec<Change> {
        use crate::plugin::PluginState;
        // The state as a value of the monitor's rule (see `Monitor::rule`).
        let value = match state {
            PluginState::Ok => 0.0,
            PluginState::Warning | PluginState::Unknown => 1.0,
            PluginState::Critical => 2.0,
        };
        let watching = |m: &&Monitor| {
            m.org_id == org_id && m.applies(target) && matches!(m.spec, MonitorSpec::Check { .. })
        };
        let named =
            |m: &Monitor| matches!(&m.spec, MonitorSpec::Check { check: c, .. } if c == check);
        let any =
            |m: &Monitor| matches!(&m.spec, MonitorSpec::Check { check: c, .. } if c == ANY_CHECK);
        // A monitor naming the check takes it over from those of any check.
        let is_named = self.monitors.iter().filter(watching).any(named);
        let (monitors, yielding): (Vec<Monitor>, Vec<Monitor>) = self
            .monitors
            .iter()
            .filter(watching)
            .filter(|m| named(m) || any(m))
            .cloned()
            .partition(|m| named(m) || !is_named);
        let summary = format!("{check}: {message}");
        let mut changes = Vec::new();
        let key = |monitor: &Monitor| AlertKey {
            monitor: monitor.id.clone(),
            device: target.device.clone(),
            subject: check.to_string(),
        };
        // An alert a monitor of any check raised before one naming the
        // check came: resolved, the check is the other monitor's now.
        for monitor in yielding {
            let key = key(&monitor);
            if self.severity(&key) != Severity::Ok {
                let handed_over = format!("{check}: watched by a monitor of its own now");
                changes.extend(self.record(key.clone(), &monitor, Severity::Ok, at, handed_over));
            }
            self.series.remove(&key);
        }
        for monitor in monitors {
            let Some(rule) = monitor.rule() else { continue };
            let key = key(&monitor);
            let series = self.series.entry(key.clone()).or_default();
            series.check_summary.clone_from(&summary);
            series.threshold.observe(&rule, at, value);
            let severity = series.threshold.severity();
            changes.extend(self.record(key, &monitor, severity, at, summary.clone()));
        }
        changes
    }

    /// A device went offline (`online == false`) or came back.
    pub fn on_status(
        &mut self,
        target: &Target,
        org_id: &str,
        online: bool,
        at: Millis,
    ) -> Vec<Change> {
        let monitors: Vec<Monitor> = self
            .monitors
            .iter()
            .filter(|m| {
                m.org_id == org_id && matches!(m.spec, MonitorSpec::Offline) && m.applies(target)
            })
            .cloned()
            .collect();
        monitors
            .into_iter()
            .filter_map(|monitor| {
                let key = AlertKey {
                    monitor: monitor.id.clone(),
                    device: target.device.clone(),
                    subject: String::new(),
                };
                let (severity, summary) = if online {
                    (Severity::Ok, "device is back online".to_string())
                } else {
                    (Severity::Critical, "device is offline".to_string())
                };
                self.record(key, &monitor, severity, at, summary)
            })
            .collect()
    }

    /// Fires threshold escalations whose duration passed without a new
    /// sample, and ends settled flapping periods.
    pub fn tick(&mut self, now: Millis) -> Vec<Change> {
        let mut changes = Vec::new();
        let due: Vec<(AlertKey, Monitor, Threshold)> = self
            .series
            .iter()
            .filter_map(|(key, series)| {
                let monitor = self.monitors.iter().find(|m| m.id == key.monitor)?;
                let rule = monitor.rule()?;
                series
                    .threshold
                    .deadline(&rule)
                    .filter(|d| *d <= now)
                    .map(|_| (key.clone(), monitor.clone(), rule))
            })
            .collect();
        for (key, monitor, rule) in due {
            let Some(series) = self.series.get_mut(&key) else {
                continue;
            };
            if let Some(severity) = series.threshold.tick(&rule, now) {
                let summary = match &monitor.spec {
                    MonitorSpec::Check { .. } => {
                        format!("{} (for {})", series.check_summary, duration(rule.for_ms))
                    }
                    _ => format!(
                        "{} {} held past {}",
                        monitor.name,
                        key.subject,
                        duration(rule.for_ms)
                    ),
                };
                changes.extend(self.record(key, &monitor, severity, now, summary));
            }
        }
        let rule = self.flap_rule;
        for (key, series) in &mut self.series {
            if series.flap.tick(&rule, now)
                && let Some(monitor) = self.monitors.iter().find(|m| m.id == key.monitor)
            {
                changes.push(Change {
                    key: key.clone(),
                    org_id: monitor.org_id.clone(),
                    monitor_name: monitor.name.clone(),
                    severity: series.severity,
                    at: now,
                    summary: "stopped flapping".into(),
                    notify: true,
                    flapping: false,
                });
            }
        }
        changes
    }
}

/// Ratios (names ending in `.utilization`) as percentages, others as is.
fn percent_or(value: f64, name: &str) -> String {
    if name.ends_with(".utilization") {
        percent(value)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::{Direction, Level, Threshold};

    fn target(device: &str) -> Target {
        Target {
            device: device.into(),
            site: "hq".into(),
            tags: vec![],
            os: String::new(),
        }
    }

    fn disk_monitors() -> Vec<Monitor> {
        let labels = BTreeMap::new();
        vec![
            Monitor {
                id: "full".into(),
                org_id: "o".into(),
                name: "disk full".into(),
                spec: MonitorSpec::Threshold {
                    metric: "system.filesystem.utilization".into(),
                    labels: labels.clone(),
                    threshold: Threshold {
                        direction: Direction::Above,
                        warning: None,
                        critical: Some(Level {
                            trigger: 0.9,
                            clear: Some(0.85),
                        }),
                        for_ms: 0,
                    },
                },
                applies_to: Default::default(),
                exclude: Default::default(),
                remediation: None,
            },
            Monitor {
                id: "forecast".into(),
                org_id: "o".into(),
                name: "disk filling".into(),
                spec: MonitorSpec::Forecast {
                    metric: "system.filesystem.utilization".into(),
                    labels,
                    capacity: 1.0,
                    horizon_ms: 3_600_000,
                    window_ms: 600_000,
                    min_points: 5,
                },
                applies_to: Default::default(),
                exclude: Default::default(),
                remediation: None,
            },
        ]
    }

    #[test]
    fn an_alert_resolved_by_hand_opens_again_while_its_condition_holds() {
        let mut engine = Engine::new(FlapRule::default());
        engine.set_monitors(disk_monitors()[..1].to_vec());
        let labels: BTreeMap<String, String> = [("mountpoint".to_string(), "/".to_string())].into();
        let sample = |engine: &mut Engine, at: Millis| -> Vec<Severity> {
            engine
                .on_sample(
                    &target("d"),
                    "o",
                    "system.filesystem.utilization",
                    &labels,
                    at,
                    0.95,
                )
                .into_iter()
                .map(|c| c.severity)
                .collect()
        };
        assert_eq!(sample(&mut engine, 1), [Severity::Critical]);
        // Still full, nobody resolved it: no new change.
        assert!(sample(&mut engine, 2).is_empty());
        let key = AlertKey {
            monitor: "full".into(),
            device: "d".into(),
            subject: "/".into(),
        };
        engine.release(&key);
        assert_eq!(engine.severity(&key), Severity::Ok);
        // Resolved by hand while still full: the next sample opens it again.
        assert_eq!(sample(&mut engine, 3), [Severity::Critical]);
        // A key the engine never held is nothing to release.
        engine.release(&AlertKey {
            monitor: "none".into(),
            device: "d".into(),
            subject: String::new(),
        });
    }

    #[test]
    fn a_filling_disk_is_forecast_before_it_crosses_the_line() {
        let mut engine = Engine::new(FlapRule::default());
        engine.set_monitors(disk_monitors());
        let labels: BTreeMap<String, String> = [("mountpoint".to_string(), "/".to_string())].into();
        let mut events = Vec::new();
        // +5 % a minute from 50 %, then freed.
        for minute in 0..10 {
            let value = 0.5 + 0.05 * minute as f64;
            for c in engine.on_sample(
                &target("d"),
                "o",
                "system.filesystem.utilization",
                &labels,
                minute * 60_000,
                value.min(0.99),
            ) {
                events.push((minute, c.key.monitor.clone(), c.severity));
            }
        }
        for c in engine.on_sample(
            &target("d"),
            "o",
            "system.filesystem.utilization",
            &labels,
            10 * 60_000,
            0.2,
        ) {
            events.push((10, c.key.monitor.clone(), c.severity));
        }
        let first_forecast = events.iter().find(|e| e.1 == "forecast").unwrap().0;
        let first_full = events.iter().find(|e| e.1 == "full").unwrap().0;
        assert!(first_forecast < first_full, "{events:?}");
        assert_eq!(
            events.iter().filter(|e| e.2 == Severity::Ok).count(),
            2,
            "both resolve: {events:?}"
        );
        assert!(
            events.iter().all(|e| e.1 != "full" || e.0 >= 9),
            "threshold crossed at 90 %: {events:?}"
        );
    }

    #[test]
    fn offline_monitors_and_other_orgs() {
        let mut engine = Engine::new(FlapRule::default());
        let offline = Monitor {
            id: "off".into(),
            org_id: "o".into(),
            name: "offline".into(),
            spec: MonitorSpec::Offline,
            applies_to: Default::default(),
            exclude: Default::default(),
            remediation: None,
        };
        engine.set_monitors(vec![offline]);
        assert_eq!(
            engine.on_status(&target("d"), "o", false, 1)[0].severity,
            Severity::Critical
        );
        assert!(
            engine.on_status(&target("d"), "o", false, 2).is_empty(),
            "deduplicated"
        );
        assert_eq!(
            engine.on_status(&target("d"), "o", true, 3)[0].severity,
            Severity::Ok
        );
        assert!(
            engine
                .on_status(&target("d"), "other-org", false, 4)
                .is_empty()
        );
    }

    #[test]
    fn flapping_metric_is_recorded_but_notified_once() {
        let mut engine = Engine::new(FlapRule {
            changes: 2,
            window_ms: 600_000,
            settle_ms: 600_000,
        });
        engine.set_monitors(disk_monitors().into_iter().take(1).collect());
        let labels = BTreeMap::new();
        let changes: Vec<Change> = (0..20)
            .flat_map(|i| {
                engine.on_sample(
                    &target("d"),
                    "o",
                    "system.filesystem.utilization",
                    &labels,
                    i * 30_000,
                    if i % 2 == 0 { 0.95 } else { 0.5 },
                )
            })
            .collect();
        assert_eq!(changes.len(), 20, "every change is recorded");
        assert_eq!(
            changes.iter().filter(|c| c.notify && !c.flapping).count(),
            1
        );
        assert_eq!(changes.iter().filter(|c| c.flapping).count(), 1);
    }
}

#[cfg(test)]
mod resend_tests {
    use super::*;
    use crate::threshold::{Direction, Level, Threshold};

    #[test]
    fn resent_and_older_samples_change_nothing() {
        let mut engine = Engine::new(FlapRule::default());
        engine.set_monitors(vec![Monitor {
            id: "hot".into(),
            org_id: "o".into(),
            name: "hot".into(),
            spec: MonitorSpec::Threshold {
                metric: "cpu".into(),
                labels: BTreeMap::new(),
                threshold: Threshold {
                    direction: Direction::Above,
                    warning: None,
                    critical: Some(Level {
                        trigger: 0.9,
                        clear: None,
                    }),
                    for_ms: 0,
                },
            },
            applies_to: Default::default(),
            exclude: Default::default(),
            remediation: None,
        }]);
        let t = Target {
            device: "d".into(),
            site: "s".into(),
            tags: vec![],
            os: String::new(),
        };
        let labels = BTreeMap::new();
        assert_eq!(engine.on_sample(&t, "o", "cpu", &labels, 10, 0.95).len(), 1);
        assert!(
            engine.on_sample(&t, "o", "cpu", &labels, 9, 0.1).is_empty(),
            "an older sample"
        );
        assert!(
            engine
                .on_sample(&t, "o", "cpu", &labels, 10, 0.1)
                .is_empty(),
            "a resend"
        );
        assert_eq!(engine.on_sample(&t, "o", "cpu", &labels, 11, 0.1).len(), 1);
    }
}

#[cfg(test)]
mod check_tests;

#[cfg(test)]
mod anomaly_tests;
