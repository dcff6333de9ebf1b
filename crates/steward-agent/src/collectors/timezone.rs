//! The device's time zone, so that patch windows open on its wall clock:
//! `TZ` when the agent was started with one (of the host itself only), else
//! the target of the `/etc/localtime` link (`…/zoneinfo/Europe/Berlin`, what
//! `timedatectl` sets), else `/etc/timezone` (Debian's file). `zone_from`
//! decides on plain text; `detect` reads (under `--patch-root` in tests).
//! Only a plausible IANA name is reported; the server's core checks it
//! against its zone database and falls back to the policy's zone.

use std::io::Read;
use std::path::Path;

/// Longest name reported (the longest IANA name is 32 characters).
const MAX_LEN: usize = 64;

/// The zone of the system under `root` (`/` but in tests); empty when
/// nothing tells.
pub fn detect(root: &Path) -> String {
    let host = root == Path::new("/");
    let tz = host.then(|| std::env::var("TZ").ok()).flatten();
    let link = std::fs::read_link(root.join("etc/localtime")).ok();
    let file = std::fs::File::open(root.join("etc/timezone"))
        .ok()
        .and_then(|f| {
            let mut text = String::new();
            f.take(1024).read_to_string(&mut text).ok()?;
            Some(text)
        });
    zone_from(
        tz.as_deref(),
        link.as_ref().and_then(|l| l.to_str()),
        file.as_deref(),
    )
    .unwrap_or_default()
}

/// The first plausible zone name of `TZ`, the `/etc/localtime` link target
/// and `/etc/timezone`'s first line.
pub fn zone_from(tz: Option<&str>, link: Option<&str>, file: Option<&str>) -> Option<String> {
    let from_tz = tz.map(|t| t.trim().trim_start_matches(':'));
    let from_link = link.and_then(|l| l.split_once("zoneinfo/").map(|(_, zone)| zone));
    let from_file = file.and_then(|f| f.lines().next()).map(str::trim);
    [from_tz, from_link, from_file]
        .into_iter()
        .flatten()
        .find(|z| plausible(z))
        .map(str::to_string)
}

/// `Area/Location` or `UTC`-like names: letters, digits, `_+-/`, no empty
/// or dot segments, no leading slash (so no path ever leaves the database).
fn plausible(zone: &str) -> bool {
    !zone.is_empty()
        && zone.len() <= MAX_LEN
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '/'))
        && zone
            .split('/')
            .all(|part| !part.is_empty() && part.chars().any(|c| c.is_ascii_alphabetic()))
        && zone.starts_with(|c: char| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tz_then_the_localtime_link_then_etc_timezone() {
        let link = Some("/usr/share/zoneinfo/Europe/Berlin");
        let file = Some("America/New_York\n");
        assert_eq!(
            zone_from(Some(":Asia/Tokyo"), link, file).as_deref(),
            Some("Asia/Tokyo")
        );
        assert_eq!(
            zone_from(None, link, file).as_deref(),
            Some("Europe/Berlin")
        );
        // A relative link, as Debian makes it.
        assert_eq!(
            zone_from(None, Some("../usr/share/zoneinfo/Etc/UTC"), None).as_deref(),
            Some("Etc/UTC")
        );
        assert_eq!(
            zone_from(None, None, file).as_deref(),
            Some("America/New_York")
        );
        assert_eq!(zone_from(None, None, Some("UTC")).as_deref(), Some("UTC"));
        assert_eq!(zone_from(None, None, None), None);
    }

    #[test]
    fn implausible_names_are_passed_over() {
        // A POSIX TZ rule, a path out of the database, markup, a link
        // that is no zone: the next source answers, or none.
        let file = Some("Europe/Paris");
        for tz in [
            "CET-1CEST,M3.5.0,M10.5.0/3",
            "../../etc/passwd",
            "/etc/localtime",
            "<b>x</b>",
            "",
            "Europe//Paris",
        ] {
            assert_eq!(
                zone_from(Some(tz), Some("/etc/alternatives/x"), file).as_deref(),
                Some("Europe/Paris"),
                "{tz}"
            );
        }
        assert_eq!(zone_from(None, None, Some(&"A".repeat(65))), None);
        assert_eq!(zone_from(None, None, Some("\u{202e}Europe/Paris")), None);
    }

    #[cfg(unix)]
    #[test]
    fn detect_reads_the_files_of_another_root() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(detect(root.path()), "");
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/timezone"), "Asia/Tokyo\n").unwrap();
        assert_eq!(detect(root.path()), "Asia/Tokyo");
        std::os::unix::fs::symlink(
            "/usr/share/zoneinfo/Europe/Berlin",
            root.path().join("etc/localtime"),
        )
        .unwrap();
        assert_eq!(detect(root.path()), "Europe/Berlin");
    }
}
