//! What a posture report means, pure (plain data in, plain data out): the
//! score, what changed since the last report (ports, administrators,
//! watched files, before and after), failed-login bursts, unusual logins,
//! and the checks all that becomes for the alerting path.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use steward_alert::plugin::PluginState;
use steward_proto::{
    FileState, GroupMember, ListeningPort, LoginEvent, LoginOutcome, PostureCheck, PostureReport,
    PostureStatus,
};

/// A failed-login burst: at least this many failures …
pub const BURST_FAILURES: usize = 10;
/// … within this window.
pub const BURST_WINDOW_MS: i64 = 5 * 60_000;
/// An unusual login keeps its check failing this long.
pub const UNUSUAL_FOR_MS: i64 = 3_600_000;
/// A new administrator or a changed watched file keeps its check failing
/// this long; a newly opened port, an hour.
pub const ADMIN_FOR_MS: i64 = 24 * 3_600_000;
pub const FILE_FOR_MS: i64 = 24 * 3_600_000;
pub const PORT_FOR_MS: i64 = 3_600_000;
/// A user's hours are learnt for this long before a new hour is unusual.
pub const LEARN_HOURS_MS: i64 = 7 * 24 * 3_600_000;
/// Bounds of what is kept per device.
pub const MAX_CHANGES: usize = 200;
pub const MAX_USERS: usize = 256;
pub const MAX_ADDRESSES: usize = 64;
pub const MAX_FAILURES: usize = 2_000;

/// One thing that changed, with what it was before and is after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub at_ms: i64,
    /// `port_opened`, `port_closed`, `admin_added`, `admin_removed`,
    /// `file_changed`, `file_added`, `file_removed`.
    pub kind: String,
    pub subject: String,
    pub before: String,
    pub after: String,
}

/// A login the server found unusual.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unusual {
    pub at_ms: i64,
    pub user: String,
    pub address: String,
    pub service: String,
    pub why: String,
}

/// What is known of a user's logins on a device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub first_ms: i64,
    pub addresses: Vec<String>,
    /// Bit h: a login was seen at hour h (UTC).
    pub hours: u32,
}

/// A failed login kept for the burst window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub at_ms: i64,
    pub user: String,
    pub address: String,
    pub service: String,
}

/// The server's view of a device's posture (stored as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub score: Option<f64>,
    pub checks: Vec<PostureCheck>,
    pub ports: Vec<ListeningPort>,
    pub admins: Vec<GroupMember>,
    pub files: Vec<FileState>,
    /// Newest first.
    pub changes: Vec<Change>,
    pub failures: Vec<Failure>,
    pub unusual: Vec<Unusual>,
    pub seen: BTreeMap<String, Seen>,
    pub logins_dropped: u64,
    /// A first report was taken as the baseline.
    pub baselined: bool,
}

/// Weighted share of applicable checks that pass, 0–100 (one decimal);
/// `None` when none applies.
pub fn score(checks: &[PostureCheck]) -> Option<f64> {
    let (mut passed, mut total) = (0u32, 0u32);
    for check in checks {
        let weight = u32::from(check.weight);
        match check.status {
            PostureStatus::Pass => {
                passed += weight;
                total += weight;
            }
            PostureStatus::Fail => total += weight,
            PostureStatus::NotApplicable => {}
        }
    }
    (total > 0).then(|| (f64::from(passed) * 1000.0 / f64::from(total)).round() / 10.0)
}

fn port_key(p: &ListeningPort) -> String {
    let address = if p.address.contains(':') {
        format!("[{}]", p.address)
    } else {
        p.address.clone()
    };
    format!("{}/{address}:{}", p.proto, p.port)
}

fn file_text(f: &FileState) -> String {
    if f.error.is_empty() {
        format!(
            "sha256 {} uid {} gid {} mode {:o} size {}",
            f.sha256, f.uid, f.gid, f.mode, f.size
        )
    } else {
        format!("{} (uid {} mode {:o})", f.error, f.uid, f.mode)
    }
}

/// What changed between the stored view and a report (nothing on the
/// first report: it is the baseline).
pub fn changes(before: &State, report: &PostureReport, now_ms: i64) -> Vec<Change> {
    if !before.baselined {
        return Vec::new();
    }
    let mut out = Vec::new();
    let change = |kind: &str, subject: String, before: String, after: String| Change {
        at_ms: now_ms,
        kind: kind.into(),
        subject,
        before,
        after,
    };
    let old: BTreeMap<String, &ListeningPort> =
        before.ports.iter().map(|p| (port_key(p), p)).collect();
    let new: BTreeMap<String, &ListeningPort> =
        report.ports.iter().map(|p| (port_key(p), p)).collect();
    for (key, port) in &new {
        if !old.contains_key(key) {
            out.push(change(
                "port_opened",
                key.clone(),
                String::new(),
                port.process.clone(),
            ));
        }
    }
    for (key, port) in &old {
        if !new.contains_key(key) {
            out.push(change(
                "port_closed",
                key.clone(),
                port.process.clone(),
                String::new(),
            ));
        }
    }
    for member in &report.admins {
        if !before.admins.contains(member) {
            out.push(change(
                "admin_added",
                format!("{}:{}", member.group, member.user),
                String::new(),
                "member".into(),
            ));
        }
    }
    for member in &before.admins {
        if !report.admins.contains(member) {
            out.push(change(
                "admin_removed",
                format!("{}:{}", member.group, member.user),
                "member".into(),
                String::new(),
            ));
        }
    }
    for file in &report.files {
        match before.files.iter().find(|f| f.path == file.path) {
            None => out.push(change(
                "file_added",
                file.path.clone(),
                String::new(),
                file_text(file),
            )),
            Some(old) if old != file => out.push(change(
                "file_changed",
                file.path.clone(),
                file_text(old),
                file_text(file),
            )),
            Some(_) => {}
        }
    }
    for file in &before.files {
        if !report.files.iter().any(|f| f.path == file.path) {
            out.push(change(
                "file_removed",
                file.path.clone(),
                file_text(file),
                String::new(),
            ));
        }
    }
    out
}

fn hour_of(at_ms: i64) -> u32 {
    (at_ms.rem_euclid(86_400_000) / 3_600_000) as u32
}

/// Takes a report's login events into the state: failures join the burst
/// window, accepted logins are compared with what was seen for the user on
/// this device (a user seen for the first time is learnt, not unusual).
pub fn take_logins(state: &mut State, events: &[LoginEvent], now_ms: i64) {
    for event in events {
        match event.outcome {
            LoginOutcome::Failed => state.failures.push(Failure {
                at_ms: event.at_ms,
                user: event.user.clone(),
                address: event.address.clone(),
                service: event.service.clone(),
            }),
            LoginOutcome::Accepted if event.service != "sudo" && !event.user.is_empty() => {
                let hour = hour_of(event.at_ms);
                let known = state.seen.len() < MAX_USERS || state.seen.contains_key(&event.user);
                if !known {
                    continue;
                }
                let seen = state.seen.entry(event.user.clone()).or_insert(Seen {
                    first_ms: event.at_ms,
                    addresses: Vec::new(),
                    hours: 0,
                });
                let learnt = seen.addresses.is_empty() && seen.hours == 0;
                let mut why = Vec::new();
                if !event.address.is_empty() && !seen.addresses.contains(&event.address) {
                    if !learnt {
                        why.push(format!(
                            "address {} never seen for {}",
                            event.address, event.user
                        ));
                    }
                    if seen.addresses.len() < MAX_ADDRESSES {
                        seen.addresses.push(event.address.clone());
                    }
                }
                if seen.hours & (1 << hour) == 0 {
                    if !learnt && event.at_ms - seen.first_ms >= LEARN_HOURS_MS {
                        why.push(format!(
                            "a login at {hour:02}:00 UTC, an hour never seen for {}",
                            event.user
                        ));
                    }
                    seen.hours |= 1 << hour;
                }
                if !why.is_empty() {
                    state.unusual.insert(
                        0,
                        Unusual {
                            at_ms: event.at_ms,
                            user: event.user.clone(),
                            address: event.address.clone(),
                            service: event.service.clone(),
                            why: why.join("; "),
                        },
                    );
                }
            }
            _ => {}
        }
    }
    state
        .failures
        .retain(|f| now_ms - f.at_ms <= BURST_WINDOW_MS && f.at_ms <= now_ms + 600_000);
    if state.failures.len() > MAX_FAILURES {
        let cut = state.failures.len() - MAX_FAILURES;
        state.failures.drain(..cut);
    }
    state.unusual.retain(|u| now_ms - u.at_ms <= UNUSUAL_FOR_MS);
    state.unusual.truncate(20);
}

/// One check's state from the posture.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub check: String,
    pub state: PluginState,
    pub message: String,
}

fn judged(check: &str, state: PluginState, message: String) -> Judged {
    Judged {
        check: check.to_string(),
        state,
        message,
    }
}

/// The failed-login burst check's message: count and source addresses,
/// most attempts first.
fn burst(failures: &[Failure]) -> (PluginState, String) {
    let mut by_source: BTreeMap<&str, usize> = BTreeMap::new();
    for f in failures {
        let source = if f.address.is_empty() {
            "local"
        } else {
            f.address.as_str()
        };
        *by_source.entry(source).or_default() += 1;
    }
    let mut sources: Vec<(&str, usize)> = by_source.into_iter().collect();
    sources.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let listed: Vec<String> = sources
        .iter()
        .take(10)
        .map(|(s, n)| format!("{s} ({n})"))
        .collect();
    let more = sources.len().saturating_sub(10);
    let text = format!(
        "{} failed logins in the last {} min from {}{}",
        failures.len(),
        BURST_WINDOW_MS / 60_000,
        listed.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
    if failures.len() >= BURST_FAILURES {
        (PluginState::Critical, text)
    } else if failures.is_empty() {
        (PluginState::Ok, "no failed logins in the last 5 min".into())
    } else {
        (PluginState::Ok, text)
    }
}

fn recent_changes<'a>(
    state: &'a State,
    kinds: &[&str],
    within: i64,
    now_ms: i64,
) -> Vec<&'a Change> {
    state
        .changes
        .iter()
        .filter(|c| kinds.contains(&c.kind.as_str()) && now_ms - c.at_ms <= within)
        .collect()
}

/// Every check the state gives: `posture.<id>` per item (a failing item
/// of weight 3 or more is CRITICAL, else WARNING; not applicable is OK),
/// `posture.login.failures`, `posture.login.unusual`, `posture.admins`,
/// `posture.files`, `posture.ports`.
pub fn judge(state: &State, now_ms: i64) -> Vec<Judged> {
    let mut out: Vec<Judged> = state
        .checks
        .iter()
        .map(|c| {
            let (level, text) = match c.status {
                PostureStatus::Pass => (PluginState::Ok, format!("{}: {}", c.title, c.reason)),
                PostureStatus::NotApplicable => (
                    PluginState::Ok,
                    format!("{}: not applicable ({})", c.title, c.reason),
                ),
                // A hardening gap warns; it does not page. Most fleets have
                // some on the first day (no host firewall, a pending
                // update), and a critical alert on each device would open
                // an incident per device. The score ranks them by weight.
                PostureStatus::Fail => (
                    PluginState::Warning,
                    format!("{}: {}. Fix: {}", c.title, c.reason, c.fix),
                ),
            };
            judged(&format!("posture.{}", c.id), level, text)
        })
        .collect();
    let (level, text) = burst(&state.failures);
    out.push(judged("posture.login.failures", level, text));
    out.push(match state.unusual.first() {
        Some(u) => judged(
            "posture.login.unusual",
            PluginState::Warning,
            format!("{} logged in via {}: {}", u.user, u.service, u.why),
        ),
        None => judged(
            "posture.login.unusual",
            PluginState::Ok,
            "no unusual login in the last hour".into(),
        ),
    });
    for (check, kinds, within, what) in [
        (
            "posture.admins",
            &["admin_added"][..],
            ADMIN_FOR_MS,
            "new administrators",
        ),
        (
            "posture.files",
            &["file_changed", "file_removed"][..],
            FILE_FOR_MS,
            "watched files changed",
        ),
        (
            "posture.ports",
            &["port_opened"][..],
            PORT_FOR_MS,
            "new listening ports",
        ),
    ] {
        let recent = recent_changes(state, kinds, within, now_ms);
        out.push(if recent.is_empty() {
            judged(check, PluginState::Ok, format!("no {what}"))
        } else {
            let subjects: Vec<&str> = recent.iter().take(10).map(|c| c.subject.as_str()).collect();
            judged(
                check,
                PluginState::Warning,
                format!("{what}: {}", subjects.join(", ")),
            )
        });
    }
    out
}

/// The new state after a report at `now_ms`.
pub fn apply(before: &State, report: &PostureReport, now_ms: i64) -> State {
    let mut state = before.clone();
    let mut new_changes = changes(before, report, now_ms);
    new_changes.reverse();
    for change in new_changes {
        state.changes.insert(0, change);
    }
    state.changes.truncate(MAX_CHANGES);
    state.checks = report.checks.clone();
    state.ports = report.ports.clone();
    state.admins = report.admins.clone();
    state.files = report.files.clone();
    state.score = score(&report.checks);
    state.logins_dropped += report.logins_dropped;
    state.baselined = true;
    take_logins(&mut state, &report.logins, now_ms);
    state
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
