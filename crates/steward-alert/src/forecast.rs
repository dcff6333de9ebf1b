//! "This filesystem will be full within N hours": a robust linear fit of
//! recent usage (Theil–Sen: the median of pairwise slopes, which a few
//! outliers such as a cleaned-up temp directory cannot swing), extrapolated
//! to the capacity, in the spirit of Prometheus's `predict_linear`.

use crate::Millis;

/// Most recent points used; Theil–Sen is quadratic in the point count.
pub const MAX_POINTS: usize = 240;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Units per millisecond.
    pub slope: f64,
    /// Value at `t = 0` of the fit's time base (`origin`).
    pub intercept: f64,
    pub origin: Millis,
}

impl Fit {
    pub fn at(&self, t: Millis) -> f64 {
        self.intercept + self.slope * (t - self.origin) as f64
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Theil–Sen fit of `(t, value)` points (any order; non-finite values are
/// ignored). None with fewer than `min_points` or no time spread.
pub fn fit(points: &[(Millis, f64)], min_points: usize) -> Option<Fit> {
    let mut points: Vec<(Millis, f64)> = points
        .iter()
        .copied()
        .filter(|(_, v)| v.is_finite())
        .collect();
    points.sort_by_key(|(t, _)| *t);
    let start = points.len().saturating_sub(MAX_POINTS);
    let points = &points[start..];
    if points.len() < min_points.max(2) {
        return None;
    }
    let origin = points[0].0;
    let mut slopes = Vec::with_capacity(points.len() * (points.len() - 1) / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            if b.0 != a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0) as f64);
            }
        }
    }
    let slope = median(&mut slopes)?;
    let mut intercepts: Vec<f64> = points
        .iter()
        .map(|(t, v)| v - slope * (t - origin) as f64)
        .collect();
    let intercept = median(&mut intercepts)?;
    Some(Fit {
        slope,
        intercept,
        origin,
    })
}

/// Milliseconds from `now` until the fit reaches `capacity`: Some(0) when
/// it already has, None when it is not growing towards it.
pub fn time_to_reach(fit: &Fit, capacity: f64, now: Millis) -> Option<Millis> {
    let current = fit.at(now);
    if current >= capacity {
        return Some(0);
    }
    if fit.slope <= 0.0 || !fit.slope.is_finite() {
        return None;
    }
    let ms = (capacity - current) / fit.slope;
    (ms.is_finite() && ms < i64::MAX as f64).then_some(ms.ceil() as Millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    /// Fits hourly points and checks the predicted hours to full.
    fn check(values: &[f64], now_hour: i64, expect_hours: Option<f64>) {
        let points: Vec<(Millis, f64)> = values
            .iter()
            .enumerate()
            .map(|(h, v)| (h as i64 * HOUR, *v))
            .collect();
        let got = fit(&points, 3)
            .and_then(|f| time_to_reach(&f, 1.0, now_hour * HOUR))
            .map(|ms| ms as f64 / HOUR as f64);
        match (got, expect_hours) {
            (Some(g), Some(e)) => assert!((g - e).abs() < 0.01, "got {g} h, expected {e} h"),
            (g, e) => assert_eq!(g.is_some(), e.is_some(), "got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn predicts_time_to_full() {
        // +1 % an hour from 50 %: full 50 h after the first point.
        let steady: Vec<f64> = (0..10).map(|h| 0.50 + 0.01 * h as f64).collect();
        check(&steady, 9, Some(41.0));
        // A cleanup spike does not swing a robust fit.
        let mut spiky = steady.clone();
        spiky[4] = 0.10;
        check(&spiky, 9, Some(41.0));
        // Shrinking or flat usage never fills.
        check(&[0.6, 0.59, 0.58, 0.57], 3, None);
        check(&[0.6, 0.6, 0.6], 2, None);
        // Already full.
        check(&[0.99, 1.0, 1.0], 2, Some(0.0));
    }

    #[test]
    fn needs_enough_points() {
        assert!(fit(&[(0, 0.5), (HOUR, 0.6)], 3).is_none());
        assert!(fit(&[(0, 0.5), (0, 0.6), (0, 0.7)], 3).is_none());
        assert!(fit(&[(0, f64::NAN), (1, 0.5), (2, f64::INFINITY)], 2).is_none());
    }

    proptest::proptest! {
        #[test]
        fn exact_lines_are_recovered(slope in -1e-6f64..1e-6, intercept in 0.0f64..1.0, n in 3usize..50) {
            let points: Vec<(Millis, f64)> = (0..n as i64).map(|i| (i * 60_000, intercept + slope * (i * 60_000) as f64)).collect();
            let f = fit(&points, 3).unwrap();
            proptest::prop_assert!((f.slope - slope).abs() < 1e-12);
            proptest::prop_assert!((f.intercept - intercept).abs() < 1e-9);
        }
    }
}
