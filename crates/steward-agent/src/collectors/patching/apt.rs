//! apt, read without changing anything: what `apt-get -s dist-upgrade`
//! would install, and where each version comes from (`apt-cache policy`),
//! parsed with no I/O here. Security is decided by the repository the
//! candidate (or a version between the installed one and the candidate)
//! comes from, with the rules unattended-upgrades and Ubuntu's
//! update-notifier use: its Release file's origin, label, codename and
//! archive.

use super::clean;
use std::cmp::Ordering;
use std::collections::HashMap;
use steward_proto::version::compare_debian;
use steward_proto::{PendingUpdate, RepoOrigin};

/// One `Inst` line of a simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Upgrade {
    pub name: String,
    pub current: String,
    pub candidate: String,
    pub arch: String,
    /// What the simulation says of the candidate's repositories
    /// (`Label:version/archive`), used when `apt-cache policy` cannot be
    /// read.
    pub releases: Vec<RepoOrigin>,
}

/// `Inst NAME [CURRENT] (CANDIDATE RELEASE[, RELEASE…] [ARCH]) …` lines of
/// `apt-get -s dist-upgrade`; anything else is skipped.
pub fn parse_simulation(text: &str, max: usize) -> Vec<Upgrade> {
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
            let (candidate, rest) = inner.split_once(' ').unwrap_or((inner, ""));
            let (releases, arch) = match rest.rsplit_once(" [") {
                Some((releases, arch)) => (releases, arch.trim_end_matches(']')),
                None => (rest, ""),
            };
            let releases = releases
                .split(", ")
                .filter(|r| !r.is_empty())
                .map(|release| {
                    let (label, rest) = release.split_once(':').unwrap_or(("", release));
                    let archive = rest.split_once('/').map_or(rest, |(_, a)| a);
                    RepoOrigin {
                        label: clean(label, 128),
                        archive: clean(archive, 128),
                        ..RepoOrigin::default()
                    }
                })
                .take(8)
                .collect();
            Some(Upgrade {
                name: clean(name, 256),
                current: clean(current, 256),
                candidate: clean(candidate, 256),
                arch: clean(arch, 32),
                releases,
            })
        })
        .filter(|u| !u.name.is_empty() && !u.candidate.is_empty())
        .take(max)
        .collect()
}

/// `apt-cache policy` with no package: each package index (`500
/// http://deb.debian.org/debian-security bookworm-security/main amd64
/// Packages`, keyed by the text after the priority) and its Release
/// fields (`release v=12,o=Debian,a=stable-security,n=bookworm-security,
/// l=Debian-Security,c=main,b=amd64`, `origin deb.debian.org`).
pub fn parse_sources(text: &str) -> HashMap<String, RepoOrigin> {
    let mut sources = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().take(100_000) {
        let trimmed = line.trim();
        if let Some(fields) = trimmed.strip_prefix("release ") {
            if let Some(origin) = current.as_ref().and_then(|k| sources.get_mut(k)) {
                read_release(fields, origin);
            }
        } else if let Some(site) = trimmed.strip_prefix("origin ") {
            if let Some(origin) = current.as_ref().and_then(|k| sources.get_mut(k)) {
                origin.site = clean(site, 128);
            }
        } else if line.starts_with(' ')
            && let Some(key) = index_key(trimmed)
        {
            sources.insert(key.clone(), RepoOrigin::default());
            current = Some(key);
        } else {
            current = None;
        }
    }
    sources
}

fn read_release(fields: &str, origin: &mut RepoOrigin) {
    for field in fields.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value = clean(value, 128);
        match key {
            "o" => origin.origin = value,
            "l" => origin.label = value,
            "n" => origin.codename = value,
            "a" => origin.archive = value,
            _ => {}
        }
    }
}

/// `PRIORITY REST` → `REST` (the index's description), when the line
/// starts with a (possibly negative) number.
fn index_key(trimmed: &str) -> Option<String> {
    let (priority, rest) = trimmed.split_once(' ')?;
    let digits = priority.strip_prefix('-').unwrap_or(priority);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty())
        .then(|| rest.trim().to_string())
}

/// One package's version table from `apt-cache policy NAME…`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub installed: String,
    pub candidate: String,
    /// Versions, newest first as apt lists them, each with its indexes.
    pub versions: Vec<(String, Vec<String>)>,
}

/// `apt-cache policy NAME…`: `NAME:` then `  Installed:`, `  Candidate:`,
/// `  Version table:` and the versions (`     VERSION PRIORITY`, the
/// installed one marked ` *** `), each followed by its indexes (`
/// PRIORITY DESCRIPTION`, indented further).
pub fn parse_policies(text: &str) -> HashMap<String, Policy> {
    let mut policies: HashMap<String, Policy> = HashMap::new();
    let mut name: Option<String> = None;
    let mut in_table = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            name = line
                .strip_suffix(':')
                .filter(|n| !n.is_empty() && !n.contains(' '))
                .map(|n| clean(n, 256));
            if let Some(n) = &name {
                policies.entry(n.clone()).or_default();
            }
            in_table = false;
            continue;
        }
        let Some(policy) = name.as_ref().and_then(|n| policies.get_mut(n)) else {
            continue;
        };
        let trimmed = line.trim();
        let indent = line.len() - line.trim_start().len();
        if let Some(v) = trimmed.strip_prefix("Installed:") {
            policy.installed = clean(v.trim(), 256);
        } else if let Some(v) = trimmed.strip_prefix("Candidate:") {
            policy.candidate = clean(v.trim(), 256);
        } else if trimmed == "Version table:" {
            in_table = true;
        } else if in_table && policy.versions.len() < 256 {
            let marked = trimmed.strip_prefix("*** ");
            if marked.is_some() || indent < 8 {
                let version = marked.unwrap_or(trimmed).split(' ').next().unwrap_or("");
                policy.versions.push((clean(version, 256), Vec::new()));
            } else if let (Some(key), Some((_, indexes))) =
                (index_key(trimmed), policy.versions.last_mut())
                && indexes.len() < 16
            {
                indexes.push(key);
            }
        }
    }
    policies
}

/// The rule by which a repository is a security one, if it is.
pub fn security_rule(origin: &RepoOrigin) -> Option<String> {
    let is_security = |s: &str| s.ends_with("-security");
    if origin.label == "Debian-Security" {
        Some("label Debian-Security".into())
    } else if origin.origin == "Ubuntu" && is_security(&origin.archive) {
        Some(format!("origin Ubuntu, archive {}", origin.archive))
    } else if is_security(&origin.codename) {
        Some(format!("codename {}", origin.codename))
    } else if is_security(&origin.archive) {
        Some(format!("archive {}", origin.archive))
    } else {
        None
    }
}

/// The pending updates: each upgrade of the simulation with its
/// candidate's repository and whether (and why) it is a security update.
pub fn pending(
    upgrades: Vec<Upgrade>,
    sources: &HashMap<String, RepoOrigin>,
    policies: &HashMap<String, Policy>,
) -> Vec<PendingUpdate> {
    upgrades
        .into_iter()
        .map(|upgrade| {
            let origins_of = |indexes: &[String]| -> Vec<RepoOrigin> {
                indexes
                    .iter()
                    .filter_map(|key| sources.get(key))
                    .cloned()
                    .collect()
            };
            let table = policies.get(&upgrade.name).map(|p| &p.versions);
            let candidate_origins = table
                .and_then(|t| t.iter().find(|(v, _)| *v == upgrade.candidate))
                .map(|(_, indexes)| origins_of(indexes))
                .filter(|o| !o.is_empty())
                .unwrap_or_else(|| upgrade.releases.clone());
            let direct = candidate_origins
                .iter()
                .find_map(|o| security_rule(o).map(|rule| (o.clone(), rule)));
            let (origin, rule) = match direct {
                Some((origin, rule)) => (Some(origin), rule),
                None => {
                    // A security version between the installed one and a
                    // newer candidate from elsewhere (-updates, backports).
                    let hidden = table.into_iter().flatten().find_map(|(version, indexes)| {
                        let between = compare_debian(version, &upgrade.candidate)
                            == Ordering::Less
                            && (upgrade.current.is_empty()
                                || compare_debian(version, &upgrade.current) == Ordering::Greater);
                        if !between {
                            return None;
                        }
                        origins_of(indexes).iter().find_map(|o| {
                            security_rule(o).map(|rule| {
                                format!(
                                    "security version {version} ({rule}) hidden behind a newer candidate"
                                )
                            })
                        })
                    });
                    (candidate_origins.first().cloned(), hidden.unwrap_or_default())
                }
            };
            PendingUpdate {
                security: !rule.is_empty(),
                rule: clean(&rule, 256),
                name: upgrade.name,
                current: upgrade.current,
                available: upgrade.candidate,
                arch: upgrade.arch,
                origin,
                ..PendingUpdate::default()
            }
        })
        .collect()
}

/// The apt error that means another process holds the lock.
pub fn is_locked(stderr: &str) -> bool {
    stderr.contains("Could not get lock") || stderr.contains("Unable to acquire the dpkg")
}
