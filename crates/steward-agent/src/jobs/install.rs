//! The install_updates action: each package installed at its exact
//! version with apt, one at a time (each one's output streams as the run's
//! progress and its exit status lands in the result), then what dpkg has
//! installed is checked and a detection pass is asked for, so the next
//! inventory shows the device as it now is. The agent's `--apt-config` and
//! `--patch-root` apply, which is how tests install into a throwaway root.
//! When the policy says so, the device then restarts (`reboot_after`):
//! logged-in users are warned first (`--notice-command`, `wall`), and the
//! restart is scheduled with the policy's grace (`--reboot-command`,
//! `shutdown -r +MINUTES`), so the system keeps the schedule even if the
//! agent stops.

use super::exec::{self, Outcome};
use crate::collectors::patching::Config;
use std::time::{Duration, Instant};
use steward_proto::{AgentMessage, PackageVersion, RebootAfter, RunStatus};
use tokio::process::Command;
use tokio::sync::mpsc;

fn apt_install(config: &Config, package: &PackageVersion) -> Command {
    let mut command = Command::new("apt-get");
    command
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("LC_ALL", "C")
        .args(["install", "-y", "-q", "--only-upgrade"])
        .args(["-o", "Dpkg::Options::=--force-confdef"])
        .args(["-o", "Dpkg::Options::=--force-confold"]);
    if let Some(file) = &config.apt_config {
        command.env("APT_CONFIG", file);
    }
    if config.root != std::path::Path::new("/") {
        // dpkg acts on the isolated root, never on this host.
        command
            .arg("-o")
            .arg(format!("Dpkg::Options::=--root={}", config.root.display()))
            .args(["-o", "Dpkg::Options::=--force-not-root"])
            .args(["-o", "Dpkg::Options::=--force-script-chrootless"]);
    }
    command.arg(format!("{}={}", package.name, package.version));
    command
}

/// The version dpkg has installed now (empty when none or unreadable).
async fn installed(config: &Config, name: &str) -> String {
    let mut command = Command::new("dpkg-query");
    command
        .arg(format!(
            "--admindir={}",
            config.root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f=${Version}", "--", name])
        .env("LC_ALL", "C")
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(30), command.output()).await {
        Ok(Ok(output)) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
        _ => String::new(),
    }
}

/// Installs `packages` within `timeout` in all; one line per package in
/// the result's stdout (`name=version: installed` or why not).
pub async fn install(
    config: &Config,
    packages: &[PackageVersion],
    timeout: Duration,
    run_id: &str,
    out: &mpsc::UnboundedSender<AgentMessage>,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut lines = Vec::with_capacity(packages.len());
    let mut stderr = String::new();
    let mut failed = 0usize;
    let mut exit_code = Some(0);
    for package in packages {
        let label = format!("{}={}", package.name, package.version);
        if !package.is_valid() {
            failed += 1;
            lines.push(format!("{label}: refused (not a package name and version)"));
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            failed += 1;
            lines.push(format!("{label}: not tried (out of time)"));
            continue;
        }
        let outcome = exec::run(apt_install(config, package), left, run_id, out).await;
        let now = installed(config, &package.name).await;
        let line = match (outcome.status, now == package.version) {
            (RunStatus::Succeeded, true) => format!("{label}: installed"),
            (status, _) => {
                failed += 1;
                exit_code = outcome.exit_code.or(exit_code);
                if !outcome.stderr.is_empty() {
                    stderr = outcome.stderr.clone();
                }
                let found = if now.is_empty() { "none" } else { &now };
                format!(
                    "{label}: failed ({status:?}, exit {}; installed now: {found})",
                    outcome
                        .exit_code
                        .map_or_else(|| "none".to_string(), |c| c.to_string())
                )
            }
        };
        lines.push(line);
    }
    let message = if failed == 0 {
        format!("{} installed", packages.len())
    } else {
        format!("{failed} of {} failed", packages.len())
    };
    Outcome {
        status: if failed == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        },
        exit_code,
        stdout: lines.join("\n") + "\n",
        stderr,
        truncated: false,
        duration: started.elapsed(),
        message,
    }
}

/// How long the notice and the scheduling command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Of what they print, this much is kept (the rest says nothing more).
const KEPT_OUTPUT: usize = 512;

/// The warning logged-in users read: when, why, at most a few packages.
pub fn notice(grace_minutes: u32, packages: &[PackageVersion]) -> String {
    let mut names: Vec<&str> = packages.iter().take(5).map(|p| p.name.as_str()).collect();
    let more = packages.len().saturating_sub(names.len());
    let more = (more > 0).then(|| format!(" and {more} more"));
    if names.is_empty() {
        names.push("earlier updates");
    }
    let when = match grace_minutes {
        0 => "now".to_string(),
        1 => "in 1 minute".to_string(),
        n => format!("in {n} minutes"),
    };
    format!(
        "Steward: this computer restarts {when} to finish installing updates ({}{}). Please save your work.",
        names.join(", "),
        more.unwrap_or_default()
    )
}

/// Runs `cmd` (with its input) through the agent's one bounded runner,
/// within [`COMMAND_TIMEOUT`];
/// `Ok` when it exits 0, else why not (bounded).
async fn run_bounded(cmd: crate::command::Cmd) -> Result<(), String> {
    let output = crate::command::run(&cmd, COMMAND_TIMEOUT, KEPT_OUTPUT).await;
    if output.start_error.is_some() {
        return Err(output.stderr);
    }
    if output.timed_out {
        return Err(format!("no answer within {} s", COMMAND_TIMEOUT.as_secs()));
    }
    match output.code {
        Some(0) => Ok(()),
        code => {
            let mut said = crate::collectors::clean(&output.stderr, KEPT_OUTPUT);
            if said.is_empty() {
                said = "no message".into();
            }
            Err(format!(
                "exit {}: {said}",
                code.map_or_else(|| "by signal".to_string(), |c| c.to_string())
            ))
        }
    }
}

/// After a successful install: restarts as `reboot` says, users warned
/// `grace_minutes` ahead. Each step is a line of the run's output; a
/// restart that could not be scheduled is said in its message (the
/// install itself still succeeded).
pub async fn reboot_after(
    config: &Config,
    reboot: RebootAfter,
    grace_minutes: u32,
    packages: &[PackageVersion],
    outcome: &mut Outcome,
) {
    match reboot {
        RebootAfter::Never => return,
        RebootAfter::IfRequired => {
            let state = crate::collectors::patching::reboot_now(config).await;
            if state.required != Some(true) {
                outcome.stdout.push_str("reboot: not required\n");
                return;
            }
        }
        RebootAfter::Always => {}
    }
    let message = notice(grace_minutes, packages);
    let users: Vec<String> = crate::os::logged_in_users()
        .await
        .into_iter()
        .map(|u| u.name)
        .take(20)
        .collect();
    let notice =
        crate::command::Cmd::new(&config.notice_command.to_string_lossy()).stdin(message.clone());
    let notice_line = match run_bounded(notice).await {
        Ok(()) if users.is_empty() => "notice: sent (nobody is logged in)".to_string(),
        Ok(()) => format!("notice: sent to {}", users.join(", ")),
        Err(why) => format!("notice: not sent ({why})"),
    };
    outcome.stdout.push_str(&notice_line);
    outcome.stdout.push('\n');
    let restart = crate::command::Cmd::new(&config.reboot_command.to_string_lossy())
        .arg("-r")
        .arg(format!("+{grace_minutes}"))
        .arg(&message);
    match run_bounded(restart).await {
        Ok(()) => {
            outcome
                .stdout
                .push_str(&format!("reboot: scheduled in {grace_minutes} min\n"));
            outcome.message = format!("{}; restart in {grace_minutes} min", outcome.message);
        }
        Err(why) => {
            outcome
                .stdout
                .push_str(&format!("reboot: not scheduled ({why})\n"));
            outcome.message = format!("{}; restart not scheduled", outcome.message);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn packages(n: usize) -> Vec<PackageVersion> {
        (0..n)
            .map(|i| PackageVersion {
                name: format!("pkg{i}"),
                version: "1".into(),
            })
            .collect()
    }

    #[test]
    fn the_notice_says_when_and_why_in_a_bounded_line() {
        assert_eq!(
            notice(5, &packages(2)),
            "Steward: this computer restarts in 5 minutes to finish installing updates (pkg0, pkg1). Please save your work."
        );
        assert!(notice(1, &packages(1)).contains("restarts in 1 minute to"));
        assert!(
            notice(0, &[]).contains("restarts now to finish installing updates (earlier updates)")
        );
        let many = notice(120, &packages(500));
        assert!(many.contains("pkg4 and 495 more"), "{many}");
        assert!(many.len() < 200);
    }

    fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn succeeded() -> Outcome {
        Outcome {
            status: RunStatus::Succeeded,
            exit_code: Some(0),
            stdout: "stwd-demo=2.0-1: installed\n".into(),
            stderr: String::new(),
            truncated: false,
            duration: Duration::ZERO,
            message: "1 installed".into(),
        }
    }

    #[tokio::test]
    async fn users_are_warned_then_the_restart_is_scheduled_with_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let config = Config {
            root: dir.path().to_path_buf(),
            notice_command: script(
                dir.path(),
                "wall",
                &format!("cat > {}/notice", dir.path().display()),
            ),
            reboot_command: script(
                dir.path(),
                "shutdown",
                &format!("for a in \"$@\"; do echo \"$a\"; done > {}", log.display()),
            ),
            ..Config::default()
        };
        let mut outcome = succeeded();
        reboot_after(&config, RebootAfter::Always, 7, &packages(1), &mut outcome).await;
        let said = std::fs::read_to_string(dir.path().join("notice")).unwrap();
        assert!(said.contains("restarts in 7 minutes"), "{said}");
        let args = std::fs::read_to_string(&log).unwrap();
        let args: Vec<&str> = args.lines().collect();
        assert_eq!(args[..2], ["-r", "+7"]);
        assert_eq!(args[2], said);
        assert!(
            outcome.stdout.contains("notice: sent"),
            "{}",
            outcome.stdout
        );
        assert!(
            outcome.stdout.ends_with("reboot: scheduled in 7 min\n"),
            "{}",
            outcome.stdout
        );
        assert_eq!(outcome.message, "1 installed; restart in 7 min");
        assert_eq!(outcome.status, RunStatus::Succeeded);

        // if_required: nothing asks for one, so nothing runs.
        std::fs::remove_file(&log).unwrap();
        let mut outcome = succeeded();
        reboot_after(
            &config,
            RebootAfter::IfRequired,
            7,
            &packages(1),
            &mut outcome,
        )
        .await;
        assert!(outcome.stdout.ends_with("reboot: not required\n"));
        assert!(!log.exists());
        // The flag file asks for one: it is scheduled.
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(dir.path().join("run/reboot-required"), "").unwrap();
        let mut outcome = succeeded();
        reboot_after(
            &config,
            RebootAfter::IfRequired,
            0,
            &packages(1),
            &mut outcome,
        )
        .await;
        assert!(log.exists(), "{}", outcome.stdout);
        assert!(outcome.stdout.ends_with("reboot: scheduled in 0 min\n"));
        // Never: nothing at all.
        let mut outcome = succeeded();
        reboot_after(&config, RebootAfter::Never, 0, &packages(1), &mut outcome).await;
        assert_eq!(outcome.stdout, succeeded().stdout);
    }

    #[tokio::test]
    async fn a_failing_command_is_said_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            root: dir.path().to_path_buf(),
            notice_command: dir.path().join("no-such-wall"),
            reboot_command: script(
                dir.path(),
                "shutdown",
                "echo 'Failed to talk to logind' >&2; exit 1",
            ),
            ..Config::default()
        };
        let mut outcome = succeeded();
        reboot_after(&config, RebootAfter::Always, 5, &packages(1), &mut outcome).await;
        assert!(
            outcome.stdout.contains("notice: not sent (cannot start"),
            "{}",
            outcome.stdout
        );
        assert!(
            outcome
                .stdout
                .contains("reboot: not scheduled (exit 1: Failed to talk to logind"),
            "{}",
            outcome.stdout
        );
        assert_eq!(outcome.status, RunStatus::Succeeded);
        assert_eq!(outcome.message, "1 installed; restart not scheduled");
    }
}
