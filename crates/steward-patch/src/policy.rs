//! Policies and holds as plain data, with the checks a stored one must
//! pass, and the installation window evaluated in a device's time zone.

use crate::Millis;
use serde::{Deserialize, Serialize};
use steward_alert::noise::{Schedule, Zone};

const MINUTE: Millis = 60_000;
const WEEK_MINUTES: u32 = 7 * 24 * 60;
/// The longest deferral or ring delay a policy may ask for.
pub const MAX_DAYS: u32 = 365;
pub const MAX_NAME: usize = 200;
pub const MAX_PACKAGE: usize = 256;
pub const MAX_REASON: usize = 1000;
pub const MAX_LIST: usize = 1000;

/// Where a policy or a hold applies, inside one organisation (every
/// policy and hold belongs to one; the store scopes them by tenant).
/// `organisation` is the whole fleet of that organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    Organisation,
    Site { site: String },
    Tag { tag: String },
}

impl Scope {
    pub fn covers(&self, device: &crate::Device) -> bool {
        match self {
            Scope::Organisation => true,
            Scope::Site { site } => device.site.as_deref() == Some(site.as_str()),
            Scope::Tag { tag } => device.tags.iter().any(|t| t == tag),
        }
    }

    /// Tag beats site beats organisation when several policies cover a
    /// device.
    pub fn specificity(&self) -> u8 {
        match self {
            Scope::Organisation => 0,
            Scope::Site { .. } => 1,
            Scope::Tag { .. } => 2,
        }
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let name = match self {
            Scope::Organisation => return Ok(()),
            Scope::Site { site } => site,
            Scope::Tag { tag } => tag,
        };
        if name.trim().is_empty() || name.len() > MAX_NAME {
            return Err(PolicyError::Scope);
        }
        Ok(())
    }
}

/// What installs on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallMode {
    /// Security updates only; others wait for an approval.
    Security,
    /// Every update.
    All,
    /// Nothing without an approval (`Policy::approved`).
    Approval,
}

/// Whether the device restarts after installing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RebootPolicy {
    Never,
    /// When the system says it needs one, inside the window only.
    WhenRequired,
    /// After every installation, inside the window only.
    Always,
}

/// A device that missed its window (offline, busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Installs in the next window.
    #[default]
    NextWindow,
    /// Installs as soon as it can, outside the window (a reboot still
    /// waits for one).
    AtOnce,
}

/// A weekly installation window on the device's wall clock: these days
/// (0 = Monday) from `start_minute` after local midnight, for
/// `duration_minutes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub days: Vec<u8>,
    pub start_minute: u32,
    pub duration_minutes: u32,
}

impl Window {
    fn validate(&self) -> Result<(), PolicyError> {
        let mut days = self.days.clone();
        days.sort_unstable();
        days.dedup();
        if days.is_empty() || days.len() != self.days.len() || days.iter().any(|d| *d > 6) {
            return Err(PolicyError::Window("days are 0 (Monday) to 6, each once"));
        }
        if self.start_minute >= 24 * 60 {
            return Err(PolicyError::Window("start_minute is below 1440"));
        }
        if self.duration_minutes == 0 || self.duration_minutes > WEEK_MINUTES {
            return Err(PolicyError::Window("duration_minutes is 1 to 10080"));
        }
        Ok(())
    }

    /// Whether the window holds `at` in `zone` (steward-alert's weekly
    /// schedule, so maintenance windows and patch windows agree).
    pub fn open(&self, zone: &Zone, at: Millis) -> bool {
        Schedule::Weekly {
            days: self.days.clone(),
            start_minute: self.start_minute,
            duration_minutes: self.duration_minutes,
            utc_offset_minutes: 0,
            timezone: Some(zone.clone()),
        }
        .active(at)
    }

    /// The periods `[start, end)` that start on a local date from `from`'s
    /// to `to`'s (both inclusive), in order.
    fn periods(&self, zone: &Zone, from: Millis, to: Millis) -> Vec<(Millis, Millis)> {
        let Ok(tz) = jiff::tz::TimeZone::get(zone.name()) else {
            return Vec::new();
        };
        let date = |at: Millis| {
            jiff::Timestamp::from_millisecond(at)
                .ok()
                .map(|t| t.to_zoned(tz.clone()).date())
        };
        let (Some(mut day), Some(last)) = (date(from), date(to)) else {
            return Vec::new();
        };
        let (hour, minute) = (
            (self.start_minute / 60) as i8,
            (self.start_minute % 60) as i8,
        );
        let length = i64::from(self.duration_minutes.min(WEEK_MINUTES)) * MINUTE;
        let mut out = Vec::new();
        while day <= last {
            let weekday = day.weekday().to_monday_zero_offset() as u8;
            if self.days.contains(&weekday)
                && let Ok(start) = day.at(hour, minute, 0, 0).to_zoned(tz.clone())
            {
                let start = start.timestamp().as_millisecond();
                out.push((start, start.saturating_add(length)));
            }
            let Ok(next) = day.tomorrow() else { break };
            day = next;
        }
        out
    }

    /// Whether a period of the window fell, at least partly, in
    /// `[since, now)` and is over or still running: the device could have
    /// installed in it.
    pub fn passed_since(&self, zone: &Zone, since: Millis, now: Millis) -> bool {
        if since >= now {
            return false;
        }
        // Any weekly window occurs within eight days; look no further back
        // (a period may last a week, so start a week before that).
        let from = since.max(now.saturating_sub(8 * crate::DAY));
        self.periods(zone, from.saturating_sub(8 * crate::DAY), now)
            .into_iter()
            .any(|(start, end)| start < now && end > from)
    }

    /// When the window next opens after `now` (none when the zone fails).
    pub fn next_open(&self, zone: &Zone, now: Millis) -> Option<Millis> {
        self.periods(zone, now, now.saturating_add(8 * crate::DAY))
            .into_iter()
            .map(|(start, _)| start)
            .find(|start| *start > now)
    }
}

/// A package and an exact version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageRef {
    pub name: String,
    pub version: String,
}

/// How a scope's devices are patched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub scope: Scope,
    pub install: InstallMode,
    /// Days after the server first saw an update pending before it installs.
    #[serde(default)]
    pub deferral_days: u32,
    /// Devices with any of these tags are the pilot ring; empty: no rings.
    #[serde(default)]
    pub pilot_tags: Vec<String>,
    /// Days the rest waits after the pilot may install, and only if the
    /// pilot's devices stayed healthy meanwhile.
    #[serde(default)]
    pub ring_delay_days: u32,
    pub window: Window,
    #[serde(default)]
    pub catch_up: CatchUp,
    pub reboot: RebootPolicy,
    /// The zone of a device that reports none (IANA name).
    #[serde(default = "utc")]
    pub timezone: String,
    /// Updates approved to install (any mode), from the window on.
    #[serde(default)]
    pub approved: Vec<PackageRef>,
    /// Minutes between the notice to logged-in users and the restart.
    #[serde(default = "five")]
    pub reboot_grace_minutes: u32,
}

fn five() -> u32 {
    5
}

/// The longest notice before a restart, in minutes.
pub const MAX_GRACE_MINUTES: u32 = 120;

fn utc() -> String {
    "UTC".to_string()
}

/// A package held: no device in the scope installs it (any version, or
/// just `version`) until the hold is lifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub package: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub scope: Scope,
    pub reason: String,
    /// Who set it (a person's name or id, as the audit names them).
    pub set_by: String,
    pub set_at: Millis,
}

impl Hold {
    pub fn holds(&self, device: &crate::Device, name: &str, version: &str) -> bool {
        self.package == name
            && self.version.as_deref().is_none_or(|v| v == version)
            && self.scope.covers(device)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        self.scope.validate()?;
        if !package_name_ok(&self.package) {
            return Err(PolicyError::Package);
        }
        if self
            .version
            .as_deref()
            .is_some_and(|v| v.trim().is_empty() || v.len() > MAX_PACKAGE)
        {
            return Err(PolicyError::Version);
        }
        if self.reason.trim().is_empty() || self.reason.len() > MAX_REASON {
            return Err(PolicyError::Reason);
        }
        Ok(())
    }
}

fn package_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PACKAGE
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._:~".contains(c))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a name of 1 to 200 characters is required")]
    Name,
    #[error("a site or tag scope names one of 1 to 200 characters")]
    Scope,
    #[error("window: {0}")]
    Window(&'static str),
    #[error("deferral_days and ring_delay_days are at most 365")]
    Days,
    #[error("pilot tags are 1 to 200 characters, at most 1000 of them")]
    PilotTags,
    #[error("ring_delay_days needs pilot_tags")]
    RingWithoutPilot,
    #[error("{0}")]
    TimeZone(String),
    #[error("a package name is letters, digits and + - . _ : ~, 1 to 256 characters")]
    Package,
    #[error("a version is 1 to 256 characters")]
    Version,
    #[error("a reason of 1 to 1000 characters is required")]
    Reason,
    #[error("at most 1000 approved updates")]
    Approved,
    #[error("reboot_grace_minutes is at most 120")]
    Grace,
}

impl Policy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.name.trim().is_empty() || self.name.len() > MAX_NAME {
            return Err(PolicyError::Name);
        }
        self.scope.validate()?;
        self.window.validate()?;
        if self.deferral_days > MAX_DAYS || self.ring_delay_days > MAX_DAYS {
            return Err(PolicyError::Days);
        }
        if self.pilot_tags.len() > MAX_LIST
            || self
                .pilot_tags
                .iter()
                .any(|t| t.trim().is_empty() || t.len() > MAX_NAME)
        {
            return Err(PolicyError::PilotTags);
        }
        if self.ring_delay_days > 0 && self.pilot_tags.is_empty() {
            return Err(PolicyError::RingWithoutPilot);
        }
        Zone::new(&self.timezone).map_err(PolicyError::TimeZone)?;
        if self.approved.len() > MAX_LIST {
            return Err(PolicyError::Approved);
        }
        if self.reboot_grace_minutes > MAX_GRACE_MINUTES {
            return Err(PolicyError::Grace);
        }
        for p in &self.approved {
            if !package_name_ok(&p.name) {
                return Err(PolicyError::Package);
            }
            if p.version.trim().is_empty() || p.version.len() > MAX_PACKAGE {
                return Err(PolicyError::Version);
            }
        }
        Ok(())
    }

    /// Whether the device is in the pilot ring.
    pub fn is_pilot(&self, device: &crate::Device) -> bool {
        self.pilot_tags.iter().any(|t| device.tags.contains(t))
    }
}
