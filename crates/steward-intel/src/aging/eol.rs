//! When operating system releases stop getting security updates: data,
//! from the vendors' published lifecycles, with its source beside each
//! family. `ends` is the end of the support everybody gets; `extended` the
//! end of paid or subscribed support after it (Ubuntu Pro ESM, RHEL ELS,
//! Windows ESU), when there is one. Debian's LTS comes from the same
//! `debian-security` archive with no subscription, so it counts as
//! ordinary support.
//!
//! Sources (checked 2026-12):
//! - Debian: <https://wiki.debian.org/DebianReleases>, <https://wiki.debian.org/LTS>
//! - Ubuntu: <https://ubuntu.com/about/release-cycle>
//! - RHEL: <https://access.redhat.com/support/policy/updates/errata>;
//!   Rocky: <https://wiki.rockylinux.org/rocky/version/>;
//!   AlmaLinux: <https://wiki.almalinux.org/release-notes/>;
//!   CentOS: <https://www.centos.org/centos-linux-eol/>, <https://www.centos.org/centos-stream/>
//! - Fedora: <https://docs.fedoraproject.org/en-US/releases/eol/> (a
//!   release ends four weeks after the second next one ships; dates of
//!   releases not yet ended are the schedule's)
//! - Windows: <https://learn.microsoft.com/lifecycle/products/> (Windows 10,
//!   Windows 11 by version, Windows Server)
//! - macOS: Apple publishes no dates; security updates go to the current
//!   release and the two before it, so a release ends when the third after
//!   it ships (<https://support.apple.com/100100>; future dates estimated
//!   from the September schedule).

/// One release's support dates (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// What people call it (`Ubuntu 20.04 LTS`).
    pub label: &'static str,
    pub ends: &'static str,
    pub extended: Option<(&'static str, &'static str)>,
}

const fn l(label: &'static str, ends: &'static str) -> Lifecycle {
    Lifecycle {
        label,
        ends,
        extended: None,
    }
}

const fn x(
    label: &'static str,
    ends: &'static str,
    what: &'static str,
    extended: &'static str,
) -> Lifecycle {
    Lifecycle {
        label,
        ends,
        extended: Some((what, extended)),
    }
}

/// (family, release as the OS reports it, lifecycle).
const TABLE: &[(&str, &str, Lifecycle)] = &[
    ("debian", "9", l("Debian 9 stretch", "2022-06-30")),
    ("debian", "10", l("Debian 10 buster", "2024-06-30")),
    ("debian", "11", l("Debian 11 bullseye", "2026-08-31")),
    ("debian", "12", l("Debian 12 bookworm", "2028-06-30")),
    ("debian", "13", l("Debian 13 trixie", "2030-06-30")),
    (
        "ubuntu",
        "14.04",
        x("Ubuntu 14.04 LTS", "2019-04-30", "ESM", "2024-04-30"),
    ),
    (
        "ubuntu",
        "16.04",
        x("Ubuntu 16.04 LTS", "2021-04-30", "ESM", "2026-04-30"),
    ),
    (
        "ubuntu",
        "18.04",
        x("Ubuntu 18.04 LTS", "2023-05-31", "ESM", "2028-03-31"),
    ),
    (
        "ubuntu",
        "20.04",
        x("Ubuntu 20.04 LTS", "2025-05-31", "ESM", "2030-04-30"),
    ),
    (
        "ubuntu",
        "22.04",
        x("Ubuntu 22.04 LTS", "2027-06-30", "ESM", "2032-04-30"),
    ),
    (
        "ubuntu",
        "24.04",
        x("Ubuntu 24.04 LTS", "2029-05-31", "ESM", "2034-04-30"),
    ),
    ("ubuntu", "23.04", l("Ubuntu 23.04", "2024-01-25")),
    ("ubuntu", "23.10", l("Ubuntu 23.10", "2024-07-11")),
    ("ubuntu", "24.10", l("Ubuntu 24.10", "2025-07-10")),
    ("ubuntu", "25.04", l("Ubuntu 25.04", "2026-01-15")),
    ("ubuntu", "25.10", l("Ubuntu 25.10", "2026-07-09")),
    ("rhel", "7", x("RHEL 7", "2024-06-30", "ELS", "2028-06-30")),
    ("rhel", "8", x("RHEL 8", "2029-05-31", "ELS", "2032-05-31")),
    ("rhel", "9", x("RHEL 9", "2032-05-31", "ELS", "2035-05-31")),
    (
        "rhel",
        "10",
        x("RHEL 10", "2035-05-31", "ELS", "2038-05-31"),
    ),
    ("rocky", "8", l("Rocky Linux 8", "2029-05-31")),
    ("rocky", "9", l("Rocky Linux 9", "2032-05-31")),
    ("rocky", "10", l("Rocky Linux 10", "2035-05-31")),
    ("alma", "8", l("AlmaLinux 8", "2029-03-01")),
    ("alma", "9", l("AlmaLinux 9", "2032-05-31")),
    ("alma", "10", l("AlmaLinux 10", "2035-05-31")),
    ("centos", "7", l("CentOS Linux 7", "2024-06-30")),
    ("centos", "8", l("CentOS Linux 8", "2021-12-31")),
    ("centos-stream", "8", l("CentOS Stream 8", "2024-05-31")),
    ("centos-stream", "9", l("CentOS Stream 9", "2027-05-31")),
    ("fedora", "38", l("Fedora 38", "2024-05-21")),
    ("fedora", "39", l("Fedora 39", "2024-11-26")),
    ("fedora", "40", l("Fedora 40", "2025-05-13")),
    ("fedora", "41", l("Fedora 41", "2025-12-15")),
    ("fedora", "42", l("Fedora 42", "2026-05-13")),
    ("fedora", "43", l("Fedora 43", "2026-12-09")),
    ("fedora", "44", l("Fedora 44", "2027-05-19")),
    (
        "windows",
        "10",
        x("Windows 10 22H2", "2025-10-14", "ESU", "2028-10-10"),
    ),
    ("windows", "11-21h2", l("Windows 11 21H2", "2023-10-10")),
    ("windows", "11-22h2", l("Windows 11 22H2", "2024-10-08")),
    ("windows", "11-23h2", l("Windows 11 23H2", "2025-11-11")),
    ("windows", "11-24h2", l("Windows 11 24H2", "2026-10-13")),
    ("windows", "11-25h2", l("Windows 11 25H2", "2027-10-12")),
    (
        "windows-server",
        "2012",
        x("Windows Server 2012", "2023-10-10", "ESU", "2026-10-13"),
    ),
    (
        "windows-server",
        "2016",
        l("Windows Server 2016", "2027-01-12"),
    ),
    (
        "windows-server",
        "2019",
        l("Windows Server 2019", "2029-01-09"),
    ),
    (
        "windows-server",
        "2022",
        l("Windows Server 2022", "2031-10-14"),
    ),
    (
        "windows-server",
        "2025",
        l("Windows Server 2025", "2034-10-10"),
    ),
    ("macos", "11", l("macOS 11 Big Sur", "2023-09-26")),
    ("macos", "12", l("macOS 12 Monterey", "2024-09-16")),
    ("macos", "13", l("macOS 13 Ventura", "2025-09-15")),
    ("macos", "14", l("macOS 14 Sonoma", "2026-09-14")),
    ("macos", "15", l("macOS 15 Sequoia", "2027-09-13")),
    ("macos", "26", l("macOS 26 Tahoe", "2028-09-11")),
];

/// The family and release key of what the inventory says (`os_name`,
/// `os_version` as sysinfo reports them: os-release's `NAME` and
/// `VERSION_ID` on Linux, `Windows` and `11 (22631)` on Windows, `Darwin`
/// or `macOS` and `14.5` on a Mac). `None`: a system the table does not
/// know.
pub fn release(os_name: &str, os_version: &str) -> Option<(&'static str, String)> {
    let name = os_name.to_lowercase();
    let version = os_version.trim();
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap_or_default()
        .to_string();
    let major_minor = || {
        let mut parts = version.split('.');
        let (a, b) = (parts.next()?, parts.next()?);
        let b: String = b.chars().take_while(char::is_ascii_digit).collect();
        (!a.is_empty() && !b.is_empty()).then(|| format!("{a}.{b:0>2}"))
    };
    let family = if name.contains("windows") {
        // A build number in brackets, or the version itself ("10.0.22631").
        let build: u32 = version
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| p.len() == 5)
            .find_map(|p| p.parse().ok())
            .unwrap_or(0);
        let text = format!("{name} {}", version.to_lowercase());
        if text.contains("server") || build == 20348 {
            let year = ["2012", "2016", "2019", "2022", "2025"]
                .into_iter()
                .find(|y| text.contains(y))
                .or(match build {
                    14393 => Some("2016"),
                    17763 => Some("2019"),
                    20348 => Some("2022"),
                    26100 => Some("2025"),
                    _ => None,
                })?;
            return Some(("windows-server", year.to_string()));
        }
        let key = match build {
            0 if major == "11" => return None,
            0 if major == "10" => "10",
            b if b >= 26200 => "11-25h2",
            b if b >= 26100 => "11-24h2",
            b if b >= 22631 => "11-23h2",
            b if b >= 22621 => "11-22h2",
            b if b >= 22000 => "11-21h2",
            b if b >= 10240 => "10",
            _ => return None,
        };
        return Some(("windows", key.to_string()));
    } else if name.contains("darwin") || name.contains("macos") || name.contains("mac os") {
        "macos"
    } else if name.contains("ubuntu") {
        return Some(("ubuntu", major_minor()?));
    } else if name.contains("debian") {
        "debian"
    } else if name.contains("red hat") || name == "rhel" {
        "rhel"
    } else if name.contains("rocky") {
        "rocky"
    } else if name.contains("alma") {
        "alma"
    } else if name.contains("centos stream") {
        "centos-stream"
    } else if name.contains("centos") {
        "centos"
    } else if name.contains("fedora") {
        "fedora"
    } else {
        return None;
    };
    (!major.is_empty()).then_some((family, major))
}

/// The lifecycle of a family's release; `None` when the table lacks it.
pub fn lifecycle(family: &str, release: &str) -> Option<Lifecycle> {
    TABLE
        .iter()
        .find(|(f, r, _)| *f == family && *r == release)
        .map(|(_, _, l)| *l)
}

/// `YYYY-MM-DD` as Unix ms at the start of that day (UTC); `None` when it
/// is no date.
pub fn day_ms(date: &str) -> Option<i64> {
    let mut parts = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_date_in_the_table_reads_and_extended_support_ends_later() {
        for (family, release, life) in TABLE {
            let ends = day_ms(life.ends).unwrap_or_else(|| panic!("{family} {release}"));
            if let Some((_, extended)) = life.extended {
                assert!(day_ms(extended).unwrap() > ends, "{family} {release}");
            }
        }
        assert_eq!(day_ms("1970-01-01"), Some(0));
        assert_eq!(day_ms("2025-10-14"), Some(1_760_400_000_000));
        assert_eq!(day_ms("2025-13-01"), None);
        assert_eq!(day_ms("soon"), None);
    }

    #[test]
    fn releases_are_read_as_each_os_reports_them() {
        let cases = [
            ("Debian GNU/Linux", "12", Some(("debian", "12"))),
            ("Ubuntu", "22.04", Some(("ubuntu", "22.04"))),
            ("Ubuntu", "24.04.1 LTS", Some(("ubuntu", "24.04"))),
            ("Red Hat Enterprise Linux", "9.4", Some(("rhel", "9"))),
            ("Rocky Linux", "8.10", Some(("rocky", "8"))),
            ("AlmaLinux", "9.5", Some(("alma", "9"))),
            ("CentOS Stream", "9", Some(("centos-stream", "9"))),
            ("CentOS Linux", "7", Some(("centos", "7"))),
            ("Fedora Linux", "41", Some(("fedora", "41"))),
            ("Windows", "10 (19045)", Some(("windows", "10"))),
            ("Windows", "11 (22631)", Some(("windows", "11-23h2"))),
            ("Windows", "11 (26100)", Some(("windows", "11-24h2"))),
            ("Windows", "10.0.22621", Some(("windows", "11-22h2"))),
            (
                "Windows",
                "Server 2019 (17763)",
                Some(("windows-server", "2019")),
            ),
            (
                "Windows Server 2022 Standard",
                "10 (20348)",
                Some(("windows-server", "2022")),
            ),
            ("Windows", "10 (20348)", Some(("windows-server", "2022"))),
            ("Darwin", "14.5", Some(("macos", "14"))),
            ("macOS", "26.1", Some(("macos", "26"))),
            ("Arch Linux", "", None),
            ("Ubuntu", "", None),
            ("Debian GNU/Linux", "", None),
            ("Windows", "11", None),
            ("", "", None),
        ];
        for (name, version, want) in cases {
            let got = release(name, version);
            assert_eq!(
                got.as_ref().map(|(f, r)| (*f, r.as_str())),
                want,
                "{name} {version}"
            );
        }
        assert_eq!(
            lifecycle("ubuntu", "20.04").unwrap().extended,
            Some(("ESM", "2030-04-30"))
        );
        assert_eq!(lifecycle("debian", "99"), None);
    }
}
