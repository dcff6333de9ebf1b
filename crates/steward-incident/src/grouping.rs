//! Which open incident a new alert joins, so one outage is one incident
//! to work on rather than one per alert: an open incident active within
//! the window that shares the alert's device, monitor or alert group (as
//! the organisation's rules say), the most recently active first.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Alerts of one device.
    Device,
    /// Alerts of one monitor, whatever the device.
    Monitor,
    /// Alerts of one group (e.g. a site-wide outage's group key).
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grouping {
    pub by: Vec<GroupBy>,
    /// An incident idle longer than this takes no new alerts.
    pub window_ms: i64,
}

impl Default for Grouping {
    /// Same device or same alert group within an hour.
    fn default() -> Self {
        Self {
            by: vec![GroupBy::Device, GroupBy::Group],
            window_ms: 3_600_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub device: String,
    pub monitor: String,
    pub group: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    pub id: String,
    pub devices: Vec<String>,
    pub monitors: Vec<String>,
    pub groups: Vec<String>,
    pub last_activity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Join(String),
    Open,
}

/// Whether an alert change needs a human, and so opens or joins an
/// incident: a critical alert that goes out (not kept quiet by
/// maintenance, a silence, a dependency, or a remediation still under
/// way; an offline alert waiting to go out with its site's group does
/// go out). A remediation that did not help pages as `escalated`.
pub fn needs_human(severity: &str, suppressed: Option<&str>) -> bool {
    severity == "critical" && matches!(suppressed, None | Some("grouped") | Some("escalated"))
}

pub fn place(rules: &Grouping, alert: &NewAlert, open: &[OpenIncident]) -> Placement {
    let shares = |incident: &OpenIncident| {
        rules.by.iter().any(|by| match by {
            GroupBy::Device => incident.devices.contains(&alert.device),
            GroupBy::Monitor => incident.monitors.contains(&alert.monitor),
            GroupBy::Group => alert
                .group
                .as_ref()
                .is_some_and(|g| incident.groups.contains(g)),
        })
    };
    open.iter()
        .filter(|i| alert.at.saturating_sub(i.last_activity) <= rules.window_ms && shares(i))
        .max_by_key(|i| (i.last_activity, i.id.clone()))
        .map_or(Placement::Open, |i| Placement::Join(i.id.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(
        id: &str,
        device: &str,
        monitor: &str,
        group: Option<&str>,
        last: i64,
    ) -> OpenIncident {
        OpenIncident {
            id: id.into(),
            devices: vec![device.into()],
            monitors: vec![monitor.into()],
            groups: group.map(String::from).into_iter().collect(),
            last_activity: last,
        }
    }

    fn alert(device: &str, monitor: &str, group: Option<&str>, at: i64) -> NewAlert {
        NewAlert {
            device: device.into(),
            monitor: monitor.into(),
            group: group.map(String::from),
            at,
        }
    }

    #[test]
    fn only_critical_alerts_that_go_out_need_a_human() {
        assert!(needs_human("critical", None));
        assert!(needs_human("critical", Some("grouped")));
        assert!(needs_human("critical", Some("escalated")));
        assert!(!needs_human("warning", None));
        assert!(!needs_human("ok", None));
        for quiet in [
            "maintenance",
            "silence",
            "dependency",
            "remediating",
            "remediated",
        ] {
            assert!(!needs_human("critical", Some(quiet)), "{quiet}");
        }
    }

    #[test]
    fn an_alert_joins_the_incident_it_shares_a_key_with_within_the_window() {
        let open = [
            incident("i1", "web-1", "disk", None, 1_000),
            incident("i2", "web-2", "cpu", Some("site:hq"), 2_000),
            incident("i3", "web-1", "memory", None, 3_000),
        ];
        let rules = Grouping::default();
        let check = |a: NewAlert, expected: Placement| {
            assert_eq!(place(&rules, &a, &open), expected, "{a:?}")
        };
        // The same device: the most recently active of its incidents.
        check(
            alert("web-1", "load", None, 4_000),
            Placement::Join("i3".into()),
        );
        // The same group, another device.
        check(
            alert("web-9", "offline", Some("site:hq"), 4_000),
            Placement::Join("i2".into()),
        );
        // Nothing shared.
        check(alert("web-9", "cpu", None, 4_000), Placement::Open);
        // Shared, but the incidents went quiet longer than the window.
        check(
            alert("web-1", "load", None, 3_000 + 3_600_001),
            Placement::Open,
        );
        // By monitor only when the rules say so.
        let by_monitor = Grouping {
            by: vec![GroupBy::Monitor],
            window_ms: 10_000,
        };
        assert_eq!(
            place(&by_monitor, &alert("db-1", "cpu", None, 4_000), &open),
            Placement::Join("i2".into())
        );
        assert_eq!(
            place(&rules, &alert("db-1", "cpu", None, 4_000), &[]),
            Placement::Open
        );
    }
}
