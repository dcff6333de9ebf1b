//! Linux: process count from /proc, packages from dpkg or rpm, logged-in
//! users from `who` (utmp).

use std::process::Command;
use steward_proto::{LoggedInUser, Package, PendingUpdate};

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

fn run(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Installed packages from dpkg (Debian, Ubuntu) or rpm (RHEL, SUSE, Fedora).
pub fn packages() -> Vec<Package> {
    let (manager, text) = if let Some(text) = run(
        "dpkg-query",
        &["-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\n"],
    ) {
        // Only installed packages ("ii"); removed-but-configured ones are not.
        let installed: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("ii"))
            .filter_map(|l| l.split_once('\t').map(|(_, rest)| rest.to_string()))
            .collect();
        ("dpkg", installed.join("\n"))
    } else if let Some(text) = run("rpm", &["-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"]) {
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

/// Pending updates from the package manager's cached lists (no download,
/// no lock): `apt-get -s upgrade` on Debian and Ubuntu, `dnf check-update`
/// on RHEL and Fedora. `None` when neither answers.
pub fn pending_updates() -> Option<Vec<PendingUpdate>> {
    let apt = Command::new("apt-get")
        .args(["-s", "-q", "-o", "Debug::NoLocking=1", "upgrade"])
        .env("LC_ALL", "C")
        .output();
    if let Ok(out) = apt
        && out.status.success()
    {
        return Some(parse_apt_simulation(&String::from_utf8_lossy(&out.stdout)));
    }
    // dnf exits 100 when updates are available, 0 when none.
    let dnf = Command::new("dnf")
        .args(["-q", "check-update"])
        .env("LC_ALL", "C")
        .output()
        .ok()?;
    match dnf.status.code() {
        Some(0) => Some(Vec::new()),
        Some(100) => Some(parse_dnf_check_update(&String::from_utf8_lossy(
            &dnf.stdout,
        ))),
        _ => None,
    }
}

/// `Inst NAME [CURRENT] (AVAILABLE REPO... [ARCH])` lines.
fn parse_apt_simulation(text: &str) -> Vec<PendingUpdate> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("Inst ")?;
            let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let rest = rest.trim_start();
            let (current, rest) = match rest.strip_prefix('[') {
                Some(r) => r.split_once(']').map(|(c, r)| (c, r.trim_start()))?,
                None => ("", rest),
            };
            let inner = rest.strip_prefix('(')?;
            let inner = inner.split(')').next().unwrap_or(inner);
            let (available, repo) = inner.split_once(' ').unwrap_or((inner, ""));
            Some(PendingUpdate {
                name: clean(name, 256),
                current: clean(current, 256),
                available: clean(available, 256),
                security: repo.to_ascii_lowercase().contains("security"),
            })
        })
        .filter(|u| !u.name.is_empty())
        .take(MAX_PACKAGES)
        .collect()
}

/// `NAME.ARCH  VERSION  REPO` lines, up to the "Obsoleting" section.
fn parse_dnf_check_update(text: &str) -> Vec<PendingUpdate> {
    text.lines()
        .take_while(|line| !line.starts_with("Obsoleting"))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (package, version, repo) = (fields.next()?, fields.next()?, fields.next()?);
            let name = package.rsplit_once('.').map_or(package, |(n, _)| n);
            Some(PendingUpdate {
                name: clean(name, 256),
                current: String::new(),
                available: clean(version, 256),
                security: repo.to_ascii_lowercase().contains("security"),
            })
        })
        .take(MAX_PACKAGES)
        .collect()
}

/// Users logged in now, from `who` (name, terminal, since, optional host).
pub fn logged_in_users() -> Vec<LoggedInUser> {
    run("who", &[])
        .map(|text| parse_who(&text))
        .unwrap_or_default()
}

fn parse_who(text: &str) -> Vec<LoggedInUser> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            let terminal = fields.next()?;
            let rest: Vec<&str> = fields.collect();
            let host = rest
                .last()
                .filter(|r| r.starts_with('('))
                .map(|h| h.trim_matches(|c| c == '(' || c == ')'))
                .unwrap_or("");
            let since = rest
                .iter()
                .take_while(|r| !r.starts_with('('))
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            Some(LoggedInUser {
                name: clean(name, 64),
                terminal: clean(terminal, 64),
                host: clean(host, 253),
                since: clean(&since, 64),
            })
        })
        .take(512)
        .collect()
}

/// Bounded, control-free text, as the server will accept it.
fn clean(text: &str, max: usize) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).collect();
    if out.len() > max {
        let mut cut = max;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn apt_simulation_lists_updates_and_marks_security() {
        let text = "NOTE: This is only a simulation!\nReading package lists...\n\
Inst libssl3 [3.0.11-1~deb12u2] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])\n\
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable [all])\n\
Inst newpkg (1.0 Debian:12/stable [amd64])\n\
Conf libssl3 (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])\n\
Inst broken\n";
        let updates = parse_apt_simulation(text);
        let summary: Vec<(&str, &str, &str, bool)> = updates
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.current.as_str(),
                    u.available.as_str(),
                    u.security,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("libssl3", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", true),
                ("tzdata", "2024a-0+deb12u1", "2025b-0+deb12u1", false),
                ("newpkg", "", "1.0", false),
            ]
        );
    }

    #[test]
    fn dnf_check_update_lists_updates() {
        let text = "\nkernel.x86_64   5.14.0-427.el9   baseos\nopenssl.x86_64 1:3.0.7-27.el9 rhel-9-security\nObsoleting Packages\ngrub2.noarch 1:2.06 baseos\n";
        let updates = parse_dnf_check_update(text);
        assert_eq!(updates.len(), 2);
        assert_eq!(
            (updates[0].name.as_str(), updates[0].available.as_str()),
            ("kernel", "5.14.0-427.el9")
        );
        assert!(updates[1].security);
    }

    use super::*;

    #[test]
    fn parses_who() {
        let users = parse_who(
            "alice    pts/0        2026-11-26 09:12 (10.0.0.5)\nbob      tty1         2026-11-26 08:00\n",
        );
        assert_eq!(users.len(), 2);
        assert_eq!(
            (
                users[0].name.as_str(),
                users[0].host.as_str(),
                users[0].since.as_str()
            ),
            ("alice", "10.0.0.5", "2026-11-26 09:12")
        );
        assert_eq!(users[1].host, "");
    }

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
