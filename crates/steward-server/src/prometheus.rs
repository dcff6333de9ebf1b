//! The Prometheus text exposition (format 0.0.4) of the fleet's newest
//! samples: pure, no I/O (the route is `api/prometheus.rs`).
//!
//! Names: a Steward name's dots become underscores
//! (`system.cpu.utilization` → `system_cpu_utilization`), every family a
//! gauge (the newest value of each series). Labels: `device` (its name),
//! `device_id`, `organisation`, `site`, `tags` (sorted, comma-separated
//! with a comma at both ends, `,linux,web,`, so `=~".*,web,.*"` matches one
//! tag exactly), then the series' own labels; one of those named like ours
//! becomes `exported_<name>`. Label values are escaped (`\\`, `\"`, `\n`).
//! Each sample carries its own time (milliseconds).

use std::collections::BTreeMap;
use std::fmt::Write;
use steward_store::LatestSample;

/// The labels the exposition sets itself.
const OURS: [&str; 5] = ["device", "device_id", "organisation", "site", "tags"];

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` from a Steward name (`[a-z0-9_.]`, starting
/// with a letter; anything else is replaced too, to stay valid whatever
/// the store holds).
pub fn metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// A label name: as [`metric_name`], never one of ours nor a reserved
/// `__` name.
fn label_name(name: &str) -> String {
    let name = metric_name(name);
    if OURS.contains(&name.as_str()) || name.starts_with("__") {
        format!("exported_{}", name.trim_start_matches('_'))
    } else {
        name
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as Prometheus reads it (Rust's shortest round-trip
/// decimal form, which Go's ParseFloat reads back exactly).
pub fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// The families being built: name → (label set → sample line), so the
/// output is grouped by family and in a stable order, and a label set
/// that two Steward names map to is written once.
#[derive(Default)]
pub struct Exposition {
    families: BTreeMap<String, (String, BTreeMap<String, String>)>,
    series: usize,
}

impl Exposition {
    /// How many series it holds.
    pub fn len(&self) -> usize {
        self.series
    }

    pub fn is_empty(&self) -> bool {
        self.series == 0
    }

    pub fn add(&mut self, sample: &LatestSample) {
        let mut tags = sample.tags.clone();
        tags.sort();
        tags.dedup();
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(",{},", tags.join(","))
        };
        let mut labels: Vec<(String, String)> = vec![
            ("device".into(), sample.device.clone()),
            ("device_id".into(), sample.device_id.to_string()),
            ("organisation".into(), sample.organisation.clone()),
            ("site".into(), sample.site.clone()),
            ("tags".into(), tags),
        ];
        // Two labels of one name make Prometheus refuse the whole scrape:
        // a series label whose name (after renaming) is already taken, by
        // ours or by one of its own (`a.b` and `a_b`), is left out.
        for (k, v) in &sample.labels {
            let name = label_name(k);
            if !labels.iter().any(|(taken, _)| *taken == name) {
                labels.push((name, v.clone()));
            }
        }
        let mut set = String::new();
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                set.push(',');
            }
            let _ = write!(set, "{k}=\"{}\"", escape(v));
        }
        let name = metric_name(&sample.name);
        let (_, lines) = self
            .families
            .entry(name)
            .or_insert_with(|| (sample.name.clone(), BTreeMap::new()));
        if let std::collections::btree_map::Entry::Vacant(slot) = lines.entry(set) {
            slot.insert(format!("{} {}", value(sample.value), sample.ts_ms));
            self.series += 1;
        }
    }

    /// The text, families in name order; `note` (if any) as a comment first.
    pub fn render(&self, note: Option<&str>) -> String {
        let mut out = String::new();
        if let Some(note) = note {
            for line in note.lines() {
                let _ = writeln!(out, "# {line}");
            }
        }
        for (name, (steward_name, lines)) in &self.families {
            let _ = writeln!(out, "# HELP {name} Steward metric {steward_name}.");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (set, sample) in lines {
                let _ = writeln!(out, "{name}{{{set}}} {sample}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> LatestSample {
        LatestSample {
            series_id: 1,
            device_id: Uuid::nil(),
            device: "web \"1\"\\\nx".into(),
            organisation: "Acme".into(),
            site: "hq".into(),
            tags: vec!["web".into(), "linux".into(), "web".into()],
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ts_ms: 1_700_000_000_000,
            value,
        }
    }

    #[test]
    fn families_are_grouped_typed_and_escaped() {
        let mut e = Exposition::default();
        e.add(&sample(
            "system.filesystem.utilization",
            &[("mountpoint", "/")],
            0.5,
        ));
        e.add(&sample("system.cpu.utilization", &[], 0.125));
        e.add(&sample(
            "system.filesystem.utilization",
            &[("mountpoint", "/home")],
            0.25,
        ));
        assert_eq!(e.len(), 3);
        let id = Uuid::nil();
        let common = format!(
            "device=\"web \\\"1\\\"\\\\\\nx\",device_id=\"{id}\",organisation=\"Acme\",site=\"hq\",tags=\",linux,web,\""
        );
        assert_eq!(
            e.render(None),
            format!(
                "# HELP system_cpu_utilization Steward metric system.cpu.utilization.\n\
                 # TYPE system_cpu_utilization gauge\n\
                 system_cpu_utilization{{{common}}} 0.125 1700000000000\n\
                 # HELP system_filesystem_utilization Steward metric system.filesystem.utilization.\n\
                 # TYPE system_filesystem_utilization gauge\n\
                 system_filesystem_utilization{{{common},mountpoint=\"/\"}} 0.5 1700000000000\n\
                 system_filesystem_utilization{{{common},mountpoint=\"/home\"}} 0.25 1700000000000\n"
            )
        );
    }

    /// A hostile agent's labels cannot make two labels of one name (which
    /// would make Prometheus refuse every device's samples).
    #[test]
    fn label_names_are_never_repeated() {
        let mut e = Exposition::default();
        e.add(&sample(
            "probe.x",
            &[
                ("device", "a"),
                ("exported_device", "b"),
                ("a.b", "1"),
                ("a_b", "2"),
            ],
            1.0,
        ));
        let text = e.render(None);
        let line = text.lines().find(|l| l.starts_with("probe_x{")).unwrap();
        let names: Vec<&str> = line
            .split(['{', ','])
            .filter_map(|part| part.split_once("=\"").map(|(name, _)| name))
            .collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(names.len(), unique.len(), "{line}");
        assert!(line.contains("exported_device=\"a\""), "{line}");
    }

    #[test]
    fn a_series_label_named_like_ours_is_renamed_and_names_stay_valid() {
        let mut e = Exposition::default();
        e.add(&sample(
            "app.requests",
            &[("site", "spoofed"), ("http.route", "/a")],
            1.0,
        ));
        let text = e.render(Some("first line\nsecond"));
        assert!(text.starts_with("# first line\n# second\n"), "{text}");
        assert!(text.contains("site=\"hq\""), "{text}");
        assert!(text.contains("exported_site=\"spoofed\""), "{text}");
        assert!(text.contains("http_route=\"/a\""), "{text}");
        assert_eq!(metric_name("9lives.x-y"), "_9lives_x_y");
        assert_eq!(label_name("__name__"), "exported_name__");
    }

    #[test]
    fn two_names_that_map_alike_keep_one_line_per_label_set() {
        let mut e = Exposition::default();
        e.add(&sample("a.b", &[], 1.0));
        e.add(&sample("a_b", &[], 2.0));
        assert_eq!(e.len(), 1);
        assert_eq!(e.render(None).matches("a_b{").count(), 1);
    }

    #[test]
    fn values_round_trip_and_special_values_are_spelled_as_prometheus_reads_them() {
        for v in [0.1, 1e-7, 123456789.125, -3.5, 1e18, 9.589934592e-49] {
            assert_eq!(value(v).parse::<f64>().unwrap(), v);
        }
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
    }
}
