//! Windows Update, through its COM API from PowerShell: the listing is
//! `ConvertTo-Json` of the searcher's pending updates (title, KB articles,
//! MSRC severity, categories, reboot behaviour, update id); one update is
//! an object, several an array, none an empty output. An update is a
//! security one by its category (`Security Updates`) or an MSRC severity;
//! its `name` is its KB article (`KB5034123`, the title when it has none)
//! and its `available` the update id the installer is given.

use super::seam::{CommandLine, Listing, UpdateSource, text};
use serde::Deserialize;
use steward_proto::{PackageVersion, PendingUpdate, RepoOrigin};

/// Lists pending updates as JSON (read-only: a search, no download).
const LIST: &str = "$s = New-Object -ComObject Microsoft.Update.Session; \
$r = $s.CreateUpdateSearcher().Search('IsInstalled=0 and IsHidden=0'); \
$r.Updates | ForEach-Object { [pscustomobject]@{ Title = $_.Title; KBArticleIDs = @($_.KBArticleIDs); \
MsrcSeverity = $_.MsrcSeverity; Categories = @($_.Categories | ForEach-Object { $_.Name }); \
RebootRequired = $_.RebootRequired; InstallationBehavior = @{ RebootBehavior = $_.InstallationBehavior.RebootBehavior }; \
UpdateID = $_.Identity.UpdateID; RevisionNumber = $_.Identity.RevisionNumber; IsDownloaded = $_.IsDownloaded } } \
| ConvertTo-Json -Depth 4";

/// The most update ids one install names.
const MAX_INSTALL: usize = 500;

pub struct WindowsUpdate;

/// One update as the listing gives it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Raw {
    #[serde(default)]
    title: String,
    #[serde(default, rename = "KBArticleIDs")]
    kb_article_ids: Vec<serde_json::Value>,
    #[serde(default)]
    msrc_severity: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    reboot_required: bool,
    #[serde(default)]
    installation_behavior: Option<Behavior>,
    #[serde(default, rename = "UpdateID")]
    update_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Behavior {
    /// 0: never reboots, 1: always requires one, 2: can request one.
    #[serde(default)]
    reboot_behavior: u8,
}

/// An update id as Windows Update gives it: a GUID.
fn is_guid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn pending(raw: Raw) -> Option<(PendingUpdate, bool)> {
    if !is_guid(&raw.update_id) {
        return None;
    }
    let kbs: Vec<String> = raw
        .kb_article_ids
        .iter()
        .filter_map(|kb| match kb {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|kb| !kb.is_empty() && kb.len() <= 16 && kb.bytes().all(|b| b.is_ascii_digit()))
        .map(|kb| format!("KB{kb}"))
        .take(8)
        .collect();
    let severity = raw
        .msrc_severity
        .as_deref()
        .map(|s| text(s, 32))
        .unwrap_or_default();
    let category = raw
        .categories
        .iter()
        .find(|c| c.as_str() == "Security Updates");
    let rule = match (category, severity.is_empty()) {
        (Some(c), _) => format!("category {c}"),
        (None, false) => format!("MSRC severity {severity}"),
        (None, true) => String::new(),
    };
    let restart = raw.reboot_required
        || raw
            .installation_behavior
            .as_ref()
            .is_some_and(|b| b.reboot_behavior >= 1);
    let update = PendingUpdate {
        name: kbs
            .first()
            .cloned()
            .unwrap_or_else(|| text(&raw.title, 256)),
        current: String::new(),
        available: raw.update_id.to_ascii_lowercase(),
        security: !rule.is_empty(),
        rule,
        arch: String::new(),
        origin: Some(RepoOrigin {
            origin: "Windows Update".into(),
            label: raw
                .categories
                .first()
                .map(|c| text(c, 128))
                .unwrap_or_default(),
            ..RepoOrigin::default()
        }),
        advisory: kbs.join(" "),
        severity,
    };
    Some((update, restart))
}

impl UpdateSource for WindowsUpdate {
    fn manager(&self) -> &'static str {
        "windows_update"
    }

    fn list(&self) -> CommandLine {
        CommandLine {
            program: "powershell.exe",
            args: ["-NoProfile", "-NonInteractive", "-Command", LIST]
                .map(String::from)
                .to_vec(),
        }
    }

    fn parse(&self, stdout: &str, max: usize) -> Result<Listing, String> {
        let trimmed = stdout.trim_start_matches('\u{feff}').trim();
        if trimmed.is_empty() {
            return Ok(Listing::default());
        }
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|e| format!("Windows Update's listing is not JSON: {e}"))?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            one @ serde_json::Value::Object(_) => vec![one],
            _ => return Err("Windows Update's listing is neither an update nor a list".into()),
        };
        let mut listing = Listing::default();
        for item in items.into_iter().take(max) {
            let Ok(raw) = serde_json::from_value::<Raw>(item) else {
                continue;
            };
            if let Some((update, restart)) = pending(raw) {
                if restart {
                    listing.restart.push(update.name.clone());
                }
                listing.updates.push(update);
            }
        }
        Ok(listing)
    }

    fn install(&self, updates: &[PackageVersion]) -> Result<CommandLine, String> {
        if updates.is_empty() || updates.len() > MAX_INSTALL {
            return Err(format!("name 1 to {MAX_INSTALL} updates"));
        }
        if let Some(bad) = updates.iter().find(|u| !is_guid(&u.version)) {
            return Err(format!("{:?} is not a Windows Update id", bad.version));
        }
        // Only GUIDs reach the script: nothing to quote.
        let ids: Vec<String> = updates.iter().map(|u| format!("'{}'", u.version)).collect();
        let script = format!(
            "$ids = @({}); $s = New-Object -ComObject Microsoft.Update.Session; \
             $found = $s.CreateUpdateSearcher().Search('IsInstalled=0'); \
             $todo = New-Object -ComObject Microsoft.Update.UpdateColl; \
             foreach ($u in $found.Updates) {{ if ($ids -contains $u.Identity.UpdateID) {{ [void]$todo.Add($u) }} }}; \
             $d = $s.CreateUpdateDownloader(); $d.Updates = $todo; [void]$d.Download(); \
             $i = $s.CreateUpdateInstaller(); $i.Updates = $todo; $r = $i.Install(); \
             [pscustomobject]@{{ ResultCode = $r.ResultCode; RebootRequired = $r.RebootRequired }} | ConvertTo-Json",
            ids.join(", ")
        );
        Ok(CommandLine {
            program: "powershell.exe",
            args: ["-NoProfile", "-NonInteractive", "-Command"]
                .map(String::from)
                .into_iter()
                .chain([script])
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOWS: &str = include_str!("testdata/windows-updates.json");

    #[test]
    fn windows_update_lists_kbs_severity_categories_and_restarts() {
        let listing = WindowsUpdate.parse(WINDOWS, 100).unwrap();
        let seen: Vec<(&str, bool, &str, &str)> = listing
            .updates
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.security,
                    u.rule.as_str(),
                    u.severity.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("KB5034123", true, "category Security Updates", "Critical"),
                ("KB2267602", false, "", ""),
                ("KB890830", false, "", ""),
                ("Intel - System - 10.1.19444.8378", false, "", ""),
            ]
        );
        assert_eq!(
            listing.restart,
            ["KB5034123", "Intel - System - 10.1.19444.8378"]
        );
        let first = &listing.updates[0];
        assert_eq!(first.available, "5e1b8f4a-3c2d-4e5f-9a1b-2c3d4e5f6a7b");
        assert_eq!(first.advisory, "KB5034123");
        assert_eq!(first.origin.as_ref().unwrap().label, "Security Updates");
    }

    #[test]
    fn windows_update_reads_one_none_and_refuses_garbage() {
        // ConvertTo-Json writes one update as an object, none as nothing.
        let one = r#"{"Title":"x","KBArticleIDs":[5001],"MsrcSeverity":"Important","Categories":["Critical Updates"],
            "UpdateID":"5E1B8F4A-3C2D-4E5F-9A1B-2C3D4E5F6A7B"}"#;
        let listing = WindowsUpdate.parse(one, 100).unwrap();
        assert_eq!(listing.updates.len(), 1);
        assert_eq!(listing.updates[0].rule, "MSRC severity Important");
        assert_eq!(
            listing.updates[0].available,
            "5e1b8f4a-3c2d-4e5f-9a1b-2c3d4e5f6a7b"
        );
        assert_eq!(
            WindowsUpdate.parse("\u{feff}\r\n", 100),
            Ok(Listing::default())
        );
        assert!(
            WindowsUpdate
                .parse("Search failed: 0x8024402C", 100)
                .is_err()
        );
        assert!(WindowsUpdate.parse("42", 100).is_err());
        // Entries without a usable id or of the wrong shape are left out.
        let odd = r#"[{"Title":"no id"},{"Title":"bad id","UpdateID":"'; Remove-Item C:\\ -Recurse; '"},7]"#;
        assert!(WindowsUpdate.parse(odd, 100).unwrap().updates.is_empty());
        let many = format!(
            "[{}]",
            vec![r#"{"Title":"t","UpdateID":"5e1b8f4a-3c2d-4e5f-9a1b-2c3d4e5f6a7b"}"#; 50]
                .join(",")
        );
        assert_eq!(WindowsUpdate.parse(&many, 10).unwrap().updates.len(), 10);
    }

    #[test]
    fn windows_update_installs_only_update_ids() {
        let update = |version: &str| PackageVersion {
            name: "KB1".into(),
            version: version.into(),
        };
        let command = WindowsUpdate
            .install(&[update("5e1b8f4a-3c2d-4e5f-9a1b-2c3d4e5f6a7b")])
            .unwrap();
        assert_eq!(command.program, "powershell.exe");
        assert!(command.args[3].contains("@('5e1b8f4a-3c2d-4e5f-9a1b-2c3d4e5f6a7b')"));
        assert!(WindowsUpdate.install(&[update("x'; evil; '")]).is_err());
        assert!(WindowsUpdate.install(&[]).is_err());
        assert_eq!(WindowsUpdate.manager(), "windows_update");
        assert_eq!(
            WindowsUpdate.list().args[..3],
            ["-NoProfile", "-NonInteractive", "-Command"]
        );
    }
}
