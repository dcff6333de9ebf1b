//! Probes the server assigns this agent (`probes` message) for agentless
//! devices: parsed like `--probe NAME=URL`, run beside the agent's own
//! probes, their results tagged with the device they belong to (the
//! check's `device`, the points' [`PROBE_TARGET_LABEL`]).
//!
//! The server may not make the agent read its files: a `ca=` option is
//! refused (the probe reports UNKNOWN with the reason), as is anything
//! [`super::parse`] refuses.

use super::{Probe, snmp};
use std::collections::HashMap;
use steward_proto::{AssignedProbe, CheckRun, PROBE_TARGET_LABEL, Point};

/// Assigned probes of one agentless device.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub device: String,
    pub probes: Vec<Probe>,
    /// Probes that could not be parsed: reported as UNKNOWN each run.
    pub refused: Vec<(String, String)>,
}

/// The most probes the server may assign one agent.
pub const MAX_ASSIGNED: usize = 200;

/// Groups the assigned probes by device (pure).
pub fn prepare(assigned: &[AssignedProbe]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for a in assigned.iter().take(MAX_ASSIGNED) {
        let index = match groups.iter().position(|g| g.device == a.device) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    device: a.device.clone(),
                    ..Group::default()
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[index];
        match super::parse(&format!("{}={}", a.name, a.url)) {
            Ok(probe) if probe.ca.is_some() => group.refused.push((
                a.name.clone(),
                "a probe assigned by the server may not name a file (ca=)".into(),
            )),
            Ok(probe) => group.probes.push(probe),
            Err(why) => group.refused.push((a.name.clone(), why)),
        }
    }
    groups
}

/// Tags one group's results with its device (pure).
pub fn tag(device: &str, runs: &mut [CheckRun], points: &mut [Point]) {
    for run in runs {
        run.device = Some(device.to_string());
    }
    for point in points {
        point
            .labels
            .insert(PROBE_TARGET_LABEL.to_string(), device.to_string());
    }
}

/// Runs every group once (the groups one after another, each group's
/// probes [`super::PARALLEL`] at a time); `counters` keeps each device's
/// SNMP counters apart.
pub async fn run(
    groups: &[Group],
    counters: &mut HashMap<String, snmp::Counters>,
    now_ms: i64,
) -> (Vec<CheckRun>, Vec<Point>) {
    let mut runs = Vec::new();
    let mut points = Vec::new();
    for group in groups {
        let counters = counters.entry(group.device.clone()).or_default();
        let (mut r, mut p) = super::run_all(&group.probes, counters).await;
        for (name, why) in &group.refused {
            r.push(CheckRun {
                name: format!("probe.{name}"),
                ts_ms: now_ms,
                exit_code: 3,
                output: format!("PROBE UNKNOWN - cannot run this probe: {why}\n"),
                device: None,
            });
        }
        tag(&group.device, &mut r, &mut p);
        runs.extend(r);
        points.extend(p);
    }
    counters.retain(|device, _| groups.iter().any(|g| &g.device == device));
    (runs, points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigned(device: &str, name: &str, url: &str) -> AssignedProbe {
        AssignedProbe {
            device: device.into(),
            name: name.into(),
            url: url.into(),
        }
    }

    #[test]
    fn groups_by_device_and_refuses_files_and_bad_urls() {
        let groups = prepare(&[
            assigned("a", "web", "https://example.org/?match=ok"),
            assigned("b", "port", "tcp://10.0.0.1:22"),
            assigned("a", "cert", "tls://example.org:443?ca=/etc/shadow"),
            assigned("a", "Bad", "tcp://x:1"),
            assigned("b", "nope", "gopher://x"),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].device, "a");
        assert_eq!(groups[0].probes.len(), 1);
        assert_eq!(groups[0].probes[0].body_match.as_deref(), Some("ok"));
        assert_eq!(groups[0].refused.len(), 2);
        assert!(groups[0].refused[0].1.contains("ca="));
        assert_eq!(groups[1].probes[0].port, 22);
        assert_eq!(groups[1].refused.len(), 1);
    }

    #[test]
    fn caps_what_the_server_assigns() {
        let many: Vec<_> = (0..MAX_ASSIGNED + 50)
            .map(|i| assigned("a", &format!("p{i}"), "tcp://h:1"))
            .collect();
        assert_eq!(prepare(&many)[0].probes.len(), MAX_ASSIGNED);
    }

    #[tokio::test]
    async fn results_carry_their_device() {
        // A port nothing listens on: refused at once, reported as the
        // device's, with the refused probe as UNKNOWN.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let groups = prepare(&[
            assigned("dev", "port", &format!("tcp://127.0.0.1:{port}?timeout=2s")),
            assigned("dev", "bad", "tls://h:1?ca=/x"),
        ]);
        let mut counters = HashMap::new();
        let (runs, points) = run(&groups, &mut counters, 1).await;
        assert_eq!(runs.len(), 2);
        assert!(runs.iter().all(|r| r.device.as_deref() == Some("dev")));
        assert_eq!(runs[0].exit_code, 2, "{:?}", runs[0]);
        assert_eq!(runs[1].exit_code, 3);
        assert!(
            points
                .iter()
                .all(|p| p.labels.get(PROBE_TARGET_LABEL).map(String::as_str) == Some("dev"))
        );
        assert!(
            points
                .iter()
                .any(|p| p.name == "probe.success" && p.value == 0.0)
        );
    }
}
