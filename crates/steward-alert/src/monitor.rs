//! Monitor definitions: what to watch, on which devices. Serialised as JSON
//! in the store and as YAML/JSON files that teams keep in git.

use crate::Millis;
use crate::noise::{Matcher, Target};
use crate::threshold::Threshold;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MonitorSpec {
    /// A metric beyond a threshold for a duration.
    Threshold {
        metric: String,
        /// Only series whose labels include these.
        #[serde(default)]
        labels: BTreeMap<String, String>,
        threshold: Threshold,
    },
    /// A metric heading for `capacity` within `horizon_ms` (robust linear
    /// fit over `window_ms`).
    Forecast {
        metric: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default = "one")]
        capacity: f64,
        horizon_ms: Millis,
        window_ms: Millis,
        #[serde(default = "five")]
        min_points: usize,
    },
    /// A metric unlike its own history (steward-intel's streaming
    /// detector, one per series): an anomaly of at least `min_score` (0.5
    /// is one in 100,000) lasting `for_ms`. The alert names what is
    /// unusual (level shift, spike, trend or variance change, broken daily
    /// or weekly pattern).
    Anomaly {
        metric: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default = "half")]
        min_score: f64,
        #[serde(default, skip_serializing_if = "is_zero")]
        for_ms: Millis,
    },
    /// A new log template (mined by the agents from the lines their
    /// `--log-match` rules match; `rule` names one, else any) appearing on
    /// at least `min_devices` devices within `window_ms`: one alert naming
    /// the template with example lines. Templates seen in the first window
    /// after the server starts are the baseline, not new. With `surge`, a
    /// known template whose count within `window_ms` (over the devices)
    /// reaches `surge` times its usual count per window, and at least
    /// [`SURGE_MIN_LINES`] lines, raises one alert too, on the device that
    /// tipped it (`steward_intel::logs::Surge`).
    LogPattern {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
        #[serde(default = "three_devices")]
        min_devices: usize,
        #[serde(default = "an_hour")]
        window_ms: Millis,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        surge: Option<f64>,
    },
    /// The device stopped reporting (the server's online/offline state).
    Offline,
    /// A local script check of the agent (Monitoring Plugins convention):
    /// WARNING and UNKNOWN raise a warning, CRITICAL a critical alert, once
    /// the state has held for `for_ms`. `check` names one check, or is
    /// [`ANY_CHECK`]: every check that no check monitor of the device names.
    Check {
        check: String,
        /// How long a worse state must hold before it fires (better states
        /// count at once).
        #[serde(default, skip_serializing_if = "is_zero")]
        for_ms: Millis,
    },
}

/// The check name of a monitor of every check of a device.
pub const ANY_CHECK: &str = "*";

fn is_zero(ms: &Millis) -> bool {
    *ms == 0
}

fn one() -> f64 {
    1.0
}

/// The fewest lines in a window that can be a surge (a template usually
/// logged once a day is not surging at three lines).
pub const SURGE_MIN_LINES: u64 = 10;

fn three_devices() -> usize {
    3
}

fn an_hour() -> Millis {
    3_600_000
}

fn half() -> f64 {
    steward_intel::detector::ALARM
}

fn five() -> usize {
    5
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub spec: MonitorSpec,
    /// Devices it applies to; every device of the organisation when empty.
    #[serde(default)]
    pub applies_to: Matcher,
    /// Devices excluded even when matched.
    #[serde(default)]
    pub exclude: Matcher,
    /// A fix tried on the device before anyone is paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
}

/// Self-healing: when an alert of the monitor opens, run `script` on the
/// affected device; page a human only when that fails or the condition has
/// not cleared `verify_ms` after the script succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    pub script: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Attempts per device and monitor in any hour; beyond it, page at once
    /// (a broken fix cannot loop).
    #[serde(default = "three")]
    pub max_per_hour: u32,
    #[serde(default = "two_minutes")]
    pub verify_ms: Millis,
    /// Who set it up (username): it runs with their authority, looked up
    /// at each attempt. Set by the server, never taken from a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

fn three() -> u32 {
    3
}

fn two_minutes() -> Millis {
    120_000
}

impl Monitor {
    pub fn applies(&self, target: &Target) -> bool {
        let all = self.applies_to == Matcher::default();
        (all || self.applies_to.matches(target)) && !self.exclude.matches(target)
    }

    /// The metric this monitor reads, if any.
    pub fn metric(&self) -> Option<(&str, &BTreeMap<String, String>)> {
        match &self.spec {
            MonitorSpec::Threshold { metric, labels, .. }
            | MonitorSpec::Forecast { metric, labels, .. }
            | MonitorSpec::Anomaly { metric, labels, .. } => Some((metric, labels)),
            MonitorSpec::Offline | MonitorSpec::Check { .. } | MonitorSpec::LogPattern { .. } => {
                None
            }
        }
    }

    /// The rule a series of this monitor follows over time: its threshold,
    /// or for a check the plugin state as a number (OK 0, WARNING and
    /// UNKNOWN 1, CRITICAL 2) against warning and critical levels, so a
    /// check's "for" behaves as a threshold's.
    pub fn rule(&self) -> Option<Threshold> {
        use crate::threshold::{Direction, Level};
        let level = |trigger| {
            Some(Level {
                trigger,
                clear: None,
            })
        };
        match &self.spec {
            MonitorSpec::Threshold { threshold, .. } => Some(threshold.clone()),
            MonitorSpec::Check { for_ms, .. } => Some(Threshold {
                direction: Direction::Above,
                warning: level(0.5),
                critical: level(1.5),
                for_ms: *for_ms,
            }),
            // Anomalous (1) or not (0); the detector's state counts the
            // duration (`engine::anomaly`).
            MonitorSpec::Anomaly { .. } => Some(Threshold {
                direction: Direction::Above,
                warning: level(0.5),
                critical: None,
                for_ms: 0,
            }),
            MonitorSpec::Forecast { .. }
            | MonitorSpec::Offline
            | MonitorSpec::LogPattern { .. } => None,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match &self.spec {
            MonitorSpec::Threshold { threshold, .. } => {
                threshold.validate().map_err(|e| e.to_string())
            }
            MonitorSpec::Forecast {
                capacity,
                horizon_ms,
                window_ms,
                min_points,
                ..
            } => {
                if !capacity.is_finite() || *horizon_ms <= 0 || *window_ms <= 0 || *min_points < 3 {
                    return Err("forecast needs a finite capacity, positive horizon and window, and at least 3 points".into());
                }
                Ok(())
            }
            MonitorSpec::Anomaly {
                min_score, for_ms, ..
            } => {
                if !(0.0..=1.0).contains(min_score) {
                    Err(
                        "an anomaly monitor's min_score is between 0 and 1 (0.5: one in 100,000)"
                            .into(),
                    )
                } else if *for_ms < 0 {
                    Err("an anomaly monitor's for_ms cannot be negative".into())
                } else {
                    Ok(())
                }
            }
            MonitorSpec::LogPattern {
                min_devices,
                window_ms,
                surge,
                ..
            } => {
                if !(1..=1000).contains(min_devices) || *window_ms <= 0 {
                    Err(
                        "a log pattern monitor needs 1 to 1000 devices and a positive window"
                            .into(),
                    )
                } else if surge.is_some_and(|f| !(2.0..=1e6).contains(&f)) {
                    Err("a log pattern monitor's surge is a factor from 2 to 1000000".into())
                } else {
                    Ok(())
                }
            }
            MonitorSpec::Offline => Ok(()),
            MonitorSpec::Check { check, for_ms } => {
                if check.is_empty() {
                    Err(format!(
                        "a check monitor names the check (or {ANY_CHECK:?} for every check)"
                    ))
                } else if *for_ms < 0 {
                    Err("a check monitor's for_ms cannot be negative".into())
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The subject of a series: its label values, in key order ("/" for a
/// mountpoint), so one monitor yields one alert per filesystem.
pub fn subject(labels: &BTreeMap<String, String>) -> String {
    labels.values().cloned().collect::<Vec<_>>().join(",")
}

/// The series' labels include every wanted label.
pub fn labels_match(wanted: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The monitors a new installation starts with, so it is useful at once:
/// offline, disk almost full, disk filling up (full within 72 h), memory
/// pressure, sustained CPU saturation, bursts of failed logins and failing
/// local checks.
pub fn default_policy(org_id: &str, mut new_id: impl FnMut() -> String) -> Vec<Monitor> {
    use crate::threshold::{Direction, Level, Threshold};
    let minute = 60_000;
    let above = |warning: (f64, f64), critical: Option<(f64, f64)>, for_ms| Threshold {
        direction: Direction::Above,
        warning: Some(Level {
            trigger: warning.0,
            clear: Some(warning.1),
        }),
        critical: critical.map(|c| Level {
            trigger: c.0,
            clear: Some(c.1),
        }),
        for_ms,
    };
    let metric = |name: &str, threshold| MonitorSpec::Threshold {
        metric: name.into(),
        labels: BTreeMap::new(),
        threshold,
    };
    let specs = vec![
        ("Device offline", MonitorSpec::Offline),
        (
            "Disk almost full",
            metric(
                "system.filesystem.utilization",
                above((0.90, 0.85), Some((0.95, 0.92)), 5 * minute),
            ),
        ),
        (
            "Disk filling up",
            MonitorSpec::Forecast {
                metric: "system.filesystem.utilization".into(),
                labels: BTreeMap::new(),
                capacity: 1.0,
                horizon_ms: 72 * 60 * minute,
                window_ms: 24 * 60 * minute,
                min_points: 10,
            },
        ),
        (
            "Memory pressure",
            metric(
                "system.memory.utilization",
                above((0.95, 0.90), None, 10 * minute),
            ),
        ),
        (
            "CPU saturated",
            metric(
                "system.cpu.utilization",
                above((0.95, 0.85), None, 15 * minute),
            ),
        ),
        (
            // Agents watching their auth log with
            // --log-match 'ssh_failed=/var/log/auth.log=Failed password'.
            "Failed login burst",
            MonitorSpec::Threshold {
                metric: "log.match.count_5m".into(),
                labels: [("rule".to_string(), "ssh_failed".to_string())].into(),
                threshold: Threshold {
                    direction: Direction::Above,
                    warning: Some(Level {
                        trigger: 20.0,
                        clear: Some(10.0),
                    }),
                    critical: None,
                    for_ms: 0,
                },
            },
        ),
        (
            // Every --check, --process and --service of the agents: CRITICAL
            // pages critical, WARNING (and UNKNOWN) warns. Two minutes is two
            // runs in a row at least at the agent's default 60 s interval
            // (one failed run is not worth a page); monitors naming a check
            // take it over from this one.
            "Check failing",
            MonitorSpec::Check {
                check: ANY_CHECK.into(),
                for_ms: 2 * minute,
            },
        ),
    ];
    specs
        .into_iter()
        .map(|(name, spec)| Monitor {
            id: new_id(),
            org_id: org_id.into(),
            name: name.into(),
            spec,
            applies_to: Matcher::default(),
            exclude: Matcher::default(),
            remediation: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_policy_is_valid() {
        let mut n = 0;
        let policy = super::default_policy("o", || {
            n += 1;
            n.to_string()
        });
        assert_eq!(policy.len(), 7);
        for monitor in &policy {
            monitor
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", monitor.name));
        }
    }
}
