//! Timestamps the backup tools print, to Unix milliseconds: RFC 3339 with
//! an offset (restic, borg 2) or without one (borg 1.2 prints local time;
//! the agent runs borg with `TZ=UTC`, so a bare time is UTC).

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]` (a space instead of `T` too).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() < 19 || !text.is_char_boundary(19) {
        return None;
    }
    let (head, rest) = text.split_at(19);
    let b = head.as_bytes();
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (
        number(&head[0..4])?,
        number(&head[5..7])?,
        number(&head[8..10])?,
    );
    let (hour, minute, second) = (
        number(&head[11..13])?,
        number(&head[14..16])?,
        number(&head[17..19])?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(after) => {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        }
        None => ("", rest),
    };
    let millis = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let offset_secs = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = zone[1..].split_once(':')?;
            let (h, m) = (number(h)?, number(m)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    secs.checked_mul(1000)?.checked_add(millis)
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn parses_the_tools_formats() {
        // restic: nanoseconds and an offset.
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.123456789+01:00"),
            Some(1_699_996_400_123)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        // borg 1.2: microseconds, no zone.
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.500000"),
            Some(1_700_000_000_500)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00-00:30"), Some(1_800_000));
        assert_eq!(parse_rfc3339("2000-02-29 12:00:00"), Some(951_825_600_000));
    }

    #[test]
    fn junk_is_none() {
        for junk in [
            "",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-11-14T22:13:20+5",
            "2023-11-14T22:13:20Q",
            "é023-11-14T22:13:20Z",
            "2023-11-14T2é:13:20Z",
            "+2023-1-14T22:13:20",
        ] {
            assert_eq!(parse_rfc3339(junk), None, "{junk}");
        }
    }
}
