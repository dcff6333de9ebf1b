//! Local script checks: commands the endpoint's own administrator lists
//! (`--check NAME=COMMAND`), run on the agent's schedule, following the
//! Monitoring Plugins convention (exit code = state, first line = message,
//! `|` perfdata). The server never sends commands here: it only receives
//! results. Each run has a timeout, and its output is capped.

use std::process::Stdio;
use std::time::Duration;
use steward_proto::{CheckRun, CheckRuns};
use tokio::io::AsyncReadExt;

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_OUTPUT: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub command: String,
}

/// Parses `NAME=COMMAND`.
pub fn parse(spec: &str) -> Result<Check, String> {
    let (name, command) = spec
        .split_once('=')
        .ok_or_else(|| format!("{spec:?}: expected NAME=COMMAND"))?;
    let name = name.trim();
    if !steward_proto::validate::is_metric_name(name, 64) || command.trim().is_empty() {
        return Err(format!(
            "{spec:?}: NAME must be lowercase letters, digits, _ or . and COMMAND not empty"
        ));
    }
    Ok(Check {
        name: name.to_string(),
        command: command.trim().to_string(),
    })
}

fn safe_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?}: expected letters, digits, - _ . or @"))
    }
}

fn check_name(prefix: &str, name: &str) -> String {
    let cleaned: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}.{cleaned}")
}

/// `--process NAME`: CRITICAL when no process has exactly this name.
pub fn process(name: &str) -> Result<Check, String> {
    safe_name(name)?;
    Ok(Check {
        name: check_name("process", name),
        command: format!(
            "if pgrep -x '{name}' >/dev/null; then echo 'PROCS OK: {name} is running'; else echo 'PROCS CRITICAL: {name} is not running'; exit 2; fi"
        ),
    })
}

/// `--service UNIT`: CRITICAL when the systemd unit is not active.
pub fn service(unit: &str) -> Result<Check, String> {
    safe_name(unit)?;
    Ok(Check {
        name: check_name("service", unit),
        command: format!(
            "state=$(systemctl is-active '{unit}' 2>/dev/null); if [ \"$state\" = active ]; then echo 'SERVICE OK: {unit} is active'; else echo \"SERVICE CRITICAL: {unit} is ${{state:-unknown}}\"; exit 2; fi"
        ),
    })
}

async fn run_one(check: &Check) -> CheckRun {
    let ts_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (shell, shell_args) = crate::os::sys::shell_command();
    let mut command = tokio::process::Command::new(shell);
    command
        .args(shell_args)
        .arg(&check.command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    crate::os::sys::own_group(&mut command);
    let spawned = command.spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            return CheckRun {
                name: check.name.clone(),
                ts_ms,
                exit_code: 3,
                output: format!("UNKNOWN - cannot start: {error}"),
                device: None,
            };
        }
    };
    let mut stdout = child.stdout.take();
    let result = tokio::time::timeout(TIMEOUT, async {
        let mut buf = Vec::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.take(MAX_OUTPUT as u64).read_to_end(&mut buf).await;
        }
        (child.wait().await, buf)
    })
    .await;
    let (exit_code, output) = match result {
        Ok((Ok(status), buf)) => (
            status.code().unwrap_or(3),
            String::from_utf8_lossy(&buf).into_owned(),
        ),
        Ok((Err(error), _)) => (3, format!("UNKNOWN - {error}")),
        Err(_) => {
            // Kill the whole process group, not only the shell.
            if let Some(pid) = child.id() {
                crate::os::sys::kill_tree(pid);
            }
            (
                3,
                format!("UNKNOWN - timed out after {} s", TIMEOUT.as_secs()),
            )
        }
    };
    CheckRun {
        name: check.name.clone(),
        ts_ms,
        exit_code,
        output,
        device: None,
    }
}

/// Runs every check once.
pub async fn run_all(checks: &[Check]) -> CheckRuns {
    let mut runs = Vec::with_capacity(checks.len());
    for check in checks {
        runs.push(run_one(check).await);
    }
    CheckRuns { runs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_and_service_names_are_safe() {
        assert_eq!(process("sshd").unwrap().name, "process.sshd");
        assert_eq!(
            service("nginx.service").unwrap().name,
            "service.nginx.service"
        );
        assert!(process("x'; rm -rf /").is_err());
        assert!(service("").is_err());
    }

    #[tokio::test]
    async fn a_missing_process_is_critical() {
        let runs = run_all(&[
            process("no-such-process-xyz").unwrap(),
            process("sh").unwrap(),
        ])
        .await
        .runs;
        assert_eq!(runs[0].exit_code, 2, "{:?}", runs[0]);
        assert!(runs[0].output.contains("not running"));
    }

    #[test]
    fn parses_specs() {
        assert_eq!(
            parse("disk=check_disk -w 10%").unwrap(),
            Check {
                name: "disk".into(),
                command: "check_disk -w 10%".into()
            }
        );
        assert!(parse("no-equals").is_err());
        assert!(parse("Bad=x").is_err());
        assert!(parse("ok=").is_err());
    }

    #[tokio::test]
    async fn runs_plugins_and_reports_exit_codes() {
        let checks = vec![
            Check {
                name: "ok".into(),
                command: "echo 'ALL OK | x=1'".into(),
            },
            Check {
                name: "crit".into(),
                command: "echo 'BAD'; exit 2".into(),
            },
            Check {
                name: "missing".into(),
                command: "/nonexistent/plugin".into(),
            },
        ];
        let runs = run_all(&checks).await.runs;
        assert_eq!(
            runs.iter().map(|r| r.exit_code).collect::<Vec<_>>(),
            vec![0, 2, 127]
        );
        assert_eq!(runs[0].output.trim(), "ALL OK | x=1");
    }
}
