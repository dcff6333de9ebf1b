//! Recurring incidents found as problems without anyone asking. An
//! occurrence is one alert (or incident) with its signature: the monitor,
//! a check, a script error, a log template. Two kinds of rule:
//!
//! - **spread**: one signature on at least `min_devices` devices and at
//!   least `min_count` times within any `window_ms` (an error spreading
//!   across the fleet);
//! - **repeat**: one signature on one device at least `min_count` times
//!   within any `window_ms` (the same thing breaking again and again).
//!
//! A problem already on record is updated, not duplicated; a resolved one
//! whose occurrences keep coming is reopened.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub signature: String,
    pub device: String,
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    Spread {
        window_ms: i64,
        min_count: usize,
        min_devices: usize,
    },
    Repeat {
        window_ms: i64,
        min_count: usize,
    },
}

impl Rule {
    /// The defaults: ITIL's example (more than 10 on one item within 3
    /// hours) as a repeat, and 10 devices within a day as a spread.
    pub const DEFAULTS: [Rule; 2] = [
        Rule::Repeat {
            window_ms: 3 * 3_600_000,
            min_count: 10,
        },
        Rule::Spread {
            window_ms: 24 * 3_600_000,
            min_count: 10,
            min_devices: 10,
        },
    ];

    /// Why a rule cannot work, in words.
    pub fn check(&self) -> Result<(), String> {
        let (window, count) = match *self {
            Rule::Spread {
                window_ms,
                min_count,
                min_devices,
            } => {
                if min_devices < 2 {
                    return Err("a spread rule needs min_devices of 2 or more (one device is a repeat rule)".into());
                }
                (window_ms, min_count)
            }
            Rule::Repeat {
                window_ms,
                min_count,
            } => (window_ms, min_count),
        };
        if window <= 0 {
            return Err("a rule's window must be longer than zero".into());
        }
        if count < 2 {
            return Err(
                "a rule needs min_count of 2 or more: one occurrence is an incident, not a problem"
                    .into(),
            );
        }
        Ok(())
    }
}

/// A problem found: which rule, the signature, and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub rule: Rule,
    pub signature: String,
    /// The one device of a repeat; every device of a spread.
    pub devices: BTreeSet<String>,
    /// Occurrences of the signature (on those devices) in the input.
    pub count: usize,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Problems in `occurrences` (any order) under `rules`: at most one per
/// rule and signature (and device, for repeats).
pub fn find(rules: &[Rule], occurrences: &[Occurrence]) -> Vec<Found> {
    let mut by_signature: BTreeMap<&str, Vec<&Occurrence>> = BTreeMap::new();
    for o in occurrences {
        by_signature.entry(&o.signature).or_default().push(o);
    }
    for list in by_signature.values_mut() {
        list.sort_by_key(|o| (o.at, o.device.clone()));
    }
    let mut found = Vec::new();
    for rule in rules.iter().filter(|r| r.check().is_ok()) {
        for (signature, list) in &by_signature {
            match *rule {
                Rule::Spread {
                    window_ms,
                    min_count,
                    min_devices,
                } => {
                    if dense(list, window_ms, min_count, min_devices) {
                        found.push(summarise(*rule, signature, list));
                    }
                }
                Rule::Repeat {
                    window_ms,
                    min_count,
                } => {
                    let mut per_device: BTreeMap<&str, Vec<&Occurrence>> = BTreeMap::new();
                    for o in list {
                        per_device.entry(&o.device).or_default().push(o);
                    }
                    for on_one in per_device.values() {
                        if dense(on_one, window_ms, min_count, 1) {
                            found.push(summarise(*rule, signature, on_one));
                        }
                    }
                }
            }
        }
    }
    found
}

/// Whether some window of `window_ms` holds `min_count` occurrences on
/// `min_devices` distinct devices (`list` sorted by time): two pointers
/// and a count per device, one pass.
fn dense(list: &[&Occurrence], window_ms: i64, min_count: usize, min_devices: usize) -> bool {
    let mut devices: HashMap<&str, usize> = HashMap::new();
    let mut start = 0;
    for (end, o) in list.iter().enumerate() {
        *devices.entry(&o.device).or_default() += 1;
        while o.at.saturating_sub(list[start].at) >= window_ms {
            let gone = &list[start].device;
            if let Some(n) = devices.get_mut(gone.as_str()) {
                *n -= 1;
                if *n == 0 {
                    devices.remove(gone.as_str());
                }
            }
            start += 1;
        }
        if end + 1 - start >= min_count && devices.len() >= min_devices {
            return true;
        }
    }
    false
}

fn summarise(rule: Rule, signature: &str, list: &[&Occurrence]) -> Found {
    Found {
        rule,
        signature: signature.to_string(),
        devices: list.iter().map(|o| o.device.clone()).collect(),
        count: list.len(),
        first_seen: list.first().map_or(0, |o| o.at),
        last_seen: list.last().map_or(0, |o| o.at),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    /// Root cause and workaround known.
    KnownError,
    Resolved,
}

/// What is on record of a problem with the same rule and signature.
#[derive(Debug, Clone, PartialEq)]
pub struct OnRecord {
    pub status: Status,
    pub last_seen: i64,
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A new problem record.
    Open,
    /// The record's count, devices and last seen move on.
    Update,
    /// Resolved, yet it happened again after: open again.
    Reopen,
    /// Nothing new.
    Nothing,
}

pub fn decide(record: Option<&OnRecord>, found: &Found) -> Decision {
    match record {
        None => Decision::Open,
        Some(r) if r.status == Status::Resolved => {
            if found.last_seen > r.resolved_at.unwrap_or(r.last_seen) {
                Decision::Reopen
            } else {
                Decision::Nothing
            }
        }
        Some(r) if found.last_seen > r.last_seen => Decision::Update,
        Some(_) => Decision::Nothing,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Rising,
    Steady,
    Falling,
}

/// Occurrences in the last `window_ms` before `now` against the window
/// before it: rising or falling when they differ by half or more (and by
/// at least two).
pub fn trend(times: &[i64], now: i64, window_ms: i64) -> Trend {
    let count = |from: i64, to: i64| times.iter().filter(|&&t| t > from && t <= to).count();
    let edge = now.saturating_sub(window_ms);
    let recent = count(edge, now);
    let before = count(edge.saturating_sub(window_ms), edge);
    let (hi, lo) = (recent.max(before), recent.min(before));
    if hi - lo < 2 || 2 * hi < 3usize.saturating_mul(lo) {
        Trend::Steady
    } else if recent > before {
        Trend::Rising
    } else {
        Trend::Falling
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;

    fn at(signature: &str, device: &str, at: i64) -> Occurrence {
        Occurrence {
            signature: signature.into(),
            device: device.into(),
            at,
        }
    }

    fn spread() -> Rule {
        Rule::Spread {
            window_ms: HOUR,
            min_count: 20,
            min_devices: 10,
        }
    }

    fn five_a_day() -> Rule {
        Rule::Repeat {
            window_ms: 24 * HOUR,
            min_count: 5,
        }
    }

    #[test]
    fn twenty_alerts_across_ten_devices_within_the_window_are_one_problem() {
        let occurrences: Vec<Occurrence> = (0..20)
            .map(|i| at("monitor:disk", &format!("d{:02}", i % 10), i * MINUTE))
            .collect();
        let found = find(&[spread()], &occurrences);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (
                found[0].devices.len(),
                found[0].count,
                found[0].first_seen,
                found[0].last_seen
            ),
            (10, 20, 0, 19 * MINUTE)
        );
        // Spread over more than the window, or over too few devices: none.
        let slow: Vec<Occurrence> = (0..20)
            .map(|i| at("monitor:disk", &format!("d{:02}", i % 10), i * 4 * MINUTE))
            .collect();
        assert!(find(&[spread()], &slow).is_empty());
        let narrow: Vec<Occurrence> = (0..20)
            .map(|i| at("monitor:disk", &format!("d{}", i % 9), i * MINUTE))
            .collect();
        assert!(find(&[spread()], &narrow).is_empty());
        // Other signatures are other problems (or none).
        let mut mixed = occurrences.clone();
        mixed.push(at("monitor:cpu", "d01", 0));
        assert_eq!(find(&[spread()], &mixed).len(), 1);
    }

    #[test]
    fn the_same_monitor_five_times_a_day_on_one_device_is_a_problem() {
        let mut occurrences: Vec<Occurrence> = (0..5)
            .map(|i| at("monitor:service", "web-1", i * 3 * HOUR))
            .collect();
        // Four on another device, and the same five spread over a week.
        occurrences.extend((0..4).map(|i| at("monitor:service", "web-2", i * HOUR)));
        occurrences.extend((0..5).map(|i| at("monitor:service", "web-3", i * 40 * HOUR)));
        let found = find(&[five_a_day(), spread()], &occurrences);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, five_a_day());
        assert_eq!(
            found[0].devices.iter().collect::<Vec<_>>(),
            ["web-1"],
            "{found:?}"
        );
        assert_eq!(found[0].count, 5);
    }

    #[test]
    fn unordered_input_and_edges_of_the_window() {
        let rule = Rule::Repeat {
            window_ms: 10,
            min_count: 3,
        };
        // 0, 5, 9 fit in [0, 10); 0, 5, 10 do not.
        let check = |times: &[i64], expected: bool| {
            let list: Vec<Occurrence> = times.iter().rev().map(|&t| at("s", "d", t)).collect();
            assert_eq!(!find(&[rule], &list).is_empty(), expected, "{times:?}");
        };
        check(&[0, 5, 9], true);
        check(&[0, 5, 10], false);
        check(&[0, 5, 10, 12], true);
        check(&[], false);
    }

    #[test]
    fn rules_that_cannot_work_are_refused_and_skipped() {
        for (rule, says) in [
            (
                Rule::Repeat {
                    window_ms: 0,
                    min_count: 5,
                },
                "window",
            ),
            (
                Rule::Repeat {
                    window_ms: 10,
                    min_count: 1,
                },
                "min_count",
            ),
            (
                Rule::Spread {
                    window_ms: 10,
                    min_count: 5,
                    min_devices: 1,
                },
                "min_devices",
            ),
        ] {
            assert!(rule.check().unwrap_err().contains(says), "{rule:?}");
            assert!(find(&[rule], &[at("s", "d", 0), at("s", "d", 1)]).is_empty());
        }
        for rule in Rule::DEFAULTS {
            rule.check().unwrap();
        }
    }

    #[test]
    fn a_record_is_updated_and_a_resolved_problem_that_recurs_is_reopened() {
        let found = Found {
            rule: five_a_day(),
            signature: "monitor:service".into(),
            devices: ["web-1".to_string()].into(),
            count: 5,
            first_seen: 0,
            last_seen: 100,
        };
        let record = |status, last_seen, resolved_at| OnRecord {
            status,
            last_seen,
            resolved_at,
        };
        assert_eq!(decide(None, &found), Decision::Open);
        assert_eq!(
            decide(Some(&record(Status::Open, 50, None)), &found),
            Decision::Update
        );
        assert_eq!(
            decide(Some(&record(Status::KnownError, 100, None)), &found),
            Decision::Nothing
        );
        // Resolved at 80, seen again at 100: the fix did not hold.
        assert_eq!(
            decide(Some(&record(Status::Resolved, 60, Some(80))), &found),
            Decision::Reopen
        );
        // Resolved after the last occurrence: the incidents stopped.
        assert_eq!(
            decide(Some(&record(Status::Resolved, 100, Some(120))), &found),
            Decision::Nothing
        );
    }

    #[test]
    fn trends_compare_the_last_window_with_the_one_before() {
        let check = |times: &[i64], expected: Trend| {
            assert_eq!(trend(times, 100, 50), expected, "{times:?}")
        };
        check(&[10, 20, 60, 70, 80, 90], Trend::Rising);
        check(&[10, 20, 30, 40, 90], Trend::Falling);
        check(&[10, 20, 60, 70], Trend::Steady);
        check(&[60], Trend::Steady);
        check(&[], Trend::Steady);
    }
}
