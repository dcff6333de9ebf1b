//! Posture on Windows and macOS: Defender and the firewall's profiles
//! (PowerShell), FileVault (`fdesetup status`), the application firewall
//! (`socketfilterfw --getglobalstate`) and XProtect (its bundle's version,
//! its last update in the install history) become facts for the checks in
//! `builtin.yaml`; failed logons come from the Security event log (event
//! 4625, `wevtutil`) and failed logins from the unified log (`log show`),
//! feeding the same login events as the Linux auth log. The parsers are in
//! `os/windows_parse.rs` and `os/macos_parse.rs`; the mapping from their
//! answers to facts is pure and tested here; the commands run through the
//! agent's bounded runner.

use super::rules::Facts;
#[cfg(target_os = "macos")]
use crate::os::macos_parse;
use crate::os::macos_parse::FileVault;
use crate::os::windows_parse::{Defender, FirewallProfiles};
use serde_json::json;

/// Defender's facts (`defender.present` false when it did not answer).
pub fn defender_facts(facts: &mut Facts, defender: Option<&Defender>) {
    facts.insert("defender.present".into(), json!(defender.is_some()));
    let Some(d) = defender else {
        return;
    };
    facts.insert("defender.running".into(), json!(d.running));
    facts.insert("defender.realtime".into(), json!(d.realtime));
    facts.insert("defender.mode".into(), json!(d.mode));
    facts.insert(
        "defender.signature_age_hours".into(),
        json!(d.signature_age_days.map_or(1e9, |days| days as f64 * 24.0)),
    );
    facts.insert(
        "defender.signature_version".into(),
        json!(d.signature_version),
    );
}

/// The Windows firewall's facts.
pub fn windows_firewall_facts(facts: &mut Facts, profiles: &FirewallProfiles) {
    facts.insert(
        "windows_firewall.profiles_off".into(),
        json!(profiles.profiles - profiles.enabled),
    );
    facts.insert("windows_firewall.off".into(), json!(profiles.off));
    facts.insert(
        "windows_firewall.inbound_allowed".into(),
        json!(profiles.profiles - profiles.inbound_blocked),
    );
}

/// FileVault's, the application firewall's and XProtect's facts;
/// `now_ms` dates XProtect's last update.
pub fn macos_facts(
    facts: &mut Facts,
    filevault: Option<FileVault>,
    firewall: Option<u8>,
    xprotect: Option<String>,
    xprotect_updated: Option<(String, i64)>,
    now_ms: i64,
) {
    if let Some(state) = filevault {
        facts.insert("filevault.enabled".into(), json!(state == FileVault::On));
        facts.insert(
            "filevault.state".into(),
            json!(match state {
                FileVault::On => "on",
                FileVault::Off => "off",
                FileVault::Converting => "converting",
            }),
        );
    }
    if let Some(state) = firewall {
        facts.insert("macos_firewall.enabled".into(), json!(state >= 1));
        facts.insert("macos_firewall.block_all".into(), json!(state == 2));
    }
    facts.insert(
        "xprotect.present".into(),
        json!(xprotect.is_some() || xprotect_updated.is_some()),
    );
    if let Some(version) = xprotect {
        facts.insert("xprotect.version".into(), json!(version));
    }
    if let Some((_, at)) = xprotect_updated {
        let days = (now_ms - at).max(0) as f64 / 86_400_000.0;
        facts.insert(
            "xprotect.age_days".into(),
            json!((days * 10.0).round() / 10.0),
        );
    }
}

#[cfg(any(windows, target_os = "macos"))]
async fn tool(program: &str, args: &[&str]) -> Option<String> {
    let mut cmd = crate::command::Cmd::new(program);
    cmd.args = args.iter().map(Into::into).collect();
    let out = crate::command::run(&cmd, super::gather::TOOL_TIMEOUT, 4 * 1024 * 1024).await;
    (out.code == Some(0) && !out.truncated)
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// This OS's facts (none on Linux: `gather.rs` reads those).
pub async fn gather(facts: &mut Facts) {
    #[cfg(windows)]
    {
        use crate::os::windows_parse;
        async fn ps(script: &str) -> Option<String> {
            tool(
                "powershell.exe",
                &["-NoProfile", "-NonInteractive", "-Command", script],
            )
            .await
        }
        let defender = ps("Get-MpComputerStatus | ConvertTo-Json -Compress")
            .await
            .and_then(|text| windows_parse::defender(&text));
        defender_facts(facts, defender.as_ref());
        if let Some(Ok(profiles)) = ps(
            "Get-NetFirewallProfile | Select-Object Name, Enabled, DefaultInboundAction | ConvertTo-Json -Compress",
        )
        .await
        .map(|text| windows_parse::firewall_profiles(&text))
        {
            windows_firewall_facts(facts, &profiles);
        }
    }
    #[cfg(target_os = "macos")]
    {
        let filevault = tool("fdesetup", &["status"])
            .await
            .and_then(|t| macos_parse::fdesetup(&t));
        let firewall = tool(
            "/usr/libexec/ApplicationFirewall/socketfilterfw",
            &["--getglobalstate"],
        )
        .await
        .and_then(|t| macos_parse::socketfilterfw(&t));
        let plist = std::fs::read_to_string(
            "/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist",
        )
        .ok()
        .and_then(|xml| macos_parse::plist_string(&xml, "CFBundleShortVersionString"));
        let history = tool("system_profiler", &["SPInstallHistoryDataType", "-json"])
            .await
            .and_then(|t| macos_parse::xprotect_history(&t));
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        macos_facts(facts, filevault, firewall, plist, history, now_ms);
    }
    let _ = facts;
}

/// Where reading the OS's login log goes on between cycles.
#[derive(Debug, Default)]
pub struct Logins {
    /// Windows: the Security log's last record read.
    #[cfg_attr(not(windows), allow(dead_code))]
    last_record: Option<u64>,
    /// macOS: the newest event read, and when the last read was.
    #[cfg_attr(not(target_os = "macos"), allow(dead_code))]
    newest_ms: Option<i64>,
    #[cfg_attr(not(target_os = "macos"), allow(dead_code))]
    last_read: Option<std::time::Instant>,
}

/// The unified log's processes and messages that say a login failed.
pub const LOG_PREDICATE: &str = "(process == \"sshd\" OR process == \"sshd-session\" OR process == \"sudo\" \
OR process == \"opendirectoryd\" OR process == \"screensharingd\") AND (eventMessage CONTAINS \"Failed\" \
OR eventMessage CONTAINS \"FAILED\" OR eventMessage BEGINSWITH \"Invalid user\" \
OR eventMessage CONTAINS \"incorrect password\" OR eventMessage BEGINSWITH \"Accepted\")";

impl Logins {
    /// Login events written since the last call (the first call only notes
    /// where the log is, like the auth log's tail).
    pub async fn read(&mut self) -> Vec<steward_proto::LoginEvent> {
        #[cfg(windows)]
        {
            let max = steward_proto::MAX_LOGIN_EVENTS;
            let Some(after) = self.last_record else {
                // The newest record now: later ones are new.
                let newest = tool(
                    "wevtutil",
                    &[
                        "qe",
                        "Security",
                        "/q:*[System[(EventID=4625)]]",
                        "/f:xml",
                        "/rd:true",
                        "/c:1",
                    ],
                )
                .await;
                self.last_record = Some(
                    newest
                        .and_then(|xml| crate::os::windows_parse::failed_logons(&xml, 1).1)
                        .unwrap_or(0),
                );
                return Vec::new();
            };
            let query = format!("/q:*[System[(EventID=4625) and (EventRecordID>{after})]]");
            let count = format!("/c:{max}");
            let Some(xml) = tool("wevtutil", &["qe", "Security", &query, "/f:xml", &count]).await
            else {
                return Vec::new();
            };
            let (events, last) = crate::os::windows_parse::failed_logons(&xml, max);
            self.last_record = last.max(self.last_record);
            events
        }
        #[cfg(target_os = "macos")]
        {
            let now = std::time::Instant::now();
            let Some(previous) = self.last_read.replace(now) else {
                self.newest_ms = Some(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64),
                );
                return Vec::new();
            };
            // Whole minutes back to the last read, and one more: events
            // already read are dropped by their time.
            let minutes = now.duration_since(previous).as_secs() / 60 + 2;
            let last = format!("{minutes}m");
            let Some(text) = tool(
                "log",
                &[
                    "show",
                    "--style",
                    "ndjson",
                    "--last",
                    &last,
                    "--predicate",
                    LOG_PREDICATE,
                ],
            )
            .await
            else {
                return Vec::new();
            };
            let (mut events, newest) =
                macos_parse::unified_log(&text, steward_proto::MAX_LOGIN_EVENTS);
            let since = self.newest_ms.unwrap_or(i64::MIN);
            events.retain(|e| e.at_ms > since);
            self.newest_ms = newest.max(self.newest_ms);
            events
        }
        #[cfg(not(any(windows, target_os = "macos")))]
        {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::posture::rules;
    use steward_proto::PostureStatus;

    fn answers(facts: &Facts) -> Vec<(String, PostureStatus)> {
        rules::evaluate(&rules::merged(None), facts)
            .into_iter()
            .filter(|c| c.status != PostureStatus::NotApplicable)
            .map(|c| (c.id, c.status))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect()
    }

    #[test]
    fn windows_facts_answer_the_builtin_checks() {
        let defender = crate::os::windows_parse::defender(include_str!(
            "../../os/testdata/windows-defender.json"
        ));
        let profiles = crate::os::windows_parse::firewall_profiles(include_str!(
            "../../os/testdata/windows-firewall.json"
        ))
        .unwrap();
        let mut facts = Facts::new();
        defender_facts(&mut facts, defender.as_ref());
        windows_firewall_facts(&mut facts, &profiles);
        use PostureStatus::{Fail, Pass};
        assert_eq!(
            answers(&facts),
            [
                ("defender.realtime".to_string(), Pass),
                ("defender.running".to_string(), Pass),
                ("defender.signatures".to_string(), Pass),
                ("windows.firewall".to_string(), Fail),
                ("windows.firewall_inbound".to_string(), Fail),
            ]
        );
        assert_eq!(facts["windows_firewall.off"], json!(["Public"]));
        // No Defender: its checks do not apply.
        let mut none = Facts::new();
        defender_facts(&mut none, None);
        assert!(answers(&none).is_empty());
    }

    #[test]
    fn macos_facts_answer_the_builtin_checks() {
        let day = 86_400_000;
        let mut facts = Facts::new();
        macos_facts(
            &mut facts,
            Some(FileVault::On),
            Some(1),
            Some("5285".into()),
            Some(("5285".into(), 1_000 * day)),
            1_003 * day,
        );
        use PostureStatus::{Fail, Pass};
        assert_eq!(
            answers(&facts),
            [
                ("macos.filevault".to_string(), Pass),
                ("macos.firewall".to_string(), Pass),
                ("macos.xprotect".to_string(), Pass),
            ]
        );
        assert_eq!(facts["xprotect.age_days"], json!(3.0));
        let mut stale = Facts::new();
        macos_facts(
            &mut stale,
            Some(FileVault::Converting),
            Some(0),
            None,
            Some(("1".into(), 0)),
            90 * day,
        );
        assert_eq!(
            answers(&stale),
            [
                ("macos.filevault".to_string(), Fail),
                ("macos.firewall".to_string(), Fail),
                ("macos.xprotect".to_string(), Fail),
            ]
        );
        assert_eq!(stale["filevault.state"], json!("converting"));
        // Nothing answered: nothing applies.
        let mut nothing = Facts::new();
        macos_facts(&mut nothing, None, None, None, None, 0);
        assert!(answers(&nothing).is_empty());
    }
}
