//! Posture checks written in data (YAML): each check reads facts the agent
//! gathered and answers pass, fail or not applicable, with the facts it
//! read as the reason and a fix text. The built-in checks are such a file
//! (`builtin.yaml`, compiled in); `--posture-checks FILE` adds a device
//! administrator's own (same id: theirs replaces the built-in one).
//!
//! ```yaml
//! checks:
//!   - id: ssh.root_login
//!     title: SSH refuses root logins with a password
//!     weight: 3
//!     when: { fact: ssh.server, is: true }     # else: not applicable
//!     pass: { fact: ssh.permitrootlogin, in: ["no", "prohibit-password"] }
//!     fix: Set PermitRootLogin prohibit-password in /etc/ssh/sshd_config.d/.
//! ```
//!
//! A condition is one of: `{fact, is}`, `{fact, in: [..]}`, `{fact, below}`,
//! `{fact, above}` (numbers), `{fact, empty: bool}` (lists, text),
//! `{fact, matches: REGEX}` (text), `{all: [..]}`, `{any: [..]}`,
//! `{not: ..}`. A fact that was not gathered makes the check not
//! applicable. Pure: facts in, answers out.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use steward_proto::{MAX_POSTURE_TEXT, PostureCheck, PostureStatus};

/// The facts one gathering produced, by name (`ssh.permitrootlogin`).
pub type Facts = BTreeMap<String, Value>;

/// The checks shipped with the agent.
pub const BUILTIN: &str = include_str!("builtin.yaml");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub checks: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub title: String,
    #[serde(default = "one")]
    pub weight: u8,
    #[serde(default)]
    pub when: Option<Cond>,
    pub pass: Cond,
    #[serde(default)]
    pub fix: String,
}

fn one() -> u8 {
    1
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cond {
    #[serde(default)]
    pub fact: Option<String>,
    #[serde(default)]
    pub is: Option<Value>,
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<Value>>,
    #[serde(default)]
    pub below: Option<f64>,
    #[serde(default)]
    pub above: Option<f64>,
    #[serde(default)]
    pub empty: Option<bool>,
    #[serde(default)]
    pub matches: Option<String>,
    #[serde(default)]
    pub all: Option<Vec<Cond>>,
    #[serde(default)]
    pub any: Option<Vec<Cond>>,
    #[serde(default)]
    pub not: Option<Box<Cond>>,
}

/// Parses and checks a rules file: ids are check names, weights 1–10,
/// every condition has exactly one test, regexes compile.
pub fn parse(text: &str) -> Result<Rules, String> {
    let rules: Rules = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    for (index, rule) in rules.checks.iter().enumerate() {
        if !steward_proto::validate::is_metric_name(&rule.id, 64) {
            return Err(format!(
                "check id {:?}: lowercase letters, digits, _ and .",
                rule.id
            ));
        }
        if rules.checks[..index].iter().any(|r| r.id == rule.id) {
            return Err(format!("check id {:?} appears twice", rule.id));
        }
        if !(1..=10).contains(&rule.weight) {
            return Err(format!("{}: weight is 1 to 10", rule.id));
        }
        if rule.title.is_empty() || rule.title.len() > 128 || rule.fix.len() > MAX_POSTURE_TEXT {
            return Err(format!(
                "{}: a title of 1-128 bytes, a fix of at most {MAX_POSTURE_TEXT}",
                rule.id
            ));
        }
        for cond in rule.when.iter().chain([&rule.pass]) {
            cond.check().map_err(|e| format!("{}: {e}", rule.id))?;
        }
    }
    Ok(rules)
}

/// The built-in rules with `extra` laid over them (same id replaces).
pub fn merged(extra: Option<Rules>) -> Rules {
    let mut rules = parse(BUILTIN).expect("the built-in posture checks parse");
    for rule in extra.map(|r| r.checks).unwrap_or_default() {
        match rules.checks.iter_mut().find(|r| r.id == rule.id) {
            Some(slot) => *slot = rule,
            None => rules.checks.push(rule),
        }
    }
    rules.checks.truncate(steward_proto::MAX_POSTURE_CHECKS);
    rules
}

impl Cond {
    fn check(&self) -> Result<(), String> {
        let tests = [
            self.is.is_some(),
            self.one_of.is_some(),
            self.below.is_some(),
            self.above.is_some(),
            self.empty.is_some(),
            self.matches.is_some(),
        ]
        .iter()
        .filter(|t| **t)
        .count();
        let groups = [self.all.is_some(), self.any.is_some(), self.not.is_some()]
            .iter()
            .filter(|t| **t)
            .count();
        match (self.fact.is_some(), tests, groups) {
            (true, 1, 0) => {}
            (false, 0, 1) => {}
            _ => {
                return Err(
                    "a condition is {fact, and one test} or one of all, any, not".to_string(),
                );
            }
        }
        if let Some(pattern) = &self.matches {
            regex_lite::Regex::new(pattern).map_err(|e| e.to_string())?;
        }
        for cond in self.all.iter().chain(&self.any).flatten() {
            cond.check()?;
        }
        if let Some(cond) = &self.not {
            cond.check()?;
        }
        Ok(())
    }

    /// `Some(answer)`, or `None` when a fact it needs is missing; the
    /// facts read are added to `read`.
    fn eval(&self, facts: &Facts, read: &mut Vec<String>) -> Option<bool> {
        if let Some(all) = &self.all {
            let mut answer = true;
            for cond in all {
                answer &= cond.eval(facts, read)?;
            }
            return Some(answer);
        }
        if let Some(any) = &self.any {
            let mut answer = false;
            for cond in any {
                answer |= cond.eval(facts, read)?;
            }
            return Some(answer);
        }
        if let Some(cond) = &self.not {
            return cond.eval(facts, read).map(|a| !a);
        }
        let name = self.fact.as_deref()?;
        let value = facts.get(name)?;
        let shown = format!("{name} = {}", shown(value));
        if !read.contains(&shown) {
            read.push(shown);
        }
        Some(if let Some(expected) = &self.is {
            same(value, expected)
        } else if let Some(options) = &self.one_of {
            options.iter().any(|o| same(value, o))
        } else if let Some(limit) = self.below {
            value.as_f64().is_some_and(|v| v < limit)
        } else if let Some(limit) = self.above {
            value.as_f64().is_some_and(|v| v > limit)
        } else if let Some(empty) = self.empty {
            let is_empty = match value {
                Value::Array(items) => items.is_empty(),
                Value::String(text) => text.is_empty(),
                Value::Null => true,
                _ => false,
            };
            is_empty == empty
        } else if let Some(pattern) = &self.matches {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            regex_lite::Regex::new(pattern).is_ok_and(|re| re.is_match(&text))
        } else {
            false
        })
    }
}

/// Values compare as text when either is text (`no` in YAML and "no" from
/// sshd are the same), else as JSON.
fn same(value: &Value, expected: &Value) -> bool {
    match (value, expected) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 120 {
        let mut cut = 117;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &text[..cut])
    } else {
        text
    }
}

/// Answers every rule from `facts`.
pub fn evaluate(rules: &Rules, facts: &Facts) -> Vec<PostureCheck> {
    rules
        .checks
        .iter()
        .map(|rule| {
            let mut read = Vec::new();
            let applies = match &rule.when {
                Some(cond) => cond.eval(facts, &mut read),
                None => Some(true),
            };
            let (status, reason) = match applies {
                None => (
                    PostureStatus::NotApplicable,
                    "not collected on this device".to_string(),
                ),
                Some(false) => (PostureStatus::NotApplicable, read.join(", ")),
                Some(true) => {
                    read.clear();
                    match rule.pass.eval(facts, &mut read) {
                        None => (
                            PostureStatus::NotApplicable,
                            "not collected on this device".to_string(),
                        ),
                        Some(true) => (PostureStatus::Pass, read.join(", ")),
                        Some(false) => (PostureStatus::Fail, read.join(", ")),
                    }
                }
            };
            PostureCheck {
                id: rule.id.clone(),
                title: super::super::clean(&rule.title, 128),
                status,
                reason: super::super::clean(&reason, MAX_POSTURE_TEXT),
                fix: super::super::clean(&rule.fix, MAX_POSTURE_TEXT),
                weight: rule.weight,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(pairs: &[(&str, Value)]) -> Facts {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn status(checks: &[PostureCheck], id: &str) -> (PostureStatus, String) {
        let c = checks.iter().find(|c| c.id == id).unwrap();
        (c.status, c.reason.clone())
    }

    #[test]
    fn the_builtin_checks_parse_and_answer() {
        let rules = merged(None);
        assert!(rules.checks.len() >= 10, "{}", rules.checks.len());
        let hardened = facts(&[
            ("ssh.server", json!(true)),
            ("ssh.permitrootlogin", json!("prohibit-password")),
            ("ssh.passwordauthentication", json!("no")),
            ("firewall.active", json!(true)),
            ("firewall.input_policy", json!("drop")),
            ("disk.root_encrypted", json!(true)),
            ("clamav.installed", json!(true)),
            ("clamav.running", json!(true)),
            ("clamav.signature_age_hours", json!(20)),
            ("updates.security_pending", json!(0)),
            ("time.synchronized", json!(true)),
        ]);
        let answers = evaluate(&rules, &hardened);
        for c in &answers {
            assert_ne!(c.status, PostureStatus::Fail, "{c:?}");
        }
        assert_eq!(
            status(&answers, "ssh.root_login"),
            (
                PostureStatus::Pass,
                "ssh.permitrootlogin = \"prohibit-password\"".into()
            )
        );
        let open = facts(&[
            ("ssh.server", json!(true)),
            ("ssh.permitrootlogin", json!("yes")),
            ("ssh.passwordauthentication", json!("yes")),
            ("firewall.active", json!(false)),
            ("firewall.input_policy", json!("accept")),
            ("clamav.installed", json!(false)),
        ]);
        let answers = evaluate(&rules, &open);
        assert_eq!(status(&answers, "ssh.root_login").0, PostureStatus::Fail);
        assert_eq!(status(&answers, "ssh.password_auth").0, PostureStatus::Fail);
        assert_eq!(status(&answers, "firewall.active").0, PostureStatus::Fail);
        assert_eq!(
            status(&answers, "disk.encryption"),
            (
                PostureStatus::NotApplicable,
                "not collected on this device".into()
            )
        );
        let no_ssh = evaluate(&rules, &facts(&[("ssh.server", json!(false))]));
        assert_eq!(
            status(&no_ssh, "ssh.root_login"),
            (PostureStatus::NotApplicable, "ssh.server = false".into())
        );
        assert!(
            answers
                .iter()
                .all(|c| !c.fix.is_empty() && !c.title.is_empty())
        );
    }

    #[test]
    fn a_users_file_adds_and_replaces_checks() {
        let extra = parse(
            r#"
checks:
  - id: ssh.root_login
    title: No root logins at all
    weight: 5
    pass: { fact: ssh.permitrootlogin, is: "no" }
    fix: PermitRootLogin no
  - id: site.motd
    title: Legal banner
    pass: { any: [ { fact: banner.text, matches: "(?i)authorised" }, { not: { fact: banner.text, empty: false } } ] }
"#,
        )
        .unwrap();
        let rules = merged(Some(extra));
        let answers = evaluate(
            &rules,
            &facts(&[
                ("ssh.permitrootlogin", json!("prohibit-password")),
                ("banner.text", json!("Authorised use only")),
            ]),
        );
        let root = answers.iter().find(|c| c.id == "ssh.root_login").unwrap();
        assert_eq!((root.status, root.weight), (PostureStatus::Fail, 5));
        assert_eq!(status(&answers, "site.motd").0, PostureStatus::Pass);
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        for bad in [
            "checks: [{id: 'Bad id', title: t, pass: {fact: a, is: 1}}]",
            "checks: [{id: a.b, title: t, weight: 11, pass: {fact: a, is: 1}}]",
            "checks: [{id: a.b, title: t, pass: {fact: a}}]",
            "checks: [{id: a.b, title: t, pass: {fact: a, is: 1, below: 2}}]",
            "checks: [{id: a.b, title: t, pass: {fact: a, matches: '('}}]",
            "checks: [{id: a.b, title: t, pass: {fact: a, is: 1}, extra: 1}]",
            "checks: [{id: a.b, title: t, pass: {fact: a, is: 1}}, {id: a.b, title: t, pass: {fact: a, is: 1}}]",
            "not yaml: [",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
