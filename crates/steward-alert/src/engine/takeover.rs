//! Taking a device over from another evaluator: a replica that died, the
//! replica the device just left, this process before a restart. The
//! engine's per-series state lives in memory, so the new evaluator rebuilds
//! it from what the store holds:
//!
//! 1. the device's open alerts: each series starts at the severity its
//!    alert holds, so a condition that clears resolves the alert (a fresh
//!    series would start at `Ok` and never resolve it);
//! 2. the device's recent samples, replayed in time order: a threshold's
//!    "for 5 minutes" timer carries on where it was, and a condition the
//!    old evaluator saw but never recorded (it died first) is found.
//!
//! What comes out are the changes that bring the stored alerts in line with
//! what the samples say now. Recording them is idempotent (the store ignores
//! a severity an alert already has), so taking over twice is harmless.

use super::{Change, Engine, Series};
use crate::Millis;
use crate::Severity;
use crate::lifecycle::AlertKey;
use crate::monitor::MonitorSpec;
use crate::noise::Target;
use crate::threshold::ThresholdState;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The longest history replayed: an hour of samples covers every
/// reasonable "for" duration; a forecast with a longer window rebuilds the
/// rest of its trend from new samples (its alert stands meanwhile).
pub const MAX_REPLAY_MS: Millis = 3_600_000;

/// The history replayed for an anomaly monitor: six hours (360 samples at
/// the agent's default minute) rebuild its detector's sense of usual; a
/// daily or weekly pattern is learnt again from new samples. An alert
/// taken over stands while the rebuilt detector is still learning.
pub const ANOMALY_REPLAY_MS: Millis = 6 * 3_600_000;

/// An alert the store holds open for the device.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldAlert {
    pub key: AlertKey,
    pub severity: Severity,
    /// When it opened (or last changed severity).
    pub since: Millis,
}

/// A stored sample to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct PastSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub at: Millis,
    pub value: f64,
}

/// What history a take-over needs: these metrics, this far back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayPlan {
    pub metrics: Vec<String>,
    pub lookback_ms: Millis,
}

impl Engine {
    /// The metrics (and how far back) whose history a take-over of this
    /// device replays: those of the threshold and forecast monitors that
    /// apply to it. Empty when none do.
    pub fn replay_plan(&self, target: &Target, org_id: &str) -> ReplayPlan {
        let mut metrics = BTreeSet::new();
        let mut lookback: Millis = 0;
        for monitor in self
            .monitors
            .iter()
            .filter(|m| m.org_id == org_id && m.applies(target))
        {
            let reach = match &monitor.spec {
                MonitorSpec::Threshold { threshold, .. } => threshold.for_ms,
                MonitorSpec::Forecast { window_ms, .. } => *window_ms,
                // The detector learns what is usual from a few hours.
                MonitorSpec::Anomaly { .. } => ANOMALY_REPLAY_MS,
                MonitorSpec::Offline
                | MonitorSpec::Check { .. }
                | MonitorSpec::LogPattern { .. } => {
                    continue;
                }
            };
            if let Some((metric, _)) = monitor.metric() {
                metrics.insert(metric.to_string());
            }
            // A margin of a few sample intervals before the duration.
            let reach = match monitor.spec {
                MonitorSpec::Anomaly { .. } => reach,
                _ => reach.saturating_add(5 * 60_000).min(MAX_REPLAY_MS),
            };
            lookback = lookback.max(reach);
        }
        ReplayPlan {
            metrics: metrics.into_iter().collect(),
            lookback_ms: lookback,
        }
    }

    /// Takes the device over: forgets what this engine held of it, starts
    /// each series at its open alert's severity, replays `history`, and
    /// returns the changes that differ from what the store holds (at most
    /// one per series, the latest).
    pub fn take_over(
        &mut self,
        target: &Target,
        org_id: &str,
        held: &[HeldAlert],
        mut history: Vec<PastSample>,
    ) -> Vec<Change> {
        self.series.retain(|key, _| key.device != target.device);
        let mut stored: HashMap<AlertKey, Severity> = HashMap::new();
        for alert in held.iter().filter(|a| a.key.device == target.device) {
            let Some(monitor) = self
                .monitors
                .iter()
                .find(|m| m.id == alert.key.monitor && m.org_id == org_id)
            else {
                continue; // its monitor is gone: nothing evaluates it
            };
            let mut series = Series {
                severity: alert.severity,
                ..Series::default()
            };
            match &monitor.spec {
                // A check's state is a threshold's value (`Monitor::rule`).
                MonitorSpec::Threshold { .. } | MonitorSpec::Check { .. } => {
                    series.threshold = ThresholdState::held(alert.severity, alert.since);
                }
                MonitorSpec::Anomaly { .. } => {
                    series.threshold = ThresholdState::held(alert.severity, alert.since);
                    series.held = true;
                    series.held_since = alert.since;
                }
                MonitorSpec::Forecast { .. } => series.held = true,
                MonitorSpec::Offline | MonitorSpec::LogPattern { .. } => {}
            }
            self.series.insert(alert.key.clone(), series);
            stored.insert(alert.key.clone(), alert.severity);
        }
        history.sort_by_key(|s| s.at);
        let mut latest: HashMap<AlertKey, Change> = HashMap::new();
        for sample in &history {
            for change in self.on_sample(
                target,
                org_id,
                &sample.name,
                &sample.labels,
                sample.at,
                sample.value,
            ) {
                latest.insert(change.key.clone(), change);
            }
        }
        let mut changes: Vec<Change> = latest
            .into_values()
            .filter(|c| stored.get(&c.key).copied().unwrap_or_default() != c.severity)
            .collect();
        changes.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flapping::FlapRule;
    use crate::monitor::Monitor;
    use crate::threshold::{Direction, Level, Threshold};

    const MINUTE: Millis = 60_000;

    fn target() -> Target {
        Target {
            device: "d".into(),
            site: "hq".into(),
            tags: vec![],
            os: String::new(),
        }
    }

    fn monitor(id: &str, spec: MonitorSpec) -> Monitor {
        Monitor {
            id: id.into(),
            org_id: "o".into(),
            name: id.into(),
            spec,
            applies_to: Default::default(),
            exclude: Default::default(),
            remediation: None,
        }
    }

    /// CPU above 90 % for 5 minutes is critical; it clears below 80 %.
    fn hot_cpu() -> Monitor {
        monitor(
            "hot",
            MonitorSpec::Threshold {
                metric: "cpu".into(),
                labels: BTreeMap::new(),
                threshold: Threshold {
                    direction: Direction::Above,
                    warning: None,
                    critical: Some(Level {
                        trigger: 0.9,
                        clear: Some(0.8),
                    }),
                    for_ms: 5 * MINUTE,
                },
            },
        )
    }

    fn filling() -> Monitor {
        monitor(
            "fill",
            MonitorSpec::Forecast {
                metric: "disk".into(),
                labels: BTreeMap::new(),
                capacity: 1.0,
                horizon_ms: 60 * MINUTE,
                window_ms: 30 * MINUTE,
                min_points: 5,
            },
        )
    }

    fn offline() -> Monitor {
        monitor("off", MonitorSpec::Offline)
    }

    fn engine() -> Engine {
        let mut engine = Engine::new(FlapRule::default());
        engine.set_monitors(vec![hot_cpu(), filling(), offline()]);
        engine
    }

    fn key(monitor: &str) -> AlertKey {
        AlertKey {
            monitor: monitor.into(),
            device: "d".into(),
            subject: String::new(),
        }
    }

    fn held(monitor: &str, severity: Severity) -> HeldAlert {
        HeldAlert {
            key: key(monitor),
            severity,
            since: 0,
        }
    }

    fn cpu(minutes: &[(i64, f64)]) -> Vec<PastSample> {
        minutes
            .iter()
            .map(|&(minute, value)| PastSample {
                name: "cpu".into(),
                labels: BTreeMap::new(),
                at: minute * MINUTE,
                value,
            })
            .collect()
    }

    /// Takes over with `held` and `history`, then feeds `then` (minute,
    /// value) live; returns (severity, minute) of every change, take-over
    /// first.
    fn check(
        held: &[HeldAlert],
        history: &[(i64, f64)],
        then: &[(i64, f64)],
    ) -> Vec<(Severity, i64)> {
        let mut engine = engine();
        let mut out: Vec<(Severity, i64)> = engine
            .take_over(&target(), "o", held, cpu(history))
            .into_iter()
            .map(|c| (c.severity, c.at / MINUTE))
            .collect();
        for sample in cpu(then) {
            for c in engine.on_sample(
                &target(),
                "o",
                "cpu",
                &sample.labels,
                sample.at,
                sample.value,
            ) {
                out.push((c.severity, c.at / MINUTE));
            }
        }
        out
    }

    #[test]
    fn an_open_alert_resolves_when_its_condition_clears_after_a_move() {
        // Without the held state a fresh series starts at Ok and the
        // clearing sample changes nothing: the alert would stay open.
        let held = [held("hot", Severity::Critical)];
        assert_eq!(check(&held, &[], &[(10, 0.5)]), [(Severity::Ok, 10)]);
        // Hysteresis carries over: 85 % is still above the clear level.
        assert_eq!(
            check(&held, &[], &[(10, 0.85), (11, 0.5)]),
            [(Severity::Ok, 11)]
        );
    }

    #[test]
    fn the_duration_timer_carries_on_from_the_stored_samples() {
        // Hot for 3 minutes before the move, 2 more after: critical at
        // minute 5, as if nothing had moved.
        let history = [(0, 0.95), (1, 0.95), (2, 0.95), (3, 0.95)];
        assert_eq!(
            check(&[], &history, &[(4, 0.95), (5, 0.95)]),
            [(Severity::Critical, 5)]
        );
        // Without the history the timer restarts at minute 4.
        assert_eq!(check(&[], &[], &[(4, 0.95), (5, 0.95)]), []);
    }

    #[test]
    fn what_the_old_evaluator_never_recorded_is_found() {
        // Hot for 6 minutes, no alert stored (its evaluator died first).
        let history: Vec<(i64, f64)> = (0..=6).map(|m| (m, 0.95)).collect();
        assert_eq!(check(&[], &history, &[]), [(Severity::Critical, 5)]);
        // Cleared in the history while the alert stayed open.
        let held = [held("hot", Severity::Critical)];
        assert_eq!(
            check(&held, &[(1, 0.95), (2, 0.4)], &[]),
            [(Severity::Ok, 2)]
        );
    }

    #[test]
    fn agreeing_with_the_store_changes_nothing() {
        let held = [held("hot", Severity::Critical)];
        let history: Vec<(i64, f64)> = (0..=6).map(|m| (m, 0.95)).collect();
        assert_eq!(check(&held, &history, &[(7, 0.95)]), []);
        assert_eq!(check(&[], &[(0, 0.1), (1, 0.2)], &[]), []);
    }

    #[test]
    fn an_offline_alert_taken_over_resolves_when_the_device_is_back() {
        let mut engine = engine();
        assert!(
            engine
                .take_over(&target(), "o", &[held("off", Severity::Critical)], vec![])
                .is_empty()
        );
        let back = engine.on_status(&target(), "o", true, 1);
        assert_eq!(back.len(), 1);
        assert_eq!(
            (back[0].key.clone(), back[0].severity),
            (key("off"), Severity::Ok)
        );
    }

    #[test]
    fn a_forecast_alert_stands_until_a_trend_of_its_own_says_otherwise() {
        let mut engine = engine();
        engine.take_over(&target(), "o", &[held("fill", Severity::Warning)], vec![]);
        let labels = BTreeMap::new();
        // Four points: too few for a fit, the alert stands.
        for minute in 0..4 {
            assert!(
                engine
                    .on_sample(&target(), "o", "disk", &labels, minute * MINUTE, 0.5)
                    .is_empty()
            );
        }
        // A flat trend once there are enough points: resolved.
        let resolved = engine.on_sample(&target(), "o", "disk", &labels, 4 * MINUTE, 0.5);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].severity, Severity::Ok);
    }

    #[test]
    fn stale_state_of_the_device_is_dropped_and_other_devices_kept() {
        let mut engine = engine();
        let other = Target {
            device: "e".into(),
            ..target()
        };
        assert_eq!(
            engine
                .on_sample(&other, "o", "cpu", &BTreeMap::new(), 0, 0.95)
                .len(),
            0
        );
        // This engine once saw "d" critical; the store says it was resolved
        // since (by another replica): the take-over starts from the store.
        engine.series.insert(
            key("hot"),
            Series {
                severity: Severity::Critical,
                ..Series::default()
            },
        );
        assert!(engine.take_over(&target(), "o", &[], vec![]).is_empty());
        assert_eq!(engine.severity(&key("hot")), Severity::Ok);
        assert!(engine.series.keys().any(|k| k.device == "e"));
    }

    #[test]
    fn the_plan_covers_the_monitors_that_apply() {
        let plan = engine().replay_plan(&target(), "o");
        assert_eq!(plan.metrics, ["cpu", "disk"]);
        assert_eq!(plan.lookback_ms, 35 * MINUTE);
        assert_eq!(
            engine().replay_plan(&target(), "other"),
            ReplayPlan::default()
        );
    }
}
