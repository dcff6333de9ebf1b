//! The anomaly monitor's per-series state: steward-intel's streaming
//! detector (about 1.9 KiB, boxed so series of other monitors pay one
//! pointer) and the peak score of the event under way. A series is
//! anomalous while the detector has an event open whose peak reached the
//! monitor's `min_score` and whose unusual samples have spanned the
//! monitor's `for_ms`; the engine feeds that (1 or 0) to a threshold
//! rule of no duration.

use crate::Millis;
use steward_intel::detector::{Detector, Explanation, Params};

#[derive(Debug, Clone)]
pub(super) struct Watch {
    detector: Detector,
    /// Highest rarity of the event under way (0 outside one), when it
    /// began and when its latest sample at least as rare as the monitor's
    /// `min_score` came.
    peak: f64,
    began: Millis,
    last_unusual: Millis,
}

/// What one sample showed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Seen {
    pub anomalous: bool,
    pub explanation: Option<Explanation>,
    pub score: f64,
    /// The range the detector expected the sample in.
    pub expected: Option<(f64, f64)>,
}

impl Watch {
    pub fn new() -> Box<Watch> {
        Box::new(Watch {
            detector: Detector::new(Params::default()),
            peak: 0.0,
            began: 0,
            last_unusual: 0,
        })
    }

    /// Still learning the series: not anomalous, but not "usual" either.
    pub fn learning(&self) -> bool {
        self.detector.learning()
    }

    /// Takes a sample (time in Unix milliseconds; the detector counts
    /// whole seconds, so a second sample within a second is skipped). The
    /// series is anomalous once an event's samples at least as rare as
    /// `min_score` have spanned `for_ms` (the milder samples that keep an
    /// event open after a spike do not count).
    pub fn observe(&mut self, at: Millis, value: f64, min_score: f64, for_ms: Millis) -> Seen {
        let time = at.div_euclid(1000);
        let expected = self.detector.expected(time);
        let verdict = self.detector.push(time, value);
        match verdict.explanation {
            Some(_) => {
                if self.peak == 0.0 {
                    self.began = at;
                }
                self.peak = self.peak.max(verdict.rarity).max(f64::MIN_POSITIVE);
                if verdict.rarity >= min_score {
                    self.last_unusual = at;
                }
            }
            None => self.peak = 0.0,
        }
        let lasted = self.last_unusual.saturating_sub(self.began);
        Seen {
            anomalous: verdict.explanation.is_some() && self.peak >= min_score && lasted >= for_ms,
            explanation: verdict.explanation,
            score: self.peak,
            expected,
        }
    }
}

/// An alert's summary: what is unusual, how rare, what was expected.
pub(super) fn summary(name: &str, subject: &str, seen: &Seen, value: &str) -> String {
    let what = if subject.is_empty() {
        name.to_string()
    } else {
        format!("{name} {subject}")
    };
    match (seen.anomalous, seen.explanation) {
        (true, Some(explanation)) => {
            let expected = seen
                .expected
                .map(|(low, high)| format!(", expected {low:.4}..{high:.4}"))
                .unwrap_or_default();
            format!(
                "{what} is anomalous: {} (score {:.2}{expected}, got {value})",
                explanation.describe(),
                seen.score
            )
        }
        _ => format!("{what} is back to usual ({value})"),
    }
}
