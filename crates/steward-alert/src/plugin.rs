//! The Nagios / Monitoring Plugins output convention, so existing plugins
//! (`check_disk`, `check_procs`, ...) work unchanged as script checks:
//! exit 0 OK, 1 WARNING, 2 CRITICAL, 3 (or anything else) UNKNOWN; the first
//! line is the message; text after `|` is performance data
//! (`'label'=value[UOM];[warn];[crit];[min];[max]`, space separated), which
//! becomes metrics.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl PluginState {
    pub fn from_exit(code: i32) -> Self {
        match code {
            0 => PluginState::Ok,
            1 => PluginState::Warning,
            2 => PluginState::Critical,
            _ => PluginState::Unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Perf {
    pub label: String,
    pub value: f64,
    pub uom: String,
    pub warn: Option<String>,
    pub crit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub state: PluginState,
    pub message: String,
    pub long_output: String,
    pub perfdata: Vec<Perf>,
}

/// Most perfdata items kept from one run.
pub const MAX_PERF: usize = 64;

/// Parses a plugin's exit code and standard output. Never fails: malformed
/// perfdata items are skipped.
pub fn parse(exit_code: i32, stdout: &str) -> CheckResult {
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or("");
    let (message, mut perf_text) = match first.split_once('|') {
        Some((m, p)) => (m.trim().to_string(), p.trim().to_string()),
        None => (first.trim().to_string(), String::new()),
    };
    // Long output lines; a later `|` starts more perfdata (to the end).
    let mut long = Vec::new();
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            perf_text.push(' ');
            perf_text.push_str(line.trim());
        } else if let Some((text, perf)) = line.split_once('|') {
            long.push(text.trim_end().to_string());
            perf_text.push(' ');
            perf_text.push_str(perf.trim());
            in_perf = true;
        } else {
            long.push(line.to_string());
        }
    }
    CheckResult {
        state: PluginState::from_exit(exit_code),
        message,
        long_output: long.join("\n").trim().to_string(),
        perfdata: perf_items(&perf_text)
            .filter_map(|item| perf(&item))
            .take(MAX_PERF)
            .collect(),
    }
}

/// Splits perfdata on spaces outside single quotes.
fn perf_items(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items.into_iter()
}

fn perf(item: &str) -> Option<Perf> {
    let (label, rest) = item.rsplit_once('=')?;
    let label = label.trim_matches('\'').replace("''", "'");
    if label.is_empty() {
        return None;
    }
    let mut fields = rest.split(';');
    let raw = fields.next()?;
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(raw.len());
    let value: f64 = raw[..split].parse().ok().filter(|v: &f64| v.is_finite())?;
    let text = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let number = |s: Option<&str>| {
        s.and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let (warn, crit) = (text(fields.next()), text(fields.next()));
    Some(Perf {
        label,
        value,
        uom: raw[split..].to_string(),
        warn,
        crit,
        min: number(fields.next()),
        max: number(fields.next()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_check_disk_output() {
        let out = "DISK OK - free space: / 3326 MiB (56% inode=99%);| /=2643MiB;5948;6522;0;7249\n";
        let r = parse(0, out);
        assert_eq!(r.state, PluginState::Ok);
        assert_eq!(
            r.message,
            "DISK OK - free space: / 3326 MiB (56% inode=99%);"
        );
        assert_eq!(
            r.perfdata,
            vec![Perf {
                label: "/".into(),
                value: 2643.0,
                uom: "MiB".into(),
                warn: Some("5948".into()),
                crit: Some("6522".into()),
                min: Some(0.0),
                max: Some(7249.0)
            }]
        );
    }

    #[test]
    fn parses_long_output_quoted_labels_and_junk() {
        let out = "PROCS WARNING: 3 processes | procs=3;2:;5\nline two\nline three | 'my load'=0.5 bad=abc 'x=1'=2s;;;\nload5=0.7\n";
        let r = parse(1, out);
        assert_eq!(r.state, PluginState::Warning);
        assert_eq!(r.long_output, "line two\nline three");
        let labels: Vec<(&str, f64, &str)> = r
            .perfdata
            .iter()
            .map(|p| (p.label.as_str(), p.value, p.uom.as_str()))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("procs", 3.0, ""),
                ("my load", 0.5, ""),
                ("x=1", 2.0, "s"),
                ("load5", 0.7, "")
            ]
        );
        assert_eq!(r.perfdata[0].warn.as_deref(), Some("2:"));
        assert_eq!(parse(127, "").state, PluginState::Unknown);
        assert_eq!(parse(-1, "\u{0}|=;;;").perfdata, vec![]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(code in proptest::prelude::any::<i32>(), out in ".{0,300}") {
            let _ = parse(code, &out);
        }
    }
}
