//! Noise control: maintenance windows and silences suppress notifications
//! (the alert is still recorded, with the reason); grouping turns many
//! similar notifications into one; dependencies suppress the consequences
//! of an upstream failure.

use crate::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

const MINUTE: Millis = 60_000;
const WEEK_MINUTES: i64 = 7 * 24 * 60;

/// The device an alert is about, as noise rules see it.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub device: String,
    pub site: String,
    pub tags: Vec<String>,
    /// Operating system as reported ("Debian GNU/Linux 12").
    pub os: String,
}

/// Which devices a rule covers: any listed device, site or tag.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Matcher {
    #[serde(default)]
    pub devices: Vec<String>,
    #[serde(default)]
    pub sites: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Operating systems, matched case-insensitively as a prefix of the
    /// reported OS ("debian", "windows").
    #[serde(default)]
    pub os: Vec<String>,
}

impl Matcher {
    pub fn matches(&self, target: &Target) -> bool {
        let os = target.os.to_lowercase();
        self.devices.contains(&target.device)
            || self.sites.contains(&target.site)
            || self.tags.iter().any(|t| target.tags.contains(t))
            || self
                .os
                .iter()
                .any(|o| !o.is_empty() && os.starts_with(&o.to_lowercase()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// One period, `[start, end)`.
    Once { start: Millis, end: Millis },
    /// Every week on these days (0 = Monday) from a local time, for a
    /// duration. Local time is the wall clock of `timezone` (an IANA name:
    /// "Sunday 02:00 Europe/Berlin" stays 02:00 across daylight saving
    /// time), or UTC plus `utc_offset_minutes` without one.
    Weekly {
        days: Vec<u8>,
        start_minute: u32,
        duration_minutes: u32,
        #[serde(default)]
        utc_offset_minutes: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<Zone>,
    },
}

/// An IANA time zone ("Europe/Berlin"), looked up in the system's time
/// zone database when it is read (an unknown name is refused then), so
/// evaluating a window does no lookup.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Zone {
    pub fn new(name: &str) -> Result<Self, String> {
        jiff::tz::TimeZone::get(name)
            .map(|tz| Self {
                name: name.to_string(),
                tz,
            })
            .map_err(|_| {
                format!("unknown time zone {name:?}: use an IANA name such as Europe/Berlin or UTC")
            })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a period starting at `start_minute` of one of `days` (local
    /// wall clock) and lasting `minutes` holds `at`.
    fn weekly_active(&self, days: &[u8], start_minute: u32, minutes: i64, at: Millis) -> bool {
        let Ok(now) = jiff::Timestamp::from_millisecond(at) else {
            return false;
        };
        let today = now.to_zoned(self.tz.clone()).date();
        let (hour, minute) = ((start_minute / 60) as i8, (start_minute % 60) as i8);
        // A period may have started up to a week before today.
        (0..=7i64).any(|back| {
            let Ok(date) = today.checked_sub(jiff::Span::new().days(back)) else {
                return false;
            };
            let weekday = date.weekday().to_monday_zero_offset() as u8;
            if !days.contains(&weekday) {
                return false;
            }
            let Ok(start) = date
                .at(hour, minute, 0, 0)
                .to_zoned(self.tz.clone())
                .map(|z| z.timestamp().as_millisecond())
            else {
                return false;
            };
            start <= at && at < start.saturating_add(minutes.saturating_mul(MINUTE))
        })
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Zone::new(&name).map_err(serde::de::Error::custom)
    }
}

impl Schedule {
    pub fn active(&self, at: Millis) -> bool {
        match self {
            Schedule::Once { start, end } => (*start..*end).contains(&at),
            Schedule::Weekly {
                days,
                start_minute,
                duration_minutes,
                utc_offset_minutes,
                timezone,
            } => {
                let minutes = i64::from(*duration_minutes).min(WEEK_MINUTES);
                if let Some(zone) = timezone {
                    return *start_minute < 24 * 60
                        && zone.weekly_active(days, *start_minute, minutes, at);
                }
                let local_minutes = at.div_euclid(MINUTE) + i64::from(*utc_offset_minutes);
                // 1970-01-01 was a Thursday (day 3 counting from Monday).
                let minute_of_week = (local_minutes + 3 * 24 * 60).rem_euclid(WEEK_MINUTES);
                days.iter().filter(|d| **d < 7).any(|day| {
                    let start = i64::from(*day) * 24 * 60 + i64::from(*start_minute);
                    let offset = (minute_of_week - start).rem_euclid(WEEK_MINUTES);
                    offset < minutes
                })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub name: String,
    pub matcher: Matcher,
    pub schedule: Schedule,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub matcher: Matcher,
    /// Only this monitor; every monitor when None.
    pub monitor: Option<String>,
    pub until: Millis,
    pub reason: String,
    pub by: String,
}

/// Why a notification was not sent (it is counted and shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Suppression {
    Maintenance { window: String },
    Silenced { reason: String, by: String },
    Dependency { upstream: String },
}

/// The first rule that suppresses a notification for `target`, if any.
pub fn suppression(
    target: &Target,
    monitor: &str,
    at: Millis,
    windows: &[MaintenanceWindow],
    silences: &[Silence],
) -> Option<Suppression> {
    if let Some(w) = windows
        .iter()
        .find(|w| w.matcher.matches(target) && w.schedule.active(at))
    {
        return Some(Suppression::Maintenance {
            window: w.name.clone(),
        });
    }
    silences
        .iter()
        .find(|s| {
            at < s.until
                && s.matcher.matches(target)
                && s.monitor.as_deref().is_none_or(|m| m == monitor)
        })
        .map(|s| Suppression::Silenced {
            reason: s.reason.clone(),
            by: s.by.clone(),
        })
}

/// Suppresses a device's offline alert when a device it depends on (its
/// site gateway, say), directly or further up, is offline too.
pub fn dependency(
    device: &str,
    upstream_of: &HashMap<String, String>,
    offline: &HashSet<String>,
) -> Option<Suppression> {
    let mut seen = HashSet::new();
    let mut current = device;
    while let Some(up) = upstream_of.get(current) {
        if !seen.insert(up.as_str()) {
            return None; // a cycle: nothing to blame
        }
        if offline.contains(up) {
            return Some(Suppression::Dependency {
                upstream: up.clone(),
            });
        }
        current = up;
    }
    None
}

/// Collects notifications sharing a group key (for example "site hq:
/// offline") for a short window, then releases them as one.
#[derive(Debug, Default)]
pub struct Grouper {
    pub window_ms: Millis,
    groups: BTreeMap<String, (Millis, Vec<String>)>,
}

impl Grouper {
    pub fn new(window_ms: Millis) -> Self {
        Self {
            window_ms,
            groups: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, key: &str, item: &str, at: Millis) {
        let group = self
            .groups
            .entry(key.to_string())
            .or_insert((at, Vec::new()));
        group.1.push(item.to_string());
    }

    /// When the next group is due.
    pub fn deadline(&self) -> Option<Millis> {
        self.groups
            .values()
            .map(|(first, _)| first + self.window_ms)
            .min()
    }

    /// Groups whose window has passed, with their items.
    pub fn due(&mut self, now: Millis) -> Vec<(String, Vec<String>)> {
        let keys: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, (first, _))| now >= first + self.window_ms)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| self.groups.remove(&k).map(|(_, items)| (k, items)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(device: &str, site: &str) -> Target {
        Target {
            device: device.into(),
            site: site.into(),
            tags: vec!["linux".into()],
            os: "Debian GNU/Linux 12".into(),
        }
    }

    #[test]
    fn matchers_cover_devices_sites_tags_and_os() {
        let t = target("d1", "hq");
        assert!(
            Matcher {
                os: vec!["debian".into()],
                ..Default::default()
            }
            .matches(&t)
        );
        assert!(
            !Matcher {
                os: vec!["windows".into()],
                ..Default::default()
            }
            .matches(&t)
        );
        assert!(
            Matcher {
                devices: vec!["d1".into()],
                ..Default::default()
            }
            .matches(&t)
        );
        assert!(!Matcher::default().matches(&t));
    }

    /// 2026-11-23 was a Monday; minutes since midnight UTC.
    fn monday(minute: i64) -> Millis {
        1_795_392_000_000 + minute * MINUTE
    }

    #[test]
    fn weekly_windows_follow_local_time_and_wrap() {
        let nightly = Schedule::Weekly {
            days: vec![0],
            start_minute: 23 * 60,
            duration_minutes: 120,
            utc_offset_minutes: 60,
            timezone: None,
        };
        // 23:00 local Monday = 22:00 UTC.
        assert!(!nightly.active(monday(21 * 60 + 59)));
        assert!(nightly.active(monday(22 * 60)));
        assert!(nightly.active(monday(23 * 60 + 59))); // past midnight local
        assert!(!nightly.active(monday(24 * 60)));
        let sunday_night = Schedule::Weekly {
            days: vec![6],
            start_minute: 23 * 60,
            duration_minutes: 120,
            utc_offset_minutes: 0,
            timezone: None,
        };
        assert!(sunday_night.active(monday(30))); // wraps into Monday
        assert!(Schedule::Once { start: 10, end: 20 }.active(10));
        assert!(!Schedule::Once { start: 10, end: 20 }.active(20));
    }

    #[test]
    fn weekly_windows_in_a_time_zone_keep_their_wall_clock_across_dst() {
        let at = |text: &str| -> Millis {
            text.parse::<jiff::Timestamp>()
                .expect("a time")
                .as_millisecond()
        };
        // Sunday 01:00-02:00 in Berlin: 00:00 UTC in winter, 23:00 UTC the
        // Saturday before in summer (CEST from 2026-03-29).
        let patch_night: Schedule = serde_json::from_value(serde_json::json!({
            "kind": "weekly", "days": [6], "start_minute": 60, "duration_minutes": 60,
            "timezone": "Europe/Berlin"
        }))
        .expect("a schedule");
        assert!(patch_night.active(at("2026-03-22T00:30:00Z")));
        assert!(!patch_night.active(at("2026-03-22T01:00:00Z")));
        assert!(!patch_night.active(at("2026-04-04T22:59:00Z")));
        assert!(patch_night.active(at("2026-04-04T23:30:00Z")));
        assert!(!patch_night.active(at("2026-04-05T00:30:00Z")));
        // A window across midnight local, into Monday.
        let late: Schedule = serde_json::from_value(serde_json::json!({
            "kind": "weekly", "days": [6], "start_minute": 1380, "duration_minutes": 120,
            "timezone": "America/New_York"
        }))
        .expect("a schedule");
        // Sunday 2026-07-05 23:00 EDT = Monday 03:00 UTC; 00:30 EDT Monday.
        assert!(late.active(at("2026-07-06T04:30:00Z")));
        assert!(!late.active(at("2026-07-06T05:00:00Z")));
        // The name round-trips; an unknown one is refused when read.
        assert_eq!(
            serde_json::to_value(&patch_night).unwrap()["timezone"],
            "Europe/Berlin"
        );
        let unknown = serde_json::from_value::<Schedule>(serde_json::json!({
            "kind": "weekly", "days": [6], "start_minute": 60, "duration_minutes": 60,
            "timezone": "Mars/Olympus"
        }))
        .expect_err("an unknown zone");
        assert!(
            unknown
                .to_string()
                .contains("unknown time zone \"Mars/Olympus\""),
            "{unknown}"
        );
    }

    #[test]
    fn maintenance_and_silences_suppress_with_a_reason() {
        let windows = vec![MaintenanceWindow {
            name: "patch night".into(),
            matcher: Matcher {
                sites: vec!["hq".into()],
                ..Default::default()
            },
            schedule: Schedule::Once { start: 0, end: 100 },
        }];
        let silences = vec![Silence {
            matcher: Matcher {
                tags: vec!["linux".into()],
                ..Default::default()
            },
            monitor: Some("cpu".into()),
            until: 500,
            reason: "known issue".into(),
            by: "alice".into(),
        }];
        assert_eq!(
            suppression(&target("d1", "hq"), "cpu", 50, &windows, &silences),
            Some(Suppression::Maintenance {
                window: "patch night".into()
            })
        );
        assert_eq!(
            suppression(&target("d1", "hq"), "cpu", 200, &windows, &silences),
            Some(Suppression::Silenced {
                reason: "known issue".into(),
                by: "alice".into()
            })
        );
        assert_eq!(
            suppression(&target("d1", "hq"), "disk", 200, &windows, &silences),
            None
        );
        assert_eq!(
            suppression(&target("d1", "hq"), "cpu", 600, &windows, &silences),
            None
        );
    }

    #[test]
    fn dependencies_walk_upstream_and_survive_cycles() {
        let upstream: HashMap<String, String> = [
            ("pc", "switch"),
            ("switch", "gateway"),
            ("a", "b"),
            ("b", "a"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let offline: HashSet<String> = ["gateway".to_string()].into();
        assert_eq!(
            dependency("pc", &upstream, &offline),
            Some(Suppression::Dependency {
                upstream: "gateway".into()
            })
        );
        assert_eq!(dependency("gateway", &upstream, &offline), None);
        assert_eq!(dependency("a", &upstream, &offline), None);
    }

    #[test]
    fn fifty_offline_devices_make_one_notification() {
        let mut grouper = Grouper::new(60_000);
        for i in 0..50 {
            grouper.add("site hq: offline", &format!("pc-{i}"), i * 500);
        }
        grouper.add("site branch: offline", "pc-x", 30_000);
        assert!(grouper.due(59_999).is_empty());
        let due = grouper.due(60_000);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.len(), 50);
        assert_eq!(grouper.deadline(), Some(90_000));
    }
}
