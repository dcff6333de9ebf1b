//! Aging infrastructure, pure: from a device's inventory (OS release, boot
//! time), its latest SMART report and the view stored from the reports
//! before, what is old or wearing out and how badly. Tested with plain
//! data (`tests.rs`); the server stores the view and turns [`judge`]'s
//! answers into checks.
//!
//! - **End of life** (`aging.eol`): the release's support dates
//!   (`eol.rs`). Past the end of all support: critical; past the free
//!   support with paid support left (ESM, ELS, ESU), or within
//!   [`Policy::eol_warn_days`] of an end: warning.
//! - **Uptime** (`aging.uptime`): up longer than
//!   [`Policy::uptime_days`] without a reboot (so without the kernel
//!   updates installed since): warning.
//! - **Disks** (`aging.smart`): a SMART counter that *rose* since the
//!   previous report (not one merely above zero: many disks carry a few
//!   reallocated sectors for years) flags the disk for
//!   [`Policy::smart_days`]. Pending or uncorrectable sectors and NVMe
//!   media errors rising are critical, reallocated sectors warning; NVMe
//!   wear (percentage used) rising past 90 % warning, past 100 %
//!   critical; SMART's own verdict "failing" critical.

pub mod eol;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use steward_proto::{DiskHealth, DiskHealthReport, Inventory, SmartState};

const DAY_MS: i64 = 86_400_000;

/// The numbers an organisation may tune.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub uptime_days: i64,
    pub eol_warn_days: i64,
    /// How long a rise keeps a disk flagged.
    pub smart_days: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            uptime_days: 90,
            eol_warn_days: 90,
            smart_days: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Ok,
    Warning,
    Critical,
}

/// One reason a device is flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `aging.eol`, `aging.uptime`, `aging.smart`.
    pub check: String,
    pub severity: Severity,
    /// What it is about: the release, or the disk.
    pub subject: String,
    pub reason: String,
}

/// The release and its support dates, as far as the table knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OsAge {
    pub os_name: String,
    pub os_version: String,
    /// Empty when the table does not know the release.
    pub label: String,
    pub ends: String,
    /// `ESM`, `ELS`, `ESU`; empty when none.
    pub extended_name: String,
    pub extended_ends: String,
}

/// A counter that rose between two reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rise {
    pub counter: String,
    pub from: u64,
    pub to: u64,
    pub at_ms: i64,
}

/// A disk as last read, with the rises still in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskView {
    #[serde(flatten)]
    pub disk: DiskHealth,
    pub rises: Vec<Rise>,
}

/// The stored view of a device (JSON in `device_aging.detail`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub os: OsAge,
    /// Unix seconds; 0 when unknown.
    pub boot_time: i64,
    pub uptime_days: Option<i64>,
    pub smart_state: Option<SmartState>,
    pub smart_error: String,
    /// When the agent read the disks (Unix seconds).
    pub smart_checked_at: i64,
    pub disks: Vec<DiskView>,
    pub findings: Vec<Finding>,
    pub worst: Severity,
}

/// Most rises kept per disk.
const MAX_RISES: usize = 16;

/// The counters compared between reports, by name.
fn counters(disk: &DiskHealth) -> [(&'static str, Option<u64>); 5] {
    [
        ("reallocated_sectors", disk.reallocated_sectors),
        ("pending_sectors", disk.pending_sectors),
        ("uncorrectable_sectors", disk.uncorrectable_sectors),
        ("media_errors", disk.media_errors),
        ("percentage_used", disk.percentage_used),
    ]
}

/// The new view from the stored one, the inventory (if any) and a SMART
/// report (`None`: re-judge the age only, the disks as they were).
pub fn apply(
    before: &State,
    inventory: Option<&Inventory>,
    report: Option<&DiskHealthReport>,
    now_ms: i64,
    policy: &Policy,
) -> State {
    let mut state = State {
        smart_state: before.smart_state,
        smart_error: before.smart_error.clone(),
        smart_checked_at: before.smart_checked_at,
        disks: before.disks.clone(),
        os: before.os.clone(),
        boot_time: before.boot_time,
        ..State::default()
    };
    if let Some(inventory) = inventory {
        state.os = os_age(&inventory.os_name, &inventory.os_version);
        state.boot_time = inventory.boot_time;
    }
    let boot_ms = state.boot_time.saturating_mul(1000);
    state.uptime_days = (boot_ms > 0 && boot_ms <= now_ms).then(|| (now_ms - boot_ms) / DAY_MS);
    if let Some(report) = report {
        state.smart_state = Some(report.state);
        state.smart_error = report.error.clone();
        state.smart_checked_at = report.checked_at;
        match report.state {
            SmartState::Ok => state.disks = disks(&before.disks, &report.disks, now_ms),
            SmartState::NotAvailable => state.disks.clear(),
            // A pass that failed as a whole tells nothing new of the
            // disks: they stay as last read (and compared against).
            SmartState::TimedOut | SmartState::Failed | SmartState::Unknown => {}
        }
    }
    let window = policy.smart_days * DAY_MS;
    for view in &mut state.disks {
        view.rises.retain(|r| now_ms - r.at_ms < window);
    }
    state.findings = findings(&state, now_ms, policy);
    state.worst = state
        .findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or_default();
    state
}

fn os_age(os_name: &str, os_version: &str) -> OsAge {
    let mut age = OsAge {
        os_name: os_name.to_string(),
        os_version: os_version.to_string(),
        ..OsAge::default()
    };
    if let Some(life) = eol::release(os_name, os_version)
        .and_then(|(family, release)| eol::lifecycle(family, &release))
    {
        age.label = life.label.to_string();
        age.ends = life.ends.to_string();
        if let Some((name, ends)) = life.extended {
            age.extended_name = name.to_string();
            age.extended_ends = ends.to_string();
        }
    }
    age
}

/// Each disk of the report against the same disk (by serial) before.
fn disks(before: &[DiskView], now: &[DiskHealth], now_ms: i64) -> Vec<DiskView> {
    now.iter()
        .map(|disk| {
            // By serial; an unreadable disk has none, so by path then.
            let previous = before
                .iter()
                .find(|v| v.disk.key() == disk.key())
                .or_else(|| {
                    let by_path = disk.serial.is_empty();
                    before.iter().find(|v| by_path && v.disk.name == disk.name)
                });
            let mut rises = previous.map(|p| p.rises.clone()).unwrap_or_default();
            if !disk.error.is_empty() {
                // Unreadable this time: keep the last good counters to
                // compare the next reading with, and say why.
                let mut kept = previous.map(|p| p.disk.clone()).unwrap_or_default();
                kept.name = disk.name.clone();
                kept.protocol = disk.protocol.clone();
                kept.error = disk.error.clone();
                return DiskView { disk: kept, rises };
            }
            if let Some(previous) = previous {
                for ((name, old), (_, new)) in
                    counters(&previous.disk).into_iter().zip(counters(disk))
                {
                    if let (Some(old), Some(new)) = (old, new)
                        && new > old
                    {
                        rises.push(Rise {
                            counter: name.to_string(),
                            from: old,
                            to: new,
                            at_ms: now_ms,
                        });
                    }
                }
            }
            if rises.len() > MAX_RISES {
                rises.drain(..rises.len() - MAX_RISES);
            }
            DiskView {
                disk: disk.clone(),
                rises,
            }
        })
        .collect()
}

/// Unix ms as `YYYY-MM-DD` (UTC).
fn date_text(ms: i64) -> String {
    // Civil from days (Howard Hinnant's algorithm).
    let z = ms.div_euclid(DAY_MS) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// At most `max` characters of `text`.
pub fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn findings(state: &State, now_ms: i64, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let os = &state.os;
    if let Some(ends) = eol::day_ms(&os.ends) {
        let extended = eol::day_ms(&os.extended_ends);
        let last = extended.unwrap_or(ends);
        let warn = policy.eol_warn_days * DAY_MS;
        let days_to = |at: i64| (at - now_ms).div_euclid(DAY_MS);
        let finding = if now_ms >= last {
            Some((
                Severity::Critical,
                format!(
                    "{} reached its end of life on {}: no more security updates",
                    os.label,
                    date_text(last)
                ),
            ))
        } else if now_ms >= ends {
            Some((
                Severity::Warning,
                format!(
                    "{} left standard support on {}; security updates only with {} until {}",
                    os.label, os.ends, os.extended_name, os.extended_ends
                ),
            ))
        } else if ends - now_ms <= warn {
            let after = match extended {
                Some(_) => format!(" ({} until {})", os.extended_name, os.extended_ends),
                None => String::new(),
            };
            Some((
                Severity::Warning,
                format!(
                    "{} reaches its end of support on {} (in {} days){after}",
                    os.label,
                    os.ends,
                    days_to(ends)
                ),
            ))
        } else {
            None
        };
        if let Some((severity, reason)) = finding {
            out.push(Finding {
                check: "aging.eol".into(),
                severity,
                subject: os.label.clone(),
                reason,
            });
        }
    }
    if let Some(days) = state.uptime_days
        && days > policy.uptime_days
    {
        out.push(Finding {
            check: "aging.uptime".into(),
            severity: Severity::Warning,
            subject: String::new(),
            reason: format!(
                "up {days} days without a reboot (policy: {} days): kernel and library updates since are not running",
                policy.uptime_days
            ),
        });
    }
    for view in &state.disks {
        if let Some((severity, reason)) = disk_finding(view) {
            out.push(Finding {
                check: "aging.smart".into(),
                severity,
                subject: view.disk.name.clone(),
                reason,
            });
        }
    }
    out
}

fn disk_finding(view: &DiskView) -> Option<(Severity, String)> {
    let disk = &view.disk;
    let mut worst = Severity::Ok;
    let mut reasons = Vec::new();
    let what = if disk.model.is_empty() {
        disk.name.clone()
    } else {
        format!("{} ({})", disk.name, disk.model)
    };
    if disk.passed == Some(false) {
        worst = Severity::Critical;
        reasons.push("SMART's overall assessment: failing".to_string());
    }
    // The newest rise of each counter.
    let mut seen: Vec<&str> = Vec::new();
    for rise in view.rises.iter().rev() {
        if seen.contains(&rise.counter.as_str()) {
            continue;
        }
        seen.push(&rise.counter);
        let severity = match rise.counter.as_str() {
            "reallocated_sectors" => Severity::Warning,
            "percentage_used" if rise.to >= 100 => Severity::Critical,
            "percentage_used" if rise.to >= 90 => Severity::Warning,
            "percentage_used" => continue,
            _ => Severity::Critical,
        };
        worst = worst.max(severity);
        let first = view
            .rises
            .iter()
            .filter(|r| r.counter == rise.counter)
            .map(|r| r.from)
            .next()
            .unwrap_or(rise.from);
        reasons.push(format!(
            "{} rose from {first} to {} on {}",
            rise.counter.replace('_', " "),
            rise.to,
            date_text(rise.at_ms)
        ));
    }
    (worst > Severity::Ok).then(|| (worst, format!("{what}: {}", reasons.join("; "))))
}

/// One check for the alerting path.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub check: &'static str,
    pub severity: Severity,
    pub message: String,
}

/// The three checks of a view: each the worst of its findings, `ok` with
/// what was looked at otherwise (so an alert resolves).
pub fn judge(state: &State) -> Vec<Judged> {
    let ok_message = |check: &str| -> String {
        match check {
            "aging.eol" if state.os.label.is_empty() => format!(
                "{} {}: not in the end-of-life table",
                state.os.os_name, state.os.os_version
            ),
            "aging.eol" => format!("{} supported until {}", state.os.label, state.os.ends),
            "aging.uptime" => match state.uptime_days {
                Some(days) => format!("up {days} days"),
                None => "boot time unknown".into(),
            },
            _ => match state.smart_state {
                None => "no SMART report yet".into(),
                Some(SmartState::NotAvailable) => "smartctl not available".into(),
                Some(SmartState::Ok) => {
                    let unreadable: Vec<String> = state
                        .disks
                        .iter()
                        .filter(|d| !d.disk.error.is_empty())
                        .map(|d| format!("{}: {}", d.disk.name, d.disk.error))
                        .collect();
                    if unreadable.is_empty() {
                        format!("{} disks, no counter rising", state.disks.len())
                    } else {
                        format!(
                            "{} disks, no counter rising; unreadable: {}",
                            state.disks.len(),
                            unreadable.join("; ")
                        )
                    }
                }
                Some(_) => format!("SMART could not be read: {}", state.smart_error),
            },
        }
    };
    ["aging.eol", "aging.uptime", "aging.smart"]
        .into_iter()
        .map(|check| {
            let mine: Vec<&Finding> = state.findings.iter().filter(|f| f.check == check).collect();
            let worst = mine.iter().map(|f| f.severity).max().unwrap_or_default();
            let message = match worst {
                Severity::Ok => ok_message(check),
                Severity::Warning | Severity::Critical => join(&mine),
            };
            Judged {
                check,
                severity: worst,
                message,
            }
        })
        .collect()
}

fn join(findings: &[&Finding]) -> String {
    let text: Vec<&str> = findings.iter().map(|f| f.reason.as_str()).collect();
    cut(&text.join(" | "), 1000)
}
