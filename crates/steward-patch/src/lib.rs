//! Patch policies, pure: "for this device now, which updates install, and
//! does it reboot?" answered from plain data (the organisation's policies
//! and holds, the device's pending updates with when the server first saw
//! them, the pilot ring's health, the clock passed in). The server's
//! deployment loop turns a decision into a signed install job; the console
//! shows the reason for every update that waits.
//!
//! The rules, in the order they apply to one update:
//! 1. a **hold** covering the device on the package (any version or the
//!    candidate's) stops it, whatever else says;
//! 2. the device's **policy** is the most specific one covering it (tag,
//!    then site, then organisation; ties by name); none: nothing installs;
//! 3. the **mode**: `security` installs security updates, `all` every
//!    one, `approval` none; an update in the policy's `approved` list
//!    installs in any mode, without deferral or rings;
//! 4. the **deferral**: due `deferral_days` after first seen;
//! 5. **rings**: with pilot tags, a device outside the pilot is due
//!    `ring_delay_days` later, and only while every pilot device stayed
//!    healthy since the pilot was due (no critical alert, no failed update)
//!    and the pilot has at least one device;
//! 6. the **window** (weekly, on the device's wall clock, the policy's zone
//!    for a device without one): a due update installs while it is open;
//!    outside it, only with `catch_up: at_once` and when a window passed
//!    since the update was due (the device missed it);
//! 7. the **reboot**: never (a device that needs one has it "deferred");
//!    `when_required`: inside the window, when the system says so (already,
//!    or after the install); `always`: inside the window after an install.
//!    A catch-up outside the window defers it. The device warns its
//!    logged-in users `reboot_grace_minutes` before restarting.

pub mod policy;
pub mod rollout;

pub use policy::{
    CatchUp, Hold, InstallMode, PackageRef, Policy, PolicyError, RebootPolicy, Scope, Window,
};
use serde::{Deserialize, Serialize};
use steward_alert::noise::Zone;

/// Unix time in milliseconds.
pub type Millis = i64;
pub const DAY: Millis = 86_400_000;

/// A pending update as the server stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub name: String,
    /// The candidate version, installed exactly.
    pub version: String,
    pub security: bool,
    /// When the server first saw it pending on this device.
    pub first_seen: Millis,
}

/// What the decision needs to know about a device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub site: Option<String>,
    pub tags: Vec<String>,
    /// IANA zone the device reports; the policy's otherwise.
    pub timezone: Option<String>,
    pub reboot_required: bool,
    pub updates: Vec<Update>,
}

/// Something that makes a pilot device unhealthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trouble {
    CriticalAlert { subject: String },
    FailedUpdate { package: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub device: String,
    pub at: Millis,
    #[serde(flatten)]
    pub trouble: Trouble,
}

/// The pilot ring of the device's policy: its devices and what happened
/// to them (the caller may pass more history than needed; only incidents
/// since the pilot was due count).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pilot {
    pub devices: Vec<String>,
    pub incidents: Vec<Incident>,
}

/// Why an update does not install now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wait {
    NoPolicy,
    Held {
        reason: String,
        set_by: String,
        /// The version held; none: every version.
        #[serde(skip_serializing_if = "Option::is_none")]
        held_version: Option<String>,
    },
    NotSecurity,
    NeedsApproval,
    Deferred {
        until: Millis,
    },
    PilotRing {
        until: Millis,
    },
    PilotEmpty,
    PilotUnhealthy {
        incident: Incident,
    },
    OutsideWindow {
        #[serde(skip_serializing_if = "Option::is_none")]
        next: Option<Millis>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    pub name: String,
    pub version: String,
    #[serde(flatten)]
    pub wait: Wait,
}

/// What the device does about restarting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reboot {
    No,
    /// After installing, if the system then says it needs one.
    IfRequired,
    Yes,
    /// The device needs one but the policy does not restart it now (its
    /// window is closed, or it never restarts devices).
    Deferred,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The policy that applied.
    pub policy: Option<String>,
    pub window_open: bool,
    pub install: Vec<PackageRef>,
    pub waiting: Vec<Waiting>,
    pub reboot: Reboot,
}

impl Decision {
    /// Whether there is anything to do (a job to send).
    pub fn acts(&self) -> bool {
        !self.install.is_empty() || self.reboot == Reboot::Yes
    }
}

/// The policy for a device: most specific scope, then name.
pub fn policy_for<'a>(policies: &'a [Policy], device: &Device) -> Option<&'a Policy> {
    policies
        .iter()
        .filter(|p| p.scope.covers(device))
        .min_by(|a, b| {
            b.scope
                .specificity()
                .cmp(&a.scope.specificity())
                .then_with(|| a.name.cmp(&b.name))
        })
}

/// The device's zone: its own when it names a known one, else the policy's,
/// else UTC (none only without a zone database: the window stays shut).
fn zone_for(policy: &Policy, device: &Device) -> Option<Zone> {
    device
        .timezone
        .as_deref()
        .and_then(|z| Zone::new(z).ok())
        .or_else(|| Zone::new(&policy.timezone).ok())
        .or_else(|| Zone::new("UTC").ok())
}

/// For this device at `now`: which updates install, which wait and why,
/// and whether it reboots. `policies` and `holds` are its organisation's;
/// `pilot` is the pilot ring of its policy.
pub fn decide(
    policies: &[Policy],
    holds: &[Hold],
    device: &Device,
    pilot: &Pilot,
    now: Millis,
) -> Decision {
    let policy = policy_for(policies, device);
    let mut install = Vec::new();
    let mut waiting = Vec::new();
    let zone = policy.and_then(|p| zone_for(p, device));
    let window_open = match (policy, &zone) {
        (Some(p), Some(z)) => p.window.open(z, now),
        _ => false,
    };
    let mut updates: Vec<&Update> = device.updates.iter().collect();
    updates.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.version.cmp(&b.version)));
    updates.dedup_by(|a, b| a.name == b.name && a.version == b.version);
    for update in updates {
        let outcome = match (policy, &zone) {
            (Some(p), Some(z)) => one(p, z, holds, device, pilot, update, window_open, now),
            (Some(_), None) => match hold_of(holds, device, update) {
                Some(wait) => Err(wait),
                None => Err(Wait::OutsideWindow { next: None }),
            },
            (None, _) => hold_of(holds, device, update).map_or(Err(Wait::NoPolicy), Err),
        };
        let package = PackageRef {
            name: update.name.clone(),
            version: update.version.clone(),
        };
        match outcome {
            Ok(()) => install.push(package),
            Err(wait) => waiting.push(Waiting {
                name: package.name,
                version: package.version,
                wait,
            }),
        }
    }
    let reboot = match policy.map(|p| p.reboot) {
        None => Reboot::No,
        // The device needs one the policy will not do: said, not done.
        Some(RebootPolicy::Never) if device.reboot_required => Reboot::Deferred,
        Some(RebootPolicy::Never) => Reboot::No,
        Some(RebootPolicy::WhenRequired) => match (window_open, device.reboot_required) {
            (true, true) => Reboot::Yes,
            (true, false) if !install.is_empty() => Reboot::IfRequired,
            (false, _) if !install.is_empty() || device.reboot_required => Reboot::Deferred,
            _ => Reboot::No,
        },
        Some(RebootPolicy::Always) => match (window_open, install.is_empty()) {
            (_, true) => Reboot::No,
            (true, false) => Reboot::Yes,
            (false, false) => Reboot::Deferred,
        },
    };
    Decision {
        policy: policy.map(|p| p.name.clone()),
        window_open,
        install,
        waiting,
        reboot,
    }
}

fn hold_of(holds: &[Hold], device: &Device, update: &Update) -> Option<Wait> {
    holds
        .iter()
        .find(|h| h.holds(device, &update.name, &update.version))
        .map(|h| Wait::Held {
            reason: h.reason.clone(),
            set_by: h.set_by.clone(),
            held_version: h.version.clone(),
        })
}

#[allow(clippy::too_many_arguments)]
fn one(
    policy: &Policy,
    zone: &Zone,
    holds: &[Hold],
    device: &Device,
    pilot: &Pilot,
    update: &Update,
    window_open: bool,
    now: Millis,
) -> Result<(), Wait> {
    if let Some(wait) = hold_of(holds, device, update) {
        return Err(wait);
    }
    let approved = policy
        .approved
        .iter()
        .any(|a| a.name == update.name && a.version == update.version);
    let due = if approved {
        update.first_seen
    } else {
        match policy.install {
            InstallMode::Approval => return Err(Wait::NeedsApproval),
            InstallMode::Security if !update.security => return Err(Wait::NotSecurity),
            _ => {}
        }
        let pilot_due = update
            .first_seen
            .saturating_add(i64::from(policy.deferral_days) * DAY);
        if now < pilot_due {
            return Err(Wait::Deferred { until: pilot_due });
        }
        if policy.pilot_tags.is_empty() || policy.is_pilot(device) {
            pilot_due
        } else {
            let due = pilot_due.saturating_add(i64::from(policy.ring_delay_days) * DAY);
            if now < due {
                return Err(Wait::PilotRing { until: due });
            }
            if pilot.devices.is_empty() {
                return Err(Wait::PilotEmpty);
            }
            let mut troubles: Vec<&Incident> = pilot
                .incidents
                .iter()
                .filter(|i| i.at >= pilot_due && i.at <= now && pilot.devices.contains(&i.device))
                .collect();
            troubles.sort_by_key(|i| i.at);
            if let Some(first) = troubles.first() {
                return Err(Wait::PilotUnhealthy {
                    incident: (*first).clone(),
                });
            }
            due
        }
    };
    if window_open
        || (policy.catch_up == CatchUp::AtOnce && policy.window.passed_since(zone, due, now))
    {
        Ok(())
    } else {
        Err(Wait::OutsideWindow {
            next: policy.window.next_open(zone, now),
        })
    }
}

#[cfg(test)]
mod tests;
