//! Data-driven: each case is a fleet (policies, holds, a device, its pilot)
//! at an instant, and the decision written out the way an operator reads it.

use super::*;

fn at(text: &str) -> Millis {
    text.parse::<jiff::Timestamp>()
        .expect("a time")
        .as_millisecond()
}

/// Monday 2026-11-23, UTC.
fn monday(hhmm: &str) -> Millis {
    at(&format!("2026-11-23T{hhmm}:00Z"))
}

fn days_before(now: Millis, days: f64) -> Millis {
    now - (days * DAY as f64) as Millis
}

/// Every day 02:00 for three hours, UTC for devices without a zone;
/// security only, no deferral, reboot when required.
fn policy(name: &str) -> Policy {
    Policy {
        name: name.to_string(),
        scope: Scope::Organisation,
        install: InstallMode::Security,
        deferral_days: 0,
        pilot_tags: vec![],
        ring_delay_days: 0,
        window: Window {
            days: (0..7).collect(),
            start_minute: 120,
            duration_minutes: 180,
        },
        catch_up: CatchUp::NextWindow,
        reboot: RebootPolicy::WhenRequired,
        timezone: "UTC".into(),
        approved: vec![],
        reboot_grace_minutes: 5,
    }
}

fn hold(package: &str, version: Option<&str>, scope: Scope) -> Hold {
    Hold {
        package: package.into(),
        version: version.map(str::to_string),
        scope,
        reason: "breaks the billing app".into(),
        set_by: "alice".into(),
        set_at: 0,
    }
}

fn update(name: &str, version: &str, security: bool, first_seen: Millis) -> Update {
    Update {
        name: name.into(),
        version: version.into(),
        security,
        first_seen,
    }
}

fn device(updates: Vec<Update>) -> Device {
    Device {
        id: "d1".into(),
        site: Some("berlin".into()),
        tags: vec![],
        timezone: None,
        reboot_required: false,
        updates,
    }
}

struct Case {
    policies: Vec<Policy>,
    holds: Vec<Hold>,
    device: Device,
    pilot: Pilot,
    now: Millis,
}

impl Case {
    fn new(policy: Policy, device: Device, now: Millis) -> Self {
        Self {
            policies: vec![policy],
            holds: vec![],
            device,
            pilot: Pilot::default(),
            now,
        }
    }
}

/// The decision as one line: `name=version outcome` per update (by name),
/// then `reboot …` and `policy …`.
fn render(d: &Decision) -> String {
    let mut parts: Vec<String> = d
        .install
        .iter()
        .map(|p| format!("{}={} install", p.name, p.version))
        .collect();
    for w in &d.waiting {
        let what = match &w.wait {
            Wait::NoPolicy => "no_policy".to_string(),
            Wait::Held { set_by, reason, .. } => format!("held by {set_by} ({reason})"),
            Wait::NotSecurity => "not_security".into(),
            Wait::NeedsApproval => "needs_approval".into(),
            Wait::Deferred { until } => format!("deferred until {}", stamp(*until)),
            Wait::PilotRing { until } => format!("pilot_ring until {}", stamp(*until)),
            Wait::PilotEmpty => "pilot_empty".into(),
            Wait::PilotUnhealthy { incident } => format!("pilot_unhealthy {}", incident.device),
            Wait::OutsideWindow { next } => match next {
                Some(n) => format!("outside_window next {}", stamp(*n)),
                None => "outside_window".into(),
            },
        };
        parts.push(format!("{}={} {what}", w.name, w.version));
    }
    parts.sort();
    let reboot = serde_json::to_value(d.reboot).expect("serialises");
    parts.push(format!("reboot {}", reboot.as_str().unwrap_or("?")));
    parts.push(format!("policy {}", d.policy.as_deref().unwrap_or("-")));
    parts.join("; ")
}

fn stamp(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

fn check(case: &Case, expected: &str) {
    let decision = decide(
        &case.policies,
        &case.holds,
        &case.device,
        &case.pilot,
        case.now,
    );
    assert_eq!(render(&decision), expected, "{decision:#?}");
    // What the server stores and the console reads back is the same.
    let json = serde_json::to_string(&decision).expect("serialises");
    let back: Decision = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, decision);
}

#[test]
fn the_mode_says_what_installs_and_an_approval_overrides_it() {
    let now = monday("03:00");
    let dev = device(vec![
        update("openssl", "3.0.15-1", true, days_before(now, 1.0)),
        update("vim", "9.1-2", false, days_before(now, 1.0)),
    ]);
    let mut p = policy("default");
    check(
        &Case::new(p.clone(), dev.clone(), now),
        "openssl=3.0.15-1 install; vim=9.1-2 not_security; reboot if_required; policy default",
    );
    p.install = InstallMode::All;
    check(
        &Case::new(p.clone(), dev.clone(), now),
        "openssl=3.0.15-1 install; vim=9.1-2 install; reboot if_required; policy default",
    );
    p.install = InstallMode::Approval;
    check(
        &Case::new(p.clone(), dev.clone(), now),
        "openssl=3.0.15-1 needs_approval; vim=9.1-2 needs_approval; reboot no; policy default",
    );
    // An approval is for one version; another one still waits.
    p.approved = vec![
        PackageRef {
            name: "vim".into(),
            version: "9.1-2".into(),
        },
        PackageRef {
            name: "openssl".into(),
            version: "3.0.14-1".into(),
        },
    ];
    check(
        &Case::new(p, dev, now),
        "openssl=3.0.15-1 needs_approval; vim=9.1-2 install; reboot if_required; policy default",
    );
}

#[test]
fn a_deferral_counts_from_first_seen() {
    let now = monday("03:00");
    let mut p = policy("default");
    p.deferral_days = 3;
    let fresh = device(vec![update(
        "openssl",
        "2",
        true,
        monday("00:00") - 2 * DAY,
    )]);
    check(
        &Case::new(p.clone(), fresh, now),
        "openssl=2 deferred until 2026-11-24T00:00Z; reboot no; policy default",
    );
    let old = device(vec![update("openssl", "2", true, days_before(now, 3.0))]);
    check(
        &Case::new(p, old, now),
        "openssl=2 install; reboot if_required; policy default",
    );
}

#[test]
fn the_window_is_on_the_devices_wall_clock() {
    // 01:30 UTC: 02:30 in Berlin (CET) is inside 02:00-05:00, 20:30 the
    // day before in New York is not, and UTC itself is not yet.
    let now = monday("01:30");
    let mut dev = device(vec![update("openssl", "2", true, days_before(now, 1.0))]);
    dev.timezone = Some("Europe/Berlin".into());
    let p = policy("default");
    check(
        &Case::new(p.clone(), dev.clone(), now),
        "openssl=2 install; reboot if_required; policy default",
    );
    dev.timezone = Some("America/New_York".into());
    check(
        &Case::new(p.clone(), dev.clone(), now),
        "openssl=2 outside_window next 2026-11-23T07:00Z; reboot no; policy default",
    );
    // No zone, or one the database does not know: the policy's.
    for zone in [None, Some("Mars/Olympus_Mons".to_string())] {
        dev.timezone = zone;
        check(
            &Case::new(p.clone(), dev.clone(), now),
            "openssl=2 outside_window next 2026-11-23T02:00Z; reboot no; policy default",
        );
    }
    let mut tokyo = p;
    tokyo.timezone = "Asia/Tokyo".into(); // 10:30 there
    check(
        &Case::new(tokyo, dev, now),
        "openssl=2 outside_window next 2026-11-23T17:00Z; reboot no; policy default",
    );
}

#[test]
fn a_window_keeps_its_wall_clock_across_daylight_saving_time() {
    // Sundays 03:00 Berlin: 02:00 UTC in winter, 01:00 UTC in summer.
    let mut p = policy("sunday");
    p.window.days = vec![6];
    p.window.start_minute = 180;
    p.window.duration_minutes = 60;
    let mut dev = device(vec![update(
        "openssl",
        "2",
        true,
        at("2026-01-01T00:00:00Z"),
    )]);
    dev.timezone = Some("Europe/Berlin".into());
    check(
        &Case::new(p.clone(), dev.clone(), at("2026-03-22T02:30:00Z")),
        "openssl=2 install; reboot if_required; policy sunday",
    );
    check(
        &Case::new(p.clone(), dev.clone(), at("2026-03-22T03:30:00Z")),
        "openssl=2 outside_window next 2026-03-29T01:00Z; reboot no; policy sunday",
    );
    check(
        &Case::new(p, dev, at("2026-03-29T01:30:00Z")),
        "openssl=2 install; reboot if_required; policy sunday",
    );
}

#[test]
fn a_missed_window_is_caught_up_next_time_or_at_once() {
    // Seen Friday, the device was off through the weekend's windows; it is
    // back on Monday at 10:00, outside the window.
    let now = monday("10:00");
    let mut dev = device(vec![update("openssl", "2", true, days_before(now, 3.0))]);
    dev.reboot_required = true;
    let mut p = policy("default");
    check(
        &Case::new(p.clone(), dev.clone(), now),
        "openssl=2 outside_window next 2026-11-24T02:00Z; reboot deferred; policy default",
    );
    p.catch_up = CatchUp::AtOnce;
    check(
        &Case::new(p.clone(), dev.clone(), now),
        "openssl=2 install; reboot deferred; policy default",
    );
    // Due only since 09:00: no window was missed, so it waits.
    dev.updates = vec![update("openssl", "2", true, monday("09:00"))];
    check(
        &Case::new(p.clone(), dev.clone(), now),
        "openssl=2 outside_window next 2026-11-24T02:00Z; reboot deferred; policy default",
    );
    // Due at 04:00, inside the window then running: missed its last hour.
    dev.updates = vec![update("openssl", "2", true, monday("04:00"))];
    check(
        &Case::new(p, dev, now),
        "openssl=2 install; reboot deferred; policy default",
    );
}

fn ringed() -> (Policy, Device, Pilot) {
    let mut p = policy("rings");
    p.deferral_days = 1;
    p.pilot_tags = vec!["pilot".into()];
    p.ring_delay_days = 2;
    let now = monday("03:00");
    let dev = device(vec![update("openssl", "2", true, days_before(now, 2.0))]);
    let pilot = Pilot {
        devices: vec!["p1".into(), "p2".into()],
        incidents: vec![],
    };
    (p, dev, pilot)
}

#[test]
fn the_pilot_goes_first_and_the_rest_follows_if_it_stayed_healthy() {
    let now = monday("03:00");
    let (p, dev, pilot) = ringed();
    let mut pilot_dev = dev.clone();
    pilot_dev.tags = vec!["pilot".into()];
    let mut case = Case::new(p.clone(), pilot_dev, now);
    case.pilot = pilot.clone();
    check(&case, "openssl=2 install; reboot if_required; policy rings");

    // Pilot due a day ago; the rest two days after that.
    let mut case = Case::new(p.clone(), dev.clone(), now);
    case.pilot = pilot.clone();
    check(
        &case,
        "openssl=2 pilot_ring until 2026-11-24T03:00Z; reboot no; policy rings",
    );
    let later = now + 2 * DAY;
    case.now = later;
    check(&case, "openssl=2 install; reboot if_required; policy rings");

    // Trouble on a pilot device since the pilot was due holds the rest back;
    // before that, or on another device, it does not count.
    let pilot_due = days_before(now, 1.0);
    case.pilot.incidents = vec![
        Incident {
            device: "p1".into(),
            at: pilot_due - 1,
            trouble: Trouble::CriticalAlert {
                subject: "disk".into(),
            },
        },
        Incident {
            device: "elsewhere".into(),
            at: pilot_due + 1,
            trouble: Trouble::FailedUpdate {
                package: "openssl".into(),
            },
        },
    ];
    check(&case, "openssl=2 install; reboot if_required; policy rings");
    case.pilot.incidents.push(Incident {
        device: "p2".into(),
        at: pilot_due + DAY,
        trouble: Trouble::FailedUpdate {
            package: "openssl".into(),
        },
    });
    check(
        &case,
        "openssl=2 pilot_unhealthy p2; reboot no; policy rings",
    );

    // A ring with no pilot devices never lets the rest go.
    case.pilot = Pilot::default();
    check(&case, "openssl=2 pilot_empty; reboot no; policy rings");
}

#[test]
fn a_hold_stops_the_install_wherever_it_covers() {
    let now = monday("03:00");
    let dev = device(vec![
        update("openssl", "2", true, days_before(now, 1.0)),
        update("curl", "8", true, days_before(now, 1.0)),
    ]);
    let mut p = policy("default");
    p.approved = vec![PackageRef {
        name: "openssl".into(),
        version: "2".into(),
    }];
    let mut case = Case::new(p, dev, now);
    for (h, expected) in [
        (
            hold("openssl", None, Scope::Organisation),
            "curl=8 install; openssl=2 held by alice (breaks the billing app); reboot if_required; policy default",
        ),
        (
            hold("openssl", Some("2"), Scope::Organisation),
            "curl=8 install; openssl=2 held by alice (breaks the billing app); reboot if_required; policy default",
        ),
        (
            hold("openssl", Some("1"), Scope::Organisation),
            "curl=8 install; openssl=2 install; reboot if_required; policy default",
        ),
        (
            hold(
                "openssl",
                None,
                Scope::Site {
                    site: "paris".into(),
                },
            ),
            "curl=8 install; openssl=2 install; reboot if_required; policy default",
        ),
        (
            hold(
                "openssl",
                None,
                Scope::Site {
                    site: "berlin".into(),
                },
            ),
            "curl=8 install; openssl=2 held by alice (breaks the billing app); reboot if_required; policy default",
        ),
        (
            hold("openssl", None, Scope::Tag { tag: "db".into() }),
            "curl=8 install; openssl=2 install; reboot if_required; policy default",
        ),
    ] {
        case.holds = vec![h];
        check(&case, expected);
    }
    // Holds apply without a policy too (and say so first).
    case.policies.clear();
    case.holds = vec![hold("curl", None, Scope::Organisation)];
    check(
        &case,
        "curl=8 held by alice (breaks the billing app); openssl=2 no_policy; reboot no; policy -",
    );
}

#[test]
fn the_most_specific_policy_applies() {
    let now = monday("03:00");
    let mut dev = device(vec![update("vim", "9", false, days_before(now, 1.0))]);
    dev.tags = vec!["web".into(), "db".into()];
    let org = policy("org");
    let mut site = policy("site");
    site.scope = Scope::Site {
        site: "berlin".into(),
    };
    site.install = InstallMode::All;
    let mut tag_b = policy("b-db");
    tag_b.scope = Scope::Tag { tag: "db".into() };
    tag_b.install = InstallMode::Approval;
    let mut tag_a = tag_b.clone();
    tag_a.name = "a-web".into();
    tag_a.scope = Scope::Tag { tag: "web".into() };
    let mut case = Case::new(org, dev, now);
    check(&case, "vim=9 not_security; reboot no; policy org");
    case.policies.push(site);
    check(&case, "vim=9 install; reboot if_required; policy site");
    case.policies.push(tag_b);
    case.policies.push(tag_a);
    check(&case, "vim=9 needs_approval; reboot no; policy a-web");
}

#[test]
fn the_reboot_follows_the_policy_and_the_window() {
    let now = monday("03:00");
    let mut dev = device(vec![update(
        "linux-image-amd64",
        "6.1.2",
        true,
        days_before(now, 1.0),
    )]);
    let mut p = policy("default");
    for (reboot, required, updates, expected) in [
        // Never: a device that needs one says its reboot is deferred.
        (RebootPolicy::Never, true, true, "reboot deferred"),
        (RebootPolicy::Never, false, true, "reboot no"),
        (
            RebootPolicy::WhenRequired,
            false,
            true,
            "reboot if_required",
        ),
        (RebootPolicy::WhenRequired, true, false, "reboot yes"),
        (RebootPolicy::WhenRequired, false, false, "reboot no"),
        (RebootPolicy::Always, false, true, "reboot yes"),
        (RebootPolicy::Always, true, false, "reboot no"),
    ] {
        p.reboot = reboot;
        dev.reboot_required = required;
        if !updates {
            dev.updates.clear();
        }
        let d = decide(&[p.clone()], &[], &dev, &Pilot::default(), now);
        assert!(
            render(&d).contains(expected),
            "{reboot:?} {required}: {d:?}"
        );
        assert_eq!(d.acts(), updates || expected == "reboot yes");
        dev.updates = vec![update(
            "linux-image-amd64",
            "6.1.2",
            true,
            days_before(now, 1.0),
        )];
    }
}

#[test]
fn policies_and_holds_are_checked() {
    let ok = policy("default");
    assert_eq!(ok.validate(), Ok(()));
    let bad = |f: &dyn Fn(&mut Policy)| {
        let mut p = ok.clone();
        f(&mut p);
        p.validate().expect_err("refused")
    };
    assert_eq!(bad(&|p| p.name = " ".into()), PolicyError::Name);
    assert!(matches!(
        bad(&|p| p.window.days = vec![]),
        PolicyError::Window(_)
    ));
    assert!(matches!(
        bad(&|p| p.window.days = vec![7]),
        PolicyError::Window(_)
    ));
    assert!(matches!(
        bad(&|p| p.window.days = vec![1, 1]),
        PolicyError::Window(_)
    ));
    assert!(matches!(
        bad(&|p| p.window.start_minute = 1440),
        PolicyError::Window(_)
    ));
    assert!(matches!(
        bad(&|p| p.window.duration_minutes = 0),
        PolicyError::Window(_)
    ));
    assert_eq!(bad(&|p| p.deferral_days = 366), PolicyError::Days);
    assert_eq!(
        bad(&|p| p.ring_delay_days = 2),
        PolicyError::RingWithoutPilot
    );
    assert!(matches!(
        bad(&|p| p.timezone = "Nowhere/Else".into()),
        PolicyError::TimeZone(_)
    ));
    assert_eq!(bad(&|p| p.reboot_grace_minutes = 121), PolicyError::Grace);
    assert_eq!(
        bad(&|p| p.scope = Scope::Tag { tag: "".into() }),
        PolicyError::Scope
    );
    assert_eq!(
        bad(&|p| p.approved = vec![PackageRef {
            name: "-rf".into(),
            version: "1".into()
        }]),
        PolicyError::Package
    );
    let mut h = hold("openssl", Some("3.0.15-1~deb12u1"), Scope::Organisation);
    assert_eq!(h.validate(), Ok(()));
    h.reason = "".into();
    assert_eq!(h.validate(), Err(PolicyError::Reason));
    h.reason = "why".into();
    h.package = "open ssl".into();
    assert_eq!(h.validate(), Err(PolicyError::Package));
    h.package = "libstdc++6".into();
    h.version = Some(" ".into());
    assert_eq!(h.validate(), Err(PolicyError::Version));

    // As the API reads them: unknown fields in nested parts are refused.
    let p: Policy = serde_json::from_value(serde_json::json!({
        "name": "n", "scope": {"kind": "tag", "tag": "web"}, "install": "all",
        "window": {"days": [5, 6], "start_minute": 60, "duration_minutes": 120},
        "reboot": "never"
    }))
    .expect("parses");
    assert_eq!(p.timezone, "UTC");
    assert_eq!(p.validate(), Ok(()));
    assert!(
        serde_json::from_value::<Policy>(serde_json::json!({
            "name": "n", "scope": {"kind": "site", "site": "x", "tag": "y"}, "install": "all",
            "window": {"days": [5], "start_minute": 60, "duration_minutes": 120},
            "reboot": "never"
        }))
        .is_err()
    );
}

#[test]
fn odd_input_gives_an_answer_not_a_panic() {
    let mut p = policy("default");
    p.window.duration_minutes = 7 * 24 * 60;
    p.deferral_days = u32::MAX;
    p.ring_delay_days = u32::MAX;
    p.pilot_tags = vec!["pilot".into()];
    p.catch_up = CatchUp::AtOnce;
    let mut dev = device(vec![
        update("a", "1", true, i64::MIN),
        update("b", "1", true, i64::MAX),
        update("a", "1", true, i64::MIN),
    ]);
    dev.timezone = Some("../../etc/passwd".into());
    for now in [i64::MIN, -1, 0, i64::MAX, monday("03:00")] {
        let d = decide(&[p.clone()], &[], &dev, &Pilot::default(), now);
        assert_eq!(d.install.len() + d.waiting.len(), 2, "{d:?}");
    }
}
