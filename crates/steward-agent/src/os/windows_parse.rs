//! Pure parsers of what the Windows agent reads from PowerShell and
//! `wevtutil`: installed programs (the registry's Uninstall keys as JSON),
//! logged-in users (`query user`), Defender (`Get-MpComputerStatus`), the
//! firewall's profiles (`Get-NetFirewallProfile`) and failed logons (event
//! 4625 from `wevtutil qe Security /f:xml`). Built on every OS and tested on
//! Linux with recorded outputs (`testdata/windows-*`); an output that is
//! truncated, of the wrong shape or hostile yields fewer facts or an error
//! in words, never a panic.

use crate::collectors::clean;
use serde_json::Value;
use steward_proto::{LoggedInUser, LoginEvent, LoginOutcome, Package};

/// Most programs reported (the server's limit is the same).
pub const MAX_PROGRAMS: usize = 20_000;

/// PowerShell's JSON: one object for one item, an array for several,
/// nothing for none. A UTF-8 byte-order mark is allowed.
pub fn json_items(text: &str) -> Result<Vec<Value>, String> {
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(one @ Value::Object(_)) => Ok(vec![one]),
        Ok(_) => Err("the output is neither an object nor a list".into()),
        Err(error) => Err(format!("the output is not JSON: {error}")),
    }
}

fn string(item: &Value, key: &str, max: usize) -> String {
    match item.get(key) {
        Some(Value::String(s)) => clean(s.trim(), max),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A PowerShell boolean as JSON: `true`, or 1 for the `GpoBoolean` and
/// similar enums Windows PowerShell 5.1 writes as numbers, or `"True"`.
fn boolean(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Installed programs: `DisplayName`, `DisplayVersion` of the Uninstall
/// keys (both registry views), sorted by name, without duplicates.
pub fn installed_programs(text: &str) -> Result<Vec<Package>, String> {
    let mut programs: Vec<Package> = json_items(text)?
        .iter()
        .map(|item| Package {
            name: string(item, "DisplayName", 256),
            version: string(item, "DisplayVersion", 256),
            manager: "windows".into(),
        })
        .filter(|p| !p.name.is_empty())
        .take(MAX_PROGRAMS)
        .collect();
    programs.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    programs.dedup();
    Ok(programs)
}

/// `query user`: a header, then per session `USERNAME SESSIONNAME ID STATE
/// IDLE LOGON-TIME` (the session name is blank for a disconnected session;
/// `>` marks the caller's own).
pub fn query_user(text: &str) -> Vec<LoggedInUser> {
    text.lines()
        .skip_while(|l| !l.trim_start().to_ascii_uppercase().starts_with("USERNAME"))
        .skip(1)
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let name = words.first()?.trim_start_matches('>');
            // With a session name the id is the third word, without it the second.
            let (terminal, rest) = match words.get(1)?.parse::<u32>() {
                Ok(_) => ("", words.get(2..)?),
                Err(_) => (*words.get(1)?, words.get(3..)?),
            };
            // STATE IDLE then the logon time (date, time, maybe AM/PM).
            let since = rest.get(2..).map(|w| w.join(" ")).unwrap_or_default();
            if name.is_empty() {
                return None;
            }
            Some(LoggedInUser {
                name: clean(name, 64),
                terminal: clean(terminal, 64),
                host: String::new(),
                since: clean(&since, 64),
            })
        })
        .take(512)
        .collect()
}

/// Defender as `Get-MpComputerStatus` says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defender {
    /// The antimalware service runs and antivirus is on.
    pub running: bool,
    pub realtime: bool,
    /// Days since the signatures were updated (`AntivirusSignatureAge`).
    pub signature_age_days: Option<u64>,
    pub signature_version: String,
    /// Another product took over (`AMRunningMode` "Passive Mode" or
    /// "EDR Block Mode").
    pub mode: String,
}

/// `Get-MpComputerStatus | ConvertTo-Json`: `None` when it is no such
/// object (Defender missing, the cmdlet failed).
pub fn defender(text: &str) -> Option<Defender> {
    let items = json_items(text).ok()?;
    let item = items.first().filter(|i| i.is_object())?;
    let service = boolean(item.get("AMServiceEnabled"))?;
    let antivirus = boolean(item.get("AntivirusEnabled")).unwrap_or(false);
    let age = item
        .get("AntivirusSignatureAge")
        .and_then(Value::as_u64)
        // 65535: "never updated".
        .filter(|d| *d < 65_535);
    Some(Defender {
        running: service && antivirus,
        realtime: boolean(item.get("RealTimeProtectionEnabled")).unwrap_or(false),
        signature_age_days: age,
        signature_version: string(item, "AntivirusSignatureVersion", 64),
        mode: string(item, "AMRunningMode", 64),
    })
}

/// The Windows firewall over its profiles (Domain, Private, Public): on
/// when every profile is enabled; inbound dropped when every profile
/// blocks by default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FirewallProfiles {
    pub profiles: usize,
    pub enabled: usize,
    pub inbound_blocked: usize,
    /// The names of the profiles that are off.
    pub off: Vec<String>,
}

/// `Get-NetFirewallProfile | Select Name, Enabled, DefaultInboundAction |
/// ConvertTo-Json`. Windows PowerShell 5.1 writes the enums as numbers
/// (`Enabled`: 1 true; `DefaultInboundAction`: 0 not configured, which
/// Windows takes as block, 2 allow, 4 block), PowerShell 7 as words.
pub fn firewall_profiles(text: &str) -> Result<FirewallProfiles, String> {
    let mut out = FirewallProfiles::default();
    for item in json_items(text)?.iter().take(16) {
        let Some(enabled) = boolean(item.get("Enabled")) else {
            continue;
        };
        out.profiles += 1;
        if enabled {
            out.enabled += 1;
        } else {
            out.off.push(string(item, "Name", 32));
        }
        let blocked = match item.get("DefaultInboundAction") {
            Some(Value::Number(n)) => matches!(n.as_u64(), Some(0 | 4)),
            Some(Value::String(s)) => matches!(s.as_str(), "Block" | "NotConfigured"),
            None | Some(Value::Null) => true,
            _ => false,
        };
        if blocked {
            out.inbound_blocked += 1;
        }
    }
    if out.profiles == 0 {
        return Err("no firewall profile in the output".into());
    }
    Ok(out)
}

/// `&lt;` and the other XML escapes of an element's text or attribute.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(end) = after.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of the first `<tag>…</tag>` (no attributes) in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + end])
}

/// An attribute's value in the first `<tag …>` of `xml` (either quote).
fn attribute<'a>(xml: &'a str, tag: &str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag} "))?;
    let tag_text = &xml[start..start + xml[start..].find('>')?];
    let at = tag_text.find(&format!("{name}="))? + name.len() + 1;
    let quote = tag_text[at..]
        .chars()
        .next()
        .filter(|q| *q == '\'' || *q == '"')?;
    let value = &tag_text[at + 1..];
    Some(&value[..value.find(quote)?])
}

/// `<Data Name='NAME'>value</Data>` of an event.
fn data(event: &str, name: &str) -> Option<String> {
    for quote in ['\'', '"'] {
        let open = format!("<Data Name={quote}{name}{quote}>");
        if let Some(start) = event.find(&open) {
            let value = &event[start + open.len()..];
            return Some(unescape(&value[..value.find("</Data>")?]));
        }
    }
    None
}

/// How a logon type reads as the login's service.
fn logon_service(kind: &str) -> &'static str {
    match kind.trim() {
        "2" => "console",
        "3" => "network",
        "4" => "batch",
        "5" => "service",
        "7" => "unlock",
        "8" => "network-cleartext",
        "10" => "rdp",
        "11" => "cached",
        _ => "windows",
    }
}

/// Failed logons from `wevtutil qe Security /q:"*[System[(EventID=4625)]]"
/// /f:xml`: the events (user as `DOMAIN\user` when a domain is named, the
/// source address when it is one, the logon type as the service) and the
/// highest `EventRecordID` seen (where the next query starts). Events are
/// concatenated `<Event>` elements without a root; a truncated last one,
/// other event ids and junk between them are skipped; at most `max`.
pub fn failed_logons(xml: &str, max: usize) -> (Vec<LoginEvent>, Option<u64>) {
    let mut events = Vec::new();
    let mut last_record = None;
    let mut rest = xml;
    while let Some(start) = rest.find("<Event") {
        let Some(len) = rest[start..].find("</Event>") else {
            break;
        };
        let event = &rest[start..start + len];
        rest = &rest[start + len + "</Event>".len()..];
        let record = element(event, "EventRecordID").and_then(|r| r.trim().parse::<u64>().ok());
        if let Some(record) = record {
            last_record = last_record.max(Some(record));
        }
        if element(event, "EventID").map(str::trim) != Some("4625") || events.len() >= max {
            continue;
        }
        let Some(at_ms) = attribute(event, "TimeCreated", "SystemTime")
            .and_then(crate::collectors::backup::time::parse_rfc3339)
        else {
            continue;
        };
        let user = data(event, "TargetUserName").unwrap_or_default();
        let domain = data(event, "TargetDomainName").unwrap_or_default();
        let user = match domain.trim() {
            "" | "-" => user,
            domain => format!("{domain}\\{user}"),
        };
        let address = data(event, "IpAddress")
            .and_then(|a| a.trim().parse::<std::net::IpAddr>().ok())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let kind = data(event, "LogonType").unwrap_or_default();
        events.push(LoginEvent {
            at_ms,
            outcome: LoginOutcome::Failed,
            service: logon_service(&kind).into(),
            user: clean(user.trim(), 64),
            address,
        });
    }
    (events, last_record)
}

/// `GetSystemTimes`' counters (100 ns ticks since boot, summed over every
/// CPU; kernel time includes idle time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemTimes {
    pub idle: u64,
    pub kernel: u64,
    pub user: u64,
}

/// The share of CPU time busy between two readings: 0 when no time passed
/// or a counter went backwards (a wrapped or bogus reading), never outside
/// 0..=1.
pub fn cpu_busy(before: SystemTimes, now: SystemTimes) -> f64 {
    let idle = now.idle.checked_sub(before.idle);
    let total = now
        .kernel
        .checked_sub(before.kernel)
        .zip(now.user.checked_sub(before.user))
        .and_then(|(kernel, user)| kernel.checked_add(user));
    match (idle, total) {
        (Some(idle), Some(total)) if total > 0 && idle <= total => {
            (total - idle) as f64 / total as f64
        }
        _ => 0.0,
    }
}

#[cfg(test)]
#[path = "windows_parse_tests.rs"]
mod tests;
