//! Metric thresholds: "above 0.9 for 10 min", with separate trigger and
//! clear levels (hysteresis) and warning/critical severities.
//!
//! A level is active when the value is beyond its trigger, or when the
//! alert is already at that level and the value has not yet come back past
//! its clear level. Escalation waits until the raised level has held for the
//! rule's duration; de-escalation is immediate (hysteresis already keeps it
//! from chattering).

use crate::{Millis, Severity};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Bad when high (CPU, disk usage).
    Above,
    /// Bad when low (free memory, battery).
    Below,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub trigger: f64,
    /// Where the level clears; defaults to the trigger (no hysteresis).
    pub clear: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub direction: Direction,
    pub warning: Option<Level>,
    pub critical: Option<Level>,
    /// How long a raised level must hold before it fires.
    #[serde(default)]
    pub for_ms: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ThresholdError {
    #[error("a threshold needs a warning or a critical level")]
    NoLevel,
    /// The clear level is on the wrong side of the trigger.
    #[error(
        "a clear level must be on the safe side of its trigger (below it when alerting above, above it when alerting below)"
    )]
    BadHysteresis,
    /// Warning is not milder than critical.
    #[error("the warning level must be milder than the critical level")]
    Inverted,
}

impl Threshold {
    /// Checks the rule makes sense (used when monitors are saved).
    pub fn validate(&self) -> Result<(), ThresholdError> {
        if self.warning.is_none() && self.critical.is_none() {
            return Err(ThresholdError::NoLevel);
        }
        for level in self.warning.iter().chain(&self.critical) {
            let clear = level.clear.unwrap_or(level.trigger);
            if !level.trigger.is_finite() || !clear.is_finite() || self.beyond(clear, level.trigger)
            {
                return Err(ThresholdError::BadHysteresis);
            }
        }
        if let (Some(w), Some(c)) = (self.warning, self.critical)
            && self.beyond(w.trigger, c.trigger)
        {
            return Err(ThresholdError::Inverted);
        }
        Ok(())
    }

    /// `a` is strictly worse than `b` in this rule's direction.
    fn beyond(&self, a: f64, b: f64) -> bool {
        match self.direction {
            Direction::Above => a > b,
            Direction::Below => a < b,
        }
    }

    fn active(&self, level: Option<Level>, held: bool, value: f64) -> bool {
        level.is_some_and(|l| {
            self.beyond(value, l.trigger)
                || (held && self.beyond(value, l.clear.unwrap_or(l.trigger)))
        })
    }

    /// The severity `value` calls for, given the severity held now.
    pub fn raw(&self, current: Severity, value: f64) -> Severity {
        if self.active(self.critical, current >= Severity::Critical, value) {
            Severity::Critical
        } else if self.active(self.warning, current >= Severity::Warning, value) {
            Severity::Warning
        } else {
            Severity::Ok
        }
    }
}

/// Evaluation state of one series under one threshold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThresholdState {
    pub current: Option<Severity>,
    /// Since when the value has been continuously at or beyond warning
    /// (index 0) and critical (index 1).
    since: [Option<Millis>; 2],
    /// The severity the latest sample called for.
    raw: Option<Severity>,
}

const LEVELS: [Severity; 2] = [Severity::Warning, Severity::Critical];

impl ThresholdState {
    pub fn severity(&self) -> Severity {
        self.current.unwrap_or(Severity::Ok)
    }

    /// The state of a series that has held `severity` since `since` (an
    /// alert another evaluator opened): the value is taken to still call
    /// for it until a sample says otherwise.
    pub fn held(severity: Severity, since: Millis) -> Self {
        let mut state = Self {
            current: Some(severity),
            raw: Some(severity),
            ..Self::default()
        };
        for (slot, level) in state.since.iter_mut().zip(LEVELS) {
            if level <= severity {
                *slot = Some(since);
            }
        }
        state
    }

    /// Feeds one sample; returns the new severity when it changed.
    pub fn observe(&mut self, rule: &Threshold, at: Millis, value: f64) -> Option<Severity> {
        let raw = rule.raw(self.severity(), value);
        for (since, level) in self.since.iter_mut().zip(LEVELS) {
            if level <= raw {
                since.get_or_insert(at);
            } else {
                *since = None;
            }
        }
        self.raw = Some(raw);
        self.settle(rule, at)
    }

    /// The highest level the value calls for that is either already held or
    /// has been held for the rule's duration.
    fn settle(&mut self, rule: &Threshold, now: Millis) -> Option<Severity> {
        let raw = self.raw.unwrap_or(Severity::Ok);
        let current = self.severity();
        let target = self
            .since
            .iter()
            .zip(LEVELS)
            .filter(|(since, level)| {
                *level <= raw
                    && (*level <= current
                        || since.is_some_and(|s| now.saturating_sub(s) >= rule.for_ms))
            })
            .map(|(_, level)| level)
            .max()
            .unwrap_or(Severity::Ok);
        self.set(target)
    }

    /// When a pending escalation fires if nothing changes.
    pub fn deadline(&self, rule: &Threshold) -> Option<Millis> {
        let (raw, current) = (self.raw.unwrap_or(Severity::Ok), self.severity());
        self.since
            .iter()
            .zip(LEVELS)
            .filter(|(_, level)| *level > current && *level <= raw)
            .filter_map(|(since, _)| since.map(|s| s.saturating_add(rule.for_ms)))
            .min()
    }

    /// Advances the clock: fires a pending escalation whose duration passed.
    pub fn tick(&mut self, rule: &Threshold, now: Millis) -> Option<Severity> {
        self.settle(rule, now)
    }

    fn set(&mut self, severity: Severity) -> Option<Severity> {
        let changed =
            self.current != Some(severity) && !(self.current.is_none() && severity == Severity::Ok);
        self.current = Some(severity);
        changed.then_some(severity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Severity::*;

    fn cpu() -> Threshold {
        Threshold {
            direction: Direction::Above,
            warning: Some(Level {
                trigger: 0.80,
                clear: Some(0.70),
            }),
            critical: Some(Level {
                trigger: 0.90,
                clear: Some(0.85),
            }),
            for_ms: 10 * 60_000,
        }
    }

    /// Feeds (minute, value) samples; returns the transitions as (minute, severity).
    fn check(rule: &Threshold, samples: &[(i64, f64)], expect: &[(i64, Severity)]) {
        let mut state = ThresholdState::default();
        let got: Vec<(i64, Severity)> = samples
            .iter()
            .filter_map(|&(minute, value)| {
                state
                    .observe(rule, minute * 60_000, value)
                    .map(|s| (minute, s))
            })
            .collect();
        assert_eq!(got, expect, "samples {samples:?}");
    }

    #[test]
    fn duration_must_hold_before_firing() {
        check(
            &cpu(),
            &[(0, 0.95), (5, 0.95), (9, 0.95), (10, 0.95)],
            &[(10, Critical)],
        );
        // A dip resets the clock.
        check(
            &cpu(),
            &[(0, 0.95), (5, 0.5), (6, 0.95), (15, 0.95), (16, 0.95)],
            &[(16, Critical)],
        );
        // Warning then critical: the critical clock starts when it is reached.
        check(
            &cpu(),
            &[(0, 0.82), (10, 0.92), (15, 0.92), (20, 0.92)],
            &[(10, Warning), (20, Critical)],
        );
    }

    #[test]
    fn hysteresis_keeps_it_from_chattering() {
        let rule = Threshold { for_ms: 0, ..cpu() };
        check(
            &rule,
            &[(0, 0.91), (1, 0.88), (2, 0.91), (3, 0.86)],
            &[(0, Critical)],
        );
        check(
            &rule,
            &[(0, 0.91), (1, 0.84), (2, 0.75), (3, 0.69)],
            &[(0, Critical), (1, Warning), (3, Ok)],
        );
    }

    #[test]
    fn below_rules_and_validation() {
        let low = Threshold {
            direction: Direction::Below,
            warning: None,
            critical: Some(Level {
                trigger: 0.1,
                clear: Some(0.2),
            }),
            for_ms: 0,
        };
        check(
            &low,
            &[(0, 0.5), (1, 0.05), (2, 0.15), (3, 0.25)],
            &[(1, Critical), (3, Ok)],
        );
        assert_eq!(low.validate(), Result::Ok(()));
        let bad = Threshold {
            critical: Some(Level {
                trigger: 0.1,
                clear: Some(0.05),
            }),
            ..low.clone()
        };
        assert_eq!(bad.validate(), Err(ThresholdError::BadHysteresis));
        let inverted = Threshold {
            warning: Some(Level {
                trigger: 0.95,
                clear: None,
            }),
            ..cpu()
        };
        assert_eq!(inverted.validate(), Err(ThresholdError::Inverted));
        assert_eq!(
            Threshold {
                warning: None,
                critical: None,
                ..cpu()
            }
            .validate(),
            Err(ThresholdError::NoLevel)
        );
    }

    #[test]
    fn ticks_fire_without_a_new_sample() {
        let rule = cpu();
        let mut state = ThresholdState::default();
        assert_eq!(state.observe(&rule, 0, 0.95), None);
        assert_eq!(state.deadline(&rule), Some(600_000));
        assert_eq!(state.tick(&rule, 599_999), None);
        assert_eq!(state.tick(&rule, 600_000), Some(Critical));
        assert_eq!(state.deadline(&rule), None);
    }
}
