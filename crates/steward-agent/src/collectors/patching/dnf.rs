//! dnf, parsed with no I/O here: `dnf -q check-update` (exit 100 when
//! updates exist, 0 when none), `dnf -q updateinfo list --security` (dnf4)
//! or `dnf advisory list --security` (dnf5) for the advisories, and
//! `dnf needs-restarting -r`, whose answer is its exit code (1: reboot
//! needed, 0: not), never the mere presence of the command.

use super::clean;
use std::collections::HashMap;
use steward_proto::{PendingUpdate, RepoOrigin};

/// `NAME.ARCH  VERSION  REPO` lines up to the "Obsoleting" section; a name
/// too long for its column puts the rest of its entry on the next line.
pub fn parse_check_update(text: &str, max: usize) -> Vec<PendingUpdate> {
    let mut out = Vec::new();
    let mut carried: Option<&str> = None;
    for line in text.lines() {
        if line.starts_with("Obsoleting") || out.len() >= max {
            break;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (package, version, repo) = match (carried.take(), fields.as_slice()) {
            (None, [package]) if package.contains('.') => {
                carried = Some(package);
                continue;
            }
            (None, [package, version, repo]) => (*package, *version, *repo),
            (Some(package), [version, repo]) => (package, *version, *repo),
            _ => continue,
        };
        // Headers ("Last metadata expiration check: …") have more fields;
        // a version has a digit.
        if !version.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        let (name, arch) = package.rsplit_once('.').unwrap_or((package, ""));
        out.push(PendingUpdate {
            name: clean(name, 256),
            available: clean(version, 256),
            arch: clean(arch, 32),
            origin: Some(RepoOrigin {
                label: clean(repo, 128),
                ..RepoOrigin::default()
            }),
            ..PendingUpdate::default()
        });
    }
    out
}

/// An advisory covering a package.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    pub id: String,
    pub severity: String,
}

/// Security advisories by package name, from dnf4's `ADVISORY
/// SEVERITY/Sec. NEVRA` lines or dnf5's `ADVISORY security SEVERITY NEVRA
/// ISSUED` table.
pub fn parse_advisories(text: &str) -> HashMap<String, Advisory> {
    let mut out = HashMap::new();
    for line in text.lines().take(200_000) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (id, severity, nevra) = match fields.as_slice() {
            [id, kind, nevra] if kind.ends_with("/Sec.") => {
                (*id, kind.trim_end_matches("/Sec."), *nevra)
            }
            [id, "security", severity, nevra, ..] => (*id, *severity, *nevra),
            _ => continue,
        };
        let Some(name) = nevra_name(nevra) else {
            continue;
        };
        out.entry(clean(name, 256)).or_insert(Advisory {
            id: clean(id, 128),
            severity: clean(severity, 32),
        });
    }
    out
}

/// `openssl-1:3.0.7-27.el9.x86_64` → `openssl` (the name is what precedes
/// the last two hyphens).
fn nevra_name(nevra: &str) -> Option<&str> {
    let (rest, _release) = nevra.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    (!name.is_empty()).then_some(name)
}

/// Marks the updates an advisory covers as security ones, with the rule.
pub fn apply_advisories(updates: &mut [PendingUpdate], advisories: &HashMap<String, Advisory>) {
    for update in updates {
        if let Some(advisory) = advisories.get(&update.name) {
            update.security = true;
            update.advisory = advisory.id.clone();
            update.severity = advisory.severity.clone();
            update.rule = clean(
                &format!(
                    "dnf advisory {} severity {}",
                    advisory.id, advisory.severity
                ),
                256,
            );
        }
    }
}

/// `needs-restarting -r`: exit 1 says a reboot is needed, 0 says it is
/// not (its text lists why), anything else says nothing.
pub fn needs_restarting(exit_code: Option<i32>, stdout: &str) -> (Option<bool>, Vec<String>) {
    let required = match exit_code {
        Some(1) => Some(true),
        Some(0) => Some(false),
        _ => None,
    };
    let packages = if required == Some(true) {
        stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("* "))
            .map(|p| clean(p.trim(), 256))
            .filter(|p| !p.is_empty())
            .take(64)
            .collect()
    } else {
        Vec::new()
    };
    (required, packages)
}
