//! Reports an MSP sends its client: a calendar period (a month, `2026-11`,
//! or an ISO week, `2026-W45`, in UTC) cut into weekly buckets for the
//! trend, and the figures as CSV (one row per KPI with its definition,
//! one per week, one per device). Text that reaches a spreadsheet is
//! quoted and kept from being read as a formula.

use std::fmt::Write;

const DAY: i64 = 86_400_000;
const WEEK: i64 = 7 * DAY;

/// A report's period: `[since, until)` in Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// As asked for: `2026-11` or `2026-W45`.
    pub label: String,
    pub since: i64,
    pub until: i64,
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Years counted from March, so the leap day ends the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-02` for a time in Unix milliseconds (UTC).
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

impl Period {
    /// Reads `YYYY-MM` or `YYYY-Www` (ISO 8601 week, Monday first).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad =
            || format!("a period is YYYY-MM (a month) or YYYY-Www (an ISO week), not {text:?}");
        let (year, rest) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i64 = year.parse().map_err(|_| bad())?;
        if !(1970..=9998).contains(&year) {
            return Err(bad());
        }
        let number = |digits: &str| -> Result<u32, String> {
            if digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            digits.parse().map_err(|_| bad())
        };
        let (since_day, until_day) = if let Some(week) = rest.strip_prefix('W') {
            let week = number(week)?;
            // Week 1 holds the year's first Thursday: the Monday on or
            // before 4 January starts it.
            let jan4 = days_from_civil(year, 1, 4);
            let monday = jan4 - (jan4 + 3).rem_euclid(7);
            let next_jan4 = days_from_civil(year + 1, 1, 4);
            let weeks = (next_jan4 - (next_jan4 + 3).rem_euclid(7) - monday) / 7;
            if week == 0 || i64::from(week) > weeks {
                return Err(format!("{year} has ISO weeks 1 to {weeks}, not {week}"));
            }
            let start = monday + 7 * (i64::from(week) - 1);
            (start, start + 7)
        } else {
            let month = number(rest)?;
            if !(1..=12).contains(&month) {
                return Err(bad());
            }
            let (ny, nm) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            (days_from_civil(year, month, 1), days_from_civil(ny, nm, 1))
        };
        Ok(Self {
            label: text.to_string(),
            since: since_day * DAY,
            until: until_day * DAY,
        })
    }

    /// The last full month before `now` (what a monthly schedule sends).
    pub fn month_before(now: i64) -> Self {
        let (y, m, _) = civil_from_days(now.div_euclid(DAY));
        let (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        Self::parse(&format!("{y:04}-{m:02}")).expect("a valid month")
    }

    /// Weekly buckets for the trend: seven days each from the start, the
    /// last cut at the period's end.
    pub fn weeks(&self) -> Vec<(i64, i64)> {
        self.cut(WEEK)
    }

    /// The sub-intervals a KPI's trend is drawn over: weeks of a month,
    /// days of a week.
    pub fn buckets(&self) -> Vec<(i64, i64)> {
        if self.until - self.since <= WEEK {
            self.cut(DAY)
        } else {
            self.cut(WEEK)
        }
    }

    fn cut(&self, step: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut start = self.since;
        while start < self.until {
            let end = (start + step).min(self.until);
            out.push((start, end));
            start = end;
        }
        out
    }

    /// The last full ISO week before `now` (what a weekly schedule sends).
    pub fn week_before(now: i64) -> Self {
        let today = now.div_euclid(DAY);
        // Monday of this week (1970-01-01 was a Thursday).
        let monday = today - (today + 3).rem_euclid(7);
        let start = monday - 7;
        // The ISO year is the year of the week's Thursday.
        let (year, _, _) = civil_from_days(start + 3);
        let jan4 = days_from_civil(year, 1, 4);
        let first = jan4 - (jan4 + 3).rem_euclid(7);
        let week = (start - first) / 7 + 1;
        Self::parse(&format!("{year:04}-W{week:02}")).expect("a valid week")
    }

    /// The last full period of `cadence` (`weekly` or `monthly`) before
    /// `now`.
    pub fn before(cadence: &str, now: i64) -> Self {
        if cadence == "weekly" {
            Self::week_before(now)
        } else {
            Self::month_before(now)
        }
    }
}

/// When a schedule of `cadence` next sends after `now`: 06:00 UTC on the
/// Monday after the week (weekly) or the first of the month (monthly).
pub fn next_send(cadence: &str, now: i64) -> i64 {
    const SEND_AT: i64 = 6 * 3_600_000;
    let today = now.div_euclid(DAY);
    let day = if cadence == "weekly" {
        let monday = today - (today + 3).rem_euclid(7);
        if monday * DAY + SEND_AT > now {
            monday
        } else {
            monday + 7
        }
    } else {
        let (y, m, _) = civil_from_days(today);
        let first = days_from_civil(y, m, 1);
        if first * DAY + SEND_AT > now {
            first
        } else if m == 12 {
            days_from_civil(y + 1, 1, 1)
        } else {
            days_from_civil(y, m + 1, 1)
        }
    };
    day * DAY + SEND_AT
}

/// One CSV field: quoted when it must be, and text a spreadsheet would run
/// as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) prefixed
/// with `'` (numbers are written by the report, never prefixed).
pub fn field(text: &str) -> String {
    let mut text: String = text.chars().filter(|c| *c != '\0').collect();
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        text.insert(0, '\'');
    }
    if text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A figure as a CSV cell or table text: empty (`no data`) when None.
pub fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(String::new, |v| format!("{v:.decimals$}"))
}

/// The figures of one report, ready to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub org: String,
    pub period: String,
    pub since: i64,
    pub until: i64,
    /// (key, name, value as text (empty: no data), definition).
    pub kpis: Vec<(String, String, String, String)>,
    /// (week start, incidents opened, availability ratio, MTTR median ms).
    pub weeks: Vec<(i64, u64, Option<f64>, Option<f64>)>,
    /// (device name, availability ratio, downtime ms).
    pub devices: Vec<(String, Option<f64>, i64)>,
}

impl Figures {
    /// Whether the period holds anything to report.
    pub fn has_data(&self) -> bool {
        !self.devices.is_empty() || self.weeks.iter().any(|w| w.1 > 0)
    }
}

/// The report as CSV: a header block, then one section per kind of row.
pub fn csv(f: &Figures) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "report,organisation,period,from,to");
    let _ = writeln!(
        out,
        "kpis,{},{},{},{}",
        field(&f.org),
        field(&f.period),
        date(f.since),
        date(f.until)
    );
    if !f.has_data() {
        let _ = writeln!(out, "note,no data in this period");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "kpi,name,value,definition");
    for (key, name, value, definition) in &f.kpis {
        let _ = writeln!(
            out,
            "{},{},{},{}",
            field(key),
            field(name),
            field(value),
            field(definition)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "week,incidents_opened,availability,mttr_median_minutes"
    );
    for (start, opened, availability, mttr) in &f.weeks {
        let _ = writeln!(
            out,
            "{},{opened},{},{}",
            date(*start),
            number(availability.map(|a| a * 100.0), 3),
            number(mttr.map(|m| m / 60_000.0), 1)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "device,availability,downtime_minutes");
    for (name, availability, downtime) in &f.devices {
        let _ = writeln!(
            out,
            "{},{},{:.1}",
            field(name),
            number(availability.map(|a| a * 100.0), 3),
            *downtime as f64 / 60_000.0
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_day_numbers() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for day in (-800..30_000).step_by(37) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day, "{y}-{m}-{d}");
        }
        assert_eq!(date(1_798_761_600_000), "2027-01-01");
    }

    #[test]
    fn months_and_iso_weeks_become_periods() {
        let nov = Period::parse("2026-11").unwrap();
        assert_eq!(
            (date(nov.since), date(nov.until)),
            ("2026-11-01".into(), "2026-12-01".into())
        );
        assert_eq!(nov.until - nov.since, 30 * DAY);
        let dec = Period::parse("2026-12").unwrap();
        assert_eq!(date(dec.until), "2027-01-01");
        // 2026-W01 starts Monday 29 December 2025; 2026 has 53 weeks.
        let w1 = Period::parse("2026-W01").unwrap();
        assert_eq!(date(w1.since), "2025-12-29");
        assert_eq!(w1.until - w1.since, WEEK);
        assert_eq!(date(Period::parse("2026-W53").unwrap().since), "2026-12-28");
        assert!(Period::parse("2025-W53").unwrap_err().contains("1 to 52"));
        for bad in [
            "",
            "2026",
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026-W00",
            "x026-11",
            "2026-11-01",
            "1969-12",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Period::month_before(Period::parse("2027-01").unwrap().since + 5 * DAY).label,
            "2026-12"
        );
    }

    #[test]
    fn schedules_send_the_last_full_period_after_it_ends() {
        let at = |text: &str| {
            let (y, rest) = text.split_at(4);
            let m: u32 = rest[1..3].parse().unwrap();
            let d: u32 = rest[4..6].parse().unwrap();
            let h: i64 = rest[7..9].parse().unwrap();
            days_from_civil(y.parse().unwrap(), m, d) * DAY + h * 3_600_000
        };
        // Wednesday 2026-11-11: last week is W45 (Mon 2 Nov to Sun 8 Nov).
        let wed = at("2026-11-11T10");
        assert_eq!(Period::week_before(wed).label, "2026-W45");
        assert_eq!(date(Period::week_before(wed).since), "2026-11-02");
        // Across a year: Monday 2026-01-05 follows 2026-W01.
        assert_eq!(Period::week_before(at("2026-01-05T07")).label, "2026-W01");
        assert_eq!(Period::week_before(at("2026-01-01T07")).label, "2025-W52");
        assert_eq!(Period::before("monthly", wed).label, "2026-10");
        // Next sends: the coming Monday 06:00, the first of next month.
        assert_eq!(next_send("weekly", wed), at("2026-11-16T06"));
        assert_eq!(
            next_send("weekly", at("2026-11-16T05")),
            at("2026-11-16T06")
        );
        assert_eq!(
            next_send("weekly", at("2026-11-16T06")),
            at("2026-11-23T06")
        );
        assert_eq!(next_send("monthly", wed), at("2026-12-01T06"));
        assert_eq!(
            next_send("monthly", at("2026-12-20T00")),
            at("2027-01-01T06")
        );
        assert_eq!(
            next_send("monthly", at("2026-12-01T01")),
            at("2026-12-01T06")
        );
        // A week's trend is its days.
        assert_eq!(Period::parse("2026-W45").unwrap().buckets().len(), 7);
        assert_eq!(Period::parse("2026-11").unwrap().buckets().len(), 5);
    }

    #[test]
    fn a_month_is_cut_into_weeks_for_the_trend() {
        let weeks = Period::parse("2026-11").unwrap().weeks();
        assert_eq!(weeks.len(), 5);
        assert_eq!(weeks[0].1 - weeks[0].0, WEEK);
        assert_eq!(weeks[4].1 - weeks[4].0, 2 * DAY);
        assert_eq!(Period::parse("2026-W45").unwrap().weeks().len(), 1);
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-1+2"), "'-1+2");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn a_report_without_data_says_so() {
        let empty = Figures {
            org: "Client B".into(),
            period: "2026-11".into(),
            since: 0,
            until: WEEK,
            kpis: vec![(
                "mttr".into(),
                "MTTR".into(),
                String::new(),
                "time to resolve".into(),
            )],
            weeks: vec![(0, 0, None, None)],
            devices: vec![],
        };
        let text = csv(&empty);
        assert!(text.contains("note,no data in this period"), "{text}");
        assert!(text.contains("mttr,MTTR,,time to resolve"), "{text}");
        assert!(text.contains("1970-01-01,0,,"), "{text}");
        let mut busy = empty.clone();
        busy.devices = vec![("=cmd|calc".into(), Some(0.995), 12_960_000)];
        busy.weeks = vec![(0, 3, Some(0.995), Some(1_800_000.0))];
        let text = csv(&busy);
        assert!(!text.contains("no data"), "{text}");
        assert!(text.contains("'=cmd|calc,99.500,216.0"), "{text}");
        assert!(text.contains("1970-01-01,3,99.500,30.0"), "{text}");
    }
}
