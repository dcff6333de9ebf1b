//! The detector's building blocks: exponentially weighted moments, the
//! seasonal profiles, ranges, and the rarity of a standard score.

/// An exponentially weighted mean and variance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Ewm {
    pub(super) mean: f64,
    pub(super) var: f64,
}

impl Ewm {
    pub(super) fn update(&mut self, x: f64, alpha: f64) {
        let d = x - self.mean;
        self.mean += alpha * d;
        self.var = (1.0 - alpha) * (self.var + alpha * d * d);
    }
}

/// A profile over one period (a day or a week) of `N` buckets: the
/// usual value at each point of the period and how far values stray from
/// it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Profile<const N: usize, const PERIOD: i64> {
    pub(super) buckets: [f32; N],
    /// Sum and count of the buckets seen, for the profile's mean.
    pub(super) sum: f64,
    pub(super) filled: u32,
    /// Residual (value − profile) spread.
    pub(super) err: Ewm,
}

impl<const N: usize, const PERIOD: i64> Profile<N, PERIOD> {
    pub(super) fn new() -> Self {
        Profile {
            buckets: [f32::NAN; N],
            sum: 0.0,
            filled: 0,
            err: Ewm::default(),
        }
    }

    pub(super) fn bucket(time: i64) -> usize {
        let at = time.rem_euclid(PERIOD) as f64 / PERIOD as f64 * N as f64;
        (at as usize).min(N - 1)
    }

    /// The usual value at `time` (`fallback` before the bucket is seen).
    pub(super) fn at(&self, time: i64, fallback: f64) -> f64 {
        let v = f64::from(self.buckets[Self::bucket(time)]);
        if v.is_nan() { fallback } else { v }
    }

    /// How far the usual value at `time` sits from the profile's mean
    /// (0 before the bucket is seen).
    pub(super) fn shape(&self, time: i64) -> f64 {
        let v = f64::from(self.buckets[Self::bucket(time)]);
        if v.is_nan() {
            0.0
        } else {
            v - self.sum / f64::from(self.filled.max(1))
        }
    }

    pub(super) fn learn(&mut self, time: i64, x: f64, expected: f64, rate: f64, slow: f64) {
        self.err.update(x - expected, slow);
        let cell = &mut self.buckets[Self::bucket(time)];
        let before = f64::from(*cell);
        if cell.is_nan() {
            *cell = x as f32;
            self.filled += 1;
            self.sum += f64::from(*cell);
        } else {
            *cell += (rate * (x - before)) as f32;
            self.sum += f64::from(*cell) - before;
        }
    }
}

/// The lowest and highest of something seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Range {
    pub(super) low: f64,
    pub(super) high: f64,
}

impl Range {
    /// Whether `v` lies beyond the range by more than `fraction` of it
    /// and more than `margin`.
    pub(super) fn beyond(&self, v: f64, fraction: f64, margin: f64) -> bool {
        let span = self.high - self.low;
        let margin = (fraction * span).max(margin);
        span > 0.0 && (v > self.high + margin || v < self.low - margin)
    }

    /// Takes `v` in (`started`), or starts over from it.
    pub(super) fn widen(&mut self, v: f64, started: bool) {
        if started {
            (self.low, self.high) = (self.low.min(v), self.high.max(v));
        } else {
            (self.low, self.high) = (v, v);
        }
    }
}

/// A standard score of `x` from streaming estimates of its median and
/// 99.5th percentile (`q`), which it then updates.
pub(super) fn rarity(q: &mut [f64; 2], x: f64, step: f64, learning: bool) -> f64 {
    let spread = (q[1] - q[0]).max(1e-3);
    let z = 2.576 * (x - q[0]) / spread;
    let eta = if learning { 0.1 } else { step } * spread;
    q[0] += eta * if x > q[0] { 0.5 } else { -0.5 };
    q[1] += eta * if x > q[1] { 0.995 } else { -0.005 };
    z
}

/// How rare a standard score is, on a log scale: −log10 of its Gaussian
/// upper-tail probability over 10, so 0.5 is one in 100,000 and 1 is one
/// in 10^10 or rarer.
pub(super) fn tail(z: f64) -> f64 {
    if z.is_nan() || z <= 0.0 {
        return 0.0;
    }
    // Q(z) ≈ φ(z) / (z/2 + √(z²/4 + 2/π)), within a few percent for z ≥ 0.
    let q = (-0.5 * z * z).exp()
        / (2.0 * std::f64::consts::PI).sqrt()
        / (0.5 * z + 0.5 * (z * z + 8.0 / std::f64::consts::PI).sqrt());
    (-q.max(1e-300).log10() / 10.0).clamp(0.0, 1.0)
}
