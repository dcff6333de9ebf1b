//! When a scheduled job fires: a cron expression in a time zone (croner,
//! with jiff's time-zone database, so DST is handled) or "every N minutes",
//! and what happens to runs missed while the server was down.

use crate::{JobError, err};
use serde::{Deserialize, Serialize};

/// A run this late is still "on time"; later ones were missed.
pub const GRACE_MS: i64 = 90_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missed {
    /// Forget runs missed during downtime; wait for the next one.
    #[default]
    Skip,
    /// Run once as soon as possible, however many were missed.
    RunOnce,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Five fields (minute hour day month weekday), or six with seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_minutes: Option<u32>,
    /// IANA name, e.g. Europe/Paris; cron times are read in it.
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default)]
    pub missed: Missed,
}

fn utc() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not due yet.
    Wait,
    /// Run now; the next run is at `next`.
    Run { next: i64 },
    /// Runs were missed and the policy says skip them; next at `next`.
    Skip { next: i64 },
}

impl Timing {
    pub fn validate(&self) -> Result<(), JobError> {
        match (&self.cron, self.every_minutes) {
            (Some(_), Some(_)) => return err("give either cron or every_minutes, not both"),
            (None, None) => return err("a schedule needs cron or every_minutes"),
            (None, Some(0)) => return err("every_minutes must be at least 1"),
            _ => {}
        }
        self.next_after(0).map(|_| ())
    }

    /// The first firing strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Result<i64, JobError> {
        if let Some(minutes) = self.every_minutes {
            let step = i64::from(minutes.max(1)) * 60_000;
            return Ok((after_ms.div_euclid(step) + 1) * step);
        }
        let pattern = self.cron.as_deref().unwrap_or_default();
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(pattern)
            .map_err(|e| JobError(format!("bad cron expression {pattern:?}: {e}")))?;
        let zone = jiff::tz::TimeZone::get(&self.timezone)
            .map_err(|_| JobError(format!("unknown time zone {:?}", self.timezone)))?;
        let start = jiff::Timestamp::from_millisecond(after_ms)
            .map_err(|e| JobError(e.to_string()))?
            .to_zoned(zone);
        let next = cron
            .find_next_occurrence(&start, false)
            .map_err(|e| JobError(format!("cron expression {pattern:?} never fires: {e}")))?;
        Ok(next.timestamp().as_millisecond())
    }

    /// What to do at `now_ms` for a schedule due at `due_ms`.
    pub fn decide(&self, due_ms: i64, now_ms: i64) -> Result<Decision, JobError> {
        if now_ms < due_ms {
            return Ok(Decision::Wait);
        }
        let next = self.next_after(now_ms)?;
        Ok(
            if now_ms - due_ms <= GRACE_MS || self.missed == Missed::RunOnce {
                Decision::Run { next }
            } else {
                Decision::Skip { next }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn cron(pattern: &str, zone: &str) -> Timing {
        Timing {
            cron: Some(pattern.into()),
            every_minutes: None,
            timezone: zone.into(),
            missed: Missed::Skip,
        }
    }

    #[test]
    fn cron_fires_in_its_time_zone() {
        // 02:30 every day in Paris is 01:30 UTC in winter, 00:30 in summer.
        let t = cron("30 2 * * *", "Europe/Paris");
        assert_eq!(
            t.next_after(ms("2026-01-10T12:00:00Z")).unwrap(),
            ms("2026-01-11T01:30:00Z")
        );
        assert_eq!(
            t.next_after(ms("2026-07-10T12:00:00Z")).unwrap(),
            ms("2026-07-11T00:30:00Z")
        );
        assert!(cron("61 * * * *", "UTC").validate().is_err());
        assert!(cron("* * * * *", "Mars/Olympus").validate().is_err());
    }

    #[test]
    fn every_n_minutes_stays_on_its_grid() {
        let t = Timing {
            cron: None,
            every_minutes: Some(15),
            timezone: utc(),
            missed: Missed::Skip,
        };
        assert_eq!(
            t.next_after(ms("2026-01-10T12:07:00Z")).unwrap(),
            ms("2026-01-10T12:15:00Z")
        );
        assert_eq!(
            t.next_after(ms("2026-01-10T12:15:00Z")).unwrap(),
            ms("2026-01-10T12:30:00Z")
        );
    }

    #[test]
    fn missed_runs_follow_the_policy() {
        let mut t = cron("0 * * * *", "UTC");
        let due = ms("2026-01-10T12:00:00Z");
        assert_eq!(t.decide(due, due - 1).unwrap(), Decision::Wait);
        let on_time = t.decide(due, due + 5_000).unwrap();
        assert_eq!(
            on_time,
            Decision::Run {
                next: ms("2026-01-10T13:00:00Z")
            }
        );
        // The server was down from 11:59 to 15:10.
        let after_downtime = ms("2026-01-10T15:10:00Z");
        let next = ms("2026-01-10T16:00:00Z");
        assert_eq!(
            t.decide(due, after_downtime).unwrap(),
            Decision::Skip { next }
        );
        t.missed = Missed::RunOnce;
        assert_eq!(
            t.decide(due, after_downtime).unwrap(),
            Decision::Run { next }
        );
    }
}
