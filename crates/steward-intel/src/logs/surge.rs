//! Surging templates: a template whose count in a window rises far above
//! its own usual count per window ("`disk quota exceeded` 40 times this
//! hour, usually twice"). Each template's usual count is an exponentially
//! weighted mean over its past windows (empty windows count as 0), so a
//! template that is always busy is not a surge and a quiet one that
//! wakes up is. A template needs `MIN_WINDOWS` windows of history before
//! it can surge (a brand-new template is [`super::Spread`]'s business).
//! At most `capacity` templates are followed: the least recently seen one
//! is forgotten for a new one, and counted.

use std::collections::BTreeMap;

/// A template counted far above its usual count in the current window:
/// one signal per template and window, naming it.
#[derive(Debug, Clone, PartialEq)]
pub struct Surging {
    pub template: String,
    /// Lines in the current window so far.
    pub count: u64,
    /// Its usual count per window.
    pub usual: f64,
    /// Start of the window (Unix milliseconds).
    pub window_ms: i64,
}

#[derive(Debug, Clone)]
struct Rate {
    /// The window being counted (index = time / window), its count, and
    /// whether it has surged.
    window: i64,
    count: u64,
    raised: bool,
    usual: f64,
    windows: u32,
    last_ms: i64,
}

/// Windows of history a template needs before it can surge.
pub const MIN_WINDOWS: u32 = 3;

/// Weight of the last window in the usual count (about the last ten).
const WEIGHT: f64 = 0.1;

/// Follows each template's count per window against its usual count.
#[derive(Debug, Clone)]
pub struct Surge {
    window_ms: i64,
    factor: f64,
    min_count: u64,
    capacity: usize,
    rates: BTreeMap<String, Rate>,
    forgotten: u64,
}

impl Surge {
    /// A surge is a window's count of at least `factor` times the usual
    /// count and at least `min_count` lines. Nonsense arguments are
    /// clamped: a window of at least 1 ms, a factor of at least 1, a
    /// count of at least 1, a capacity of at least 1.
    pub fn new(window_ms: i64, factor: f64, min_count: u64, capacity: usize) -> Surge {
        Surge {
            window_ms: window_ms.max(1),
            factor: if factor.is_finite() {
                factor.max(1.0)
            } else {
                1.0
            },
            min_count: min_count.max(1),
            capacity: capacity.max(1),
            rates: BTreeMap::new(),
            forgotten: 0,
        }
    }

    /// Templates forgotten to make room.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// Templates followed.
    pub fn len(&self) -> usize {
        self.rates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }

    /// `count` lines of `template` were logged at `at_ms` (a late report,
    /// for a window already closed, counts in the current one).
    pub fn observe(&mut self, template: &str, count: u64, at_ms: i64) -> Option<Surging> {
        if !self.rates.contains_key(template) && self.rates.len() >= self.capacity {
            let stalest = self
                .rates
                .iter()
                .min_by_key(|(_, r)| r.last_ms)
                .map(|(k, _)| k.clone())?;
            self.rates.remove(&stalest);
            self.forgotten += 1;
        }
        let window = at_ms.div_euclid(self.window_ms);
        let r = self
            .rates
            .entry(template.to_string())
            .or_insert_with(|| Rate {
                window,
                count: 0,
                raised: false,
                usual: 0.0,
                windows: 0,
                last_ms: at_ms,
            });
        r.last_ms = r.last_ms.max(at_ms);
        if window > r.window {
            // Close the counted window, then the empty ones after it.
            let empty = window.saturating_sub(r.window).saturating_sub(1).min(1_000) as i32;
            // The first window is the usual count as it stands (a mean
            // started at 0 would make every young template look busy).
            if r.windows == 0 {
                r.usual = r.count as f64;
            } else {
                r.usual += WEIGHT * (r.count as f64 - r.usual);
            }
            r.usual *= (1.0 - WEIGHT).powi(empty);
            r.windows = r.windows.saturating_add(1 + empty as u32);
            (r.window, r.count, r.raised) = (window, 0, false);
        }
        r.count = r.count.saturating_add(count);
        let surging = r.windows >= MIN_WINDOWS
            && !r.raised
            && r.count >= self.min_count
            && r.count as f64 >= self.factor * r.usual;
        if !surging {
            return None;
        }
        r.raised = true;
        Some(Surging {
            template: template.to_string(),
            count: r.count,
            usual: r.usual,
            window_ms: r.window.saturating_mul(self.window_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    /// A template logged about 5 times an hour for a day, then 60 times in
    /// one hour: one surge in that hour, naming it, none before or after.
    #[test]
    fn a_busy_hour_surges_once_and_a_steady_one_does_not() {
        let mut s = Surge::new(HOUR, 5.0, 10, 100);
        let mut surges = Vec::new();
        for hour in 0..30 {
            let per_report = if hour == 24 { 12 } else { 1 };
            for k in 0..5 {
                let at = hour * HOUR + k * HOUR / 5;
                surges.extend(s.observe("disk <*> full", per_report, at));
                // A template that is always busy never surges.
                surges.extend(s.observe("GET <*> 200", 500, at));
            }
        }
        assert_eq!(surges.len(), 1, "{surges:?}");
        let surge = &surges[0];
        assert_eq!(surge.template, "disk <*> full");
        assert_eq!(surge.window_ms, 24 * HOUR);
        assert!(surge.count >= 10 && surge.usual > 3.0 && surge.usual < 6.0);
    }

    /// A quiet template waking up after empty hours surges; a brand-new
    /// one does not (it has no history), nor one below `min_count`.
    #[test]
    fn a_quiet_template_waking_up_surges() {
        let mut s = Surge::new(HOUR, 5.0, 10, 100);
        assert_eq!(s.observe("oom killed <*>", 1, 0), None);
        assert_eq!(s.observe("brand new <*>", 50, 10 * HOUR), None);
        assert_eq!(s.observe("oom killed <*>", 9, 10 * HOUR), None);
        let surge = s.observe("oom killed <*>", 1, 10 * HOUR + 1).unwrap();
        assert_eq!(surge.count, 10);
        assert!(surge.usual < 0.5, "{surge:?}");
        assert_eq!(s.observe("oom killed <*>", 100, 10 * HOUR + 2), None);
    }

    /// Bounded: templates beyond the capacity forget the stalest, counted;
    /// nonsense arguments and times neither panic nor leave the bounds.
    #[test]
    fn memory_is_bounded_and_bad_input_is_harmless() {
        let mut s = Surge::new(0, f64::NAN, 0, 0);
        for i in 0..1_000i64 {
            s.observe(&format!("t{i}"), u64::MAX, i);
        }
        assert_eq!(s.len(), 1);
        assert_eq!(s.forgotten(), 999);
        let mut s = Surge::new(HOUR, 2.0, 1, 10);
        for at in [i64::MAX, i64::MIN, 0, -HOUR, i64::MAX] {
            s.observe("x", u64::MAX, at);
        }
        assert_eq!(s.len(), 1);
    }
}
