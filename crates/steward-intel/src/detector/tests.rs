use super::*;

/// A deterministic standard normal sequence (xorshift + Box–Muller).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        let mut uniform = || {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (u, v) = (uniform(), uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const STEP: i64 = 300;
const START: i64 = 1_700_000_000 - 1_700_000_000 % 86_400;

/// A server-like gauge every 5 minutes: a daily cycle around 40 with noise,
/// and `event(row)` added on top.
fn series(rows: usize, seed: u64, mut event: impl FnMut(usize, f64) -> f64) -> Vec<(i64, f64)> {
    let mut noise = Noise(seed);
    (0..rows)
        .map(|i| {
            let t = START + i as i64 * STEP;
            let day = (t % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU;
            let base = 40.0 + 10.0 * day.sin() + 1.5 * noise.next();
            (t, event(i, base))
        })
        .collect()
}

/// The alarms (row, explanation) of a fresh detector over `points`.
fn alarms(points: &[(i64, f64)]) -> Vec<(usize, Explanation)> {
    let mut d = Detector::new(Params::default());
    points
        .iter()
        .enumerate()
        .filter_map(|(i, &(t, v))| {
            let verdict = d.push(t, v);
            assert!((0.0..=1.0).contains(&verdict.score), "row {i}: {verdict:?}");
            assert!(verdict.score == 0.0 || verdict.score == verdict.rarity);
            verdict.explanation.map(|e| (i, e))
        })
        .collect()
}

/// One place that checks a synthetic series: each event `(row,
/// explanation, within)` is flagged with its explanation within `within`
/// rows of its start, and nothing is flagged outside the events (300 rows
/// from each start).
#[track_caller]
fn check(points: &[(i64, f64)], expected: &[(usize, Explanation, usize)]) {
    let found = alarms(points);
    for &(row, explanation, within) in expected {
        assert!(
            found
                .iter()
                .any(|&(r, e)| (row..row + within).contains(&r) && e == explanation),
            "expected {explanation:?} at {row}, flagged: {found:?}"
        );
    }
    let stray: Vec<_> = found
        .iter()
        .filter(|(r, _)| {
            !expected
                .iter()
                .any(|(row, _, _)| (*row..row + 300).contains(r))
        })
        .collect();
    assert!(stray.is_empty(), "false alarms {stray:?}");
}

const SEEDS: [u64; 5] = [3, 11, 19, 23, 42];

/// A gauge whose collector hangs for 40 samples, reporting its last value
/// again and again, is flagged as a variance change within 12 rows (the
/// same value 12 times, where no value came twice in a row before); a
/// series that never changed raises nothing.
#[test]
fn a_stuck_value_is_flagged_as_a_variance_change() {
    for seed in SEEDS {
        let mut held = 0.0;
        let points = series(3600, seed, |i, v| {
            if !(3000..3040).contains(&i) {
                held = v;
            }
            held
        });
        check(&points, &[(3000, Explanation::VarianceChange, 12)]);
    }
    let flat: Vec<_> = (0..3600).map(|i| (START + i as i64 * STEP, 7.0)).collect();
    assert!(alarms(&flat).is_empty());
}

#[test]
fn a_quiet_series_raises_no_alarm() {
    for seed in SEEDS {
        check(&series(6000, seed, |_, v| v), &[]);
    }
}

#[test]
fn each_event_is_flagged_at_its_row_with_its_explanation() {
    let (spike, shift, noisy, calm) = (2000, 2800, 3600, 4000);
    for seed in SEEDS {
        let mut wide = Noise(seed + 1);
        let points = series(5000, seed, |i, v| {
            let mut v = v;
            if i == spike {
                v += 30.0;
            }
            if i >= shift {
                v += 15.0;
            }
            if (noisy..calm).contains(&i) {
                v += 15.0 * wide.next();
            }
            v
        });
        check(
            &points,
            &[
                (spike, Explanation::Spike, 1),
                (shift, Explanation::LevelShift, 12),
                // A wider spread takes a dozen samples to tell from a spike.
                (noisy, Explanation::VarianceChange, 20),
            ],
        );
    }
}

/// Every verdict is in range and nothing panics, whatever the input.
#[track_caller]
fn check_sane(points: &[(i64, f64)]) -> Vec<Verdict> {
    let mut d = Detector::new(Params::default());
    points
        .iter()
        .map(|&(t, v)| {
            let verdict = d.push(t, v);
            assert!((0.0..=1.0).contains(&verdict.score), "{verdict:?}");
            assert!((0.0..=1.0).contains(&verdict.rarity), "{verdict:?}");
            verdict
        })
        .collect()
}

#[test]
fn bad_input_neither_panics_nor_leaves_the_range() {
    let t = |i: usize| START + i as i64 * STEP;
    assert!(score_series(Params::default(), &[], &[]).is_empty());
    // Constant: nothing to report.
    let constant: Vec<_> = (0..3000).map(|i| (t(i), 7.0)).collect();
    let verdicts = check_sane(&constant);
    assert!(
        verdicts
            .iter()
            .all(|v| v.score < 0.1 && v.explanation.is_none())
    );
    // Not-a-number and infinities are skipped, scored 0.
    let mut holes: Vec<_> = series(3000, 5, |_, v| v);
    for i in (0..3000).step_by(7) {
        holes[i].1 = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][i % 3];
    }
    for (verdict, (_, v)) in check_sane(&holes).iter().zip(&holes) {
        if !v.is_finite() {
            assert_eq!(verdict.score, 0.0);
        }
    }
    // Absurd magnitudes and a sudden unit change (× 10^12).
    let absurd: Vec<_> = (0..3000)
        .map(|i| {
            (
                t(i),
                if i % 500 == 499 {
                    -1e300
                } else {
                    1e300 * (i % 3) as f64
                },
            )
        })
        .collect();
    check_sane(&absurd);
    let units: Vec<_> = series(3000, 9, |i, v| if i >= 1500 { v * 1e12 } else { v });
    let verdicts = check_sane(&units);
    assert!(verdicts[1500].score >= ALARM, "{:?}", verdicts[1500]);
    // Duplicate and backward timestamps are skipped.
    let mut d = Detector::new(Params::default());
    d.push(1000, 1.0);
    assert_eq!(d.push(1000, 50.0).score, 0.0);
    assert_eq!(d.push(900, 50.0).score, 0.0);
    let tiny: Vec<_> = (0..3000).map(|i| (t(i), 1e-300 * (i % 5) as f64)).collect();
    check_sane(&tiny);
}

/// The expected range holds nearly all of a usual series' samples, follows
/// its daily cycle, and leaves a spike outside; none while learning.
#[test]
fn the_expected_range_holds_usual_samples_and_not_a_spike() {
    let points = series(2000, 7, |i, v| if i == 1900 { v + 40.0 } else { v });
    let mut d = Detector::new(Params::default());
    assert_eq!(d.expected(START), None);
    let (mut inside, mut judged) = (0, 0);
    for (i, &(t, v)) in points.iter().enumerate() {
        let band = d.expected(t);
        if i < 100 {
            assert_eq!(band, None, "row {i}: still learning");
        }
        if let Some((low, high)) = band {
            assert!(low < high, "row {i}: {low}..{high}");
            if i == 1900 {
                assert!(v > high, "the spike {v} is outside {low}..{high}");
            } else if i > 1000 {
                judged += 1;
                inside += usize::from((low..=high).contains(&v));
            }
        }
        d.push(t, v);
    }
    assert!(inside * 100 >= judged * 98, "{inside} of {judged} inside");
    // The band follows the daily cycle (±10): its centre at the day's
    // peak (6:00) sits well above its centre at the trough (18:00).
    let next_day = START + 7 * 86_400;
    let centre = |t| d.expected(t).map(|(low, high)| (low + high) / 2.0).unwrap();
    let (peak, trough) = (centre(next_day + 6 * 3600), centre(next_day + 18 * 3600));
    assert!(peak - trough > 15.0, "{peak} vs {trough}");
    let (low, high) = d.expected(next_day).unwrap();
    assert!(high - low < 25.0, "{low}..{high}");
}

#[test]
fn explanations_have_names() {
    assert_eq!(Explanation::LevelShift.describe(), "level shift");
    assert_eq!(
        Explanation::BrokenWeeklyPattern.name(),
        "broken_weekly_pattern"
    );
}

/// A lone spike is one event, over within the hold of 12 samples: the
/// usual samples after it are not a "new distribution". (The spike used
/// to widen the histogram's bins, so every usual sample after it fell in
/// one bin and rarities climbed back to 0.55 for half an hour.)
#[test]
fn a_lone_spike_leaves_no_lingering_event() {
    let mut d = Detector::new(Params::default());
    for m in 0..500i64 {
        let x = (m as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        let noise = x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        let v = if m == 400 { 0.95 } else { 0.20 + 0.02 * noise };
        let verdict = d.push(m * 60, v);
        if m > 400 {
            assert!(verdict.rarity < 0.3, "minute {m}: {verdict:?}");
        }
        if m > 400 + 12 {
            assert_eq!(verdict.explanation, None, "minute {m}: {verdict:?}");
        }
    }
}

/// The events (rows where an explanation appears) of a fresh detector.
fn events(points: &[(i64, f64)]) -> Vec<(usize, Explanation)> {
    let mut open = false;
    let mut found = Vec::new();
    let mut d = Detector::new(Params::default());
    for (i, &(t, v)) in points.iter().enumerate() {
        let verdict = d.push(t, v);
        if let (false, Some(e)) = (open, verdict.explanation) {
            found.push((i, e));
        }
        open = verdict.explanation.is_some();
    }
    found
}

/// Server-like series that are usual for what they are raise no stream
/// of events: a cron job's spike every hour on a daily cycle, a counter
/// that grows and is reset every day, a constant. Three weeks of
/// 5-minute samples, five seeds; after the first two days (while the
/// detector learns what is usual) at most two events per series (the
/// cron series of one seed has two brief trend changes).
#[test]
fn usual_server_series_do_not_flood() {
    let day = 288;
    for seed in SEEDS {
        let cron = series(6000, seed, |i, v| if i % 12 == 0 { v + 25.0 } else { v });
        let mut noise = Noise(seed + 7);
        let mut counter = 0.0;
        let resets: Vec<(i64, f64)> = (0..6000)
            .map(|i| {
                if i % day == 0 {
                    counter = 0.0;
                }
                counter += 100.0 + 10.0 * noise.next();
                (START + i as i64 * STEP, counter)
            })
            .collect();
        let constant: Vec<_> = (0..6000).map(|i| (START + i as i64 * STEP, 42.0)).collect();
        for (name, points) in [("cron", cron), ("counter", resets), ("constant", constant)] {
            let late: Vec<_> = events(&points)
                .into_iter()
                .filter(|(row, _)| *row >= 2 * day)
                .collect();
            assert!(late.len() <= 2, "{name}, seed {seed}: {late:?}");
        }
    }
}

/// A new high beyond everything the series has shown is an event, even
/// when it is modest for a spike: at the daily peak (6:00, usually 50 ±
/// 1.5) a sample of 57 (without the record rule, no seed flags it). It is
/// explained by its shape (a spike, or a broken daily pattern).
#[test]
fn a_record_high_is_an_event() {
    let row = 72 + 288 * 8;
    for seed in SEEDS {
        let points = series(3000, seed, |i, v| if i == row { 57.0 } else { v });
        let found = events(&points);
        assert!(
            found.iter().any(|(r, _)| *r == row),
            "seed {seed}: {found:?}"
        );
    }
}

/// A slow leak (+0.05 a sample: it takes 30 samples to grow by one
/// noise deviation, under a daily swing of ±10) is flagged as a trend
/// change within 350 rows, when its level leaves the range the level
/// has ever had; nothing before it.
#[test]
fn a_slow_leak_is_flagged_as_a_trend_change() {
    let start = 2000;
    for seed in SEEDS {
        let points = series(4000, seed, |i, v| {
            if i >= start {
                v + 0.05 * (i - start) as f64
            } else {
                v
            }
        });
        let found = events(&points);
        assert!(
            found
                .iter()
                .any(|&(r, e)| (start..start + 350).contains(&r) && e == Explanation::TrendChange),
            "seed {seed}: {found:?}"
        );
        assert!(
            found.iter().all(|&(r, _)| r >= start || r < 300),
            "seed {seed}: {found:?}"
        );
    }
}

/// The events of a fresh detector with `params` after the first two days.
fn late_events(params: Params, points: &[(i64, f64)]) -> Vec<(usize, Explanation)> {
    let mut open = false;
    let mut found = Vec::new();
    let mut d = Detector::new(params);
    for (i, &(t, v)) in points.iter().enumerate() {
        let verdict = d.push(t, v);
        if let (false, Some(e)) = (open, verdict.explanation) {
            found.push((i, e));
        }
        open = verdict.explanation.is_some();
    }
    found.retain(|(row, _)| *row >= 2 * 288);
    found
}

/// The rules of NAB.md rows 43 to 45 off: no evidence floor, no rise
/// within an event, no recall of yesterday.
fn before_rows_43_to_45() -> Params {
    Params {
        evidence: 0.0,
        rise: 0.0,
        recall: false,
        ..Params::default()
    }
}

/// Server-like series of our own making, three weeks of 5-minute samples:
/// a nightly backup (+25 for 15 minutes at 3:00, give or take 20 minutes),
/// a noisy but normal web latency (log-normal, a heavy tail), a disk
/// filling steadily, a memory leak with a garbage collector's sawtooth.
fn server_like(seed: u64) -> Vec<(&'static str, Vec<(i64, f64)>)> {
    let mut noise = Noise(seed + 13);
    let mut jitter = 0i64;
    let backup = series(6000, seed, |i, v| {
        let minute = (i as i64 * 5) % 1440;
        if minute == 0 {
            jitter = (noise.next() * 10.0).round() as i64 * 5 - 5;
        }
        let from = 180 + jitter.clamp(-20, 20);
        if (from..from + 15).contains(&minute) {
            v + 25.0
        } else {
            v
        }
    });
    let mut noise = Noise(seed + 17);
    let latency = (0..6000)
        .map(|i| (START + i as i64 * STEP, 120.0 * (0.4 * noise.next()).exp()))
        .collect();
    let mut noise = Noise(seed + 19);
    let disk = (0..6000)
        .map(|i| {
            let v = 20.0 + 0.01 * i as f64 + 0.05 * noise.next();
            (START + i as i64 * STEP, v)
        })
        .collect();
    let mut noise = Noise(seed + 23);
    let memory = (0..6000)
        .map(|i| {
            let sawtooth = (i % 36) as f64 * 0.5;
            let v = 2000.0 + 0.2 * i as f64 + sawtooth + 2.0 * noise.next();
            (START + i as i64 * STEP, v)
        })
        .collect();
    let mut noise = Noise(seed + 29);
    let mut at = 0i64;
    let nightly = (0..6000)
        .map(|i| {
            let minute = (i as i64 * 5) % 1440;
            if minute == 0 {
                at = 195 + 5 * ((noise.next() * 3.0).round() as i64).clamp(-4, 4);
            }
            let idle = 0.1 + 0.03 * noise.next().abs();
            (
                START + i as i64 * STEP,
                if minute == at { 1.4 } else { idle },
            )
        })
        .collect();
    vec![
        ("nightly", nightly),
        ("backup", backup),
        ("latency", latency),
        ("disk", disk),
        ("memory", memory),
    ]
}

/// The rules of NAB.md rows 43 to 45 (an alarm needs two noise units of
/// evidence, a further alarm within an event ten times the rarity, and no
/// repeat of yesterday's rarity at this time of day) add no event to any
/// of these series, and take some away: the noisy latency raises at most
/// two events in 19 days for every seed (three before, for one seed).
#[test]
fn server_like_series_raise_no_more_events_than_before() {
    for seed in SEEDS {
        for (name, points) in server_like(seed) {
            let now = late_events(Params::default(), &points);
            let before = late_events(before_rows_43_to_45(), &points);
            assert!(
                now.len() <= before.len(),
                "{name}, seed {seed}: {now:?}, before {before:?}"
            );
            let most = match name {
                "latency" => 2,
                "backup" => 3,
                // A steady climb from the start: its first days
                // (pre-existing, see NAB.md).
                "disk" | "memory" => 5,
                _ => usize::MAX,
            };
            assert!(now.len() <= most, "{name}, seed {seed}: {now:?}");
        }
    }
}

/// A job at about 3:15 every night (give or take 20 minutes) that takes an
/// idle CPU to 1.4 for one sample is an event on at most 9 of 19 nights
/// (it was one on 19 to 21 before yesterday's rarity was recalled).
#[test]
fn a_nightly_job_is_a_repeat_not_a_nightly_event() {
    for seed in SEEDS {
        let (_, points) = server_like(seed).remove(0);
        let now = late_events(Params::default(), &points);
        let before = late_events(before_rows_43_to_45(), &points);
        assert!(now.len() <= 9, "seed {seed}: {now:?}");
        assert!(before.len() >= 18, "seed {seed}: {before:?}");
    }
}
