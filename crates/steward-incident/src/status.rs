//! An incident's status and the times it keeps: acknowledging stamps
//! `acknowledged_at`, resolving `resolved_at`, closing `closed_at` (and
//! `resolved_at` when it was never resolved); reopening clears the
//! resolve and close (their times then measure the new resolve). A time
//! once stamped stays while the status holds.

/// Statuses, in their usual order.
pub const STATUSES: [&str; 4] = ["open", "acknowledged", "resolved", "closed"];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamps {
    pub acknowledged_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
}

/// The stamps after moving to status `to` at `now` (unknown statuses
/// change nothing; the caller refuses them).
pub fn stamp(to: &str, before: Stamps, now: i64) -> Stamps {
    let Stamps {
        acknowledged_at,
        resolved_at,
        closed_at,
    } = before;
    match to {
        "open" => Stamps {
            acknowledged_at,
            resolved_at: None,
            closed_at: None,
        },
        "acknowledged" => Stamps {
            acknowledged_at: acknowledged_at.or(Some(now)),
            resolved_at: None,
            closed_at: None,
        },
        "resolved" => Stamps {
            acknowledged_at,
            resolved_at: resolved_at.or(Some(now)),
            closed_at: None,
        },
        "closed" => Stamps {
            acknowledged_at,
            resolved_at: resolved_at.or(Some(now)),
            closed_at: closed_at.or(Some(now)),
        },
        _ => before,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_stamps_its_time_once_and_reopening_clears_the_resolve() {
        let none = Stamps::default();
        let acked = stamp("acknowledged", none, 10);
        assert_eq!(acked.acknowledged_at, Some(10));
        // Acknowledged again later: the first time stays.
        assert_eq!(stamp("acknowledged", acked, 20).acknowledged_at, Some(10));
        let resolved = stamp("resolved", acked, 30);
        assert_eq!(
            resolved,
            Stamps {
                acknowledged_at: Some(10),
                resolved_at: Some(30),
                closed_at: None
            }
        );
        let closed = stamp("closed", resolved, 40);
        assert_eq!((closed.resolved_at, closed.closed_at), (Some(30), Some(40)));
        // Closed without a resolve: resolved then too.
        let straight = stamp("closed", none, 50);
        assert_eq!(
            (straight.resolved_at, straight.closed_at),
            (Some(50), Some(50))
        );
        assert_eq!(straight.acknowledged_at, None, "never acknowledged");
        // Reopened: the resolve and close go, the acknowledgement stays.
        let reopened = stamp("open", closed, 60);
        assert_eq!(
            reopened,
            Stamps {
                acknowledged_at: Some(10),
                resolved_at: None,
                closed_at: None
            }
        );
        assert_eq!(stamp("bogus", closed, 70), closed);
    }
}
