//! Reading NAB's files from their text (the caller reads the files): data
//! CSVs (`timestamp,value`) and `combined_windows.json` (window bounds as
//! timestamps, turned into row indices by exact match).

use super::scoring::Window;
use crate::Error;

/// One data file: timestamps (Unix seconds) and values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub times: Vec<i64>,
    pub values: Vec<f64>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` → Unix seconds (fraction ignored; NAB's
/// are all zero).
pub fn parse_timestamp(text: &str) -> Result<i64, Error> {
    let bad = || Error::Parse(format!("bad timestamp {text:?}"));
    let main = text.split('.').next().unwrap_or("");
    let num = |range: std::ops::Range<usize>| -> Result<i64, Error> {
        main.get(range)
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)
    };
    if main.len() != 19 || &main[4..5] != "-" || &main[10..11] != " " {
        return Err(bad());
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Parses a `timestamp,value` CSV with a header line.
pub fn parse_series(text: &str) -> Result<Series, Error> {
    let mut series = Series::default();
    for (n, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (time, value) = line
            .split_once(',')
            .ok_or_else(|| Error::Parse(format!("line {}: no comma", n + 1)))?;
        series.times.push(parse_timestamp(time)?);
        series.values.push(
            value
                .trim()
                .parse()
                .map_err(|_| Error::Parse(format!("line {}: bad value {value:?}", n + 1)))?,
        );
    }
    Ok(series)
}

/// The quoted strings of a JSON document, each with whether it is an
/// object key (followed by `:`). Enough for `{"file": [["a", "b"], …]}`.
fn strings(text: &str) -> Result<Vec<(String, bool)>, Error> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        loop {
            match chars.next() {
                Some((_, '"')) => break,
                Some((_, '\\')) => {
                    if let Some((_, e)) = chars.next() {
                        s.push(e);
                    }
                }
                Some((_, ch)) => s.push(ch),
                None => return Err(Error::Parse("unterminated string".into())),
            }
        }
        while chars.peek().is_some_and(|(_, ch)| ch.is_whitespace()) {
            chars.next();
        }
        let key = chars.peek().is_some_and(|(_, ch)| *ch == ':');
        out.push((s, key));
    }
    Ok(out)
}

/// A file's name and its windows' bounds (Unix seconds).
pub type FileWindows = (String, Vec<(i64, i64)>);

/// `combined_windows.json` → `(file, [(start, end)])` as timestamps, in
/// document order.
pub fn parse_windows(text: &str) -> Result<Vec<FileWindows>, Error> {
    let mut files: Vec<FileWindows> = Vec::new();
    let mut pending: Option<i64> = None;
    for (s, key) in strings(text)? {
        if key {
            if pending.is_some() {
                return Err(Error::Parse("window with one bound".into()));
            }
            files.push((s, Vec::new()));
            continue;
        }
        let t = parse_timestamp(&s)?;
        let Some((_, windows)) = files.last_mut() else {
            return Err(Error::Parse("window outside a file".into()));
        };
        match pending.take() {
            None => pending = Some(t),
            Some(start) => windows.push((start, t)),
        }
    }
    Ok(files)
}

/// Window bounds as rows of `times` (each bound must be a timestamp of the
/// file).
pub fn window_rows(times: &[i64], windows: &[(i64, i64)]) -> Result<Vec<Window>, Error> {
    let row = |t: i64| {
        times
            .binary_search(&t)
            .map_err(|_| Error::Parse(format!("window bound {t} is not a row")))
    };
    windows
        .iter()
        .map(|&(s, e)| {
            Ok(Window {
                start: row(s)?,
                end: row(e)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00").unwrap(), 0);
        assert_eq!(
            parse_timestamp("2014-04-10 07:15:00.000000").unwrap(),
            1_397_114_100
        );
        assert_eq!(parse_timestamp("2000-03-01 00:00:00").unwrap(), 951_868_800);
        for bad in [
            "",
            "2014-04-10",
            "2014-13-10 00:00:00",
            "2014-04-10T00:00:00",
            "ab",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn windows_and_series() {
        let json = r#"{
            "a/x.csv": [["2014-01-01 00:05:00.000000", "2014-01-01 00:10:00.000000"]],
            "b/y.csv": []
        }"#;
        let files = parse_windows(json).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[1], ("b/y.csv".to_string(), vec![]));
        let csv = "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2.5\n\
                   2014-01-01 00:10:00,-3\n";
        let series = parse_series(csv).unwrap();
        assert_eq!(series.values, vec![1.0, 2.5, -3.0]);
        let rows = window_rows(&series.times, &files[0].1).unwrap();
        assert_eq!(rows, vec![Window { start: 1, end: 2 }]);
        assert!(window_rows(&series.times[..2], &files[0].1).is_err());
        assert!(parse_series("h\n2014-01-01 00:00:00;1\n").is_err());
        assert!(parse_windows(r#"{"a": [["2014-01-01 00:00:00"]], "b": []}"#).is_err());
    }
}
