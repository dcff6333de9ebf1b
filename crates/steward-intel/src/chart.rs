//! What a metric chart draws besides the samples: the detector's expected
//! range (the anomaly band) and its anomalies, and the forecast's
//! projection with its band. Pure: samples in (Unix milliseconds), a
//! drawing out. The detector runs fresh over the samples given, so give
//! it some history before the range shown (`from_ms`): it scores nothing
//! while it learns (its first 100 samples).

use crate::detector::{Detector, Explanation, Params};
use crate::forecast::{self, Season};

/// The band at one time: what the detector expected there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub at_ms: i64,
    pub low: f64,
    pub high: f64,
}

/// A sample the detector found anomalous (an event's alarm: one per
/// event, at the sample that started or topped it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anomaly {
    pub at_ms: i64,
    pub value: f64,
    pub score: f64,
    pub explanation: Option<Explanation>,
}

/// One point of the projection: the trend's value and its 90 % band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projected {
    pub at_ms: i64,
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub season: Season,
    /// Growth per day: estimate and 90 % interval.
    pub rate_per_day: f64,
    pub rate_low_per_day: f64,
    pub rate_high_per_day: f64,
    pub growing: bool,
    pub threshold: Option<f64>,
    /// Milliseconds from the last sample to the threshold: estimate,
    /// soonest, latest (None: not within the band).
    pub time_to_threshold_ms: Option<i64>,
    pub soonest_ms: Option<i64>,
    pub latest_ms: Option<i64>,
    pub points: Vec<Projected>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Drawing {
    pub bands: Vec<Band>,
    pub anomalies: Vec<Anomaly>,
    pub projection: Option<Projection>,
}

/// Score below which an alarm is not drawn (one in 100,000).
const DRAWN: f64 = crate::detector::ALARM;
/// Points of the projection.
const PROJECTED: i64 = 24;

/// Draws `samples` (time-ordered; older ones train the detector) from
/// `from_ms`: at most `max_bands` band points (evenly thinned), the
/// anomalies, and the projection `horizon_ms` past the last sample
/// (towards `threshold` when given).
pub fn draw(
    samples: &[(i64, f64)],
    from_ms: i64,
    max_bands: usize,
    horizon_ms: i64,
    threshold: Option<f64>,
) -> Drawing {
    let mut detector = Detector::new(Params::default());
    let mut drawing = Drawing::default();
    let shown = samples.iter().filter(|s| s.0 >= from_ms).count();
    let stride = shown.div_ceil(max_bands.max(1)).max(1);
    let mut index = 0usize;
    for &(at_ms, value) in samples {
        let time = at_ms.div_euclid(1000);
        let band = detector.expected(time);
        let verdict = detector.push(time, value);
        if at_ms < from_ms {
            continue;
        }
        if let Some((low, high)) = band
            && index.is_multiple_of(stride)
        {
            drawing.bands.push(Band { at_ms, low, high });
        }
        index += 1;
        if verdict.score >= DRAWN {
            drawing.anomalies.push(Anomaly {
                at_ms,
                value,
                score: verdict.score,
                explanation: verdict.explanation,
            });
        }
    }
    drawing.projection = project(samples, horizon_ms, threshold);
    drawing
}

fn project(samples: &[(i64, f64)], horizon_ms: i64, threshold: Option<f64>) -> Option<Projection> {
    let points: Vec<(i64, f64)> = samples.iter().map(|&(t, v)| (t / 1000, v)).collect();
    // With no threshold the fit still runs (towards +∞, never reached).
    let f = forecast::time_to_threshold(&points, threshold.unwrap_or(f64::MAX))?;
    let last_ms = samples.iter().map(|s| s.0).max()?;
    let horizon_ms = horizon_ms.clamp(60_000, 400 * 86_400_000);
    let day = 86_400.0;
    let ms = |s: Option<f64>| s.filter(|s| s.is_finite()).map(|s| (s * 1000.0) as i64);
    let points = (0..=PROJECTED)
        .map(|k| {
            let dt_ms = horizon_ms * k / PROJECTED;
            let dt = dt_ms as f64 / 1000.0;
            let (a, b) = (f.level + f.rate_low * dt, f.level + f.rate_high * dt);
            Projected {
                at_ms: last_ms + dt_ms,
                value: f.level + f.rate * dt,
                low: a.min(b),
                high: a.max(b),
            }
        })
        .collect();
    Some(Projection {
        season: f.season,
        rate_per_day: f.rate * day,
        rate_low_per_day: f.rate_low * day,
        rate_high_per_day: f.rate_high * day,
        growing: f.growing,
        threshold,
        time_to_threshold_ms: threshold.and(ms(f.time_to_threshold)),
        soonest_ms: threshold.and(ms(f.soonest)),
        latest_ms: threshold.and(ms(f.latest)),
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn noise(i: i64) -> f64 {
        let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    #[test]
    fn bands_anomalies_and_a_projection_to_full() {
        // A disk at 50 % growing 1 point an hour, a cleanup-free spike at
        // minute 900, a minute apart for a day.
        let samples: Vec<(i64, f64)> = (0..1440)
            .map(|m| {
                let v = 0.5 + 0.01 * m as f64 / 60.0 + 0.002 * noise(m);
                (m * MINUTE, if m == 900 { v + 0.2 } else { v })
            })
            .collect();
        let from = 600 * MINUTE;
        let d = draw(&samples, from, 100, 6 * 3_600_000, Some(0.9));
        assert!(
            !d.bands.is_empty() && d.bands.len() <= 100,
            "{}",
            d.bands.len()
        );
        assert!(d.bands.iter().all(|b| b.at_ms >= from && b.low < b.high));
        assert!(
            d.anomalies.iter().any(|a| a.at_ms == 900 * MINUTE),
            "{:?}",
            d.anomalies
        );
        let p = d.projection.unwrap();
        assert!(p.growing, "{p:?}");
        assert!((p.rate_per_day - 0.24).abs() < 0.024, "{p:?}");
        // 0.5 + 0.24 = 0.74 at the end: 0.9 in 16 hours.
        let eta = p.time_to_threshold_ms.unwrap() as f64 / 3_600_000.0;
        assert!((eta - 16.0).abs() < 1.6, "{eta} h");
        assert_eq!(p.points.len(), 25);
        assert_eq!(p.points[0].at_ms, 1439 * MINUTE);
        assert!(
            p.points
                .iter()
                .all(|q| q.low <= q.value && q.value <= q.high)
        );
        assert!(p.points[24].value > p.points[0].value);
    }

    #[test]
    fn too_few_or_bad_samples_draw_little_and_never_panic() {
        assert_eq!(draw(&[], 0, 10, MINUTE, None), Drawing::default());
        let few: Vec<(i64, f64)> = (0..5).map(|m| (m * MINUTE, 1.0)).collect();
        let d = draw(&few, 0, 10, MINUTE, Some(2.0));
        assert!(d.bands.is_empty() && d.projection.is_none());
        // Constants, duplicates, absurd magnitudes, a zero-wide request.
        let mut odd: Vec<(i64, f64)> = (0..300).map(|m| (m * MINUTE, 42.0)).collect();
        odd.extend((0..300).map(|m| (m * MINUTE, 1e18)));
        odd.push((400 * MINUTE, -1e18));
        let d = draw(&odd, 0, 0, i64::MAX, None);
        assert!(
            d.bands
                .iter()
                .all(|b| b.low.is_finite() && b.high.is_finite())
        );
        if let Some(p) = d.projection {
            assert!(p.points.iter().all(|q| q.value.is_finite()), "{p:?}");
            assert_eq!(p.time_to_threshold_ms, None);
        }
    }
}
