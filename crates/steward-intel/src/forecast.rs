//! Time to threshold for a gauge (a filesystem filling, memory creeping
//! up), with a confidence band, from its recent history. Pure: points in,
//! forecast out.
//!
//! 1. **Level shifts**: a step far beyond the usual sample-to-sample change
//!    (a cleanup job, a resized disk) starts the history afresh. Only what
//!    follows the last step is used.
//! 2. **Seasonality**: the growth rate is the median of differences one
//!    period apart (a week when the history spans two, else a day when it
//!    spans two). A daily or weekly cycle then cancels out exactly. With a
//!    shorter history, it is the median of all pairwise slopes (Theil–Sen).
//! 3. **Band**: the rate's 90 % interval comes from the order statistics of
//!    those slopes (the sign-test interval of a median). A trend counts
//!    only when the whole interval is above zero. A time to threshold is
//!    given only then, with the interval's ends as its band.
//!
//! Stated limits: the interval takes the slopes as independent. Noise
//! correlated over more than a period makes it narrower than it should be.
//! For the first two days after a level shift the cycle is not removed.
//! The pairwise fit then sees part of a daily swing as growth, so read its
//! band with care.

/// Seconds in a day and a week.
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// At most this many points are used (the most recent), and at most this
/// many (evenly thinned) for pairwise slopes when there is no period to
/// difference over (so at most ~180,000 slopes).
const MAX_POINTS: usize = 20_000;
const MAX_PAIRED: usize = 600;

/// The cycle removed before fitting the growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    None,
    Daily,
    Weekly,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// Growth per second: the estimate and its 90 % interval.
    pub rate: f64,
    pub rate_low: f64,
    pub rate_high: f64,
    /// The level now (at the last point's time), net of the cycle.
    pub level: f64,
    pub season: Season,
    /// Where the history used starts (after the last level shift).
    pub since: i64,
    /// Whether the series grows: the rate's whole interval is above zero.
    pub growing: bool,
    /// Seconds from the last point until the threshold is reached: the
    /// estimate, soonest and latest (None: not within the band, e.g. no
    /// growth). Zero when the level is already at or above it.
    pub time_to_threshold: Option<f64>,
    pub soonest: Option<f64>,
    pub latest: Option<f64>,
}

fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The median and a 90 % interval of the median (sign-test order
/// statistics) of `values`, sorted in place.
fn median_interval(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let half = 1.645 * (n as f64).sqrt() / 2.0;
    let low = ((n as f64 / 2.0 - half).floor().max(0.0) as usize).min(n - 1);
    let high = ((n as f64 / 2.0 + half).ceil() as usize).min(n - 1);
    (median_sorted(values), values[low], values[high])
}

/// Index where the history after the last level shift starts: a change
/// beyond 10 times the median absolute change (and beyond 1 % of the
/// level) that is also a change from the same time a day and a week
/// earlier (where the history reaches back that far), so the edges of a
/// daily or weekly cycle are not shifts.
fn after_last_shift(points: &[(i64, f64)]) -> usize {
    let mut changes: Vec<f64> = points.windows(2).map(|w| (w[1].1 - w[0].1).abs()).collect();
    if changes.is_empty() {
        return 0;
    }
    changes.sort_by(f64::total_cmp);
    let usual = median_sorted(&changes);
    let scale = points.iter().map(|p| p.1.abs()).fold(0.0, f64::max);
    let step = (10.0 * usual).max(0.01 * scale);
    let tolerance = sampling_step(points) / 2;
    let seasonal = |i: usize| {
        [DAY, WEEK].into_iter().any(|period| {
            nearest(points, points[i].0 - period, tolerance)
                .is_some_and(|v| (points[i].1 - v).abs() <= step)
        })
    };
    (1..points.len())
        .rev()
        .find(|&i| (points[i].1 - points[i - 1].1).abs() > step && !seasonal(i))
        .unwrap_or(0)
}

/// The median time between points.
fn sampling_step(points: &[(i64, f64)]) -> i64 {
    let mut steps: Vec<i64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    steps.sort_unstable();
    steps.get(steps.len() / 2).copied().unwrap_or(0)
}

/// The value of the point nearest `t`, if one is within `tolerance`.
fn nearest(points: &[(i64, f64)], t: i64, tolerance: i64) -> Option<f64> {
    let i = points.partition_point(|p| p.0 < t);
    [i.checked_sub(1), Some(i)]
        .into_iter()
        .flatten()
        .filter(|&k| k < points.len())
        .min_by_key(|&k| (points[k].0 - t).abs())
        .filter(|&k| (points[k].0 - t).abs() <= tolerance)
        .map(|k| points[k].1)
}

/// Slopes of pairs one `period` apart (the point nearest `t + period`,
/// within half the median sampling step).
fn period_slopes(points: &[(i64, f64)], period: i64) -> Vec<f64> {
    let tolerance = sampling_step(points) / 2;
    points
        .iter()
        .filter_map(|&(t, v)| {
            nearest(points, t + period, tolerance).map(|later| (later - v) / period as f64)
        })
        .collect()
}

/// Theil–Sen slopes of all pairs, of at most `MAX_PAIRED` points (evenly
/// thinned).
fn pair_slopes(points: &[(i64, f64)]) -> Vec<f64> {
    let stride = points.len().div_ceil(MAX_PAIRED).max(1);
    let thinned: Vec<(i64, f64)> = points.iter().step_by(stride).copied().collect();
    let mut slopes = Vec::with_capacity(thinned.len() * thinned.len() / 2);
    for (i, a) in thinned.iter().enumerate() {
        for b in &thinned[i + 1..] {
            slopes.push((b.1 - a.1) / (b.0 - a.0) as f64);
        }
    }
    slopes
}

/// Forecasts when `points` (Unix seconds, value; any order; non-finite
/// values ignored) reach `threshold`. None with fewer than 12 usable
/// points or no time spread.
pub fn time_to_threshold(points: &[(i64, f64)], threshold: f64) -> Option<Forecast> {
    let mut points: Vec<(i64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.1.is_finite() && p.1.abs() < 1e150)
        .collect();
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    let start = points.len().saturating_sub(MAX_POINTS);
    let points = &points[start..];
    let points = &points[after_last_shift(points)..];
    if points.len() < 12 || !threshold.is_finite() {
        return None;
    }
    let (first, now) = (points[0].0, points[points.len() - 1].0);
    let span = now - first;
    if span <= 0 {
        return None;
    }
    let (season, mut slopes) = if span >= 2 * WEEK {
        (Season::Weekly, period_slopes(points, WEEK))
    } else if span >= 2 * DAY {
        (Season::Daily, period_slopes(points, DAY))
    } else {
        (Season::None, pair_slopes(points))
    };
    if slopes.len() < 3 {
        return None;
    }
    let (rate, rate_low, rate_high) = median_interval(&mut slopes);
    // The level now: the median of the last period's (or the whole
    // history's) points carried forward along the rate.
    let window = match season {
        Season::Weekly => WEEK,
        Season::Daily => DAY,
        Season::None => span,
    };
    let mut carried: Vec<f64> = points
        .iter()
        .filter(|p| p.0 >= now - window)
        .map(|p| p.1 + rate * (now - p.0) as f64)
        .collect();
    carried.sort_by(f64::total_cmp);
    let level = median_sorted(&carried);
    let growing = rate_low > 0.0;
    let eta = |r: f64| {
        if level >= threshold {
            Some(0.0)
        } else if r > 0.0 && growing {
            Some((threshold - level) / r)
        } else {
            None
        }
    };
    Some(Forecast {
        rate,
        rate_low,
        rate_high,
        level,
        season,
        since: first,
        growing,
        time_to_threshold: eta(rate),
        soonest: eta(rate_high),
        latest: eta(rate_low),
    })
}

#[cfg(test)]
mod tests;
