//! Linux: process count from /proc, packages from dpkg or rpm, logged-in
//! users from `who` (utmp).

use crate::collectors::clean;
use crate::command::{Cmd, run as run_bounded};
use std::time::Duration;
use steward_proto::{LoggedInUser, Package};

/// Most packages reported; beyond it the list is cut (and the server's
/// limit is the same).
const MAX_PACKAGES: usize = 20_000;

/// Number of processes: numeric entries in /proc (much cheaper than a full
/// process table refresh).
pub fn process_count() -> Option<u64> {
    let entries = std::fs::read_dir("/proc").ok()?;
    Some(
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .as_encoded_bytes()
                    .iter()
                    .all(u8::is_ascii_digit)
            })
            .count() as u64,
    )
}

/// How long the package manager or `who` may take before the inventory
/// goes without its answer (a dpkg database locked or on a hung disk must
/// not hold the inventory, or the connection that waits for it).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Most output read from one of them: 20,000 packages of 512-character
/// lines fit.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// The command's output when it ran to success within [`COMMAND_TIMEOUT`].
async fn run(program: &str, args: &[&str]) -> Option<String> {
    let mut cmd = Cmd::new(program).env("LC_ALL", "C");
    cmd.args = args.iter().map(Into::into).collect();
    let output = run_bounded(&cmd, COMMAND_TIMEOUT, MAX_OUTPUT).await;
    if output.timed_out {
        tracing::warn!(
            program,
            "No answer within {} s; the inventory goes without it.",
            COMMAND_TIMEOUT.as_secs()
        );
    }
    (output.code == Some(0)).then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Installed packages from dpkg (Debian, Ubuntu) or rpm (RHEL, SUSE,
/// Fedora), of the system under `root` (`/` but in tests).
pub async fn packages(root: &std::path::Path) -> Vec<Package> {
    let other_root = root != std::path::Path::new("/");
    let admindir = format!("--admindir={}", root.join("var/lib/dpkg").display());
    let mut dpkg_args = vec!["-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\n"];
    if other_root {
        dpkg_args.insert(0, &admindir);
    }
    let rpm_root = root.display().to_string();
    let mut rpm_args = vec!["-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"];
    if other_root {
        rpm_args.extend(["--root", &rpm_root]);
    }
    let (manager, text) = if let Some(text) = run("dpkg-query", &dpkg_args).await {
        // Only installed packages ("ii"); removed-but-configured ones are not.
        let installed: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("ii"))
            .filter_map(|l| l.split_once('\t').map(|(_, rest)| rest.to_string()))
            .collect();
        ("dpkg", installed.join("\n"))
    } else if let Some(text) = run("rpm", &rpm_args).await {
        ("rpm", text)
    } else {
        return Vec::new();
    };
    parse_packages(manager, &text)
}

fn parse_packages(manager: &str, text: &str) -> Vec<Package> {
    let mut packages: Vec<Package> = text
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, version)| Package {
            name: clean(name, 256),
            version: clean(version, 256),
            manager: manager.into(),
        })
        .filter(|p| !p.name.is_empty())
        .take(MAX_PACKAGES)
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
}

/// Users logged in now, from `who` (name, terminal, since, optional host).
pub async fn logged_in_users() -> Vec<LoggedInUser> {
    run("who", &[])
        .await
        .map(|text| super::who::parse_who(&text))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn parses_package_lists() {
        let packages = parse_packages("dpkg", "zlib1g\t1:1.2.13\nbash\t5.2-2\n\tbad\n");
        assert_eq!(
            packages.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            vec!["bash", "zlib1g"]
        );
    }

    #[test]
    fn process_count_sees_this_process() {
        assert!(process_count().unwrap() >= 1);
    }
}
