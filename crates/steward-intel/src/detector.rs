//! A streaming anomaly detector for one metric series: one pass, fixed
//! state, no look-ahead. Each sample gets a score in [0, 1] (how rare its
//! surprise is for this series) and, when it stands out, what was unusual.
//!
//! How it works, in four steps per sample:
//! 1. **Expectations**: exponentially weighted means and variances at two
//!    speeds (the last few samples and the long run), the recent slope, and
//!    an hour-of-day profile (24 buckets).
//! 2. **Surprises**, each in standard deviations of the long run: a
//!    *spike* (the sample against the recent level), a *level shift* (the
//!    recent level against the long-run one), a *variance change* (recent
//!    against long-run spread), a *trend change* (recent slope against the
//!    long-run one) and a *broken daily pattern* (the sample against its
//!    hour's profile, counted only where the profile usually explains the
//!    series well).
//! 3. **Rarity**: the largest surprise is compared with this series' own
//!    history of surprises (a log-normal fit, so noisy series do not alarm
//!    on their everyday noise); the score is its upper-tail rarity.
//! 4. **Quiet after an alarm**: once the score passes 0.5, later scores are
//!    damped for a while, so one event raises one alarm.

/// What made a sample unusual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Explanation {
    /// One sample far from the recent level.
    Spike,
    /// The recent level moved away from the long-run level.
    LevelShift,
    /// The recent slope differs from the long-run slope.
    TrendChange,
    /// The recent spread differs from the long-run spread.
    VarianceChange,
    /// The sample is far from what this hour of the day usually shows.
    BrokenDailyPattern,
}

/// The detector's verdict on one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// 0 = usual, 1 = as rare as it gets for this series.
    pub score: f64,
    /// The largest surprise's kind, when the score is at least 0.5.
    pub explanation: Option<Explanation>,
}

/// The one parameter set (shared by every series).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Samples learned before any score is given.
    pub warmup: u32,
    /// Weight of a new sample in the recent level (≈ 1 / samples).
    pub fast: f64,
    /// Weight of a new sample in the long-run level and spread.
    pub slow: f64,
    /// Weight of a new surprise in the surprise history.
    pub history: f64,
    /// Samples damped after an alarm.
    pub quiet: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            warmup: 100,
            fast: 0.2,
            slow: 0.01,
            history: 0.002,
            quiet: 200,
        }
    }
}

/// An exponentially weighted mean and variance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Ewm {
    mean: f64,
    var: f64,
}

impl Ewm {
    fn update(&mut self, x: f64, alpha: f64) {
        let d = x - self.mean;
        self.mean += alpha * d;
        self.var = (1.0 - alpha) * (self.var + alpha * d * d);
    }
}

/// Hours of the day in the profile.
const HOURS: usize = 24;

/// Per-series state (a few hundred bytes; see [`Detector::STATE_BYTES`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Detector {
    params: Params,
    seen: u32,
    quiet: u32,
    last: f64,
    /// Recent level.
    fast: Ewm,
    /// Long-run level and spread of the values.
    slow: Ewm,
    /// Recent and long-run spread of sample-to-sample changes.
    change_fast: Ewm,
    change_slow: Ewm,
    /// Recent and long-run slope (of the recent level).
    slope_fast: f64,
    slope_slow: Ewm,
    /// Hour-of-day profile and how well it predicts (residual spread)
    /// against the recent level's residual spread.
    daily: [f32; HOURS],
    daily_seen: u32,
    daily_err: Ewm,
    level_err: Ewm,
    /// History of log-surprises.
    surprise: Ewm,
}

impl Detector {
    /// Bytes of state kept per series.
    pub const STATE_BYTES: usize = std::mem::size_of::<Detector>();

    pub fn new(params: Params) -> Detector {
        Detector {
            params,
            seen: 0,
            quiet: 0,
            last: 0.0,
            fast: Ewm::default(),
            slow: Ewm::default(),
            change_fast: Ewm::default(),
            change_slow: Ewm::default(),
            slope_fast: 0.0,
            slope_slow: Ewm::default(),
            daily: [0.0; HOURS],
            daily_seen: 0,
            daily_err: Ewm::default(),
            level_err: Ewm::default(),
            surprise: Ewm::default(),
        }
    }

    /// Takes the next sample (`time` in Unix seconds, non-decreasing;
    /// a non-finite value is skipped with a zero score).
    pub fn push(&mut self, time: i64, value: f64) -> Verdict {
        let quiet = Verdict {
            score: 0.0,
            explanation: None,
        };
        if !value.is_finite() {
            return quiet;
        }
        // Clamp absurd magnitudes so squares stay finite.
        let x = value.clamp(-1e150, 1e150);
        let p = self.params;
        let hour = (time.rem_euclid(86_400) / 3600) as usize;
        if self.seen == 0 {
            self.fast.mean = x;
            self.slow.mean = x;
            self.last = x;
            self.daily = [x as f32; HOURS];
        }
        self.seen = self.seen.saturating_add(1);

        // Surprises against the expectations before this sample.
        let floor = 1e-9 * (1.0 + self.slow.mean.abs());
        let sd = self.slow.var.sqrt().max(floor);
        let change_sd = self.change_slow.var.sqrt().max(floor);
        let prev_fast = self.fast.mean;
        let mut kinds = [(
            Explanation::Spike,
            (x - prev_fast).abs() / change_sd.max(0.5 * sd),
        ); 5];
        let new_fast = prev_fast + p.fast * (x - prev_fast);
        kinds[1] = (
            Explanation::LevelShift,
            (new_fast - self.slow.mean).abs() / sd,
        );
        let change = x - self.last;
        let mut cf = self.change_fast;
        cf.update(change, p.fast * 0.5);
        kinds[2] = (
            Explanation::VarianceChange,
            ((cf.var.max(floor * floor)) / (change_sd * change_sd))
                .ln()
                .abs(),
        );
        let slope = new_fast - prev_fast;
        let slope_fast = self.slope_fast + p.fast * 0.25 * (slope - self.slope_fast);
        kinds[3] = (
            Explanation::TrendChange,
            (slope_fast - self.slope_slow.mean).abs() / self.slope_slow.var.sqrt().max(floor) * 0.5,
        );
        let expected = f64::from(self.daily[hour]);
        let daily_helps =
            self.daily_seen > 2 * 288 && self.daily_err.var < 0.5 * self.level_err.var;
        kinds[4] = (
            Explanation::BrokenDailyPattern,
            if daily_helps {
                (x - expected).abs() / self.daily_err.var.sqrt().max(floor)
            } else {
                0.0
            },
        );
        let (kind, top) = kinds
            .iter()
            .copied()
            .fold((Explanation::Spike, 0.0), |best, k| {
                if k.1 > best.1 { k } else { best }
            });

        // Rarity of this surprise in the series' own history.
        let log_s = (top + 1e-3).ln();
        let z = (log_s - self.surprise.mean) / self.surprise.var.sqrt().max(1e-3);
        let mut score = if self.seen > p.warmup { tail(z) } else { 0.0 };

        // Learn.
        self.surprise.update(
            log_s,
            if self.seen <= p.warmup {
                0.05
            } else {
                p.history
            },
        );
        self.daily_err.update(x - expected, p.slow);
        self.level_err.update(x - prev_fast, p.slow);
        self.fast.mean = new_fast;
        self.slow.update(x, p.slow);
        self.change_fast = cf;
        self.change_slow.update(change, p.slow);
        self.slope_fast = slope_fast;
        self.slope_slow.update(slope, p.slow);
        let cell = &mut self.daily[hour];
        *cell += (0.05 * (x - f64::from(*cell))) as f32;
        self.daily_seen = self.daily_seen.saturating_add(1);
        self.last = x;

        if self.quiet > 0 {
            self.quiet -= 1;
            score *= 0.5 * (1.0 - f64::from(self.quiet) / f64::from(p.quiet.max(1)));
        }
        if score >= 0.5 {
            self.quiet = p.quiet;
        }
        let score = if score.is_finite() {
            score.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Verdict {
            score,
            explanation: (score >= 0.5).then_some(kind),
        }
    }
}

/// How far into the upper tail a standard score sits: 0 below the mean,
/// → 1 far above it (a logistic approximation of 2Φ(z) − 1).
fn tail(z: f64) -> f64 {
    if z <= 0.0 {
        0.0
    } else {
        2.0 / (1.0 + (-1.702 * z).exp()) - 1.0
    }
}

/// Scores a whole series with a fresh detector.
pub fn score_series(params: Params, times: &[i64], values: &[f64]) -> Vec<f64> {
    let mut d = Detector::new(params);
    times
        .iter()
        .zip(values)
        .map(|(&t, &v)| d.push(t, v).score)
        .collect()
}
