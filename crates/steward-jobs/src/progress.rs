//! How far a job got, and what its dispatcher may do next: send more runs
//! (within the concurrency cap) or stop (after too many failures).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use steward_proto::RunStatus;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Runs in flight (sent or running) at most; 0: no cap.
    #[serde(default)]
    pub concurrency: u32,
    /// Cancel what was not sent yet once this many runs failed; 0: never.
    #[serde(default)]
    pub stop_after_failures: u32,
}

/// Runs per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts(pub BTreeMap<&'static str, u64>);

impl Counts {
    pub fn of(statuses: impl IntoIterator<Item = RunStatus>) -> Self {
        let mut counts = Counts::default();
        for status in statuses {
            *counts.0.entry(status.as_str()).or_default() += 1;
        }
        counts
    }

    pub fn get(&self, status: RunStatus) -> u64 {
        self.0.get(status.as_str()).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn in_flight(&self) -> u64 {
        self.get(RunStatus::Sent) + self.get(RunStatus::Running)
    }

    /// Runs that did not do what was asked.
    pub fn failures(&self) -> u64 {
        [
            RunStatus::Failed,
            RunStatus::TimedOut,
            RunStatus::Refused,
            RunStatus::Unknown,
        ]
        .into_iter()
        .map(|s| self.get(s))
        .sum()
    }

    pub fn finished(&self) -> u64 {
        self.total() - self.get(RunStatus::Queued) - self.in_flight()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send up to this many queued runs (u64::MAX: all).
    Send(u64),
    /// Too many failures: cancel every queued run.
    Stop,
}

pub fn next(policy: Policy, counts: &Counts) -> Next {
    if policy.stop_after_failures > 0 && counts.failures() >= u64::from(policy.stop_after_failures)
    {
        return Next::Stop;
    }
    if policy.concurrency == 0 {
        return Next::Send(u64::MAX);
    }
    Next::Send(u64::from(policy.concurrency).saturating_sub(counts.in_flight()))
}

/// The job as a whole, for lists.
pub fn job_state(counts: &Counts) -> &'static str {
    if counts.finished() == counts.total() {
        "completed"
    } else if counts.in_flight() > 0 || counts.finished() > 0 {
        "running"
    } else {
        "queued"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunStatus::*;

    #[test]
    fn rolling_changes_respect_the_cap_and_stop_on_failures() {
        let policy = Policy {
            concurrency: 2,
            stop_after_failures: 2,
        };
        let check = |statuses: &[RunStatus], expect: Next, state: &str| {
            let counts = Counts::of(statuses.iter().copied());
            assert_eq!(next(policy, &counts), expect, "{statuses:?}");
            assert_eq!(job_state(&counts), state, "{statuses:?}");
        };
        check(&[Queued, Queued, Queued], Next::Send(2), "queued");
        check(&[Sent, Queued, Queued], Next::Send(1), "running");
        check(&[Running, Sent, Queued], Next::Send(0), "running");
        check(&[Failed, Succeeded, Queued], Next::Send(2), "running");
        check(&[Failed, TimedOut, Queued], Next::Stop, "running");
        check(&[Succeeded, Expired], Next::Send(2), "completed");
        assert_eq!(
            next(Policy::default(), &Counts::of([Queued])),
            Next::Send(u64::MAX)
        );
    }
}
