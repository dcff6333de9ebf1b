//! Log pattern monitors: the templates the agents mined are mined again
//! per monitor (`steward_intel::logs::Miner`), so one message logged with
//! each host's own values (`sda1`, `sdb1`) is one fleet template, and
//! followed by `steward_intel::logs::Spread` across the organisation's
//! devices this evaluator holds; a new template reaching the monitor's
//! device count within its window is one change, on the device that
//! tipped it, naming the template with example lines. Templates beyond a
//! monitor's capacity are counted (`dropped`), not followed.

use super::{Change, Engine};
use crate::lifecycle::AlertKey;
use crate::monitor::{Monitor, MonitorSpec};
use crate::noise::Target;
use crate::{Millis, Severity};
use steward_intel::logs::{Mined, Miner, Spread};

/// A log pattern monitor's state.
#[derive(Debug, Clone)]
pub(super) struct LogWatch {
    miner: Miner,
    spread: Spread,
}

impl LogWatch {
    /// Reported templates the monitor could not follow (its miner full).
    pub fn dropped(&self) -> u64 {
        self.miner.dropped()
    }
}

/// Templates a monitor follows (the least recently seen is forgotten).
const FOLLOWED: usize = 5_000;
/// Longest subject (the template) of an alert.
const SUBJECT: usize = 200;

/// One template a device reported.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenPattern {
    pub template: String,
    pub example: String,
}

fn cut(text: &str, max: usize) -> String {
    text.char_indices()
        .nth(max)
        .map_or(text, |(end, _)| &text[..end])
        .to_string()
}

fn hours(ms: Millis) -> String {
    if ms % 3_600_000 == 0 {
        format!("{} h", ms / 3_600_000)
    } else {
        format!("{} min", (ms / 60_000).max(1))
    }
}

impl Engine {
    /// Reported templates the log pattern monitors could not follow.
    pub fn log_templates_dropped(&self) -> u64 {
        self.log_spreads.values().map(LogWatch::dropped).sum()
    }

    /// `target` reported the templates of its log rule `rule` at `at`.
    pub fn on_log_patterns(
        &mut self,
        target: &Target,
        org_id: &str,
        rule: &str,
        patterns: &[SeenPattern],
        at: Millis,
    ) -> Vec<Change> {
        let monitors: Vec<Monitor> = self
            .monitors
            .iter()
            .filter(|m| m.org_id == org_id && m.applies(target))
            .filter(|m| {
                matches!(&m.spec, MonitorSpec::LogPattern { rule: wanted, .. }
                    if wanted.as_deref().is_none_or(|w| w == rule))
            })
            .cloned()
            .collect();
        let mut changes = Vec::new();
        for monitor in monitors {
            let MonitorSpec::LogPattern {
                min_devices,
                window_ms,
                ..
            } = monitor.spec
            else {
                continue;
            };
            let watch = self
                .log_spreads
                .entry(monitor.id.clone())
                .or_insert_with(|| LogWatch {
                    miner: Miner::new(FOLLOWED),
                    spread: Spread::new(window_ms, min_devices, FOLLOWED),
                });
            let mut bursts = Vec::new();
            for p in patterns {
                let Mined::Template { id, .. } = watch.miner.add(&p.template, at) else {
                    continue;
                };
                if let Some(mut burst) =
                    watch
                        .spread
                        .observe(&target.device, &id.to_string(), &p.example, at)
                {
                    burst.template = watch
                        .miner
                        .template(id)
                        .map(|t| t.text())
                        .unwrap_or_default();
                    bursts.push(burst);
                }
            }
            for burst in bursts {
                // The alert is the device's own: its example lines only
                // (another device may sit at a site the alert's readers
                // cannot see; its lines stay with it).
                let own = format!("{}: ", target.device);
                let examples: Vec<&str> = burst
                    .examples
                    .iter()
                    .filter(|e| e.starts_with(&own))
                    .map(String::as_str)
                    .collect();
                let summary = format!(
                    "New log pattern on {} devices within {}: {} | e.g. {}",
                    burst.devices.len(),
                    hours(window_ms),
                    burst.template,
                    examples.join(" | ")
                );
                let key = AlertKey {
                    monitor: monitor.id.clone(),
                    device: target.device.clone(),
                    subject: cut(&burst.template, SUBJECT),
                };
                changes.extend(self.record(key, &monitor, Severity::Warning, at, summary));
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flapping::FlapRule;

    fn target(device: &str) -> Target {
        Target {
            device: device.into(),
            site: "hq".into(),
            tags: vec![],
            os: String::new(),
        }
    }

    fn engine() -> Engine {
        let mut engine = Engine::new(FlapRule::default());
        engine.set_monitors(vec![Monitor {
            id: "new-errors".into(),
            org_id: "o".into(),
            name: "New error pattern".into(),
            spec: MonitorSpec::LogPattern {
                rule: Some("errors".into()),
                min_devices: 3,
                window_ms: 600_000,
            },
            applies_to: Default::default(),
            exclude: Default::default(),
            remediation: None,
        }]);
        engine
    }

    fn seen(template: &str, example: &str) -> Vec<SeenPattern> {
        vec![SeenPattern {
            template: template.into(),
            example: example.into(),
        }]
    }

    #[test]
    fn a_new_template_on_three_devices_raises_one_alert_naming_it() {
        let mut e = engine();
        // The baseline: what the devices log from the start.
        for d in ["a", "b", "c", "d"] {
            let known = seen("session opened for <*>", "session opened for root");
            assert!(
                e.on_log_patterns(&target(d), "o", "errors", &known, 0)
                    .is_empty()
            );
        }
        let ext4 = "kernel: EXT4-fs error (device <*> bad block";
        let mut changes = Vec::new();
        for (i, d) in ["a", "b", "c", "d", "a"].iter().enumerate() {
            // Each agent saw one line: its template is the line itself,
            // with its own disk's name.
            let line = format!("kernel: EXT4-fs error (device sd{d}1): bad block");
            let at = 3_600_000 + i as i64 * 1000;
            changes.extend(e.on_log_patterns(&target(d), "o", "errors", &seen(&line, &line), at));
            // Another rule, another organisation: not this monitor's.
            assert!(
                e.on_log_patterns(&target(d), "o", "other", &seen("x <*>", "x 1"), at)
                    .is_empty()
            );
            assert!(
                e.on_log_patterns(&target(d), "p", "errors", &seen("y <*>", "y 1"), at)
                    .is_empty()
            );
        }
        assert_eq!(changes.len(), 1, "{changes:#?}");
        let c = &changes[0];
        assert_eq!(c.severity, Severity::Warning);
        assert_eq!((c.key.device.as_str(), c.key.subject.as_str()), ("c", ext4));
        assert!(
            c.summary
                .starts_with("New log pattern on 3 devices within 10 min: kernel: EXT4-fs error"),
            "{}",
            c.summary
        );
        // Its example lines are its own: another device's lines may be
        // out of the alert's readers' reach.
        assert!(
            c.summary
                .contains("c: kernel: EXT4-fs error (device sdc1): bad block"),
            "{}",
            c.summary
        );
        assert!(!c.summary.contains("a: kernel"), "{}", c.summary);
        // The baseline template on every device raises nothing later.
        for d in ["a", "b", "c", "d"] {
            let known = seen("session opened for <*>", "session opened for bob");
            assert!(
                e.on_log_patterns(&target(d), "o", "errors", &known, 7_200_000)
                    .is_empty()
            );
        }
    }
}
