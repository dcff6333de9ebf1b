//! macOS `softwareupdate --list` (macOS 10.15 and later): a `* Label:
//! LABEL` line, then a tab-indented line of `Key: value, ` pairs (Title,
//! Version, Size, Recommended, Action). `Action: restart` means the
//! install restarts the Mac. `softwareupdate` says nothing of security,
//! so an update is a security one only when its title says so (Security
//! Update, Rapid Security Response, Background Security Improvement); the
//! label is what `softwareupdate --install` is given.

use super::seam::{CommandLine, Listing, UpdateSource, text};
use steward_proto::{PackageVersion, PendingUpdate, RepoOrigin};

pub struct SoftwareUpdate;

/// The fields of a details line (`Title: …, Version: …, `): a part that
/// is no `Key: value` belongs to the value before it (a title with a
/// comma).
fn fields(line: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in line.trim().trim_end_matches(',').split(", ") {
        match part.split_once(": ") {
            Some((key, value))
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                out.push((key.to_string(), value.trim().to_string()));
            }
            _ => {
                if let Some(last) = out.last_mut() {
                    last.1.push_str(", ");
                    last.1.push_str(part);
                }
            }
        }
    }
    out
}

fn security_rule(title: &str) -> String {
    [
        "Security Update",
        "Rapid Security Response",
        "Background Security Improvement",
    ]
    .into_iter()
    .find(|words| title.contains(words))
    .map(|words| format!("title says {words}"))
    .unwrap_or_default()
}

/// A label `softwareupdate --install` may be given as one argument.
fn label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 256
        && !label.starts_with('-')
        && !label.chars().any(char::is_control)
}

impl UpdateSource for SoftwareUpdate {
    fn manager(&self) -> &'static str {
        "softwareupdate"
    }

    fn list(&self) -> CommandLine {
        CommandLine {
            program: "softwareupdate",
            args: vec!["--list".into()],
        }
    }

    fn parse(&self, stdout: &str, max: usize) -> Result<Listing, String> {
        let mut listing = Listing::default();
        let mut label: Option<String> = None;
        let mut seen_header = false;
        for line in stdout.lines() {
            if line.contains("No new software available") {
                return Ok(Listing::default());
            }
            if line.starts_with("Software Update found") || line.starts_with("Finding available") {
                seen_header = true;
            }
            if let Some(found) = line.trim_start().strip_prefix("* Label: ") {
                label = Some(text(found, 256));
                continue;
            }
            let (Some(name), true) = (label.take(), line.starts_with('\t')) else {
                continue;
            };
            if listing.updates.len() >= max {
                break;
            }
            let details = fields(line);
            let get = |key: &str| {
                details
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| text(v, 256))
                    .unwrap_or_default()
            };
            let title = get("Title");
            let rule = security_rule(&title);
            if get("Action").eq_ignore_ascii_case("restart") {
                listing.restart.push(name.clone());
            }
            listing.updates.push(PendingUpdate {
                name,
                current: String::new(),
                available: get("Version"),
                security: !rule.is_empty(),
                rule,
                arch: String::new(),
                origin: Some(RepoOrigin {
                    origin: "Apple".into(),
                    label: if get("Recommended").eq_ignore_ascii_case("yes") {
                        "recommended".into()
                    } else {
                        String::new()
                    },
                    ..RepoOrigin::default()
                }),
                advisory: String::new(),
                severity: String::new(),
            });
        }
        if listing.updates.is_empty() && !seen_header {
            return Err("softwareupdate's listing is not one this agent reads".into());
        }
        Ok(listing)
    }

    fn install(&self, updates: &[PackageVersion]) -> Result<CommandLine, String> {
        if updates.is_empty() {
            return Err("name at least one update".into());
        }
        if let Some(bad) = updates.iter().find(|u| !label_ok(&u.name)) {
            return Err(format!("{:?} is not a softwareupdate label", bad.name));
        }
        // The restart is the policy's (after a notice), not softwareupdate's.
        let mut args = vec!["--install".to_string()];
        args.extend(updates.iter().map(|u| u.name.clone()));
        args.push("--agree-to-license".into());
        Ok(CommandLine {
            program: "softwareupdate",
            args,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = include_str!("testdata/softwareupdate-list.txt");

    #[test]
    fn softwareupdate_lists_labels_versions_restarts_and_security_by_title() {
        let listing = SoftwareUpdate.parse(LIST, 100).unwrap();
        let seen: Vec<(&str, &str, bool, &str)> = listing
            .updates
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.available.as_str(),
                    u.security,
                    u.rule.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("macOS Sonoma 14.4.1-23E224", "14.4.1", false, ""),
                ("Safari17.4.1VenturaAuto-17.4.1", "17.4.1", false, ""),
                (
                    "Background Security Improvement 14.4.1 (a)-23E224a",
                    "14.4.1 (a)",
                    true,
                    "title says Background Security Improvement"
                ),
                ("Command Line Tools for Xcode-15.3", "15.3", false, ""),
            ]
        );
        assert_eq!(
            listing.restart,
            [
                "macOS Sonoma 14.4.1-23E224",
                "Background Security Improvement 14.4.1 (a)-23E224a"
            ]
        );
        assert_eq!(
            listing.updates[0].origin.as_ref().unwrap().label,
            "recommended"
        );
        assert_eq!(listing.updates[3].origin.as_ref().unwrap().label, "");
        assert_eq!(SoftwareUpdate.parse(LIST, 1).unwrap().updates.len(), 1);
    }

    #[test]
    fn softwareupdate_with_nothing_or_garbage() {
        let none =
            "Software Update Tool\n\nFinding available software\nNo new software available.\n";
        assert_eq!(SoftwareUpdate.parse(none, 100), Ok(Listing::default()));
        assert!(SoftwareUpdate.parse("\u{0}\u{1}garbage", 100).is_err());
        // A label with no details line is left out, not invented.
        let cut = "Software Update found the following new or updated software:\n* Label: X-1\n";
        assert!(SoftwareUpdate.parse(cut, 100).unwrap().updates.is_empty());
        // A title with a comma of its own keeps it.
        assert_eq!(
            fields("\tTitle: Pro Video Formats, Codecs, Version: 2.2.5, Recommended: YES, "),
            [
                ("Title".to_string(), "Pro Video Formats, Codecs".to_string()),
                ("Version".to_string(), "2.2.5".to_string()),
                ("Recommended".to_string(), "YES".to_string()),
            ]
        );
    }

    #[test]
    fn softwareupdate_installs_labels_as_single_arguments() {
        let update = |name: &str| PackageVersion {
            name: name.into(),
            version: "1".into(),
        };
        let command = SoftwareUpdate
            .install(&[update("macOS Sonoma 14.4.1-23E224")])
            .unwrap();
        assert_eq!(
            command.args,
            [
                "--install",
                "macOS Sonoma 14.4.1-23E224",
                "--agree-to-license"
            ]
        );
        assert!(SoftwareUpdate.install(&[update("--all")]).is_err());
        assert!(SoftwareUpdate.install(&[update("a\nb")]).is_err());
        assert!(SoftwareUpdate.install(&[]).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_os_has_no_such_back_end_on_linux() {
        assert_eq!(
            super::super::seam::for_this_os().map(|s| s.manager()),
            None,
            "Linux uses apt or dnf"
        );
    }
}
