//! An incident's standing against its priority's SLA targets (time to
//! acknowledge, time to resolve): met, pending, at risk (most of the time
//! gone), or breached, so warnings go out before the breach.

use crate::kpi::IncidentTimes;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    pub acknowledge_ms: Option<i64>,
    pub resolve_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Standing {
    /// No target for this.
    None,
    Met,
    Pending {
        due_at: i64,
    },
    /// At least the warning share of the time is gone.
    AtRisk {
        due_at: i64,
    },
    Breached {
        due_at: i64,
        late_ms: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlaState {
    pub acknowledge: Standing,
    pub resolve: Standing,
}

/// The share of a target's time after which it is at risk.
pub const WARN_AT: f64 = 0.8;

pub fn standing(targets: &Targets, times: &IncidentTimes, now: i64) -> SlaState {
    let one = |target: Option<i64>, done: Option<i64>| -> Standing {
        let Some(target) = target.filter(|t| *t > 0) else {
            return Standing::None;
        };
        let due_at = times.opened_at.saturating_add(target);
        let at = done.unwrap_or(now);
        if at > due_at {
            return Standing::Breached {
                due_at,
                late_ms: at - due_at,
            };
        }
        if done.is_some() {
            return Standing::Met;
        }
        let warn_after = (target as f64 * WARN_AT) as i64;
        if now - times.opened_at >= warn_after {
            Standing::AtRisk { due_at }
        } else {
            Standing::Pending { due_at }
        }
    };
    SlaState {
        acknowledge: one(targets.acknowledge_ms, times.acknowledged_at),
        resolve: one(targets.resolve_ms, times.resolved_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_moves_from_pending_to_at_risk_to_breached_or_met() {
        let targets = Targets {
            acknowledge_ms: Some(100),
            resolve_ms: Some(1_000),
        };
        let times = |ack: Option<i64>, resolved: Option<i64>| IncidentTimes {
            opened_at: 10_000,
            acknowledged_at: ack,
            resolved_at: resolved,
            cleared_by_itself: false,
        };
        let check = |t: IncidentTimes, now: i64, ack: Standing, resolve: Standing| {
            assert_eq!(
                standing(&targets, &t, now),
                SlaState {
                    acknowledge: ack,
                    resolve
                },
                "{t:?} at {now}"
            );
        };
        check(
            times(None, None),
            10_050,
            Standing::Pending { due_at: 10_100 },
            Standing::Pending { due_at: 11_000 },
        );
        check(
            times(None, None),
            10_080,
            Standing::AtRisk { due_at: 10_100 },
            Standing::Pending { due_at: 11_000 },
        );
        check(
            times(None, None),
            10_150,
            Standing::Breached {
                due_at: 10_100,
                late_ms: 50,
            },
            Standing::Pending { due_at: 11_000 },
        );
        check(
            times(Some(10_090), None),
            10_900,
            Standing::Met,
            Standing::AtRisk { due_at: 11_000 },
        );
        check(
            times(Some(10_200), Some(10_500)),
            20_000,
            Standing::Breached {
                due_at: 10_100,
                late_ms: 100,
            },
            Standing::Met,
        );
        let none = Targets {
            acknowledge_ms: None,
            resolve_ms: Some(0),
        };
        assert_eq!(
            standing(&none, &times(None, None), 99_999),
            SlaState {
                acknowledge: Standing::None,
                resolve: Standing::None
            }
        );
    }
}
