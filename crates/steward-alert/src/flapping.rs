//! Flapping: a condition that changes state too often within a window is
//! "flapping"; it notifies once when flapping starts and once when it has
//! settled, instead of on every toggle.

use crate::Millis;
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapRule {
    /// Changes within `window_ms` that make it flapping.
    pub changes: usize,
    pub window_ms: Millis,
    /// Quiet time (no change) after which flapping ends.
    pub settle_ms: Millis,
}

impl Default for FlapRule {
    fn default() -> Self {
        Self {
            changes: 6,
            window_ms: 10 * 60_000,
            settle_ms: 10 * 60_000,
        }
    }
}

/// What the caller should do with one state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlapVerdict {
    /// Not flapping: notify as usual.
    Notify,
    /// Flapping just started: send one "flapping" notification.
    StartedFlapping,
    /// Flapping: record, do not notify.
    Suppress,
}

#[derive(Debug, Clone, Default)]
pub struct FlapState {
    changes: VecDeque<Millis>,
    flapping: bool,
}

impl FlapState {
    pub fn is_flapping(&self) -> bool {
        self.flapping
    }

    /// Records a state change at `at`.
    pub fn change(&mut self, rule: &FlapRule, at: Millis) -> FlapVerdict {
        self.changes.push_back(at);
        while self
            .changes
            .front()
            .is_some_and(|t| at - *t > rule.window_ms)
        {
            self.changes.pop_front();
        }
        if self.flapping {
            return FlapVerdict::Suppress;
        }
        if self.changes.len() >= rule.changes {
            self.flapping = true;
            return FlapVerdict::StartedFlapping;
        }
        FlapVerdict::Notify
    }

    /// Ends flapping after a quiet period; returns true when it just ended
    /// (the caller then notifies the settled state once).
    pub fn tick(&mut self, rule: &FlapRule, now: Millis) -> bool {
        if self.flapping
            && self
                .changes
                .back()
                .is_none_or(|last| now - *last >= rule.settle_ms)
        {
            self.flapping = false;
            self.changes.clear();
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_crossings_in_ten_minutes_notify_as_one_flap() {
        let rule = FlapRule::default();
        let mut state = FlapState::default();
        let verdicts: Vec<FlapVerdict> = (0..20).map(|i| state.change(&rule, i * 30_000)).collect();
        let notified = verdicts
            .iter()
            .filter(|v| **v == FlapVerdict::Notify)
            .count();
        let flaps = verdicts
            .iter()
            .filter(|v| **v == FlapVerdict::StartedFlapping)
            .count();
        assert_eq!((notified, flaps), (5, 1));
        assert!(!state.tick(&rule, 19 * 30_000 + 60_000));
        assert!(state.tick(&rule, 19 * 30_000 + 10 * 60_000));
        assert!(!state.is_flapping());
    }

    #[test]
    fn slow_changes_never_flap() {
        let rule = FlapRule::default();
        let mut state = FlapState::default();
        assert!((0..50).all(|i| state.change(&rule, i * 5 * 60_000) == FlapVerdict::Notify));
    }
}
