//! Pure parsers of what the macOS agent reads: installed applications
//! (`system_profiler SPApplicationsDataType -json`), FileVault (`fdesetup
//! status`), the application firewall (`socketfilterfw --getglobalstate`),
//! XProtect's version (its bundle's `Info.plist`) and its last update
//! (`system_profiler SPInstallHistoryDataType -json`), and failed logins in
//! the unified log (`log show --style ndjson`). Built on every OS and tested
//! on Linux with recorded outputs (`testdata/macos-*`); junk yields fewer
//! facts or an error in words, never a panic.

use crate::collectors::clean;
use serde_json::Value;
use steward_proto::{LoginEvent, LoginOutcome, Package};

/// The report of one `system_profiler DATATYPE -json`: its list of items.
fn profiler_items(text: &str, datatype: &str) -> Result<Vec<Value>, String> {
    let value: Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("system_profiler's output is not JSON: {e}"))?;
    match value.get(datatype) {
        Some(Value::Array(items)) => Ok(items.clone()),
        _ => Err(format!("system_profiler's output has no {datatype} list")),
    }
}

fn string(item: &Value, key: &str, max: usize) -> String {
    match item.get(key) {
        Some(Value::String(s)) => clean(s.trim(), max),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Installed applications, by name and version, sorted, without duplicates.
pub fn applications(text: &str) -> Result<Vec<Package>, String> {
    let mut apps: Vec<Package> = profiler_items(text, "SPApplicationsDataType")?
        .iter()
        .map(|item| Package {
            name: string(item, "_name", 256),
            version: string(item, "version", 256),
            manager: "macos".into(),
        })
        .filter(|p| !p.name.is_empty())
        .take(super::windows_parse::MAX_PROGRAMS)
        .collect();
    apps.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    apps.dedup();
    Ok(apps)
}

/// FileVault as `fdesetup status` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileVault {
    On,
    Off,
    /// Encrypting or decrypting now (counted as not yet on).
    Converting,
}

/// `fdesetup status`: "FileVault is On." / "FileVault is Off." (the first
/// line), "Encryption in progress: …" or "Decryption in progress: …".
pub fn fdesetup(text: &str) -> Option<FileVault> {
    let text = text.trim();
    if text.contains("Encryption in progress") || text.contains("Decryption in progress") {
        return Some(FileVault::Converting);
    }
    match text.lines().next()?.trim() {
        "FileVault is On." => Some(FileVault::On),
        "FileVault is Off." => Some(FileVault::Off),
        _ => None,
    }
}

/// `socketfilterfw --getglobalstate`: "Firewall is enabled. (State = 1)",
/// "… disabled. (State = 0)" or "… blocking all non-essential incoming
/// connections. (State = 2)": the state number.
pub fn socketfilterfw(text: &str) -> Option<u8> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Firewall is"))?;
    if let Some(state) = line
        .split_once("(State = ")
        .and_then(|(_, s)| s.split_once(')'))
        .and_then(|(s, _)| s.trim().parse::<u8>().ok())
        .filter(|s| *s <= 2)
    {
        return Some(state);
    }
    // Older releases print no state number.
    if line.contains("blocking all") {
        Some(2)
    } else if line.contains("enabled") {
        Some(1)
    } else if line.contains("disabled") {
        Some(0)
    } else {
        None
    }
}

/// A `<key>KEY</key><string>VALUE</string>` pair of an XML property list
/// (XProtect's `Info.plist`: `CFBundleShortVersionString`).
pub fn plist_string(xml: &str, key: &str) -> Option<String> {
    let open = format!("<key>{key}</key>");
    let after = &xml[xml.find(&open)? + open.len()..];
    let after = after.trim_start().strip_prefix("<string>")?;
    let value = &after[..after.find("</string>")?];
    let value = clean(value.trim(), 64);
    (!value.is_empty()).then_some(value)
}

/// XProtect's newest update in the install history: its version and when
/// (Unix ms). The updates are named `XProtectPlistConfigData`,
/// `XProtectPayloads` and `XProtect` (older releases).
pub fn xprotect_history(text: &str) -> Option<(String, i64)> {
    profiler_items(text, "SPInstallHistoryDataType")
        .ok()?
        .iter()
        .filter(|item| {
            item.get("_name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("XProtect"))
        })
        .filter_map(|item| {
            let at = item
                .get("install_date")
                .and_then(Value::as_str)
                .and_then(crate::collectors::backup::time::parse_rfc3339)?;
            Some((string(item, "install_version", 64), at))
        })
        .max_by_key(|(_, at)| *at)
}

/// `2026-12-06 23:31:07.123456+0000` (the unified log's time) to Unix ms.
fn log_time(text: &str) -> Option<i64> {
    let text = text.trim();
    // The offset lacks a colon (`+0000`); RFC 3339 wants one.
    let split = text.len().checked_sub(5)?;
    if !text.is_char_boundary(split) {
        return None;
    }
    let (head, zone) = text.split_at(split);
    let zone = match zone.as_bytes() {
        [b'+' | b'-', ..] if zone[1..].bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}{}:{}", &zone[..1], &zone[1..3], &zone[3..])
        }
        _ => return crate::collectors::backup::time::parse_rfc3339(text),
    };
    crate::collectors::backup::time::parse_rfc3339(&format!("{head}{zone}"))
}

/// The process's name from its image path.
fn process_name(item: &Value) -> &str {
    let path = item
        .get("processImagePath")
        .and_then(Value::as_str)
        .unwrap_or("");
    path.rsplit('/').next().unwrap_or("")
}

/// `Failed to authenticate user <bob> (error: 9).`
fn opendirectory_user(message: &str) -> Option<&str> {
    let rest = message.split_once("Failed to authenticate user <")?.1;
    Some(rest.split_once('>')?.0)
}

/// Screen sharing: `Authentication: FAILED :: User Name: bob :: Viewer
/// Address: 203.0.113.9 :: Type: DH`.
fn screensharing(message: &str) -> Option<(&str, &str)> {
    if !message.contains("Authentication: FAILED") {
        return None;
    }
    let field = |name: &str| {
        message
            .split("::")
            .find_map(|part| part.trim().strip_prefix(name).map(str::trim))
    };
    Some((field("User Name:")?, field("Viewer Address:").unwrap_or("")))
}

/// Login attempts in `log show --style ndjson` output: sshd and sudo speak
/// as on Linux (the same parser reads them), `opendirectoryd` says when a
/// local account's password was wrong (loginwindow, screensaver, su), and
/// `screensharingd` when a screen-sharing login failed. Returns the events
/// (at most `max`) and the newest time seen (where the next read starts).
/// Lines that are not JSON or not such messages are skipped.
pub fn unified_log(text: &str, max: usize) -> (Vec<LoginEvent>, Option<i64>) {
    let mut events = Vec::new();
    let mut newest = None;
    for line in text.lines().take(100_000) {
        if line.len() > 64 * 1024 {
            continue;
        }
        let Ok(item) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(at_ms) = item
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(log_time)
        else {
            continue;
        };
        newest = newest.max(Some(at_ms));
        let message = item
            .get("eventMessage")
            .and_then(Value::as_str)
            .unwrap_or("");
        let found = match process_name(&item) {
            program @ ("sshd" | "sshd-session" | "sudo") => {
                crate::collectors::posture::auth::parse_message(program, message, at_ms)
            }
            "opendirectoryd" => opendirectory_user(message)
                .map(|user| failed("login", user, "", at_ms))
                .into_iter()
                .collect(),
            "screensharingd" => screensharing(message)
                .map(|(user, address)| failed("screensharing", user, address, at_ms))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        for event in found {
            if events.len() < max {
                events.push(event);
            }
        }
    }
    (events, newest)
}

fn failed(service: &str, user: &str, address: &str, at_ms: i64) -> LoginEvent {
    LoginEvent {
        at_ms,
        outcome: LoginOutcome::Failed,
        service: service.into(),
        user: clean(user.trim(), 64),
        address: address
            .trim()
            .parse::<std::net::IpAddr>()
            .map(|a| a.to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
#[path = "macos_parse_tests.rs"]
mod tests;
