//! Fewer points for a chart: samples grouped into equal time buckets over
//! `[from, to]`, each bucket the mean of its samples at the mean of their
//! times. Empty buckets stay empty (a gap shows as a gap).

/// At most `max_points` points from `samples` (time-ordered) over
/// `[from_ms, to_ms]`; the samples as they are when they already fit.
pub fn downsample(
    samples: &[(i64, f64)],
    from_ms: i64,
    to_ms: i64,
    max_points: usize,
) -> Vec<(i64, f64)> {
    if max_points == 0 || samples.len() <= max_points || to_ms <= from_ms {
        return samples.to_vec();
    }
    let span = (to_ms - from_ms) as i128;
    let width = (span / max_points as i128).max(1);
    let mut out = Vec::with_capacity(max_points);
    let mut bucket: Option<i128> = None;
    let (mut n, mut t_sum, mut v_sum) = (0i128, 0i128, 0f64);
    let flush = |n: i128, t_sum: i128, v_sum: f64, out: &mut Vec<(i64, f64)>| {
        if n > 0 {
            out.push(((t_sum / n) as i64, v_sum / n as f64));
        }
    };
    for &(ts, value) in samples {
        let b = ((ts as i128 - from_ms as i128).max(0) / width).min(max_points as i128 - 1);
        if bucket != Some(b) {
            flush(n, t_sum, v_sum, &mut out);
            bucket = Some(b);
            (n, t_sum, v_sum) = (0, 0, 0.0);
        }
        n += 1;
        t_sum += ts as i128;
        v_sum += value;
    }
    flush(n, t_sum, v_sum, &mut out);
    out
}

/// Rollup points: the samples (time-ordered) grouped by aligned buckets of
/// `bucket_ms`, each the mean of its values at the mean of its times (a
/// bucket split across two calls yields two points, both inside it).
pub fn bucket_means(samples: &[(i64, f64)], bucket_ms: i64) -> Vec<(i64, f64)> {
    let bucket_ms = bucket_ms.max(1);
    let mut out = Vec::new();
    let mut current: Option<i64> = None;
    let (mut n, mut t_sum, mut v_sum) = (0i128, 0i128, 0f64);
    for &(ts, value) in samples {
        let bucket = ts.div_euclid(bucket_ms);
        if current != Some(bucket) {
            if n > 0 {
                out.push(((t_sum / n) as i64, v_sum / n as f64));
            }
            current = Some(bucket);
            (n, t_sum, v_sum) = (0, 0, 0.0);
        }
        n += 1;
        t_sum += ts as i128;
        v_sum += value;
    }
    if n > 0 {
        out.push(((t_sum / n) as i64, v_sum / n as f64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{bucket_means, downsample};

    #[test]
    fn bucket_means_group_by_aligned_buckets() {
        let minutes: Vec<(i64, f64)> = (0..10).map(|i| (i * 60_000, i as f64)).collect();
        assert_eq!(
            bucket_means(&minutes, 300_000),
            [(120_000, 2.0), (420_000, 7.0)]
        );
        assert_eq!(bucket_means(&[], 300_000), []);
        // A lone sample is its own mean.
        assert_eq!(bucket_means(&[(301_000, 4.5)], 300_000), [(301_000, 4.5)]);
    }

    fn check(samples: &[(i64, f64)], from: i64, to: i64, max: usize, expected: &[(i64, f64)]) {
        assert_eq!(downsample(samples, from, to, max), expected);
    }

    #[test]
    fn buckets_average_time_and_value() {
        let samples: Vec<(i64, f64)> = (0..8).map(|i| (i * 10, i as f64)).collect();
        check(
            &samples,
            0,
            80,
            4,
            &[(5, 0.5), (25, 2.5), (45, 4.5), (65, 6.5)],
        );
        // Already small enough: unchanged.
        check(&samples, 0, 80, 8, &samples);
        check(&[], 0, 80, 4, &[]);
    }

    #[test]
    fn gaps_stay_gaps_and_out_of_range_samples_clamp() {
        let samples = [(0, 1.0), (1, 3.0), (2, 5.0), (95, 7.0), (200, 9.0)];
        check(&samples, 0, 100, 4, &[(1, 3.0), (147, 8.0)]);
    }

    #[test]
    fn seven_days_of_minutes_fit_a_chart() {
        let week: Vec<(i64, f64)> = (0..10_080)
            .map(|i| (i * 60_000, (i % 100) as f64))
            .collect();
        let points = downsample(&week, 0, 10_080 * 60_000, 720);
        assert_eq!(points.len(), 720);
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
