use super::*;

const STEP: i64 = 300;
const NOW: i64 = 1_700_000_000 - 1_700_000_000 % WEEK;

/// Deterministic noise in [-1, 1].
fn noise(i: usize) -> f64 {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// `days` of 5-minute samples ending at NOW, valued by `f(seconds
/// before NOW, index)`.
fn history(days: i64, f: impl Fn(i64, usize) -> f64) -> Vec<(i64, f64)> {
    let rows = (days * DAY / STEP) as usize;
    (0..=rows)
        .map(|i| {
            let t = NOW - (rows - i) as i64 * STEP;
            (t, f(NOW - t, i))
        })
        .collect()
}

fn daily_cycle(ago: i64) -> f64 {
    ((NOW - ago) % DAY) as f64 / DAY as f64 * std::f64::consts::TAU
}

/// One place that forecasts: the time to `threshold` is within 10 % of
/// `truth` seconds (or absent when `truth` is None).
#[track_caller]
fn check(points: &[(i64, f64)], threshold: f64, truth: Option<f64>) -> Forecast {
    let f = time_to_threshold(points, threshold).expect("a forecast");
    match (truth, f.time_to_threshold) {
        (Some(truth), Some(got)) => {
            assert!(
                (got - truth).abs() <= 0.1 * truth,
                "{got} vs {truth}: {f:?}"
            );
            assert!(
                f.soonest.unwrap() <= got && got <= f.latest.unwrap(),
                "{f:?}"
            );
        }
        (None, None) => assert!(!f.growing, "{f:?}"),
        _ => panic!("expected {truth:?}: {f:?}"),
    }
    f
}

/// A filesystem at 60 % growing 2 points a day, with a daily swing of ±5
/// and noise: full in 20 days.
#[test]
fn linear_growth_with_daily_noise() {
    let points = history(10, |ago, i| {
        60.0 - 2.0 * ago as f64 / DAY as f64 + 5.0 * daily_cycle(ago).sin() + noise(i)
    });
    let f = check(&points, 100.0, Some(20.0 * DAY as f64));
    assert_eq!(f.season, Season::Daily);
}

/// Busy weekdays, quiet weekends, a daily cycle, no growth: not a trend.
#[test]
fn weekly_seasonal_series_is_not_a_trend() {
    let points = history(28, |ago, i| {
        let weekday = ((NOW - ago) / DAY).rem_euclid(7) < 5;
        (if weekday { 70.0 } else { 30.0 }) + 8.0 * daily_cycle(ago).sin() + 2.0 * noise(i)
    });
    let f = check(&points, 90.0, None);
    assert_eq!(f.season, Season::Weekly);
}

/// A cleanup freed 30 points four days ago; growth since is 1.5 a day
/// from 40: full in 40 days, judged from after the cleanup only.
#[test]
fn a_cleanup_restarts_the_history() {
    let points = history(12, |ago, i| {
        let days = ago as f64 / DAY as f64;
        let base = 40.0 - 1.5 * days + 3.0 * daily_cycle(ago).sin() + 0.5 * noise(i);
        if ago > 4 * DAY { base + 30.0 } else { base }
    });
    let f = check(&points, 100.0, Some(40.0 * DAY as f64));
    assert!(f.since >= NOW - 4 * DAY, "{f:?}");
    // A resized disk (usage drops as the capacity grows) is the same.
    let resized = history(3, |ago, i| {
        let hours = ago as f64 / 3600.0;
        let base = 50.0 - 0.1 * hours + 0.2 * noise(i);
        if ago > DAY { base + 35.0 } else { base }
    });
    check(&resized, 90.0, Some(400.0 * 3600.0));
}

#[test]
fn bad_input_gives_no_forecast_and_no_panic() {
    assert_eq!(time_to_threshold(&[], 90.0), None);
    let few: Vec<_> = (0..5).map(|i| (i * STEP, i as f64)).collect();
    assert_eq!(time_to_threshold(&few, 90.0), None);
    let same_time: Vec<_> = (0..50).map(|i| (NOW, i as f64)).collect();
    assert_eq!(time_to_threshold(&same_time, 90.0), None);
    let nan: Vec<_> = (0..500).map(|i| (i * STEP, f64::NAN)).collect();
    assert_eq!(time_to_threshold(&nan, 90.0), None);
    // Constant: no growth.
    let flat = history(3, |_, _| 42.0);
    let f = time_to_threshold(&flat, 90.0).unwrap();
    assert!(!f.growing && f.time_to_threshold.is_none(), "{f:?}");
    // Already above the threshold.
    let full = history(3, |ago, _| 95.0 - ago as f64 / DAY as f64);
    assert_eq!(
        time_to_threshold(&full, 90.0).unwrap().time_to_threshold,
        Some(0.0)
    );
    // Absurd magnitudes, mixed with sane ones.
    let absurd = history(3, |ago, i| if i % 3 == 0 { 1e300 } else { -(ago as f64) });
    let f = time_to_threshold(&absurd, f64::MAX);
    assert!(f.is_none_or(|f| f.rate.is_finite()), "{f:?}");
    assert_eq!(time_to_threshold(&flat, f64::NAN), None);
}

#[test]
fn a_short_dense_history_uses_pairwise_slopes() {
    // A day of samples every 5 seconds, growing 1 a minute from 10: 90 at
    // 80 minutes from now.
    let points: Vec<(i64, f64)> = (0..17_280)
        .map(|i| {
            (
                NOW - DAY + i * 5,
                10.0 + (i * 5 - DAY) as f64 / 60.0 + noise(i as usize),
            )
        })
        .map(|(t, v)| (t, v + 1440.0))
        .collect();
    let f = check(&points, 1530.0, Some(80.0 * 60.0));
    assert_eq!(f.season, Season::None);
}
