//! The aging decision on plain data.

use super::eol::day_ms;
use super::*;
use steward_proto::{DiskHealth, DiskHealthReport, Inventory, SmartState};

const DAY: i64 = 86_400_000;

fn inventory(name: &str, version: &str, boot_time: i64) -> Inventory {
    Inventory {
        os_name: name.into(),
        os_version: version.into(),
        boot_time,
        ..Inventory::default()
    }
}

fn at(date: &str) -> i64 {
    day_ms(date).unwrap()
}

fn ata(reallocated: u64, pending: u64) -> DiskHealth {
    DiskHealth {
        name: "/dev/sda".into(),
        protocol: "ata".into(),
        model: "WDC WD40EFRX".into(),
        serial: "WD-1".into(),
        passed: Some(true),
        reallocated_sectors: Some(reallocated),
        pending_sectors: Some(pending),
        uncorrectable_sectors: Some(0),
        ..DiskHealth::default()
    }
}

fn nvme(media_errors: u64, used: u64) -> DiskHealth {
    DiskHealth {
        name: "/dev/nvme0".into(),
        protocol: "nvme".into(),
        serial: "S4EW".into(),
        passed: Some(true),
        media_errors: Some(media_errors),
        percentage_used: Some(used),
        ..DiskHealth::default()
    }
}

fn report(disks: Vec<DiskHealth>) -> DiskHealthReport {
    DiskHealthReport {
        disks,
        ..DiskHealthReport::default()
    }
}

fn check(state: &State, name: &str) -> (Severity, String) {
    let j = judge(state).into_iter().find(|j| j.check == name).unwrap();
    (j.severity, j.message)
}

fn eol_of(name: &str, version: &str, now: i64) -> (Severity, String) {
    let state = apply(
        &State::default(),
        Some(&inventory(name, version, 0)),
        None,
        now,
        &Policy::default(),
    );
    check(&state, "aging.eol")
}

#[test]
fn end_of_life_is_critical_near_it_a_warning_and_extended_support_a_warning() {
    let now = at("2026-12-07");
    // Ended: Debian 10's LTS, Windows 11 23H2, Fedora 41, CentOS 7.
    for (name, version) in [
        ("Debian GNU/Linux", "10"),
        ("Windows", "11 (22631)"),
        ("Fedora Linux", "41"),
        ("CentOS Linux", "7"),
    ] {
        let (state, message) = eol_of(name, version, now);
        assert_eq!(state, Severity::Critical, "{name} {version}: {message}");
        assert!(message.contains("end of life"), "{message}");
    }
    // Fedora 43 ends on 2026-12-09: within 90 days.
    let (state, message) = eol_of("Fedora Linux", "43", now);
    assert_eq!(state, Severity::Warning);
    assert!(message.contains("2026-12-09 (in 2 days)"), "{message}");
    // Ubuntu 20.04 left standard support; ESM goes on until 2030.
    let (state, message) = eol_of("Ubuntu", "20.04", now);
    assert_eq!(state, Severity::Warning);
    assert!(message.contains("ESM until 2030-04-30"), "{message}");
    // Windows 10 is in ESU until 2028.
    assert_eq!(eol_of("Windows", "10 (19045)", now).0, Severity::Warning);
    // Supported for long: ok, saying until when.
    let (state, message) = eol_of("Debian GNU/Linux", "12", now);
    assert_eq!(state, Severity::Ok);
    assert_eq!(message, "Debian 12 bookworm supported until 2028-06-30");
    assert_eq!(eol_of("Ubuntu", "24.04", now).0, Severity::Ok);
    assert_eq!(
        eol_of("Windows", "Server 2022 (20348)", now).0,
        Severity::Ok
    );
    // Ubuntu 22.04 four months before the end of its standard support: ok;
    // two months before: warning.
    assert_eq!(eol_of("Ubuntu", "22.04", at("2027-02-28")).0, Severity::Ok);
    assert_eq!(
        eol_of("Ubuntu", "22.04", at("2027-05-01")).0,
        Severity::Warning
    );
    // An unknown system is not flagged, and says why.
    let (state, message) = eol_of("Arch Linux", "", now);
    assert_eq!(state, Severity::Ok);
    assert!(
        message.contains("not in the end-of-life table"),
        "{message}"
    );
}

#[test]
fn uptime_over_the_policy_is_a_warning() {
    let now = at("2026-12-07");
    let boot = (now - 120 * DAY) / 1000;
    let state = apply(
        &State::default(),
        Some(&inventory("Debian GNU/Linux", "12", boot)),
        None,
        now,
        &Policy::default(),
    );
    assert_eq!(state.uptime_days, Some(120));
    let (level, message) = check(&state, "aging.uptime");
    assert_eq!(level, Severity::Warning);
    assert!(
        message.starts_with("up 120 days without a reboot (policy: 90 days)"),
        "{message}"
    );
    assert_eq!(state.worst, Severity::Warning);
    // A stricter policy, a recent boot, an unknown boot time.
    let strict = Policy {
        uptime_days: 30,
        ..Policy::default()
    };
    let recent = (now - 40 * DAY) / 1000;
    let inv = inventory("Debian GNU/Linux", "12", recent);
    assert_eq!(
        check(
            &apply(&State::default(), Some(&inv), None, now, &Policy::default()),
            "aging.uptime"
        )
        .0,
        Severity::Ok
    );
    assert_eq!(
        check(
            &apply(&State::default(), Some(&inv), None, now, &strict),
            "aging.uptime"
        )
        .0,
        Severity::Warning
    );
    let unknown = apply(
        &State::default(),
        Some(&inventory("Debian GNU/Linux", "12", 0)),
        None,
        now,
        &Policy::default(),
    );
    assert_eq!(
        check(&unknown, "aging.uptime"),
        (Severity::Ok, "boot time unknown".into())
    );
    // A boot time in the future (a wrong clock) or beyond any clock (a
    // hostile agent) is unknown too.
    for boot in [(now + DAY) / 1000, i64::MAX, i64::MIN] {
        let odd = inventory("Debian GNU/Linux", "12", boot);
        let state = apply(&State::default(), Some(&odd), None, now, &Policy::default());
        assert_eq!(state.uptime_days, None);
    }
}

#[test]
fn smart_counters_flag_a_disk_when_they_rise_not_when_merely_non_zero() {
    let policy = Policy::default();
    let t0 = at("2026-12-01");
    // A disk with 8 reallocated sectors for years: not flagged.
    let first = apply(
        &State::default(),
        None,
        Some(&report(vec![ata(8, 0), nvme(0, 7)])),
        t0,
        &policy,
    );
    assert_eq!(first.worst, Severity::Ok);
    assert_eq!(
        check(&first, "aging.smart"),
        (Severity::Ok, "2 disks, no counter rising".into())
    );
    let same = apply(
        &first,
        None,
        Some(&report(vec![ata(8, 0), nvme(0, 7)])),
        t0 + DAY,
        &policy,
    );
    assert_eq!(same.worst, Severity::Ok);
    // Reallocated sectors rise: a warning naming the disk and the numbers.
    let rose = apply(
        &same,
        None,
        Some(&report(vec![ata(24, 0), nvme(0, 8)])),
        t0 + 2 * DAY,
        &policy,
    );
    let (level, message) = check(&rose, "aging.smart");
    assert_eq!(level, Severity::Warning);
    assert_eq!(
        message,
        "/dev/sda (WDC WD40EFRX): reallocated sectors rose from 8 to 24 on 2026-12-03"
    );
    // Normal NVMe wear (7 → 8 %) is no finding.
    assert_eq!(rose.findings.len(), 1);
    // Pending sectors rising too: critical; the first rise's start stays.
    let worse = apply(
        &rose,
        None,
        Some(&report(vec![ata(30, 3), nvme(0, 8)])),
        t0 + 3 * DAY,
        &policy,
    );
    let (level, message) = check(&worse, "aging.smart");
    assert_eq!(level, Severity::Critical);
    assert!(
        message.contains("reallocated sectors rose from 8 to 30"),
        "{message}"
    );
    assert!(
        message.contains("pending sectors rose from 0 to 3"),
        "{message}"
    );
    assert_eq!(worse.worst, Severity::Critical);
    // Flat afterwards: flagged for the policy's window, then clear.
    let flat = apply(
        &worse,
        None,
        Some(&report(vec![ata(30, 3), nvme(0, 8)])),
        t0 + 20 * DAY,
        &policy,
    );
    assert_eq!(flat.worst, Severity::Critical);
    let later = apply(
        &flat,
        None,
        Some(&report(vec![ata(30, 3), nvme(0, 8)])),
        t0 + 40 * DAY,
        &policy,
    );
    assert_eq!(later.worst, Severity::Ok);
    assert!(later.disks.iter().all(|d| d.rises.is_empty()));
}

#[test]
fn nvme_media_errors_and_wear_past_ninety_percent_are_flagged() {
    let policy = Policy::default();
    let t0 = at("2026-12-01");
    let first = apply(
        &State::default(),
        None,
        Some(&report(vec![nvme(2, 89)])),
        t0,
        &policy,
    );
    assert_eq!(
        first.worst,
        Severity::Ok,
        "non-zero media errors alone flag nothing"
    );
    let worn = apply(
        &first,
        None,
        Some(&report(vec![nvme(2, 91)])),
        t0 + DAY,
        &policy,
    );
    assert_eq!(check(&worn, "aging.smart").0, Severity::Warning);
    let errors = apply(
        &worn,
        None,
        Some(&report(vec![nvme(5, 91)])),
        t0 + 2 * DAY,
        &policy,
    );
    let (level, message) = check(&errors, "aging.smart");
    assert_eq!(level, Severity::Critical);
    assert!(
        message.contains("media errors rose from 2 to 5"),
        "{message}"
    );
    let spent = apply(
        &State::default(),
        None,
        Some(&report(vec![nvme(0, 99)])),
        t0,
        &policy,
    );
    let spent = apply(
        &spent,
        None,
        Some(&report(vec![nvme(0, 100)])),
        t0 + DAY,
        &policy,
    );
    assert_eq!(check(&spent, "aging.smart").0, Severity::Critical);
}

#[test]
fn a_failing_verdict_unreadable_disks_and_failed_passes() {
    let policy = Policy::default();
    let t0 = at("2026-12-01");
    let mut failing = ata(0, 0);
    failing.passed = Some(false);
    let state = apply(
        &State::default(),
        None,
        Some(&report(vec![failing])),
        t0,
        &policy,
    );
    assert_eq!(check(&state, "aging.smart").0, Severity::Critical);
    // An unreadable disk says why and keeps its last good counters to
    // compare the next reading with.
    let good = apply(
        &State::default(),
        None,
        Some(&report(vec![ata(8, 0)])),
        t0,
        &policy,
    );
    let broken = DiskHealth {
        name: "/dev/sda".into(),
        error: "smartctl answered something that is not JSON".into(),
        ..DiskHealth::default()
    };
    let unreadable = apply(&good, None, Some(&report(vec![broken])), t0 + DAY, &policy);
    let (level, message) = check(&unreadable, "aging.smart");
    assert_eq!(level, Severity::Ok);
    assert!(
        message.contains("unreadable: /dev/sda: smartctl answered something that is not JSON"),
        "{message}"
    );
    assert_eq!(unreadable.disks[0].disk.reallocated_sectors, Some(8));
    assert_eq!(unreadable.disks[0].disk.serial, "WD-1");
    let back = apply(
        &unreadable,
        None,
        Some(&report(vec![ata(9, 0)])),
        t0 + 2 * DAY,
        &policy,
    );
    assert_eq!(check(&back, "aging.smart").0, Severity::Warning);
    // A pass that timed out keeps the disks as they were.
    let timed_out = DiskHealthReport {
        state: SmartState::TimedOut,
        error: "smartctl --scan-open took longer than 60s".into(),
        ..DiskHealthReport::default()
    };
    let kept = apply(&back, None, Some(&timed_out), t0 + 3 * DAY, &policy);
    assert_eq!(kept.disks, back.disks);
    assert_eq!(kept.worst, Severity::Warning);
    // No smartctl: no disks, and the check says so.
    let none = DiskHealthReport {
        state: SmartState::NotAvailable,
        ..DiskHealthReport::default()
    };
    let none = apply(&back, None, Some(&none), t0 + 4 * DAY, &policy);
    assert!(none.disks.is_empty());
    assert_eq!(
        check(&none, "aging.smart"),
        (Severity::Ok, "smartctl not available".into())
    );
    // A replaced disk at the same path (another serial) is no rise.
    let mut replaced = ata(0, 0);
    replaced.serial = "WD-2".into();
    let fresh = apply(
        &back,
        None,
        Some(&report(vec![replaced])),
        t0 + 5 * DAY,
        &policy,
    );
    assert!(fresh.disks[0].rises.is_empty());
}

#[test]
fn a_stored_view_survives_json_and_an_old_one_reads_as_default() {
    let state = apply(
        &State::default(),
        Some(&inventory("Ubuntu", "20.04", 1)),
        Some(&report(vec![ata(8, 0)])),
        at("2026-12-07"),
        &Policy::default(),
    );
    let json = serde_json::to_value(&state).unwrap();
    let back: State = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
    let empty: State = serde_json::from_value(serde_json::json!({"unknown": 1})).unwrap();
    assert_eq!(empty, State::default());
}
