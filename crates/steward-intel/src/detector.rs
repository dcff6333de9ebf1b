//! A streaming anomaly detector for one metric series: one pass, fixed
//! state (about a kilobyte), no look-ahead. Each sample gets a score in
//! [0, 1] (how rare its surprise is for this series) and, when it stands
//! out, what was unusual.
//!
//! How it works, per sample:
//! 1. **Seasonality**: hour-of-day and hour-of-week profiles are learned;
//!    when one explains most of the series' spread, the series is
//!    adjusted by it (value − profile + level), so a usual Monday morning
//!    is not a surprise and an unusual one is.
//! 2. **Surprises**, in standard deviations of the long run: a *spike*
//!    (the sample against the recent level), a *variance change* (the
//!    recent spread of changes against the long-run one), a *trend change*
//!    (the recent slope against the long-run one), and a *distribution
//!    change* (the recent values' histogram against the long run's, which
//!    catches level shifts and new ranges).
//! 3. **Rarity**: the largest surprise's logarithm is compared with this
//!    series' own median and 99th percentile of it (tracked as streaming
//!    quantiles), so a noisy series does not alarm on its everyday noise.
//!    The score is the Gaussian upper-tail rarity on a log scale: 0.5 is
//!    one in 100,000.
//! 4. **One event, one alarm**: a score counts only when it tops the
//!    recent peak of scores (which fades over `quiet` samples); otherwise
//!    the sample scores 0.

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
    /// Far from what this hour of the day usually shows (the series has a
    /// daily pattern).
    BrokenDailyPattern,
    /// Far from what this hour of the week usually shows.
    BrokenWeeklyPattern,
}

/// The detector's verdict on one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// 0 = usual or already reported, 1 = as rare as it gets.
    pub score: f64,
    /// What was unusual, when the score is at least [`ALARM`].
    pub explanation: Option<Explanation>,
}

/// The score from which a sample is explained (one in 100,000).
pub const ALARM: f64 = 0.5;

/// The one parameter set (shared by every series).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Samples learned before any score is given.
    pub warmup: u32,
    /// Weight of a new sample in the recent level (≈ 1 / samples).
    pub fast: f64,
    /// Weight of a new sample in the long-run level and spread.
    pub slow: f64,
    /// Weight of a new sample in the recent histogram.
    pub recent: f64,
    /// Weight of a new sample in the long-run histogram.
    pub long: f64,
    /// Step of the streaming quantiles of the log-surprise.
    pub quantile: f64,
    /// Weight of the distribution change against the other surprises.
    pub distribution: f64,
    /// Samples over which the peak of scores fades.
    pub quiet: u32,
    /// Seasonality is used when its residual variance is below this
    /// fraction of the series' variance.
    pub seasonal: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            warmup: 100,
            fast: 0.2,
            slow: 0.01,
            recent: 0.1,
            long: 0.004,
            quantile: 0.05,
            distribution: 1.3,
            quiet: 500,
            seasonal: 0.5,
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

/// A profile over one period (a day or a week) of `N` buckets: the
/// usual value at each point of the period and how far values stray from
/// it.
#[derive(Debug, Clone, PartialEq)]
struct Profile<const N: usize, const PERIOD: i64> {
    buckets: [f32; N],
    /// Residual (value − profile) spread.
    err: Ewm,
}

impl<const N: usize, const PERIOD: i64> Profile<N, PERIOD> {
    fn new() -> Self {
        Profile {
            buckets: [f32::NAN; N],
            err: Ewm::default(),
        }
    }

    fn bucket(time: i64) -> usize {
        let at = time.rem_euclid(PERIOD) as f64 / PERIOD as f64 * N as f64;
        (at as usize).min(N - 1)
    }

    /// The usual value at `time` (`fallback` before the bucket is seen).
    fn at(&self, time: i64, fallback: f64) -> f64 {
        let v = f64::from(self.buckets[Self::bucket(time)]);
        if v.is_nan() { fallback } else { v }
    }

    fn learn(&mut self, time: i64, x: f64, expected: f64, rate: f64, slow: f64) {
        self.err.update(x - expected, slow);
        let cell = &mut self.buckets[Self::bucket(time)];
        if cell.is_nan() {
            *cell = x as f32;
        } else {
            *cell += (rate * (x - f64::from(*cell))) as f32;
        }
    }
}

/// Buckets of the daily profile (quarter hours).
const DAY_BUCKETS: usize = 96;

/// Bins of the value histograms: two for values outside the warm-up range.
const BINS: usize = 12;

/// Per-series state (see [`Detector::STATE_BYTES`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Detector {
    params: Params,
    seen: u32,
    start: i64,
    last_time: i64,
    last: f64,
    peak: f64,
    /// Recent level (of the adjusted series).
    fast: f64,
    /// Long-run level and spread of the raw and adjusted values.
    raw: Ewm,
    slow: Ewm,
    /// Recent and long-run spread of sample-to-sample changes.
    change_fast: Ewm,
    change_slow: Ewm,
    /// Recent and long-run slope (of the recent level).
    slope_fast: f64,
    slope_slow: Ewm,
    daily: Profile<DAY_BUCKETS, 86_400>,
    weekly: Profile<168, { 7 * 86_400 }>,
    /// Histogram range (fixed after warm-up) and the recent and long-run
    /// histograms.
    low: f64,
    high: f64,
    recent: [f32; BINS],
    long: [f32; BINS],
    /// Median and 99th percentile of the log-surprise, and of the
    /// log-distribution-change.
    surprise: [f64; 2],
    change: [f64; 2],
    change_history: Ewm,
}

impl Detector {
    /// Bytes of state kept per series.
    pub const STATE_BYTES: usize = std::mem::size_of::<Detector>();

    pub fn new(params: Params) -> Detector {
        Detector {
            params,
            seen: 0,
            start: 0,
            last_time: i64::MIN,
            last: 0.0,
            peak: 0.0,
            fast: 0.0,
            raw: Ewm::default(),
            slow: Ewm::default(),
            change_fast: Ewm::default(),
            change_slow: Ewm::default(),
            slope_fast: 0.0,
            slope_slow: Ewm::default(),
            daily: Profile::new(),
            weekly: Profile::new(),
            low: 0.0,
            high: 0.0,
            recent: [0.0; BINS],
            long: [0.0; BINS],
            surprise: [0.0, 1.0],
            change: [0.0, 1.0],
            change_history: Ewm::default(),
        }
    }

    /// Takes the next sample (`time` in Unix seconds). A non-finite value
    /// or a time not after the last is skipped with a zero score.
    pub fn push(&mut self, time: i64, value: f64) -> Verdict {
        let nothing = Verdict {
            score: 0.0,
            explanation: None,
        };
        if !value.is_finite() || time <= self.last_time {
            return nothing;
        }
        self.last_time = time;
        // Absurd magnitudes are clamped so squares stay finite.
        let x = value.clamp(-1e150, 1e150);
        let p = self.params;
        if self.seen == 0 {
            self.start = time;
            self.fast = x;
            self.raw.mean = x;
            self.slow.mean = x;
            self.last = x;
            (self.low, self.high) = (x, x);
        }
        self.seen = self.seen.saturating_add(1);
        let learning = self.seen <= p.warmup;

        // 1. Seasonal adjustment, when a profile explains the series.
        let elapsed = time.saturating_sub(self.start);
        let level = self.raw.mean;
        let expected_day = self.daily.at(time, level);
        let expected_week = self.weekly.at(time, level);
        let (mut season, mut expected) = (None, level);
        let mut best = p.seasonal * self.raw.var;
        if elapsed > 2 * 86_400 && self.daily.err.var < best {
            (season, expected, best) = (
                Some(Explanation::BrokenDailyPattern),
                expected_day,
                self.daily.err.var,
            );
        }
        if elapsed > 14 * 86_400 && self.weekly.err.var < best {
            (season, expected) = (Some(Explanation::BrokenWeeklyPattern), expected_week);
        }
        let y = x - expected + level;

        // 2. Surprises against the expectations before this sample.
        let floor = 1e-9 * (1.0 + self.slow.mean.abs());
        let sd = self.slow.var.sqrt().max(floor);
        let change_sd = self.change_slow.var.sqrt().max(floor);
        let spike = (y - self.fast).abs() / change_sd.max(0.5 * sd);
        let new_fast = self.fast + p.fast * (y - self.fast);
        let change = y - self.last;
        let mut change_fast = self.change_fast;
        change_fast.update(change, p.fast * 0.5);
        let variance = (change_fast.var.max(floor * floor) / (change_sd * change_sd))
            .ln()
            .abs();
        let slope = new_fast - self.fast;
        let slope_fast = self.slope_fast + p.fast * 0.25 * (slope - self.slope_fast);
        let trend =
            (slope_fast - self.slope_slow.mean).abs() / self.slope_slow.var.sqrt().max(floor);
        let (mut kind, mut top) = (Explanation::Spike, spike);
        for (k, s) in [
            (Explanation::VarianceChange, variance),
            (Explanation::TrendChange, trend),
        ] {
            if s > top {
                (kind, top) = (k, s);
            }
        }

        // Distribution of the recent values against the long run's.
        let mut distribution = 0.0;
        if !learning {
            if self.seen == p.warmup + 1 {
                let margin = 0.1 * (self.high - self.low);
                self.low -= margin;
                self.high += margin;
            }
            let bin = if y < self.low || self.high <= self.low {
                0
            } else if y >= self.high {
                BINS - 1
            } else {
                (1 + ((y - self.low) / (self.high - self.low) * (BINS - 2) as f64) as usize)
                    .min(BINS - 2)
            };
            let mut d = 0.0f32;
            for k in 0..BINS {
                let hit = if k == bin { 1.0 } else { 0.0 };
                self.recent[k] += p.recent as f32 * (hit - self.recent[k]);
                let diff = self.recent[k] - self.long[k];
                d += diff * diff / (self.long[k] + 0.02);
                self.long[k] += p.long as f32 * (hit - self.long[k]);
            }
            let settled = self.seen > 3 * p.warmup;
            let log_d = f64::from(d + 1e-4).ln();
            let h = &mut self.change_history;
            let z = (log_d - h.mean) / h.var.sqrt().max(1e-3);
            h.update(log_d, if settled { p.long / 2.0 } else { 0.05 });
            if settled {
                distribution = p.distribution * z;
            }
        } else {
            (self.low, self.high) = (self.low.min(y), self.high.max(y));
        }

        // 3. Rarity of the largest surprise in this series' history.
        let mut z = rarity(&mut self.surprise, (top + 1e-3).ln(), p.quantile, learning);
        if distribution > z {
            z = distribution;
            kind = if (new_fast - self.slow.mean).abs() > 2.0 * sd {
                Explanation::LevelShift
            } else {
                Explanation::VarianceChange
            };
        }
        if let Some(pattern) = season {
            // Unusual for the hour yet within the usual range: a broken
            // pattern rather than a spike or shift.
            if (x - level).abs() <= 3.0 * self.raw.var.sqrt() {
                kind = pattern;
            }
        }
        let mut score = if learning { 0.0 } else { tail(z) };

        // Learn.
        self.daily.learn(time, x, expected_day, 0.05, p.slow);
        self.weekly.learn(time, x, expected_week, 0.1, p.slow);
        self.raw.update(x, p.slow);
        self.fast = new_fast;
        self.slow.update(y, p.slow);
        self.change_fast = change_fast;
        self.change_slow.update(change, p.slow);
        self.slope_fast = slope_fast;
        self.slope_slow.update(slope, p.slow);
        self.last = y;

        // 4. One event, one alarm.
        let peak = self.peak;
        self.peak = (self.peak - 1.0 / f64::from(p.quiet.max(1))).max(score);
        if score <= peak || !score.is_finite() {
            score = 0.0;
        }
        Verdict {
            score,
            explanation: (score >= ALARM).then_some(kind),
        }
    }
}

/// A standard score of `x` from streaming estimates of its median and
/// 99th percentile (`q`), which it then updates.
fn rarity(q: &mut [f64; 2], x: f64, step: f64, learning: bool) -> f64 {
    let spread = (q[1] - q[0]).max(1e-3);
    let z = 2.33 * (x - q[0]) / spread;
    let eta = if learning { 0.1 } else { step } * spread;
    q[0] += eta * if x > q[0] { 0.5 } else { -0.5 };
    q[1] += eta * if x > q[1] { 0.99 } else { -0.01 };
    z
}

/// How rare a standard score is, on a log scale: −log10 of its Gaussian
/// upper-tail probability over 10, so 0.5 is one in 100,000 and 1 is one
/// in 10^10 or rarer.
fn tail(z: f64) -> f64 {
    if z.is_nan() || z <= 0.0 {
        return 0.0;
    }
    // Q(z) ≈ φ(z) / (z/2 + √(z²/4 + 2/π)), within a few percent for z ≥ 0.
    let q = (-0.5 * z * z).exp()
        / (2.0 * std::f64::consts::PI).sqrt()
        / (0.5 * z + 0.5 * (z * z + 8.0 / std::f64::consts::PI).sqrt());
    (-q.max(1e-300).log10() / 10.0).clamp(0.0, 1.0)
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
