//! Why a device needs a reboot, from what the agent could read (no I/O
//! here): the flag file packages touch (`/run/reboot-required`, with
//! `.pkgs`), needrestart's batch answer (`-b`, meaningful as root), and
//! the running kernel against the newest installed one of its flavour.
//! Debian's kernel packages do not touch the flag file, so the kernel
//! comparison is what catches a kernel upgrade there.

use super::clean;
use std::cmp::Ordering;
use steward_proto::{RebootReason, RebootState};

/// What needrestart's batch mode (`needrestart -b`) says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NeedRestart {
    /// `NEEDRESTART-KSTA`: 0 unknown, 1 current, 2 ABI-compatible upgrade
    /// pending, 3 version upgrade pending.
    pub kernel_state: Option<u8>,
    pub current: String,
    pub expected: String,
    pub services: Vec<String>,
}

pub fn parse_needrestart(text: &str) -> NeedRestart {
    let mut out = NeedRestart::default();
    for line in text.lines().take(10_000) {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "NEEDRESTART-KSTA" => out.kernel_state = value.parse().ok().filter(|s| *s <= 3),
            "NEEDRESTART-KCUR" => out.current = clean(value, 256),
            "NEEDRESTART-KEXP" => out.expected = clean(value, 256),
            "NEEDRESTART-SVC" if out.services.len() < 256 && !value.is_empty() => {
                out.services.push(clean(value, 256))
            }
            _ => {}
        }
    }
    out
}

/// The flavour of a kernel release: the words after its version
/// (`6.1.0-26-cloud-amd64` → `cloud-amd64`, `6.8.0-45-generic` →
/// `generic`); empty for `5.14.0-427.el9.x86_64`.
pub fn flavour(release: &str) -> &str {
    let mut offset = 0;
    for part in release.split('-') {
        if part.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return &release[offset..];
        }
        offset += part.len() + 1;
    }
    ""
}

/// The newest of `installed` with the running kernel's flavour, ordered by
/// `compare` (the package manager's rules).
pub fn newest_kernel<'a>(
    running: &str,
    installed: &'a [String],
    compare: fn(&str, &str) -> Ordering,
) -> Option<&'a String> {
    installed
        .iter()
        .filter(|k| flavour(k) == flavour(running))
        .max_by(|a, b| compare(a, b))
}

/// What the agent read, for [`decide`].
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The flag file exists, and its package list (`None`: no `.pkgs`).
    pub flag: bool,
    pub flag_packages: Option<String>,
    pub running_kernel: String,
    /// Kernels installed (from `/boot/vmlinuz-*`).
    pub installed_kernels: Vec<String>,
    pub needrestart: Option<NeedRestart>,
    /// dnf's `needs-restarting -r` answer and the packages it names.
    pub needs_restarting: Option<(Option<bool>, Vec<String>)>,
}

pub fn decide(evidence: &Evidence, compare: fn(&str, &str) -> Ordering) -> RebootState {
    let mut state = RebootState {
        running_kernel: clean(&evidence.running_kernel, 256),
        ..RebootState::default()
    };
    let mut known = false;
    let reason = |state: &mut RebootState, source: &str, detail: String| {
        state.reasons.push(RebootReason {
            source: source.into(),
            detail: clean(&detail, 1024),
        });
    };
    if evidence.flag {
        known = true;
        state.packages = evidence
            .flag_packages
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(|p| clean(p.trim(), 256))
            .filter(|p| !p.is_empty())
            .take(256)
            .collect();
        let detail = if state.packages.is_empty() {
            "/run/reboot-required exists".to_string()
        } else {
            format!(
                "/run/reboot-required exists, asked by {}",
                state.packages.join(", ")
            )
        };
        reason(&mut state, "flag_file", detail);
    }
    if !evidence.running_kernel.is_empty() && !evidence.installed_kernels.is_empty() {
        // Only when the running kernel's own image is there: a container
        // or a custom kernel proves nothing.
        if evidence
            .installed_kernels
            .contains(&evidence.running_kernel)
        {
            known = true;
            if let Some(newest) = newest_kernel(
                &evidence.running_kernel,
                &evidence.installed_kernels,
                compare,
            ) {
                state.newest_kernel = clean(newest, 256);
                if compare(newest, &evidence.running_kernel) == Ordering::Greater {
                    let detail = format!(
                        "running kernel {}, newest installed {}",
                        evidence.running_kernel, newest
                    );
                    reason(&mut state, "kernel", detail);
                }
            }
        }
    }
    if let Some(nr) = &evidence.needrestart {
        match nr.kernel_state {
            Some(2) | Some(3) => {
                known = true;
                let what = if nr.kernel_state == Some(3) {
                    "a kernel version upgrade"
                } else {
                    "an ABI-compatible kernel upgrade"
                };
                let detail = format!(
                    "needrestart: {what} is pending (running {}, expected {})",
                    nr.current, nr.expected
                );
                reason(&mut state, "needrestart", detail);
            }
            Some(1) => known = true,
            _ => {}
        }
    }
    if let Some((Some(required), packages)) = &evidence.needs_restarting {
        known = true;
        if *required {
            let detail = if packages.is_empty() {
                "needs-restarting -r exited 1".to_string()
            } else {
                format!("needs-restarting -r: updated {}", packages.join(", "))
            };
            reason(&mut state, "needs_restarting", detail);
        }
    }
    state.required = known.then_some(!state.reasons.is_empty());
    state
}

/// The time of the last successful upgrade in dpkg's log (`YYYY-MM-DD
/// HH:MM:SS status installed …` after an `upgrade` of the same package),
/// as Unix seconds. The log is in local time; `mtime` (the file's
/// modification time, Unix seconds) and the log's last line give the
/// offset, so no time zone database is needed.
pub fn last_upgrade(log_tail: &str, mtime: i64) -> Option<i64> {
    let mut upgrading: Option<&str> = None;
    let mut last_done: Option<i64> = None;
    let mut last_line: Option<i64> = None;
    for line in log_tail.lines() {
        let Some(at) = line.get(..19).and_then(civil_seconds) else {
            continue;
        };
        last_line = Some(at);
        let mut words = line[19..].split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("upgrade"), Some(package), _) => upgrading = Some(package),
            (Some("status"), Some("installed"), Some(package)) if upgrading == Some(package) => {
                last_done = Some(at);
                upgrading = None;
            }
            _ => {}
        }
    }
    let (done, last) = (last_done?, last_line?);
    // Local minus UTC, rounded to a quarter of an hour, at most 14 h.
    let offset = ((last - mtime) as f64 / 900.0).round() as i64 * 900;
    let offset = if offset.abs() <= 14 * 3600 { offset } else { 0 };
    Some(done - offset).filter(|t| *t >= 0)
}

/// `YYYY-MM-DD HH:MM:SS` read as UTC, in Unix seconds.
fn civil_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from 1970-01-01 (the proleptic Gregorian calendar).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}
