//! Anomaly monitors: a series unlike its own history for a while raises
//! one alert naming what is unusual; it resolves when the series is usual
//! again; bad input neither panics nor alerts; a take-over rebuilds the
//! detector from replayed history.

use super::*;
use crate::flapping::FlapRule;

const MINUTE: Millis = 60_000;
/// Minutes of usual history before anything happens.
const USUAL: i64 = 400;

fn target() -> Target {
    Target {
        device: "d".into(),
        site: "hq".into(),
        tags: vec![],
        os: String::new(),
    }
}

fn anomalous_for(for_ms: Millis) -> Monitor {
    Monitor {
        id: "odd".into(),
        org_id: "o".into(),
        name: "CPU unlike itself".into(),
        spec: MonitorSpec::Anomaly {
            metric: "system.cpu.utilization".into(),
            labels: BTreeMap::new(),
            min_score: 0.5,
            for_ms,
        },
        applies_to: Default::default(),
        exclude: Default::default(),
        remediation: None,
    }
}

fn engine(for_ms: Millis) -> Engine {
    let mut engine = Engine::new(FlapRule::default());
    engine.set_monitors(vec![anomalous_for(for_ms)]);
    engine
}

/// Deterministic noise in [-1, 1].
fn noise(i: i64) -> f64 {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// CPU around 20 % (± 2) each minute, with `event(minute)` instead where
/// it says so.
fn cpu(minutes: std::ops::Range<i64>, event: impl Fn(i64) -> Option<f64>) -> Vec<(Millis, f64)> {
    minutes
        .map(|m| (m * MINUTE, event(m).unwrap_or(0.20 + 0.02 * noise(m))))
        .collect()
}

fn feed(engine: &mut Engine, samples: &[(Millis, f64)]) -> Vec<Change> {
    samples
        .iter()
        .flat_map(|&(at, value)| {
            engine.on_sample(
                &target(),
                "o",
                "system.cpu.utilization",
                &BTreeMap::new(),
                at,
                value,
            )
        })
        .collect()
}

fn level_shift(m: i64) -> Option<f64> {
    (USUAL..USUAL + 30)
        .contains(&m)
        .then(|| 0.85 + 0.02 * noise(m))
}

#[test]
fn a_level_shift_held_for_five_minutes_raises_one_alert_naming_it() {
    let mut engine = engine(5 * MINUTE);
    let changes = feed(&mut engine, &cpu(0..USUAL + 120, level_shift));
    let opened: Vec<&Change> = changes
        .iter()
        .filter(|c| c.severity != Severity::Ok)
        .collect();
    assert_eq!(opened.len(), 1, "{changes:#?}");
    let open = opened[0];
    assert_eq!(open.severity, Severity::Warning);
    // Not before it held five minutes, not long after.
    let minute = open.at / MINUTE;
    assert!(
        (USUAL + 5..=USUAL + 8).contains(&minute),
        "opened at {minute}"
    );
    assert!(
        open.summary.contains("is anomalous: level shift") && open.summary.contains("expected"),
        "{}",
        open.summary
    );
    // It resolves once the series is back to usual, once.
    let resolved: Vec<&Change> = changes
        .iter()
        .filter(|c| c.severity == Severity::Ok)
        .collect();
    assert_eq!(resolved.len(), 1, "{changes:#?}");
    assert!(resolved[0].at / MINUTE >= USUAL + 30);
    assert!(resolved[0].summary.contains("back to usual"));
}

#[test]
fn a_lone_spike_alerts_only_without_a_duration() {
    let spike = |m: i64| (m == USUAL).then_some(0.95);
    let held = feed(&mut engine(5 * MINUTE), &cpu(0..USUAL + 60, spike));
    assert!(held.is_empty(), "{held:#?}");
    let at_once = feed(&mut engine(0), &cpu(0..USUAL + 60, spike));
    assert_eq!(at_once[0].at, USUAL * MINUTE, "{at_once:#?}");
    assert!(at_once[0].summary.contains("spike"), "{at_once:#?}");
}

#[test]
fn usual_noise_constants_and_bad_input_raise_nothing() {
    // A day of usual noise.
    assert!(feed(&mut engine(0), &cpu(0..1440, |_| None)).is_empty());
    // A constant, duplicates and resends, older samples.
    let mut flat: Vec<(Millis, f64)> = (0..600).map(|m| (m * MINUTE, 0.5)).collect();
    flat.extend((0..600).map(|m| (m * MINUTE, 0.9)));
    assert!(feed(&mut engine(0), &flat).is_empty());
    // Absurd magnitudes (the largest a device may report) and non-finite
    // values: no panic, a finite summary.
    let mut e = engine(0);
    let absurd = cpu(0..USUAL + 10, |m| match m - USUAL {
        0 => Some(1e18),
        1 => Some(-1e18),
        2 => Some(f64::NAN),
        3 => Some(f64::INFINITY),
        _ => None,
    });
    for change in feed(&mut e, &absurd) {
        assert!(!change.summary.contains("NaN"), "{}", change.summary);
    }
}

#[test]
fn a_take_over_rebuilds_the_detector_from_replayed_history() {
    let past = |samples: Vec<(Millis, f64)>| -> Vec<PastSample> {
        samples
            .into_iter()
            .map(|(at, value)| PastSample {
                name: "system.cpu.utilization".into(),
                labels: BTreeMap::new(),
                at,
                value,
            })
            .collect()
    };
    let key = AlertKey {
        monitor: "odd".into(),
        device: "d".into(),
        subject: String::new(),
    };
    let held = [HeldAlert {
        key: key.clone(),
        severity: Severity::Warning,
        since: 0,
    }];
    // The plan asks for hours of the metric, not the hour a threshold
    // gets.
    let e = engine(5 * MINUTE);
    let plan = e.replay_plan(&target(), "o");
    assert_eq!(plan.metrics, ["system.cpu.utilization"]);
    assert_eq!(plan.lookback_ms, takeover::ANOMALY_REPLAY_MS);

    // Too little history to know what is usual: the open alert stands.
    let mut e = engine(5 * MINUTE);
    let changes = e.take_over(&target(), "o", &held, past(cpu(0..50, |_| None)));
    assert!(changes.is_empty(), "{changes:#?}");
    assert_eq!(e.severity(&key), Severity::Warning);
    // Once it has learnt, a usual series resolves it.
    let later = feed(&mut e, &cpu(50..200, |_| None));
    assert_eq!(later.len(), 1, "{later:#?}");
    assert_eq!(later[0].severity, Severity::Ok);

    // Enough usual history and an anomaly the old evaluator never
    // recorded: the take-over opens it.
    let mut e = engine(5 * MINUTE);
    let changes = e.take_over(&target(), "o", &[], past(cpu(0..USUAL + 10, level_shift)));
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert!(changes[0].summary.contains("level shift"), "{changes:#?}");
}

/// The server restarted while the alert was open, the shift just over:
/// the new evaluator replays the last hours (samples from before the
/// alert opened only teach its detector), keeps the alert, and resolves
/// it once the series is usual again: after it opened, never before.
#[test]
fn a_take_over_mid_event_keeps_the_alert_until_the_series_is_usual() {
    let samples = cpu(0..USUAL + 40, level_shift);
    let mut old = engine(5 * MINUTE);
    let opened = feed(&mut old, &samples);
    assert_eq!(opened.len(), 1, "{opened:#?}");
    let held = [HeldAlert {
        key: opened[0].key.clone(),
        severity: Severity::Warning,
        since: opened[0].at,
    }];
    let history: Vec<PastSample> = samples[100..]
        .iter()
        .map(|&(at, value)| PastSample {
            name: "system.cpu.utilization".into(),
            labels: BTreeMap::new(),
            at,
            value,
        })
        .collect();
    let mut new = engine(5 * MINUTE);
    let changes = new.take_over(&target(), "o", &held, history);
    assert!(changes.is_empty(), "{changes:#?}");
    let later = feed(&mut new, &cpu(USUAL + 40..USUAL + 120, |_| None));
    assert_eq!(later.len(), 1, "{later:#?}");
    assert_eq!(later[0].severity, Severity::Ok);
    assert!(later[0].at > opened[0].at);
    eprintln!("resolved at minute {}", later[0].at / MINUTE - USUAL);
}
