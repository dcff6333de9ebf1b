use super::*;

fn check(id: &str, status: PostureStatus, weight: u8) -> PostureCheck {
    PostureCheck {
        id: id.into(),
        title: id.into(),
        status,
        reason: "r".into(),
        fix: "do x".into(),
        weight,
    }
}

fn login(outcome: LoginOutcome, user: &str, address: &str, at_ms: i64) -> LoginEvent {
    LoginEvent {
        at_ms,
        outcome,
        service: "sshd".into(),
        user: user.into(),
        address: address.into(),
    }
}

fn find<'a>(judged: &'a [Judged], check: &str) -> &'a Judged {
    judged.iter().find(|j| j.check == check).unwrap()
}

const T: i64 = 1_800_000_000_000;

#[test]
fn the_score_is_the_weighted_pass_share_of_applicable_checks() {
    use PostureStatus::*;
    assert_eq!(score(&[]), None);
    assert_eq!(score(&[check("a", NotApplicable, 3)]), None);
    assert_eq!(
        score(&[
            check("a", Pass, 3),
            check("b", Fail, 1),
            check("c", NotApplicable, 5)
        ]),
        Some(75.0)
    );
    assert_eq!(
        score(&[check("a", Pass, 1), check("b", Fail, 2)]),
        Some(33.3)
    );
    let state = State {
        checks: vec![
            check("ssh.root_login", Fail, 3),
            check("time.sync", Fail, 1),
            check("x", Pass, 1),
        ],
        ..State::default()
    };
    let judged = judge(&state, T);
    // Hardening gaps warn, whatever their weight: they do not page.
    assert_eq!(
        find(&judged, "posture.ssh.root_login").state,
        PluginState::Warning
    );
    assert_eq!(
        find(&judged, "posture.time.sync").state,
        PluginState::Warning
    );
    assert!(
        find(&judged, "posture.time.sync")
            .message
            .contains("Fix: do x")
    );
    assert_eq!(find(&judged, "posture.x").state, PluginState::Ok);
}

#[test]
fn the_first_report_is_the_baseline_then_changes_have_before_and_after() {
    let port = |port: u16, process: &str| ListeningPort {
        proto: "tcp".into(),
        address: "127.0.0.1".into(),
        port,
        process: process.into(),
    };
    let file = |sha: &str, mode: u32| FileState {
        path: "/etc/passwd".into(),
        sha256: sha.repeat(64),
        mode,
        ..FileState::default()
    };
    let first = PostureReport {
        ports: vec![port(22, "sshd")],
        admins: vec![GroupMember {
            group: "sudo".into(),
            user: "alice".into(),
        }],
        files: vec![file("a", 0o644)],
        ..PostureReport::default()
    };
    let state = apply(&State::default(), &first, T);
    assert!(state.changes.is_empty() && state.baselined);
    let second = PostureReport {
        ports: vec![port(22, "sshd"), port(8080, "python3")],
        admins: vec![
            GroupMember {
                group: "sudo".into(),
                user: "alice".into(),
            },
            GroupMember {
                group: "sudo".into(),
                user: "mallory".into(),
            },
        ],
        files: vec![file("b", 0o666)],
        ..PostureReport::default()
    };
    let state = apply(&state, &second, T + 1000);
    let summary: Vec<(String, String)> = state
        .changes
        .iter()
        .map(|c| (c.kind.clone(), c.subject.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("port_opened".to_string(), "tcp/127.0.0.1:8080".to_string()),
            ("admin_added".into(), "sudo:mallory".into()),
            ("file_changed".into(), "/etc/passwd".into()),
        ]
    );
    let file_change = &state.changes[2];
    assert!(
        file_change.before.contains(&"a".repeat(64)) && file_change.before.contains("mode 644")
    );
    assert!(file_change.after.contains(&"b".repeat(64)) && file_change.after.contains("mode 666"));
    let judged = judge(&state, T + 2000);
    assert_eq!(find(&judged, "posture.admins").state, PluginState::Warning);
    assert!(
        find(&judged, "posture.admins")
            .message
            .contains("sudo:mallory")
    );
    assert_eq!(find(&judged, "posture.ports").state, PluginState::Warning);
    assert_eq!(find(&judged, "posture.files").state, PluginState::Warning);
    // A day later they have cleared; a closed port is a change too.
    let third = PostureReport {
        ports: vec![port(22, "sshd")],
        ..second.clone()
    };
    let state = apply(&state, &third, T + ADMIN_FOR_MS + 5000);
    assert_eq!(state.changes[0].kind, "port_closed");
    assert_eq!(state.changes[0].before, "python3");
    let judged = judge(&state, T + ADMIN_FOR_MS + 5000);
    for check in ["posture.admins", "posture.ports", "posture.files"] {
        assert_eq!(find(&judged, check).state, PluginState::Ok, "{check}");
    }
}

#[test]
fn a_burst_of_failures_names_its_sources() {
    let mut state = State::default();
    let mut events: Vec<LoginEvent> = (0..7)
        .map(|i| login(LoginOutcome::Failed, "root", "203.0.113.7", T + i))
        .collect();
    events.extend((0..2).map(|i| login(LoginOutcome::Failed, "admin", "198.51.100.2", T + i)));
    take_logins(&mut state, &events, T + 10);
    assert_eq!(
        find(&judge(&state, T), "posture.login.failures").state,
        PluginState::Ok
    );
    take_logins(
        &mut state,
        &[login(LoginOutcome::Failed, "x", "", T + 20)],
        T + 20,
    );
    let burst = find(&judge(&state, T), "posture.login.failures").clone();
    assert_eq!(burst.state, PluginState::Critical);
    assert_eq!(
        burst.message,
        "10 failed logins in the last 5 min from 203.0.113.7 (7), 198.51.100.2 (2), local (1)"
    );
    // Outside the window they no longer count.
    take_logins(&mut state, &[], T + BURST_WINDOW_MS + 100);
    assert_eq!(
        find(&judge(&state, T), "posture.login.failures").state,
        PluginState::Ok
    );
}

#[test]
fn a_login_from_a_new_address_or_hour_is_unusual_once_the_user_is_known() {
    let mut state = State::default();
    // First sight of alice: learnt, not unusual.
    take_logins(
        &mut state,
        &[login(LoginOutcome::Accepted, "alice", "198.51.100.4", T)],
        T,
    );
    assert!(state.unusual.is_empty());
    take_logins(
        &mut state,
        &[login(
            LoginOutcome::Accepted,
            "alice",
            "198.51.100.4",
            T + 60_000,
        )],
        T + 60_000,
    );
    assert!(state.unusual.is_empty());
    take_logins(
        &mut state,
        &[login(
            LoginOutcome::Accepted,
            "alice",
            "203.0.113.50",
            T + 120_000,
        )],
        T + 120_000,
    );
    assert_eq!(state.unusual.len(), 1);
    let judged = judge(&state, T + 120_000);
    let unusual = find(&judged, "posture.login.unusual");
    assert_eq!(unusual.state, PluginState::Warning);
    assert!(
        unusual
            .message
            .contains("address 203.0.113.50 never seen for alice"),
        "{}",
        unusual.message
    );
    // Sudo and failures never count as logins seen.
    take_logins(
        &mut state,
        &[login(LoginOutcome::Failed, "bob", "192.0.2.1", T)],
        T + 130_000,
    );
    assert!(!state.seen.contains_key("bob"));
    // A new hour is unusual only after a week of learning.
    let hour = 3_600_000;
    let week_later = T + LEARN_HOURS_MS + 5 * hour;
    take_logins(
        &mut state,
        &[login(
            LoginOutcome::Accepted,
            "alice",
            "198.51.100.4",
            week_later,
        )],
        week_later,
    );
    assert!(
        state.unusual[0].why.contains("never seen for alice"),
        "{:?}",
        state.unusual
    );
    assert!(state.unusual[0].why.contains(":00 UTC"));
    // An hour later the unusual logins have aged out.
    take_logins(&mut state, &[], week_later + UNUSUAL_FOR_MS + 1);
    assert!(state.unusual.is_empty());
}

#[test]
fn hostile_volumes_stay_bounded() {
    let mut state = State::default();
    let events: Vec<LoginEvent> = (0..5_000)
        .map(|i| login(LoginOutcome::Failed, "root", "203.0.113.7", T + i))
        .collect();
    take_logins(&mut state, &events, T + 5_000);
    assert_eq!(state.failures.len(), MAX_FAILURES);
    let users: Vec<LoginEvent> = (0..1_000)
        .map(|i| login(LoginOutcome::Accepted, &format!("u{i}"), "203.0.113.7", T))
        .collect();
    take_logins(&mut state, &users, T);
    assert_eq!(state.seen.len(), MAX_USERS);
    let addresses: Vec<LoginEvent> = (0..500)
        .map(|i| {
            login(
                LoginOutcome::Accepted,
                "u1",
                &format!("10.0.{}.{}", i / 256, i % 256),
                T,
            )
        })
        .collect();
    take_logins(&mut state, &addresses, T);
    assert_eq!(state.seen["u1"].addresses.len(), MAX_ADDRESSES);
    assert!(state.unusual.len() <= 20);
}
