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
use crate::monitor::{Monitor, MonitorSpec, SURGE_MIN_LINES};
use crate::noise::Target;
use crate::{Millis, Severity};
use steward_intel::logs::{Mined, Miner, Spread, Surge};

/// A log pattern monitor's state.
#[derive(Debug, Clone)]
pub(super) struct LogWatch {
    miner: Miner,
    spread: Spread,
    /// Counts per window against the usual, when the monitor asks for
    /// surges.
    surge: Option<Surge>,
}

impl LogWatch {
    /// Reported templates the monitor could not follow (its miner full,
    /// or forgotten by its surge counts).
    pub fn dropped(&self) -> u64 {
        self.miner.dropped() + self.surge.as_ref().map_or(0, Surge::forgotten)
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
    /// Lines of it since the device's last report.
    pub count: u64,
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
                surge,
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
                    surge: surge.map(|f| Surge::new(window_ms, f, SURGE_MIN_LINES, FOLLOWED)),
                });
            let mut bursts = Vec::new();
            let mut surges = Vec::new();
            for p in patterns {
                let Mined::Template { id, .. } = watch.miner.add(&p.template, at) else {
                    continue;
                };
                if let Some(counts) = watch.surge.as_mut() {
                    let text = watch
                        .miner
                        .template(id)
                        .map(|t| t.text())
                        .unwrap_or_default();
                    if let Some(s) = counts.observe(&text, p.count, at) {
                        surges.push((s, cut(&p.example, 200)));
                    }
                }
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
            for (s, example) in surges {
                let summary = format!(
                    "Log pattern surging: {} lines within {}, usually {:.1}: {} | e.g. {}: {}",
                    s.count,
                    hours(window_ms),
                    s.usual,
                    s.template,
                    target.device,
                    example
                );
                let key = AlertKey {
                    monitor: monitor.id.clone(),
                    device: target.device.clone(),
                    subject: cut(&format!("surge: {}", s.template), SUBJECT),
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
                surge: Some(5.0),
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
            count: 1,
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

    /// A known template logged steadily raises nothing; the same template
    /// logged five times as often as usual within a window raises one
    /// alert naming it with the tipping device's example line.
    #[test]
    fn a_surging_template_raises_one_alert_naming_it() {
        let mut e = engine();
        let report = |count: u64| {
            vec![SeenPattern {
                template: "disk quota exceeded for <*>".into(),
                example: "disk quota exceeded for /home/ann".into(),
                count,
            }]
        };
        let mut changes = Vec::new();
        // Four lines every ten minutes for three hours, from two devices.
        for k in 0..18 {
            let at = k * 600_000;
            changes.extend(e.on_log_patterns(&target("a"), "o", "errors", &report(2), at));
            changes.extend(e.on_log_patterns(&target("b"), "o", "errors", &report(2), at + 1));
        }
        assert!(changes.is_empty(), "{changes:#?}");
        // Then 30 lines in one window: a surge, once.
        let at = 18 * 600_000;
        for _ in 0..3 {
            changes.extend(e.on_log_patterns(&target("b"), "o", "errors", &report(10), at));
        }
        assert_eq!(changes.len(), 1, "{changes:#?}");
        let c = &changes[0];
        assert_eq!(c.key.device, "b");
        assert_eq!(c.key.subject, "surge: disk quota exceeded for <*>");
        assert!(
            c.summary.starts_with(
                "Log pattern surging: 20 lines within 10 min, usually 4.0: disk quota exceeded"
            ),
            "{}",
            c.summary
        );
        assert!(c.summary.contains("b: disk quota exceeded for /home/ann"));
    }
}
