//! Package version ordering by each package manager's own rules: Debian's
//! (Debian Policy §5.6.12, as dpkg applies it) and RPM's EVR comparison
//! (`rpmvercmp`). The agent and the server both compare: the agent to find
//! the newest installed kernel and versions newer than the installed one,
//! the server to answer "which devices run openssl below 3.0.15?".
//!
//! Written from the published algorithms rather than taken from a crate:
//! the maintained Debian port on crates.io is GPL-3.0 and its MIT
//! alternative has not been released since 2018; both rules fit in a page
//! and any input, however malformed, still orders (no panics, no errors).

use std::cmp::Ordering;

/// Compares two versions of a package managed by `manager` (`dpkg`/`apt`
/// or `rpm`/`dnf`); anything else is compared with Debian's rules, which
/// order plain dotted numbers as everyone expects.
pub fn compare(manager: &str, a: &str, b: &str) -> Ordering {
    match manager {
        "rpm" | "dnf" | "yum" => compare_rpm(a, b),
        _ => compare_debian(a, b),
    }
}

/// Splits `[epoch:]rest` at the first colon when the epoch is numeric.
fn split_epoch(version: &str) -> (u64, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (epoch.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, version),
    }
}

/// Debian version ordering: epoch numerically, then the upstream version,
/// then the Debian revision (after the last hyphen), each with
/// [`debian_part`].
pub fn compare_debian(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = split_epoch(a.trim());
    let (epoch_b, rest_b) = split_epoch(b.trim());
    let split = |v: &str| -> (String, String) {
        match v.rsplit_once('-') {
            Some((upstream, revision)) => (upstream.to_string(), revision.to_string()),
            None => (v.to_string(), String::new()),
        }
    };
    let (upstream_a, revision_a) = split(rest_a);
    let (upstream_b, revision_b) = split(rest_b);
    epoch_a
        .cmp(&epoch_b)
        .then_with(|| debian_part(upstream_a.as_bytes(), upstream_b.as_bytes()))
        .then_with(|| debian_part(revision_a.as_bytes(), revision_b.as_bytes()))
}

/// Weight of one byte in a non-digit run: `~` before anything (even the end
/// of the string), then the end and digits, then letters, then the rest.
fn debian_weight(byte: Option<u8>) -> i32 {
    match byte {
        Some(b'~') => -1,
        None => 0,
        Some(b) if b.is_ascii_digit() => 0,
        Some(b) if b.is_ascii_alphabetic() => i32::from(b),
        Some(b) => i32::from(b) + 256,
    }
}

/// One part (upstream or revision): alternating runs of non-digits
/// (compared byte by byte with [`debian_weight`]) and digits (compared as
/// numbers of any length).
fn debian_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit run.
        loop {
            let x = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let y = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            if x.is_none() && y.is_none() {
                break;
            }
            let order = debian_weight(x).cmp(&debian_weight(y));
            if order != Ordering::Equal {
                return order;
            }
            i += usize::from(x.is_some());
            j += usize::from(y.is_some());
        }
        // The digit run, as a number.
        let digits = |s: &[u8], from: usize| {
            let run = s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
            (from, from + run)
        };
        let ((sa, ea), (sb, eb)) = (digits(a, i), digits(b, j));
        let order = compare_numbers(&a[sa..ea], &b[sb..eb]);
        if order != Ordering::Equal {
            return order;
        }
        i = ea;
        j = eb;
    }
    Ordering::Equal
}

/// Compares two runs of ASCII digits as numbers of any length.
fn compare_numbers(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// RPM ordering of `[epoch:]version[-release]`: epoch numerically (absent
/// is 0), then version, then release, each with [`rpm_segments`]. A
/// release missing on one side does not count (as `rpm -q` compares a
/// bare version with a full EVR).
pub fn compare_rpm(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = split_epoch(a.trim());
    let (epoch_b, rest_b) = split_epoch(b.trim());
    let split = |v: &str| -> (String, Option<String>) {
        match v.rsplit_once('-') {
            Some((version, release)) => (version.to_string(), Some(release.to_string())),
            None => (v.to_string(), None),
        }
    };
    let (version_a, release_a) = split(rest_a);
    let (version_b, release_b) = split(rest_b);
    epoch_a
        .cmp(&epoch_b)
        .then_with(|| rpm_segments(version_a.as_bytes(), version_b.as_bytes()))
        .then_with(|| match (release_a, release_b) {
            (Some(x), Some(y)) => rpm_segments(x.as_bytes(), y.as_bytes()),
            _ => Ordering::Equal,
        })
}

/// `rpmvercmp`: separators are ignored; runs of digits compare as numbers
/// and beat runs of letters; `~` sorts before anything (even the end),
/// `^` after the end but before anything else; when one side runs out, the
/// side with segments left is newer.
fn rpm_segments(a: &[u8], b: &[u8]) -> Ordering {
    let separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    let (mut i, mut j) = (0, 0);
    loop {
        while a.get(i).is_some_and(separator) {
            i += 1;
        }
        while b.get(j).is_some_and(separator) {
            j += 1;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        if x == Some(b'~') || y == Some(b'~') {
            match (x == Some(b'~'), y == Some(b'~')) {
                (true, true) => {
                    i += 1;
                    j += 1;
                    continue;
                }
                (true, false) => return Ordering::Less,
                _ => return Ordering::Greater,
            }
        }
        if x == Some(b'^') || y == Some(b'^') {
            return match (x, y) {
                (None, _) => Ordering::Less,
                (_, None) => Ordering::Greater,
                (Some(b'^'), Some(b'^')) => {
                    i += 1;
                    j += 1;
                    continue;
                }
                (Some(b'^'), _) => Ordering::Less,
                _ => Ordering::Greater,
            };
        }
        let (Some(x), Some(_)) = (x, y) else {
            return match (x, y) {
                (None, None) => Ordering::Equal,
                (None, _) => Ordering::Less,
                _ => Ordering::Greater,
            };
        };
        let numeric = x.is_ascii_digit();
        let kind = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let end_a = i + a[i..].iter().take_while(|c| kind(c)).count();
        let end_b = j + b[j..].iter().take_while(|c| kind(c)).count();
        if end_b == j {
            // Different kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let order = if numeric {
            compare_numbers(&a[i..end_a], &b[j..end_b])
        } else {
            a[i..end_a].cmp(&b[j..end_b])
        };
        if order != Ordering::Equal {
            return order;
        }
        i = end_a;
        j = end_b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn debian_policy_examples() {
        // Debian Policy §5.6.12 and deb-version(7): tilde sorts before
        // everything, even the end of the part.
        for (a, b, expected) in [
            ("1.0~rc1", "1.0", Less),
            ("~~", "~~a", Less),
            ("~~a", "~", Less),
            ("~", "", Less),
            ("", "a", Less),
            ("1.0", "1.0-0", Equal),
            ("1:1.0", "2.0", Greater),
            ("1.2.10", "1.2.9", Greater),
            ("3.0.13-1~deb12u1", "3.0.11-1~deb12u2", Greater),
            ("3.0.15-1~deb12u1", "3.0.15", Greater),
            ("3.0.14-1~deb12u2", "3.0.15", Less),
            ("1.0-1", "1.0-1+b1", Less),
            ("1.0-1~bpo12+1", "1.0-1", Less),
            ("2.30-1", "2.3a-1", Greater),
            ("1.0a", "1.0+", Less),
            ("00001", "1", Equal),
            ("1.0-a-1", "1.0-a-2", Less),
            ("6.1.0-26-amd64", "6.1.0-25-amd64", Greater),
            ("6.1.0-9-amd64", "6.1.0-10-amd64", Less),
        ] {
            assert_eq!(compare_debian(a, b), expected, "{a} vs {b}");
            assert_eq!(compare_debian(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_examples() {
        // From rpm's own test suite of rpmvercmp (rpmvercmp.at), restated.
        for (a, b, expected) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("5.5p1", "5.5.p1", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1:3.0.7-27.el9", "3.0.15", Greater),
            ("3.0.7-27.el9", "3.0.15", Less),
            ("3.0.7-27.el9", "3.0.7-28.el9", Less),
            ("3.0.7-27.el9", "3.0.7", Equal),
            ("a", "1", Less),
        ] {
            assert_eq!(compare_rpm(a, b), expected, "{a} vs {b}");
            assert_eq!(compare_rpm(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn hostile_versions_still_order() {
        let long = "9".repeat(10_000);
        let odd = [
            "",
            ":",
            "-",
            "::1",
            "1:",
            "~~~~",
            "^^",
            "é1ü",
            "\u{0}1",
            &long,
            "99999999999999999999999:1",
        ];
        for a in odd {
            for b in odd {
                let _ = compare_debian(a, b);
                let _ = compare_rpm(a, b);
                assert_eq!(compare_debian(a, a), Equal);
            }
        }
        assert_eq!(compare("dpkg", &long, "1"), Greater);
    }
}
