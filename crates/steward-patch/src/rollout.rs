//! Agent self-update rollouts by ring, pure: "which devices are offered the
//! new agent now, and does the rollout go on?" from plain data.
//!
//! - A device in the pilot ring (any of `pilot_tags`) is offered the
//!   release at once; with no pilot tags every device is.
//! - The rest is offered `ring_delay` after every pilot device reconnected
//!   on the new version (the last one's success time); an empty pilot holds
//!   the rest back, as patching rings do.
//! - A failure (the agent rolled back, refused the release or could not
//!   fetch it) stops the rollout once `max_failures` devices failed: nobody
//!   else is offered anything until someone starts a new rollout.
//! - An offer not answered is made again after [`REOFFER_AFTER`]; only
//!   online devices not already running the version are offered.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// How long an offer without an answer waits before it is made again.
pub const REOFFER_AFTER: Millis = 10 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub version: String,
    pub pilot_tags: Vec<String>,
    pub ring_delay_ms: Millis,
    /// Failed devices that stop the rollout (at least 1).
    pub max_failures: u32,
}

/// A device's last answer to this rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Installing,
    Succeeded,
    Failed,
}

/// What the rollout knows of one device on its platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub tags: Vec<String>,
    /// The agent version it last said hello with.
    pub version: String,
    pub online: bool,
    pub offered_at: Option<Millis>,
    /// Its last report for this rollout, and when.
    pub answer: Option<(Answer, Millis)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Pilot devices are being updated.
    Pilot,
    /// The pilot is done; the rest is offered from `until`.
    Waiting { until: Millis },
    /// Every device may be offered the release.
    Rest,
    /// Every device runs the version.
    Done,
    /// Too many devices failed.
    Stopped { failed: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub phase: Phase,
    /// Devices to send the offer to now.
    pub offer: Vec<String>,
}

impl Rollout {
    pub fn is_pilot(&self, member: &Member) -> bool {
        self.pilot_tags.iter().any(|t| member.tags.contains(t))
    }
}

impl Member {
    fn updated(&self, version: &str) -> bool {
        self.version == version
    }

    fn failed(&self) -> bool {
        matches!(self.answer, Some((Answer::Failed, _)))
    }

    /// Offered now unless it runs the version, is offline, failed, or
    /// was offered recently (or is installing) without an answer since.
    fn due(&self, version: &str, now: Millis) -> bool {
        if self.updated(version) || !self.online || self.failed() {
            return false;
        }
        let last = match (self.offered_at, self.answer) {
            (_, Some((Answer::Installing, at))) => Some(at),
            (offered, _) => offered,
        };
        last.is_none_or(|at| now - at >= REOFFER_AFTER)
    }
}

pub fn plan(rollout: &Rollout, members: &[Member], now: Millis) -> Plan {
    let failed: Vec<String> = members
        .iter()
        .filter(|m| m.failed())
        .map(|m| m.id.clone())
        .collect();
    if !failed.is_empty() && failed.len() as u32 >= rollout.max_failures.max(1) {
        return Plan {
            phase: Phase::Stopped { failed },
            offer: Vec::new(),
        };
    }
    let version = rollout.version.as_str();
    if members.iter().all(|m| m.updated(version)) {
        return Plan {
            phase: Phase::Done,
            offer: Vec::new(),
        };
    }
    let due = |ms: &mut dyn Iterator<Item = &Member>| -> Vec<String> {
        ms.filter(|m| m.due(version, now))
            .map(|m| m.id.clone())
            .collect()
    };
    if rollout.pilot_tags.is_empty() {
        return Plan {
            phase: Phase::Rest,
            offer: due(&mut members.iter()),
        };
    }
    let pilot: Vec<&Member> = members.iter().filter(|m| rollout.is_pilot(m)).collect();
    let pilot_done = !pilot.is_empty() && pilot.iter().all(|m| m.updated(version));
    if !pilot_done {
        return Plan {
            phase: Phase::Pilot,
            offer: due(&mut pilot.into_iter()),
        };
    }
    // The pilot finished when its last device reported success (a device
    // that came with the version already counts from the start).
    let finished = pilot
        .iter()
        .filter_map(|m| match m.answer {
            Some((Answer::Succeeded, at)) => Some(at),
            _ => None,
        })
        .max()
        .unwrap_or(Millis::MIN);
    let until = finished.saturating_add(rollout.ring_delay_ms);
    if now < until {
        return Plan {
            phase: Phase::Waiting { until },
            offer: Vec::new(),
        };
    }
    Plan {
        phase: Phase::Rest,
        offer: due(&mut members.iter().filter(|m| !rollout.is_pilot(m))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Millis = 3_600_000;
    const NOW: Millis = 1_800_000_000_000;

    fn rollout() -> Rollout {
        Rollout {
            version: "0.2.0".into(),
            pilot_tags: vec!["pilot".into()],
            ring_delay_ms: 4 * HOUR,
            max_failures: 1,
        }
    }

    fn member(id: &str, pilot: bool) -> Member {
        Member {
            id: id.into(),
            tags: if pilot { vec!["pilot".into()] } else { vec![] },
            version: "0.1.0".into(),
            online: true,
            offered_at: None,
            answer: None,
        }
    }

    fn succeeded(mut m: Member, at: Millis) -> Member {
        m.version = "0.2.0".into();
        m.answer = Some((Answer::Succeeded, at));
        m
    }

    #[test]
    fn the_pilot_goes_first_and_the_rest_after_the_delay() {
        let r = rollout();
        let fleet = vec![member("p1", true), member("p2", true), member("d1", false)];
        let plan0 = plan(&r, &fleet, NOW);
        assert_eq!(plan0.phase, Phase::Pilot);
        assert_eq!(plan0.offer, ["p1", "p2"]);

        // One pilot device done: still the pilot; the other, offered a
        // minute ago, is not offered again yet.
        let mut fleet = vec![
            succeeded(member("p1", true), NOW + HOUR),
            member("p2", true),
            member("d1", false),
        ];
        fleet[1].offered_at = Some(NOW + HOUR - 60_000);
        let p = plan(&r, &fleet, NOW + HOUR);
        assert_eq!((p.phase, p.offer.len()), (Phase::Pilot, 0));
        // After REOFFER_AFTER without an answer, it is offered again.
        let p = plan(&r, &fleet, NOW + HOUR + REOFFER_AFTER);
        assert_eq!(p.offer, ["p2"]);

        // Both done: the rest waits the ring delay from the last success.
        fleet[1] = succeeded(member("p2", true), NOW + 2 * HOUR);
        let p = plan(&r, &fleet, NOW + 3 * HOUR);
        assert_eq!(
            p.phase,
            Phase::Waiting {
                until: NOW + 6 * HOUR
            }
        );
        assert!(p.offer.is_empty());
        let p = plan(&r, &fleet, NOW + 6 * HOUR);
        assert_eq!((p.phase, p.offer), (Phase::Rest, vec!["d1".to_string()]));

        fleet[2] = succeeded(member("d1", false), NOW + 7 * HOUR);
        assert_eq!(plan(&r, &fleet, NOW + 7 * HOUR).phase, Phase::Done);
    }

    #[test]
    fn a_failure_stops_the_rollout_for_everyone() {
        let r = rollout();
        let mut fleet = vec![member("p1", true), member("p2", true), member("d1", false)];
        fleet[0].answer = Some((Answer::Failed, NOW));
        let p = plan(&r, &fleet, NOW + 10 * HOUR);
        assert_eq!(
            p.phase,
            Phase::Stopped {
                failed: vec!["p1".into()]
            }
        );
        assert!(p.offer.is_empty());
        // With a tolerance of two, one failure leaves the pilot going, but
        // the failed device is not offered the release again.
        let tolerant = Rollout {
            max_failures: 2,
            ..r
        };
        let p = plan(&tolerant, &fleet, NOW);
        assert_eq!((p.phase, p.offer), (Phase::Pilot, vec!["p2".to_string()]));
    }

    #[test]
    fn offline_installing_and_empty_pilots_wait() {
        let r = rollout();
        // An empty pilot holds the rest back.
        let p = plan(&r, &[member("d1", false)], NOW);
        assert_eq!((p.phase, p.offer.len()), (Phase::Pilot, 0));
        // Offline devices and devices mid-install are not offered.
        let mut off = member("p1", true);
        off.online = false;
        let mut busy = member("p2", true);
        busy.answer = Some((Answer::Installing, NOW - 1000));
        let p = plan(&r, &[off, busy], NOW);
        assert!(p.offer.is_empty());
        // No pilot tags: one ring, everyone at once.
        let flat = Rollout {
            pilot_tags: vec![],
            ring_delay_ms: 0,
            ..r
        };
        let p = plan(&flat, &[member("a", false), member("b", true)], NOW);
        assert_eq!((p.phase, p.offer.len()), (Phase::Rest, 2));
        // A device that already runs the version counts as done.
        let p = plan(&flat, &[succeeded(member("a", false), NOW)], NOW);
        assert_eq!(p.phase, Phase::Done);
    }
}
