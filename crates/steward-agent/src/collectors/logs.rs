//! Log matching: count the new lines of a file that match a pattern
//! (`--log-match NAME=PATH=REGEX`), e.g. failed SSH logins, reported as
//! `log.match.count{rule}` (this interval) and `log.match.count_5m{rule}`
//! (the last five minutes). Only lines written after the agent started are
//! counted; a rotated or truncated file is followed from its start.
//!
//! The matching lines are also mined into templates (their values masked,
//! `steward_intel::logs::Miner`, at most [`MAX_TEMPLATES`] a rule, lines
//! beyond counted as dropped); the templates seen since the last report go
//! to the server as a `log_patterns` message, with a few example lines.

use super::labelled;
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};
use steward_intel::logs::{Mined, Miner};
use steward_proto::Point;
use steward_proto::logs::{
    LogPattern, LogPatternReport, MAX_EXAMPLES, MAX_PATTERN_TEXT, MAX_PATTERNS,
};

/// At most [`MAX_PATTERN_TEXT`] bytes of `text`, control characters as
/// spaces (what the server accepts).
fn printable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() + c.len_utf8() > MAX_PATTERN_TEXT {
            break;
        }
        out.push(if c.is_control() && c != '\t' { ' ' } else { c });
    }
    out
}

/// Most bytes read from one file per cycle.
const MAX_READ: u64 = 4 * 1024 * 1024;
const WINDOW: Duration = Duration::from_secs(300);
/// Templates a rule keeps.
pub const MAX_TEMPLATES: usize = 200;

#[derive(Debug)]
pub struct LogRule {
    pub name: String,
    pub path: String,
    pub pattern: regex_lite::Regex,
    offset: Option<u64>,
    inode: u64,
    partial: String,
    recent: VecDeque<(Instant, u64)>,
    miner: Miner,
    /// Templates seen since the last report: lines and examples.
    touched: BTreeMap<u32, (u64, Vec<String>)>,
}

impl Clone for LogRule {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            path: self.path.clone(),
            pattern: self.pattern.clone(),
            offset: None,
            inode: 0,
            partial: String::new(),
            recent: VecDeque::new(),
            miner: Miner::new(MAX_TEMPLATES),
            touched: BTreeMap::new(),
        }
    }
}

/// Parses `NAME=PATH=REGEX`.
pub fn parse(spec: &str) -> Result<LogRule, String> {
    let mut parts = spec.splitn(3, '=');
    let (Some(name), Some(path), Some(pattern)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{spec:?}: expected NAME=PATH=REGEX"));
    };
    if !steward_proto::validate::is_metric_name(name, 64) || !path.starts_with('/') {
        return Err(format!(
            "{spec:?}: NAME is lowercase letters, digits, _ or ., PATH is absolute"
        ));
    }
    let pattern = regex_lite::Regex::new(pattern).map_err(|e| format!("{spec:?}: {e}"))?;
    Ok(LogRule {
        name: name.into(),
        path: path.into(),
        pattern,
        offset: None,
        inode: 0,
        partial: String::new(),
        recent: VecDeque::new(),
        miner: Miner::new(MAX_TEMPLATES),
        touched: BTreeMap::new(),
    })
}

impl LogRule {
    /// New matching lines since the last call (0 on the first call, which
    /// only notes where the file ends).
    fn new_matches(&mut self) -> u64 {
        let Ok(mut file) = File::open(&self.path) else {
            return 0;
        };
        let Ok(meta) = file.metadata() else { return 0 };
        let start = match self.offset {
            None => {
                self.offset = Some(meta.len());
                self.inode = crate::os::sys::file_id(&meta);
                return 0;
            }
            // Rotated (new inode) or truncated: read the new file from its start.
            Some(offset) if crate::os::sys::file_id(&meta) != self.inode || meta.len() < offset => {
                self.inode = crate::os::sys::file_id(&meta);
                self.partial.clear();
                0
            }
            Some(offset) => offset,
        };
        if file.seek(SeekFrom::Start(start)).is_err() {
            return 0;
        }
        let mut buf = Vec::new();
        let read = file.take(MAX_READ).read_to_end(&mut buf).unwrap_or(0) as u64;
        self.offset = Some(start + read);
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let mut count = 0;
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            let line = line.trim_end();
            if self.pattern.is_match(line) {
                count += 1;
                self.mine(line);
            }
        }
        if self.partial.len() > 64 * 1024 {
            self.partial.clear(); // a "line" this long is not a log line
        }
        count
    }

    fn mine(&mut self, line: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        if let Mined::Template { id, .. } = self.miner.add(line, now) {
            let (count, examples) = self.touched.entry(id).or_default();
            *count += 1;
            if examples.len() < MAX_EXAMPLES {
                examples.push(printable(line));
            }
        }
    }

    /// The templates whose lines came since the last report (at most
    /// [`MAX_PATTERNS`]; the rest wait for the next), or None.
    pub fn take_patterns(&mut self) -> Option<LogPatternReport> {
        if self.touched.is_empty() {
            return None;
        }
        let ids: Vec<u32> = self.touched.keys().take(MAX_PATTERNS).copied().collect();
        let patterns = ids
            .into_iter()
            .filter_map(|id| {
                let (count, examples) = self.touched.remove(&id)?;
                let template = printable(&self.miner.template(id)?.text());
                Some(LogPattern {
                    template,
                    count,
                    examples,
                })
            })
            .collect();
        Some(LogPatternReport {
            rule: self.name.clone(),
            patterns,
            dropped: self.miner.dropped(),
        })
    }

    pub fn collect(&mut self, now: Instant, out: &mut Vec<Point>) {
        let count = self.new_matches();
        self.recent.push_back((now, count));
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > WINDOW)
        {
            self.recent.pop_front();
        }
        let window: u64 = self.recent.iter().map(|(_, c)| c).sum();
        out.push(labelled(
            "log.match.count",
            &[("rule", &self.name)],
            count as f64,
        ));
        out.push(labelled(
            "log.match.count_5m",
            &[("rule", &self.name)],
            window as f64,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn counts_new_matching_lines_and_follows_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        std::fs::write(&path, "Failed password for root\n").unwrap();
        let mut rule = parse(&format!("ssh={}=Failed password", path.display())).unwrap();
        let now = Instant::now();
        let mut out = Vec::new();
        rule.collect(now, &mut out); // notes the end; old lines do not count
        assert_eq!(out[0].value, 0.0);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(f, "Failed password for bob\nAccepted password for alice\nFailed password for eve\npartial Failed").unwrap();
        out.clear();
        rule.collect(now, &mut out);
        assert_eq!((out[0].value, out[1].value), (2.0, 2.0));
        writeln!(f, " password").unwrap(); // completes the partial line
        out.clear();
        rule.collect(now, &mut out);
        assert_eq!((out[0].value, out[1].value), (1.0, 3.0));
        // Rotation: a new, shorter file.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "Failed password x\n").unwrap();
        out.clear();
        rule.collect(now + WINDOW * 2, &mut out);
        assert_eq!(
            (out[0].value, out[1].value),
            (1.0, 1.0),
            "the old window expired"
        );
    }

    #[test]
    fn matching_lines_are_mined_into_reported_templates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kern.log");
        std::fs::write(&path, "").unwrap();
        let mut rule = parse(&format!("errors={}=error", path.display())).unwrap();
        let now = Instant::now();
        rule.collect(now, &mut Vec::new());
        assert_eq!(rule.take_patterns(), None, "nothing yet");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        for disk in ["sda1", "sdb2", "sdc3", "sdd4"] {
            writeln!(f, "kernel: EXT4-fs error (device {disk}): bad block").unwrap();
        }
        writeln!(f, "nfs: server 10.0.0.1 not responding, an error\u{7}").unwrap();
        writeln!(f, "all is well").unwrap();
        rule.collect(now, &mut Vec::new());
        let report = rule.take_patterns().expect("a report");
        assert_eq!(report.rule, "errors");
        assert_eq!(report.dropped, 0);
        let ext4 = &report.patterns[0];
        assert_eq!(ext4.template, "kernel: EXT4-fs error (device <*> bad block");
        assert_eq!(ext4.count, 4);
        assert_eq!(ext4.examples.len(), MAX_EXAMPLES);
        assert_eq!(
            ext4.examples[0],
            "kernel: EXT4-fs error (device sda1): bad block"
        );
        assert_eq!(report.patterns.len(), 2);
        assert!(!report.patterns[1].examples[0].contains('\u{7}'));
        let message = steward_proto::AgentMessage::LogPatterns(report);
        let frame = steward_proto::encode(&message);
        assert!(steward_proto::AgentMessage::decode(&frame, &Default::default()).is_ok());
        // Reported once: nothing new, nothing to report.
        rule.collect(now, &mut Vec::new());
        assert_eq!(rule.take_patterns(), None);
    }

    #[test]
    fn parses_specs() {
        assert!(parse("a=/var/log/x=Fail(ed)?").is_ok());
        assert!(parse("a=relative=x").is_err());
        assert!(parse("a=/x=(").is_err());
        assert!(parse("nopath").is_err());
    }
}
