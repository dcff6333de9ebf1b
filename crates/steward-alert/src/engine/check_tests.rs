//! Check monitors: a duration before a worse state fires, and monitors of
//! every check next to monitors naming one.

use super::*;
use crate::flapping::FlapRule;
use crate::plugin::PluginState::{self, Critical, Ok as Fine, Warning};

const MINUTE: Millis = 60_000;

fn target() -> Target {
    Target {
        device: "d".into(),
        site: "hq".into(),
        tags: vec![],
        os: String::new(),
    }
}

fn check_monitor(id: &str, check: &str, for_ms: Millis) -> Monitor {
    Monitor {
        id: id.into(),
        org_id: "o".into(),
        name: id.into(),
        spec: MonitorSpec::Check {
            check: check.into(),
            for_ms,
        },
        applies_to: Default::default(),
        exclude: Default::default(),
        remediation: None,
    }
}

fn engine_of(monitors: Vec<Monitor>) -> Engine {
    let mut engine = Engine::new(FlapRule::default());
    engine.set_monitors(monitors);
    engine
}

/// (monitor, subject, severity) of each change.
fn seen(changes: Vec<Change>) -> Vec<(String, String, Severity)> {
    changes
        .into_iter()
        .map(|c| (c.key.monitor, c.key.subject, c.severity))
        .collect()
}

fn result(engine: &mut Engine, check: &str, state: PluginState, at: Millis) -> Vec<Change> {
    engine.on_check(&target(), "o", check, state, "CRITICAL - x", at)
}

#[test]
fn a_failing_check_fires_once_it_has_failed_for_the_duration() {
    let mut engine = engine_of(vec![check_monitor("any", ANY_CHECK, 2 * MINUTE)]);
    assert!(result(&mut engine, "flag", Critical, 0).is_empty());
    assert!(result(&mut engine, "flag", Critical, MINUTE).is_empty());
    assert!(engine.tick(2 * MINUTE - 1).is_empty());
    let fired = engine.tick(2 * MINUTE);
    assert_eq!(
        seen(fired.clone()),
        [("any".into(), "flag".into(), Severity::Critical)]
    );
    assert_eq!(fired[0].summary, "flag: CRITICAL - x (for 2 min)");
    // Better is at once: WARNING downgrades, OK resolves.
    assert_eq!(
        seen(result(&mut engine, "flag", Warning, 3 * MINUTE)),
        [("any".into(), "flag".into(), Severity::Warning)]
    );
    assert_eq!(
        seen(result(&mut engine, "flag", Fine, 4 * MINUTE)),
        [("any".into(), "flag".into(), Severity::Ok)]
    );
}

#[test]
fn one_failed_run_within_the_duration_raises_nothing() {
    let mut engine = engine_of(vec![check_monitor("any", ANY_CHECK, 2 * MINUTE)]);
    assert!(result(&mut engine, "flag", Critical, 0).is_empty());
    assert!(result(&mut engine, "flag", Fine, MINUTE).is_empty());
    assert!(engine.tick(10 * MINUTE).is_empty());
    // Without a duration a check fires on its first result, as before.
    let mut engine = engine_of(vec![check_monitor("now", "flag", 0)]);
    assert_eq!(
        seen(result(&mut engine, "flag", Critical, 0)),
        [("now".into(), "flag".into(), Severity::Critical)]
    );
}

#[test]
fn a_monitor_naming_a_check_takes_it_over_from_the_monitor_of_every_check() {
    let mut engine = engine_of(vec![
        check_monitor("any", ANY_CHECK, 0),
        check_monitor("disk", "disk", 0),
    ]);
    assert_eq!(
        seen(result(&mut engine, "disk", Critical, 0)),
        [("disk".into(), "disk".into(), Severity::Critical)]
    );
    assert_eq!(
        seen(result(&mut engine, "procs", Warning, 0)),
        [("any".into(), "procs".into(), Severity::Warning)]
    );
}

#[test]
fn an_alert_of_any_check_resolves_when_a_monitor_names_the_check() {
    let mut engine = engine_of(vec![check_monitor("any", ANY_CHECK, 0)]);
    assert_eq!(
        seen(result(&mut engine, "disk", Critical, 0)),
        [("any".into(), "disk".into(), Severity::Critical)]
    );
    engine.set_monitors(vec![
        check_monitor("any", ANY_CHECK, 0),
        check_monitor("disk", "disk", 0),
    ]);
    let mut changes = seen(result(&mut engine, "disk", Critical, MINUTE));
    changes.sort();
    assert_eq!(
        changes,
        [
            ("any".into(), "disk".into(), Severity::Ok),
            ("disk".into(), "disk".into(), Severity::Critical)
        ]
    );
    assert!(result(&mut engine, "disk", Critical, 2 * MINUTE).is_empty());
}

#[test]
fn a_check_alert_taken_over_escalates_after_the_duration_and_resolves() {
    let mut engine = engine_of(vec![check_monitor("any", ANY_CHECK, 2 * MINUTE)]);
    let held = [HeldAlert {
        key: AlertKey {
            monitor: "any".into(),
            device: "d".into(),
            subject: "flag".into(),
        },
        severity: Severity::Warning,
        since: 0,
    }];
    assert!(engine.take_over(&target(), "o", &held, vec![]).is_empty());
    // Still WARNING: the alert stands; CRITICAL waits for the duration.
    assert!(result(&mut engine, "flag", Warning, 10 * MINUTE).is_empty());
    assert!(result(&mut engine, "flag", Critical, 11 * MINUTE).is_empty());
    assert_eq!(
        seen(engine.tick(13 * MINUTE)),
        [("any".into(), "flag".into(), Severity::Critical)]
    );
    assert_eq!(
        seen(result(&mut engine, "flag", Fine, 14 * MINUTE)),
        [("any".into(), "flag".into(), Severity::Ok)]
    );
}

#[test]
fn check_monitors_saved_before_durations_still_load_and_save_the_same() {
    let spec: MonitorSpec =
        serde_json::from_value(serde_json::json!({ "kind": "check", "check": "procs" })).unwrap();
    assert_eq!(
        spec,
        MonitorSpec::Check {
            check: "procs".into(),
            for_ms: 0
        }
    );
    assert_eq!(
        serde_json::to_value(&spec).unwrap(),
        serde_json::json!({ "kind": "check", "check": "procs" })
    );
    let bad = check_monitor("bad", "x", -1);
    assert!(bad.validate().is_err());
}
