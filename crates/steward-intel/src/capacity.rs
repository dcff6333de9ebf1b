//! Capacity: which series reach a level (90 % of a filesystem or of
//! memory) within a horizon, by the forecast of `forecast.rs` (seasonal,
//! restarted by level shifts, with its band). Pure: samples in (Unix
//! milliseconds), a verdict out.

use crate::forecast;

/// A series that reaches the level within the horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reach {
    /// Milliseconds from the last sample: estimate, soonest and latest
    /// (None: not within the forecast's band). 0 when already there.
    pub eta_ms: i64,
    pub soonest_ms: Option<i64>,
    pub latest_ms: Option<i64>,
    /// The level now (net of its cycle) and its growth per day.
    pub level: f64,
    pub rate_per_day: f64,
}

/// Whether `samples` reach `level` within `within_ms` of the last one
/// (the forecast's estimate, not its optimistic end).
pub fn reaches(samples: &[(i64, f64)], level: f64, within_ms: i64) -> Option<Reach> {
    let points: Vec<(i64, f64)> = samples.iter().map(|&(t, v)| (t / 1000, v)).collect();
    let f = forecast::time_to_threshold(&points, level)?;
    let ms = |s: f64| (s.is_finite() && s < 1e15).then_some((s * 1000.0) as i64);
    let eta_ms = ms(f.time_to_threshold?)?;
    (eta_ms <= within_ms).then(|| Reach {
        eta_ms,
        soonest_ms: f.soonest.and_then(ms),
        latest_ms: f.latest.and_then(ms),
        level: f.level,
        rate_per_day: f.rate * 86_400.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    fn noise(i: i64) -> f64 {
        let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    /// Two weeks of 5-minute samples of `f(days since start)`.
    fn fortnight(f: impl Fn(f64, i64) -> f64) -> Vec<(i64, f64)> {
        (0..14 * 288)
            .map(|i| {
                let t = 1_700_000_000_000 + i * 300_000;
                (t, f(i as f64 / 288.0, i))
            })
            .collect()
    }

    #[test]
    fn a_filling_disk_is_listed_within_the_horizons_it_reaches() {
        // 66 % growing 1 point a day with a daily swing: 80 % now, 90 %
        // in ten days.
        let disk = fortnight(|days, i| {
            0.66 + 0.01 * days + 0.02 * (days * std::f64::consts::TAU).sin() + 0.002 * noise(i)
        });
        assert_eq!(reaches(&disk, 0.9, 7 * DAY), None);
        let r = reaches(&disk, 0.9, 30 * DAY).expect("within 30 days");
        assert!((r.eta_ms as f64 / DAY as f64 - 10.0).abs() < 1.0, "{r:?}");
        assert!((r.rate_per_day - 0.01).abs() < 0.001, "{r:?}");
        assert!(r.soonest_ms.unwrap() <= r.eta_ms && r.eta_ms <= r.latest_ms.unwrap());
        // Already past the level: listed at once.
        let full = fortnight(|_, i| 0.93 + 0.002 * noise(i));
        assert_eq!(reaches(&full, 0.9, 7 * DAY).unwrap().eta_ms, 0);
    }

    #[test]
    fn busy_weekdays_and_flat_or_bad_series_are_not_listed() {
        let weekly = fortnight(|days, i| {
            let weekday = (days as i64).rem_euclid(7) < 5;
            (if weekday { 0.80 } else { 0.40 }) + 0.003 * noise(i)
        });
        assert_eq!(reaches(&weekly, 0.9, 90 * DAY), None);
        let flat = fortnight(|_, _| 0.5);
        assert_eq!(reaches(&flat, 0.9, 90 * DAY), None);
        assert_eq!(reaches(&[], 0.9, 90 * DAY), None);
        let absurd = fortnight(|_, i| if i % 2 == 0 { 1e18 } else { -1e18 });
        let _ = reaches(&absurd, 0.9, 90 * DAY);
    }
}
