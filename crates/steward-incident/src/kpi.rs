//! The KPIs IT leads track, computed from history with their definitions
//! stated: availability (maintenance excluded), MTTA and MTTR as medians
//! and 90th percentiles beside means, and alert noise. A period with no
//! data gives `None`, never a division by zero.

use crate::span::{Span, covered, overlap};
use serde::Serialize;

/// Each KPI's definition, as reports print it beside the figure.
pub const DEFINITIONS: &[(&str, &str)] = &[
    (
        "availability",
        "100 % − downtime ÷ scheduled time: scheduled time is the period less maintenance windows, downtime is time offline outside them.",
    ),
    (
        "mtta",
        "Time from an incident opening to its first acknowledgement (work starts), over incidents acknowledged in the period: median and 90th percentile beside the mean.",
    ),
    (
        "mttr",
        "Time from an incident opening to its resolution by a person, over incidents resolved in the period; incidents whose condition cleared by itself are counted apart, as they would flatter it.",
    ),
    (
        "incident_volume",
        "Incidents opened in the period (by alerting or by hand), and of them those still open or acknowledged at its end.",
    ),
    (
        "open_problems",
        "Problem records (recurring incidents found by the problem rules) not resolved at the end of the period.",
    ),
    (
        "patch_compliance",
        "The share of reporting devices with no security update pending longer than the compliance threshold (14 days).",
    ),
    (
        "backup_success",
        "The share of backup runs with a known outcome in the period that left a copy (succeeded, or completed with a warning).",
    ),
    (
        "noise",
        "Alerts per device; the shares of alerts healed by automation, suppressed (silence, maintenance, dependency) and acknowledged without any action taken.",
    ),
];

/// A device's (or service's) availability over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Availability {
    pub period_ms: i64,
    /// Maintenance inside the period (not scheduled time).
    pub maintenance_ms: i64,
    /// Offline outside maintenance.
    pub downtime_ms: i64,
    /// `1 − downtime ÷ (period − maintenance)`; None when nothing of the
    /// period was scheduled.
    pub ratio: Option<f64>,
}

pub fn availability(period: Span, down: &[Span], maintenance: &[Span]) -> Availability {
    let maintenance_ms = covered(maintenance, &period);
    let down_in: Vec<Span> = down.iter().filter_map(|d| d.clip(&period)).collect();
    let maintenance_in: Vec<Span> = maintenance.iter().filter_map(|m| m.clip(&period)).collect();
    let downtime_ms = covered(&down_in, &period) - overlap(&down_in, &maintenance_in);
    let scheduled = period.len() - maintenance_ms;
    Availability {
        period_ms: period.len(),
        maintenance_ms,
        downtime_ms,
        ratio: (scheduled > 0).then(|| 1.0 - downtime_ms as f64 / scheduled as f64),
    }
}

/// Offline spans within `period` from status changes `(at, online)`
/// sorted by time; `online_before` is the state when the period starts.
pub fn offline_spans(online_before: bool, changes: &[(i64, bool)], period: Span) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut offline_since = (!online_before).then_some(period.start);
    for &(at, online) in changes {
        let at = at.clamp(period.start, period.end);
        match (online, offline_since) {
            (false, None) => offline_since = Some(at),
            (true, Some(since)) => {
                spans.push(Span::new(since, at));
                offline_since = None;
            }
            _ => {}
        }
    }
    if let Some(since) = offline_since {
        spans.push(Span::new(since, period.end));
    }
    spans.retain(|s| !s.is_empty());
    spans
}

/// Durations summarised: count, mean, median and 90th percentile (ms).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub mean: Option<f64>,
    /// The middle value (the mean of the two middle ones for an even count).
    pub median: Option<f64>,
    /// Nearest rank: the smallest value at least 90 % of values do not
    /// exceed.
    pub p90: Option<f64>,
}

pub fn summarize(values: &[i64]) -> Summary {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    if n == 0 {
        return Summary {
            count: 0,
            mean: None,
            median: None,
            p90: None,
        };
    }
    let mean = sorted.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let median = if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    };
    // ceil(0.9 n) without floating point: (9n + 9) / 10.
    let rank = (9 * n).div_ceil(10).max(1);
    Summary {
        count: n,
        mean: Some(mean),
        median: Some(median),
        p90: Some(sorted[rank - 1] as f64),
    }
}

/// What MTTA and MTTR need of an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentTimes {
    pub opened_at: i64,
    pub acknowledged_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// Resolved because its condition cleared, not by a person.
    pub cleared_by_itself: bool,
}

pub fn mtta(incidents: &[IncidentTimes]) -> Summary {
    let waits: Vec<i64> = incidents
        .iter()
        .filter_map(|i| {
            i.acknowledged_at
                .map(|a| a.saturating_sub(i.opened_at).max(0))
        })
        .collect();
    summarize(&waits)
}

/// MTTR over incidents people resolved, and how many cleared by themselves.
pub fn mttr(incidents: &[IncidentTimes]) -> (Summary, usize) {
    let repairs: Vec<i64> = incidents
        .iter()
        .filter(|i| !i.cleared_by_itself)
        .filter_map(|i| i.resolved_at.map(|r| r.saturating_sub(i.opened_at).max(0)))
        .collect();
    let cleared = incidents
        .iter()
        .filter(|i| i.cleared_by_itself && i.resolved_at.is_some())
        .count();
    (summarize(&repairs), cleared)
}

/// What noise figures need of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFacts {
    pub device: String,
    pub auto_remediated: bool,
    pub suppressed: bool,
    pub acknowledged: bool,
    /// Someone ran a job, changed something or wrote a note on it.
    pub acted_on: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Noise {
    pub alerts: usize,
    pub devices: usize,
    pub per_device: Option<f64>,
    pub auto_remediated: Option<f64>,
    pub suppressed: Option<f64>,
    pub acknowledged_without_action: Option<f64>,
}

/// Noise of `alerts` over a fleet of `devices` devices.
pub fn noise(alerts: &[AlertFacts], devices: usize) -> Noise {
    let n = alerts.len();
    let share = |f: &dyn Fn(&AlertFacts) -> bool| {
        (n > 0).then(|| alerts.iter().filter(|a| f(a)).count() as f64 / n as f64)
    };
    Noise {
        alerts: n,
        devices,
        per_device: (devices > 0).then(|| n as f64 / devices as f64),
        auto_remediated: share(&|a| a.auto_remediated),
        suppressed: share(&|a| a.suppressed),
        acknowledged_without_action: share(&|a| a.acknowledged && !a.acted_on),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const MONTH: Span = Span {
        start: 0,
        end: 30 * 24 * HOUR,
    };

    fn percent(ratio: Option<f64>) -> String {
        ratio.map_or("no data".into(), |r| format!("{:.2} %", r * 100.0))
    }

    #[test]
    fn availability_counts_downtime_outside_maintenance_only() {
        let check = |down: &[Span], maintenance: &[Span], expected: &str| {
            let got = availability(MONTH, down, maintenance);
            assert_eq!(
                percent(got.ratio),
                expected,
                "{down:?} {maintenance:?}: {got:?}"
            );
        };
        // 3.6 h offline in a 30-day month.
        let outage = Span::new(100 * HOUR, 100 * HOUR + 36 * HOUR / 10);
        check(&[outage], &[], "99.50 %");
        check(&[], &[], "100.00 %");
        // The same outage reported twice counts once.
        check(&[outage, outage], &[], "99.50 %");
        // One hour of it inside a maintenance window: 2.6 h of 719 h.
        let window = Span::new(100 * HOUR, 101 * HOUR);
        check(&[outage], &[window], "99.64 %");
        // Wholly inside maintenance: no downtime.
        check(&[window], &[window], "100.00 %");
        // Offline before and after the period: only the inside counts
        // (60 of 43,200 minutes, the anchor's example).
        check(&[Span::new(-5 * HOUR, HOUR)], &[], "99.86 %");
        // All maintenance: nothing was scheduled, no figure.
        check(&[], &[MONTH], "no data");
    }

    #[test]
    fn offline_spans_follow_status_changes() {
        let period = Span::new(0, 100);
        assert_eq!(
            offline_spans(true, &[(10, false), (20, true), (90, false)], period),
            [Span::new(10, 20), Span::new(90, 100)]
        );
        assert_eq!(
            offline_spans(false, &[(30, true)], period),
            [Span::new(0, 30)]
        );
        // Repeats and changes outside the period are harmless.
        assert_eq!(
            offline_spans(true, &[(-10, false), (40, false), (150, true)], period),
            [Span::new(0, 100)]
        );
        assert!(offline_spans(true, &[], period).is_empty());
    }

    #[test]
    fn summaries_give_median_and_p90_beside_the_mean() {
        let check = |values: &[i64], mean: f64, median: f64, p90: f64| {
            let s = summarize(values);
            assert_eq!(
                (s.count, s.mean, s.median, s.p90),
                (values.len(), Some(mean), Some(median), Some(p90)),
                "{values:?}"
            );
        };
        check(&[5], 5.0, 5.0, 5.0);
        check(&[1, 2, 3, 4], 2.5, 2.5, 4.0);
        // One slow outlier moves the mean, not the median.
        check(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], 104.5, 5.5, 9.0);
        check(
            &[10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110],
            60.0,
            60.0,
            100.0,
        );
        assert_eq!(summarize(&[]).mean, None);
    }

    #[test]
    fn mtta_and_mttr_from_known_timestamps() {
        let minute = 60_000;
        let incident = |ack: Option<i64>, resolved: Option<i64>, cleared: bool| IncidentTimes {
            opened_at: 1_000_000,
            acknowledged_at: ack.map(|m| 1_000_000 + m * minute),
            resolved_at: resolved.map(|m| 1_000_000 + m * minute),
            cleared_by_itself: cleared,
        };
        let incidents = [
            incident(Some(2), Some(30), false),
            incident(Some(4), Some(60), false),
            incident(Some(6), Some(90), false),
            incident(Some(40), Some(600), false),
            incident(None, Some(5), true),
            incident(None, None, false),
        ];
        let a = mtta(&incidents);
        assert_eq!(
            (a.count, a.median, a.p90, a.mean),
            (
                4,
                Some(5.0 * minute as f64),
                Some(40.0 * minute as f64),
                Some(13.0 * minute as f64)
            )
        );
        let (r, cleared) = mttr(&incidents);
        assert_eq!(
            (r.count, r.median, r.p90, cleared),
            (
                4,
                Some(75.0 * minute as f64),
                Some(600.0 * minute as f64),
                1
            )
        );
    }

    #[test]
    fn noise_shares_and_an_empty_period() {
        let alert =
            |device: &str, auto: bool, suppressed: bool, ack: bool, acted: bool| AlertFacts {
                device: device.into(),
                auto_remediated: auto,
                suppressed,
                acknowledged: ack,
                acted_on: acted,
            };
        let alerts = [
            alert("a", true, false, false, false),
            alert("a", false, true, false, false),
            alert("b", false, false, true, false),
            alert("b", false, false, true, true),
        ];
        let n = noise(&alerts, 8);
        assert_eq!(
            (
                n.per_device,
                n.auto_remediated,
                n.suppressed,
                n.acknowledged_without_action
            ),
            (Some(0.5), Some(0.25), Some(0.25), Some(0.25))
        );
        let empty = noise(&[], 0);
        assert_eq!((empty.per_device, empty.suppressed), (None, None));
    }

    #[test]
    fn extreme_times_give_figures_not_panics() {
        let all = Span::new(i64::MIN, i64::MAX);
        let got = availability(all, &[Span::new(i64::MIN, 0)], &[]);
        assert!(
            got.ratio.is_some_and(|r| (0.0..=1.0).contains(&r)),
            "{got:?}"
        );
        let times = IncidentTimes {
            opened_at: i64::MIN,
            acknowledged_at: Some(i64::MAX),
            resolved_at: Some(i64::MAX),
            cleared_by_itself: false,
        };
        assert_eq!(mtta(std::slice::from_ref(&times)).count, 1);
        assert_eq!(
            crate::problems::trend(&[i64::MIN, i64::MAX], i64::MIN, i64::MAX),
            crate::problems::Trend::Steady
        );
    }

    #[test]
    fn every_kpi_has_a_definition() {
        for key in [
            "availability",
            "mtta",
            "mttr",
            "noise",
            "incident_volume",
            "open_problems",
            "patch_compliance",
            "backup_success",
        ] {
            assert!(
                DEFINITIONS
                    .iter()
                    .any(|(k, text)| *k == key && text.len() > 40),
                "{key}"
            );
        }
    }
}
