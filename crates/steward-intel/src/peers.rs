//! Fleet baselines: each device against its peers (devices sharing a tag
//! or an OS). For each measure (CPU, memory, disk, …) a device's distance
//! from its group is a robust standard score: (value − the group's
//! median) / (1.4826 × the group's median absolute deviation), the
//! deviation floored so a group of identical values does not make a
//! hair's difference an outlier. Pure: devices in, outliers out, furthest
//! first.

use std::collections::BTreeMap;

/// One device: the groups it belongs to and its measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub device: String,
    /// e.g. "tag:web", "os:Debian GNU/Linux 12".
    pub groups: Vec<String>,
    pub measures: BTreeMap<String, f64>,
}

/// A device far from its peers on one measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    pub device: String,
    pub group: String,
    pub measure: String,
    pub value: f64,
    pub peer_median: f64,
    /// Robust standard score (signed: above the peers is positive).
    pub distance: f64,
    /// Devices in the group (with a value of the measure).
    pub peers: usize,
}

/// Smallest group compared (fewer peers say little).
pub const MIN_GROUP: usize = 5;
/// Distance from which a device is listed.
pub const MIN_DISTANCE: f64 = 3.5;
/// Most groups and members considered (a bound on work and memory).
pub const MAX_MEMBERS: usize = 100_000;
pub const MAX_GROUPS_PER_MEMBER: usize = 16;

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The outliers of `members` (the first [`MAX_MEMBERS`], each in its
/// first [`MAX_GROUPS_PER_MEMBER`] groups; non-finite values ignored):
/// for each device and measure the group it stands furthest from, if at
/// least `min_distance`; furthest first. `floor(measure)` is the least
/// spread a group is taken to have (e.g. 0.02 for a utilisation ratio).
pub fn outliers(
    members: &[Member],
    min_distance: f64,
    floor: impl Fn(&str) -> f64,
) -> Vec<Outlier> {
    let members = &members[..members.len().min(MAX_MEMBERS)];
    // (group, measure) -> (member index, value)
    let mut groups: BTreeMap<(&str, &str), Vec<(usize, f64)>> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        for group in m.groups.iter().take(MAX_GROUPS_PER_MEMBER) {
            for (measure, &value) in &m.measures {
                if value.is_finite() {
                    groups.entry((group, measure)).or_default().push((i, value));
                }
            }
        }
    }
    let mut best: BTreeMap<(usize, &str), Outlier> = BTreeMap::new();
    for ((group, measure), values) in &groups {
        if values.len() < MIN_GROUP {
            continue;
        }
        let mut sorted: Vec<f64> = values.iter().map(|v| v.1).collect();
        sorted.sort_by(f64::total_cmp);
        let mid = median(&sorted);
        let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - mid).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        let spread = (1.4826 * median(&deviations))
            .max(floor(measure))
            .max(1e-12);
        for &(i, value) in values {
            let distance = (value - mid) / spread;
            if !distance.is_finite() || distance.abs() < min_distance {
                continue;
            }
            let slot = best.entry((i, measure));
            let candidate = Outlier {
                device: members[i].device.clone(),
                group: group.to_string(),
                measure: measure.to_string(),
                value,
                peer_median: mid,
                distance,
                peers: values.len(),
            };
            match slot {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(candidate);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    if candidate.distance.abs() > o.get().distance.abs() {
                        o.insert(candidate);
                    }
                }
            }
        }
    }
    let mut out: Vec<Outlier> = best.into_values().collect();
    out.sort_by(|a, b| {
        b.distance
            .abs()
            .total_cmp(&a.distance.abs())
            .then_with(|| a.device.cmp(&b.device))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: usize) -> f64 {
        let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    fn member(device: &str, groups: &[&str], cpu: f64, memory: f64) -> Member {
        Member {
            device: device.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            measures: [("cpu".to_string(), cpu), ("memory".to_string(), memory)].into(),
        }
    }

    fn ratio_floor(_: &str) -> f64 {
        0.02
    }

    /// Twenty web servers around 30 % CPU and 50 % memory, one at 92 %
    /// CPU, one a little high on memory; a database group of its own
    /// whose usual 80 % CPU is no outlier.
    #[test]
    fn the_outlier_of_a_peer_group_of_twenty_is_listed_first() {
        let mut members: Vec<Member> = (0..20)
            .map(|i| {
                member(
                    &format!("web-{i:02}"),
                    &["tag:web", "os:debian"],
                    0.30 + 0.03 * noise(i),
                    0.50 + 0.04 * noise(i + 100),
                )
            })
            .collect();
        members[7].measures.insert("cpu".into(), 0.92);
        members[12].measures.insert("memory".into(), 0.75);
        members.extend((0..6).map(|i| {
            member(
                &format!("db-{i}"),
                &["tag:db", "os:debian"],
                0.80 + 0.02 * noise(i + 200),
                0.90,
            )
        }));
        let found = outliers(&members, MIN_DISTANCE, ratio_floor);
        assert!(!found.is_empty());
        let first = &found[0];
        assert_eq!(
            (first.device.as_str(), first.measure.as_str()),
            ("web-07", "cpu"),
            "{found:#?}"
        );
        assert_eq!(first.group, "tag:web");
        assert_eq!(first.peers, 20);
        assert!(first.distance > 10.0, "{first:?}");
        assert!((first.peer_median - 0.30).abs() < 0.03, "{first:?}");
        assert!(
            found
                .iter()
                .any(|o| o.device == "web-12" && o.measure == "memory")
        );
        // The databases are usual among databases: none is listed by
        // its own group (against the mixed OS group they may be).
        assert!(
            found
                .iter()
                .all(|o| !(o.device.starts_with("db-") && o.group == "tag:db")),
            "{found:#?}"
        );
        // One entry per device and measure.
        let mut keys: Vec<_> = found.iter().map(|o| (&o.device, &o.measure)).collect();
        keys.dedup();
        assert_eq!(keys.len(), found.len());
    }

    #[test]
    fn small_identical_or_bad_groups_list_nothing() {
        // Fewer than five peers.
        let few: Vec<Member> = (0..4)
            .map(|i| {
                member(
                    &format!("d{i}"),
                    &["tag:x"],
                    if i == 0 { 1.0 } else { 0.0 },
                    0.5,
                )
            })
            .collect();
        assert!(outliers(&few, MIN_DISTANCE, ratio_floor).is_empty());
        // Identical values and one a hair off: the floor keeps it usual.
        let mut same: Vec<Member> = (0..10)
            .map(|i| member(&format!("d{i}"), &["tag:x"], 0.5, 0.5))
            .collect();
        same[3].measures.insert("cpu".into(), 0.51);
        assert!(outliers(&same, MIN_DISTANCE, ratio_floor).is_empty());
        // Non-finite and absurd values: no panic, the absurd one listed.
        same[4].measures.insert("cpu".into(), f64::NAN);
        same[5].measures.insert("memory".into(), 1e300);
        let found = outliers(&same, MIN_DISTANCE, ratio_floor);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].device, "d5");
        assert!(found[0].distance.is_finite());
    }
}
