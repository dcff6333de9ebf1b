use super::*;

const PROGRAMS: &str = include_str!("testdata/windows-programs.json");
const QUERY_USER: &str = include_str!("testdata/windows-query-user.txt");
const DEFENDER: &str = include_str!("testdata/windows-defender.json");
const FIREWALL: &str = include_str!("testdata/windows-firewall.json");
const LOGONS: &str = include_str!("testdata/windows-4625.xml");

#[test]
fn installed_programs_are_named_sorted_and_unique() {
    let programs = installed_programs(PROGRAMS).unwrap();
    let seen: Vec<(&str, &str, &str)> = programs
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.manager.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("7-Zip 23.01 (x64)", "23.01", "windows"),
            ("Git", "2.43", "windows"),
            (
                "Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.38.33130",
                "14.38.33130.0",
                "windows"
            ),
            ("Mozilla Firefox (x64 en-US)", "121.0", "windows"),
        ]
    );
    // One program: an object; none: nothing.
    let one = installed_programs(r#"{"DisplayName":"Only","DisplayVersion":"1"}"#).unwrap();
    assert_eq!(one.len(), 1);
    assert!(installed_programs("\u{feff}\r\n").unwrap().is_empty());
}

#[test]
fn installed_programs_refuse_junk_and_truncation() {
    assert!(installed_programs("Get-ItemProperty : Access denied").is_err());
    assert!(installed_programs(&PROGRAMS[..PROGRAMS.len() / 2]).is_err());
    assert!(installed_programs("42").is_err());
    // Wrong types inside are left out, not fatal.
    let odd = installed_programs(r#"[{"DisplayName":["x"]},7,"s",{"DisplayName":"ok\u0007bell"}]"#)
        .unwrap();
    assert_eq!(odd.len(), 1);
    assert_eq!(odd[0].name, "okbell");
    // Huge: bounded.
    let many = format!(
        "[{}]",
        (0..MAX_PROGRAMS + 50)
            .map(|i| format!(r#"{{"DisplayName":"p{i}"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(installed_programs(&many).unwrap().len(), MAX_PROGRAMS);
    let long = format!(r#"{{"DisplayName":"{}"}}"#, "n".repeat(10_000));
    assert_eq!(installed_programs(&long).unwrap()[0].name.len(), 256);
}

#[test]
fn query_user_reads_active_and_disconnected_sessions() {
    let users = query_user(QUERY_USER);
    let seen: Vec<(&str, &str, &str)> = users
        .iter()
        .map(|u| (u.name.as_str(), u.terminal.as_str(), u.since.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("administrator", "console", "12/6/2026 9:12 AM"),
            ("bob", "", "12/6/2026 8:00 AM"),
            ("carol", "rdp-tcp#3", "12/6/2026 10:41 AM"),
        ]
    );
    assert!(query_user("").is_empty());
    assert!(query_user("No User exists for *\r\n").is_empty());
    // A header and cut lines: no panic, nothing invented.
    assert!(query_user(" USERNAME SESSIONNAME\n x\n y console\n").is_empty());
}

#[test]
fn defender_reads_status_and_signature_age() {
    let defender = defender(DEFENDER).unwrap();
    assert_eq!(
        defender,
        Defender {
            running: true,
            realtime: true,
            signature_age_days: Some(1),
            signature_version: "1.403.1245.0".into(),
            mode: "Normal".into(),
        }
    );
    let passive = super::defender(
        r#"{"AMServiceEnabled":true,"AntivirusEnabled":false,"RealTimeProtectionEnabled":false,
            "AntivirusSignatureAge":65535,"AMRunningMode":"Passive Mode"}"#,
    )
    .unwrap();
    assert!(!passive.running && !passive.realtime);
    assert_eq!(passive.signature_age_days, None);
    assert_eq!(passive.mode, "Passive Mode");
}

#[test]
fn defender_missing_or_broken_is_no_fact() {
    assert_eq!(defender(""), None);
    assert_eq!(
        defender("Get-MpComputerStatus : The term 'Get-MpComputerStatus' is not recognized"),
        None
    );
    assert_eq!(defender(&DEFENDER[..200]), None);
    assert_eq!(defender(r#"{"AMServiceEnabled":"perhaps"}"#), None);
    assert_eq!(defender("[1,2]"), None);
}

#[test]
fn firewall_profiles_count_enabled_and_blocking() {
    let profiles = firewall_profiles(FIREWALL).unwrap();
    assert_eq!(
        profiles,
        FirewallProfiles {
            profiles: 3,
            enabled: 2,
            inbound_blocked: 2,
            off: vec!["Public".into()],
        }
    );
    // PowerShell 7 writes the enums as words.
    let words = firewall_profiles(
        r#"[{"Name":"Domain","Enabled":"True","DefaultInboundAction":"Block"},
            {"Name":"Public","Enabled":true,"DefaultInboundAction":"Allow"}]"#,
    )
    .unwrap();
    assert_eq!((words.enabled, words.inbound_blocked), (2, 1));
    assert!(firewall_profiles("").is_err());
    assert!(firewall_profiles(r#"[{"Name":"x","Enabled":"maybe"}]"#).is_err());
    assert!(firewall_profiles(&FIREWALL[..40]).is_err());
}

#[test]
fn failed_logons_from_event_4625() {
    let (events, last) = failed_logons(LOGONS, 1000);
    assert_eq!(last, Some(104_215));
    let seen: Vec<(i64, &str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.at_ms,
                e.service.as_str(),
                e.user.as_str(),
                e.address.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1_796_599_867_123, "network", "administrator", "203.0.113.9"),
            (1_796_599_869_500, "rdp", "CORP\\bob&co", "2001:db8::7"),
            (1_796_599_920_000, "console", "WS1\\carol", ""),
        ]
    );
    assert!(events.iter().all(|e| e.outcome == LoginOutcome::Failed));
    assert_eq!(failed_logons(LOGONS, 1).0.len(), 1);
}

#[test]
fn failed_logons_skip_truncated_foreign_and_hostile_events() {
    // Cut in the middle of the last event: the complete ones count.
    let cut = &LOGONS[..LOGONS.rfind("<EventData>").unwrap()];
    let (events, last) = failed_logons(cut, 1000);
    assert_eq!(events.len(), 2);
    assert_eq!(last, Some(104_212));
    assert_eq!(failed_logons("", 1000), (Vec::new(), None));
    assert_eq!(
        failed_logons(
            "No events were found that match the specified selection criteria.",
            10
        ),
        (Vec::new(), None)
    );
    // Another event id, a missing or bad time, a bad record id.
    let other = "<Event><System><EventID>4624</EventID><TimeCreated SystemTime='2026-12-06T23:31:07Z'/><EventRecordID>9</EventRecordID></System></Event>\
                 <Event><System><EventID>4625</EventID><EventRecordID>x</EventRecordID></System></Event>\
                 <Event><System><EventID>4625</EventID><TimeCreated SystemTime='yesterday'/></System></Event>\
                 <Event><System><EventID>4625</EventID><TimeCreated SystemTime=\"2026-12-06T23:31:07Z\"/></System>\
                 <EventData><Data Name=\"TargetUserName\">&#x41;&lt;x&gt;&bogus;&#99999999;</Data><Data Name=\"IpAddress\">not-an-ip</Data></EventData></Event>";
    let (events, last) = failed_logons(other, 10);
    assert_eq!(last, Some(9));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user, "A<x>&bogus;&#99999999;");
    assert_eq!(
        (events[0].address.as_str(), events[0].service.as_str()),
        ("", "windows")
    );
    // Huge: many events, bounded by `max`; a huge user name is cut.
    let one = LOGONS.lines().next().unwrap();
    let many = one.repeat(5000);
    assert_eq!(failed_logons(&many, 1000).0.len(), 1000);
    let long = one.replace("administrator", &"a".repeat(100_000));
    assert_eq!(failed_logons(&long, 10).0[0].user.len(), 64);
}

#[test]
fn cpu_busy_is_the_non_idle_share_of_kernel_and_user_time() {
    let at = |idle, kernel, user| SystemTimes { idle, kernel, user };
    let start = at(1_000, 1_500, 500);
    // 4 CPUs for 1 s: 40M ticks, 30M idle (kernel includes idle).
    let later = at(30_001_000, 35_001_500, 5_000_500);
    assert_eq!(cpu_busy(start, later), 0.25);
    assert_eq!(cpu_busy(start, at(1_000 + 10, 1_500 + 10, 500)), 0.0);
    assert_eq!(cpu_busy(start, at(1_000, 1_500, 500 + 10)), 1.0);
    // No time passed, counters backwards or idle above the total, and the
    // extremes: 0, never a panic or NaN.
    assert_eq!(cpu_busy(start, start), 0.0);
    assert_eq!(cpu_busy(later, start), 0.0);
    assert_eq!(cpu_busy(start, at(9_000, 1_600, 500)), 0.0);
    assert_eq!(cpu_busy(at(0, 0, 0), at(u64::MAX, u64::MAX, u64::MAX)), 0.0);
    assert_eq!(cpu_busy(at(0, 0, 0), at(0, u64::MAX, 0)), 1.0);
}
