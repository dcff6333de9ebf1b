//! The install_updates action: each package installed at its exact
//! version with apt, one at a time (each one's output streams as the run's
//! progress and its exit status lands in the result), then what dpkg has
//! installed is checked and a detection pass is asked for, so the next
//! inventory shows the device as it now is. The agent's `--apt-config` and
//! `--patch-root` apply, which is how tests install into a throwaway root.

use super::exec::{self, Outcome};
use crate::collectors::patching::Config;
use std::time::{Duration, Instant};
use steward_proto::{AgentMessage, PackageVersion, RunStatus};
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
