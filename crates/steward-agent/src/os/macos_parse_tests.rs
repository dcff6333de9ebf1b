use super::*;

const APPS: &str = include_str!("testdata/macos-applications.json");
const HISTORY: &str = include_str!("testdata/macos-install-history.json");
const PLIST: &str = include_str!("testdata/macos-xprotect-info.plist");
const LOG: &str = include_str!("testdata/macos-log-logins.ndjson");

#[test]
fn applications_are_named_sorted_and_unique() {
    let apps = applications(APPS).unwrap();
    let seen: Vec<(&str, &str)> = apps
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("Firefox", "133.0"),
            ("Safari", "18.1"),
            ("Utility Without Version", "")
        ]
    );
    assert!(apps.iter().all(|p| p.manager == "macos"));
    assert!(applications("").is_err());
    assert!(applications(&APPS[..APPS.len() / 2]).is_err());
    assert!(applications(r#"{"SPApplicationsDataType":7}"#).is_err());
    assert!(
        applications(r#"{"SPApplicationsDataType":[7,{"_name":3}]}"#)
            .unwrap()
            .iter()
            .all(|p| p.name == "3")
    );
}

#[test]
fn fdesetup_reads_on_off_and_conversion() {
    assert_eq!(
        fdesetup(include_str!("testdata/macos-fdesetup-on.txt")),
        Some(FileVault::On)
    );
    assert_eq!(
        fdesetup(include_str!("testdata/macos-fdesetup-off.txt")),
        Some(FileVault::Off)
    );
    assert_eq!(
        fdesetup(include_str!("testdata/macos-fdesetup-encrypting.txt")),
        Some(FileVault::Converting)
    );
    assert_eq!(fdesetup(""), None);
    assert_eq!(fdesetup("FileVault is"), None);
    assert_eq!(fdesetup("Error: This command requires root"), None);
}

#[test]
fn socketfilterfw_reads_the_global_state() {
    assert_eq!(
        socketfilterfw(include_str!("testdata/macos-socketfilterfw-on.txt")),
        Some(1)
    );
    assert_eq!(
        socketfilterfw(include_str!("testdata/macos-socketfilterfw-off.txt")),
        Some(0)
    );
    assert_eq!(
        socketfilterfw(include_str!("testdata/macos-socketfilterfw-block.txt")),
        Some(2)
    );
    assert_eq!(socketfilterfw("Firewall is enabled."), Some(1));
    assert_eq!(socketfilterfw("Firewall is enabled. (State = 9)"), Some(1));
    assert_eq!(socketfilterfw(""), None);
    assert_eq!(socketfilterfw("Firewall is on fire"), None);
}

#[test]
fn xprotect_version_and_last_update() {
    assert_eq!(
        plist_string(PLIST, "CFBundleShortVersionString").as_deref(),
        Some("5285")
    );
    assert_eq!(plist_string(PLIST, "Missing"), None);
    assert_eq!(
        plist_string(&PLIST[..PLIST.len() / 2], "CFBundleVersion"),
        None
    );
    assert_eq!(plist_string("bplist00\u{1}\u{2}", "CFBundleVersion"), None);
    // The newest XProtect item, whatever its order in the history.
    assert_eq!(
        xprotect_history(HISTORY),
        Some(("5285".to_string(), 1_795_857_243_000))
    );
    assert_eq!(xprotect_history(r#"{"SPInstallHistoryDataType":[]}"#), None);
    assert_eq!(xprotect_history(&HISTORY[..300]), None);
    assert_eq!(
        xprotect_history(
            r#"{"SPInstallHistoryDataType":[{"_name":"XProtectPayloads","install_date":"soon"}]}"#
        ),
        None
    );
}

#[test]
fn unified_log_failed_logins() {
    let (events, newest) = unified_log(LOG, 1000);
    assert_eq!(newest, Some(1_796_599_873_000));
    let seen: Vec<(i64, LoginOutcome, &str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.at_ms,
                e.outcome,
                e.service.as_str(),
                e.user.as_str(),
                e.address.as_str(),
            )
        })
        .collect();
    let failed = LoginOutcome::Failed;
    assert_eq!(
        seen,
        [
            (1_796_599_867_123, failed, "sshd", "bob", "203.0.113.9"),
            (1_796_599_868_000, failed, "sshd", "admin", "198.51.100.4"),
            (1_796_599_869_500, failed, "login", "carol", ""),
            (
                1_796_599_870_000,
                failed,
                "screensharing",
                "dave",
                "192.0.2.33"
            ),
            (1_796_599_871_000, failed, "sudo", "erin", ""),
            (1_796_599_871_000, failed, "sudo", "erin", ""),
            (1_796_599_871_000, failed, "sudo", "erin", ""),
            (
                1_796_599_872_000,
                LoginOutcome::Accepted,
                "sshd",
                "frank",
                "203.0.113.10"
            ),
        ]
    );
    assert_eq!(unified_log(LOG, 2).0.len(), 2);
}

#[test]
fn unified_log_skips_junk_truncation_and_huge_lines() {
    assert_eq!(unified_log("", 10), (Vec::new(), None));
    let cut = &LOG[..LOG.find("Invalid user").unwrap()];
    let (events, newest) = unified_log(cut, 10);
    assert_eq!(events.len(), 1);
    assert_eq!(newest, Some(1_796_599_867_123));
    let junk = "log: Could not open local log store\n[1,2]\n{\"timestamp\":5}\n\
                {\"timestamp\":\"2026-12-06 23:31:07+00\",\"eventMessage\":\"x\"}\n\
                {\"timestamp\":\"2026-12-06 23:31:07.0+0000\",\"processImagePath\":7,\"eventMessage\":\"Failed password for x from 1.2.3.4 port 1 ssh2\"}\n\
                {\"timestamp\":\"2026-12-06 23:31:07.0+0000\",\"processImagePath\":\"/usr/libexec/opendirectoryd\",\"eventMessage\":\"Failed to authenticate user <unterminated\"}\n";
    let (events, newest) = unified_log(junk, 10);
    assert!(events.is_empty());
    assert_eq!(newest, Some(1_796_599_867_000));
    let huge = format!(
        "{{\"timestamp\":\"2026-12-06 23:31:07.0+0000\",\"processImagePath\":\"/usr/sbin/sshd\",\"eventMessage\":\"Failed password for {} from 1.2.3.4 port 1 ssh2\"}}\n",
        "u".repeat(100_000)
    );
    assert_eq!(unified_log(&huge, 10), (Vec::new(), None));
    let many = LOG.lines().next().unwrap().to_string() + "\n";
    assert_eq!(unified_log(&many.repeat(3000), 1000).0.len(), 1000);
}
