//! A systemd service that runs a backup (usually from a timer): its last
//! run's result from `systemctl show` (`Result`, `ExecMainStatus`, start
//! and exit times). Timestamps are asked for as `@unix` seconds (systemd
//! 251+), with the human form in UTC understood too.

use super::Observation;
use super::run::{self, Cmd};
use super::time::parse_rfc3339;
use std::collections::BTreeMap;
use steward_proto::BackupResult;

/// The properties asked for.
pub const PROPERTIES: &str = "Result,ExecMainStatus,ExecMainCode,ExecMainStartTimestamp,ExecMainExitTimestamp,ActiveState,SubState,LoadState";

/// `KEY=VALUE` lines (the first unit only; later ones follow a blank line).
pub fn parse_show(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `@1701234567`, `@1701234567.123456`, or `Sun 2023-11-26 10:00:00 UTC`.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if let Some(unix) = text.strip_prefix('@') {
        let (secs, fraction) = unix.split_once('.').unwrap_or((unix, ""));
        let secs: i64 = secs.parse().ok()?;
        let millis: i64 = fraction
            .chars()
            .chain("000".chars())
            .take(3)
            .collect::<String>()
            .parse()
            .ok()?;
        return (secs > 0)
            .then(|| secs.checked_mul(1000)?.checked_add(millis))
            .flatten();
    }
    let mut words = text.split_whitespace();
    let (_, date, time, zone) = (words.next()?, words.next()?, words.next()?, words.next()?);
    (zone == "UTC")
        .then(|| parse_rfc3339(&format!("{date}T{time}Z")))
        .flatten()
}

/// The last run of the unit as an outcome.
pub fn observe(props: &BTreeMap<String, String>, unit: &str) -> Observation {
    let get = |key: &str| props.get(key).map(String::as_str).unwrap_or("");
    if get("LoadState") == "not-found" {
        return Observation::failed(&format!("unit {unit} not found"));
    }
    let started = parse_timestamp(get("ExecMainStartTimestamp"));
    let exited = parse_timestamp(get("ExecMainExitTimestamp"));
    let Some(started) = started else {
        return Observation::with(
            BackupResult::Unknown,
            format!("{unit} has not run since boot"),
        );
    };
    if matches!(get("ActiveState"), "activating" | "active" | "reloading")
        && exited.is_none_or(|e| e < started)
    {
        return Observation {
            running: true,
            ..Observation::with(BackupResult::Unknown, format!("{unit} is running"))
        };
    }
    let status = get("ExecMainStatus");
    let result = get("Result");
    let ok = result == "success" && matches!(status, "0" | "");
    let (result, reason) = if ok {
        (BackupResult::Ok, format!("{unit} succeeded"))
    } else {
        (
            BackupResult::Failed,
            format!(
                "{unit} failed: result {}, status {}",
                run::clean(result, 40),
                run::clean(status, 20)
            ),
        )
    };
    Observation {
        result,
        reason,
        run_ms: Some(exited.unwrap_or(started)),
        duration_ms: exited.filter(|e| *e >= started).map(|e| e - started),
        size_bytes: None,
        file_count: None,
        newest_good_ms: ok.then(|| exited.unwrap_or(started)),
        copy_id: format!("{started}"),
        running: false,
    }
}

/// The service a timer starts (`Unit=` of `systemctl show`), when it is
/// a plain unit name.
pub fn timer_service(props: &BTreeMap<String, String>) -> Option<String> {
    props
        .get("Unit")
        .filter(|u| {
            !u.is_empty()
                && u.len() <= 256
                && u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@:\\".contains(c))
        })
        .cloned()
}

async fn show(
    unit: &str,
    properties: &str,
    timeout: std::time::Duration,
) -> Result<BTreeMap<String, String>, Observation> {
    let cmd = Cmd::new("systemctl")
        .env("TZ", "UTC")
        .arg("show")
        .arg("--timestamp=unix")
        .arg("-p")
        .arg(properties)
        .arg("--")
        .arg(unit);
    let output = run::run(&cmd, timeout, 64 * 1024).await;
    if output.timed_out {
        return Err(Observation::failed("systemctl did not answer"));
    }
    if output.code != Some(0) {
        return Err(Observation::failed(&format!(
            "systemctl show failed: {}",
            run::last_line(&output.stderr, 200)
        )));
    }
    Ok(parse_show(&String::from_utf8_lossy(&output.stdout)))
}

/// The last run of a service, or of the service a `.timer` starts.
pub async fn scan(unit: &str, timeout: std::time::Duration) -> Observation {
    let service = if unit.ends_with(".timer") {
        match show(unit, "Unit,LoadState", timeout).await {
            Err(failed) => return failed,
            Ok(props) if props.get("LoadState").map(String::as_str) == Some("not-found") => {
                return Observation::failed(&format!("unit {unit} not found"));
            }
            Ok(props) => match timer_service(&props) {
                Some(service) => service,
                None => return Observation::failed(&format!("{unit} names no service")),
            },
        }
    } else {
        unit.to_string()
    };
    match show(&service, PROPERTIES, timeout).await {
        Ok(props) => observe(&props, &service),
        Err(failed) => failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> Observation {
        observe(&parse_show(text), "backup.service")
    }

    #[test]
    fn a_successful_run() {
        let seen = show(
            "Result=success\nExecMainCode=1\nExecMainStatus=0\nExecMainStartTimestamp=@1700000000\nExecMainExitTimestamp=@1700000090.5\nActiveState=inactive\nSubState=dead\nLoadState=loaded\n",
        );
        assert_eq!(seen.result, BackupResult::Ok);
        assert_eq!(seen.run_ms, Some(1_700_000_090_500));
        assert_eq!(seen.duration_ms, Some(90_500));
        assert_eq!(seen.newest_good_ms, seen.run_ms);
    }

    #[test]
    fn failures_running_and_never_run() {
        let failed = show(
            "Result=exit-code\nExecMainStatus=3\nExecMainStartTimestamp=Tue 2023-11-14 22:13:20 UTC\nExecMainExitTimestamp=Tue 2023-11-14 22:14:20 UTC\nActiveState=failed\nLoadState=loaded",
        );
        assert_eq!(failed.result, BackupResult::Failed);
        assert_eq!(
            failed.reason,
            "backup.service failed: result exit-code, status 3"
        );
        assert_eq!(failed.run_ms, Some(1_700_000_060_000));
        assert_eq!(failed.newest_good_ms, None);
        let running = show(
            "Result=success\nExecMainStartTimestamp=@1700000000\nExecMainExitTimestamp=\nActiveState=activating\nLoadState=loaded",
        );
        assert!(running.running);
        let never =
            show("Result=success\nExecMainStartTimestamp=\nActiveState=inactive\nLoadState=loaded");
        assert_eq!(never.result, BackupResult::Unknown);
        assert_eq!(show("LoadState=not-found\n").result, BackupResult::Failed);
        // Junk: no panic, nothing claimed.
        assert_eq!(
            show("\u{0}\u{1}garbage\n==\nExecMainStartTimestamp=@-5").result,
            BackupResult::Unknown
        );
        assert_eq!(parse_timestamp("@99999999999999999999"), None);
        assert_eq!(parse_timestamp("Tue 2023-11-14 22:13:20 CET"), None);
    }

    /// Whether systemd runs here or not, a unit that does not exist is a
    /// failure with a reason, never a hang or a panic.
    #[tokio::test]
    async fn a_missing_unit_fails_clearly() {
        for unit in [
            "steward-no-such-backup.service",
            "steward-no-such-backup.timer",
        ] {
            let seen = scan(unit, std::time::Duration::from_secs(10)).await;
            assert_eq!(seen.result, BackupResult::Failed, "{seen:?}");
            assert!(!seen.reason.is_empty());
        }
    }

    #[test]
    fn a_timer_names_its_service() {
        let props = parse_show("Unit=restic-backup.service\nLoadState=loaded\n");
        assert_eq!(
            timer_service(&props).as_deref(),
            Some("restic-backup.service")
        );
        assert_eq!(timer_service(&parse_show("Unit=x; rm -rf /\n")), None);
        assert_eq!(timer_service(&parse_show("LoadState=loaded\n")), None);
    }
}
