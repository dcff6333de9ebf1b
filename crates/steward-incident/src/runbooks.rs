//! Runbooks: documented procedures (Markdown) attached to what goes
//! wrong (monitors, scripts, alert kinds, problems), which may offer
//! scripts to run with one click. Here: what a runbook may hold
//! ([`Runbook::check`]), which runbooks apply to an alert or an incident
//! ([`applies`]), and the plain-text excerpt a notification carries
//! ([`excerpt`]).

use serde::{Deserialize, Serialize};

/// Longest runbook body, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Most entries in each attachment list.
pub const MAX_LINKS: usize = 50;
/// Longest excerpt a notification carries, in characters.
pub const EXCERPT_CHARS: usize = 600;

/// A runbook's definition: what the API reads and writes, and each
/// version keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    pub title: String,
    /// The procedure, in Markdown (shown as text, never as HTML).
    #[serde(default)]
    pub body: String,
    /// Monitors (by id or name) whose alerts show it.
    #[serde(default)]
    pub monitors: Vec<String>,
    /// Alert kinds (a monitor's kind: `check`, `offline`, `metric`, …, or
    /// a built-in alert's id such as `patching`) that show it.
    #[serde(default)]
    pub alert_kinds: Vec<String>,
    /// Scripts (by name) it documents.
    #[serde(default)]
    pub scripts: Vec<String>,
    /// Problems (by id or signature) it documents.
    #[serde(default)]
    pub problems: Vec<String>,
    /// Scripts (by name) it offers to run with one click.
    #[serde(default)]
    pub offers: Vec<String>,
}

impl Runbook {
    /// The runbook as kept: title and names trimmed, lists without
    /// repeats; or what is wrong with it.
    pub fn check(mut self) -> Result<Self, String> {
        self.title = self.title.trim().to_string();
        if self.title.is_empty()
            || self.title.chars().count() > 200
            || self.title.chars().any(char::is_control)
        {
            return Err(
                "a runbook needs a title of 1-200 characters, without control characters".into(),
            );
        }
        if self.body.len() > MAX_BODY {
            return Err(format!(
                "a runbook's body is at most {MAX_BODY} bytes, not {}",
                self.body.len()
            ));
        }
        if self
            .body
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err(
                "a runbook's body holds no control characters besides line breaks and tabs".into(),
            );
        }
        for (what, list) in [
            ("monitors", &mut self.monitors),
            ("alert_kinds", &mut self.alert_kinds),
            ("scripts", &mut self.scripts),
            ("problems", &mut self.problems),
            ("offers", &mut self.offers),
        ] {
            if list.len() > MAX_LINKS {
                return Err(format!("{what} lists at most {MAX_LINKS} entries"));
            }
            let mut kept: Vec<String> = Vec::with_capacity(list.len());
            for entry in list.iter() {
                let entry = entry.trim();
                if entry.is_empty()
                    || entry.chars().count() > 200
                    || entry.chars().any(char::is_control)
                {
                    return Err(format!(
                        "each entry of {what} is a name or id of 1-200 characters, not {entry:?}"
                    ));
                }
                if !kept.iter().any(|k| k == entry) {
                    kept.push(entry.to_string());
                }
            }
            *list = kept;
        }
        Ok(self)
    }
}

/// What an alert or an incident is about, as runbooks are attached:
/// each list holds every name the thing goes by (ids and names alike).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub monitors: Vec<String>,
    pub alert_kinds: Vec<String>,
    pub scripts: Vec<String>,
    pub problems: Vec<String>,
}

/// Whether `runbook` is attached to anything `subject` is about.
pub fn applies(runbook: &Runbook, subject: &Subject) -> bool {
    let any = |attached: &[String], have: &[String]| attached.iter().any(|a| have.contains(a));
    any(&runbook.monitors, &subject.monitors)
        || any(&runbook.alert_kinds, &subject.alert_kinds)
        || any(&runbook.scripts, &subject.scripts)
        || any(&runbook.problems, &subject.problems)
}

/// The start of a runbook's body for a notification: whole lines up to
/// [`EXCERPT_CHARS`] characters, "…" when cut.
pub fn excerpt(body: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    for line in body.trim().lines() {
        let chars = line.chars().count() + 1;
        if count + chars > EXCERPT_CHARS {
            if out.is_empty() {
                out = line.chars().take(EXCERPT_CHARS).collect();
            }
            out.push('…');
            return out;
        }
        out.push_str(line);
        out.push('\n');
        count += chars;
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbook() -> Runbook {
        Runbook {
            title: "  Disk full  ".into(),
            body: "1. Clean /tmp\n2. Rotate logs".into(),
            monitors: vec!["disk".into(), "disk".into()],
            alert_kinds: vec!["offline".into()],
            scripts: vec![],
            problems: vec!["0190-problem".into()],
            offers: vec!["clean-tmp".into()],
        }
    }

    #[test]
    fn a_runbook_is_kept_trimmed_without_repeats() {
        let kept = runbook().check().unwrap();
        assert_eq!(kept.title, "Disk full");
        assert_eq!(kept.monitors, vec!["disk".to_string()]);
    }

    #[test]
    fn bad_runbooks_are_refused_with_the_reason() {
        let bad = |f: fn(&mut Runbook)| {
            let mut r = runbook();
            f(&mut r);
            r.check().unwrap_err()
        };
        assert!(bad(|r| r.title = " ".into()).contains("title"));
        assert!(bad(|r| r.title = "a\u{7}b".into()).contains("title"));
        assert!(bad(|r| r.body = "x".repeat(MAX_BODY + 1)).contains("at most"));
        assert!(bad(|r| r.body = "esc \u{1b}[31m".into()).contains("control"));
        assert!(bad(|r| r.offers = vec!["".into()]).contains("offers"));
        assert!(bad(|r| r.monitors = vec!["m".into(); MAX_LINKS + 1]).contains("at most"));
        // Line breaks and tabs are text.
        let mut fine = runbook();
        fine.body = "a\r\n\tb".into();
        assert!(fine.check().is_ok());
    }

    #[test]
    fn a_runbook_applies_by_any_of_its_attachments() {
        let r = runbook().check().unwrap();
        let about = |monitors: &[&str], kinds: &[&str], problems: &[&str]| Subject {
            monitors: monitors.iter().map(|s| s.to_string()).collect(),
            alert_kinds: kinds.iter().map(|s| s.to_string()).collect(),
            scripts: vec![],
            problems: problems.iter().map(|s| s.to_string()).collect(),
        };
        assert!(applies(&r, &about(&["0190-id", "disk"], &["metric"], &[])));
        assert!(applies(&r, &about(&[], &["offline"], &[])));
        assert!(applies(&r, &about(&[], &[], &["0190-problem"])));
        assert!(!applies(&r, &about(&["cpu"], &["metric"], &["other"])));
        assert!(!applies(&r, &Subject::default()));
        let script = Subject {
            scripts: vec!["restart-nginx".into()],
            ..Subject::default()
        };
        let mut documents = r.clone();
        documents.scripts = vec!["restart-nginx".into()];
        assert!(applies(&documents, &script));
        assert!(!applies(&r, &script));
    }

    #[test]
    fn excerpts_keep_whole_lines_and_say_when_cut() {
        assert_eq!(excerpt("  1. a\n2. b\n"), "1. a\n2. b");
        let long = format!("{}\n{}", "x".repeat(500), "y".repeat(200));
        let cut = excerpt(&long);
        assert_eq!(cut, format!("{}\n…", "x".repeat(500)));
        let one = excerpt(&"z".repeat(1000));
        assert_eq!(one.chars().count(), EXCERPT_CHARS + 1);
        assert!(one.ends_with('…'));
        assert_eq!(excerpt(""), "");
    }
}
