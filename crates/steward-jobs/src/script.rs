//! Scripts: a body, an interpreter, typed parameters with defaults, a
//! timeout and a run-as user. Stored as JSON; exchanged with git as plain
//! script files whose header comments carry the settings:
//!
//! ```text
//! #!/bin/sh
//! # steward: name = restart-service
//! # steward: description = Restarts a systemd service
//! # steward: timeout = 60s
//! # steward: param = service string required
//! # steward: param = wait int default=5
//! systemctl restart "$STEWARD_PARAM_SERVICE"
//! ```

use crate::{JobError, err};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use steward_proto::Interpreter;

pub const MAX_BODY_BYTES: usize = 256 * 1024;
pub const DEFAULT_TIMEOUT_SECS: u32 = 300;
pub const MAX_TIMEOUT_SECS: u32 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    String,
    Int,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamDef {
    pub name: String,
    pub kind: ParamKind,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub interpreter: Interpreter,
    pub body: String,
    #[serde(default)]
    pub params: Vec<ParamDef>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u32,
    #[serde(default)]
    pub run_as: Option<String>,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_SECS
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl ScriptDef {
    pub fn validate(&self) -> Result<(), JobError> {
        if !is_name(&self.name) {
            return err(format!(
                "script name {:?} must be 1-64 letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        if self.body.trim().is_empty() {
            return err("the script body is empty");
        }
        if self.body.len() > MAX_BODY_BYTES {
            return err(format!("the script body is over {MAX_BODY_BYTES} bytes"));
        }
        if self.timeout_secs == 0 || self.timeout_secs > MAX_TIMEOUT_SECS {
            return err(format!("timeout must be 1 s to {MAX_TIMEOUT_SECS} s"));
        }
        if let Some(user) = &self.run_as
            && !is_name(user)
        {
            return err(format!("run_as {user:?} is not a user name"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for param in &self.params {
            if !param
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                || param.name.is_empty()
                || param.name.len() > 64
            {
                return err(format!(
                    "parameter name {:?} must be letters, digits and '_'",
                    param.name
                ));
            }
            if !seen.insert(param.name.to_ascii_uppercase()) {
                return err(format!("parameter {:?} is declared twice", param.name));
            }
            if let Some(default) = &param.default {
                check_value(param, default)?;
            }
        }
        Ok(())
    }

    /// The values to run with: the given ones checked against their types,
    /// defaults filled in, required ones present, unknown ones refused.
    pub fn resolve_params(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, JobError> {
        for name in given.keys() {
            if !self.params.iter().any(|p| p.name == *name) {
                return err(format!(
                    "script {:?} has no parameter {name:?} (it has: {})",
                    self.name,
                    self.params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let mut values = BTreeMap::new();
        for param in &self.params {
            match given.get(&param.name).or(param.default.as_ref()) {
                Some(value) => {
                    check_value(param, value)?;
                    values.insert(param.name.clone(), value.clone());
                }
                None if param.required => {
                    return err(format!("parameter {:?} is required", param.name));
                }
                None => {}
            }
        }
        Ok(values)
    }

    /// The script as a file for git (see the module docs).
    pub fn to_file(&self) -> String {
        let mut out = String::new();
        let shebang = match self.interpreter {
            Interpreter::Sh => "#!/bin/sh",
            Interpreter::Bash => "#!/bin/bash",
            Interpreter::Python3 => "#!/usr/bin/env python3",
            Interpreter::Powershell => "#!/usr/bin/env pwsh",
            Interpreter::Zsh => "#!/bin/zsh",
        };
        let body = self.body.strip_prefix(shebang).unwrap_or(&self.body);
        let body = body.strip_prefix('\n').unwrap_or(body);
        out.push_str(shebang);
        out.push('\n');
        let mut header = |key: &str, value: &str| {
            out.push_str(&format!("# steward: {key} = {value}\n"));
        };
        header("name", &self.name);
        if !self.description.is_empty() {
            header("description", &self.description);
        }
        header("timeout", &format!("{}s", self.timeout_secs));
        if let Some(user) = &self.run_as {
            header("run_as", user);
        }
        for param in &self.params {
            let kind = match param.kind {
                ParamKind::String => "string",
                ParamKind::Int => "int",
                ParamKind::Bool => "bool",
            };
            let mut line = format!("{} {kind}", param.name);
            if param.required {
                line.push_str(" required");
            }
            if let Some(default) = &param.default {
                line.push_str(&format!(" default={default}"));
            }
            header("param", &line);
        }
        out.push_str(body);
        out
    }

    /// Reads a script file; `fallback_name` (the file name) names it when
    /// its header does not.
    pub fn from_file(text: &str, fallback_name: &str) -> Result<Self, JobError> {
        let first = text.lines().next().unwrap_or_default();
        let interpreter = if first.starts_with("#!") {
            if first.contains("python") {
                Interpreter::Python3
            } else if first.contains("zsh") {
                Interpreter::Zsh
            } else if first.contains("bash") {
                Interpreter::Bash
            } else if first.contains("pwsh") || first.contains("powershell") {
                Interpreter::Powershell
            } else {
                Interpreter::Sh
            }
        } else {
            Interpreter::Sh
        };
        let mut script = ScriptDef {
            name: fallback_name.to_string(),
            description: String::new(),
            interpreter,
            body: String::new(),
            params: Vec::new(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            run_as: None,
        };
        let mut body = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let Some(setting) = line.strip_prefix("# steward:") else {
                body.push(line);
                continue;
            };
            let (key, value) = setting.split_once('=').ok_or_else(|| {
                JobError(format!(
                    "line {}: expected `# steward: key = value`",
                    number + 1
                ))
            })?;
            let value = value.trim();
            match key.trim() {
                "name" => script.name = value.into(),
                "description" => script.description = value.into(),
                "run_as" => script.run_as = Some(value.into()),
                "interpreter" => {
                    script.interpreter = serde_json::from_value(value.into()).map_err(|_| {
                        JobError(format!(
                            "line {}: interpreter must be sh, bash, zsh, python3 or powershell",
                            number + 1
                        ))
                    })?
                }
                "timeout" => script.timeout_secs = parse_secs(value, number + 1)?,
                "param" => script.params.push(parse_param(value, number + 1)?),
                other => {
                    return err(format!("line {}: unknown setting {other:?}", number + 1));
                }
            }
        }
        script.body = body.join("\n");
        if text.ends_with('\n') {
            script.body.push('\n');
        }
        script.validate()?;
        Ok(script)
    }
}

fn parse_secs(value: &str, line: usize) -> Result<u32, JobError> {
    let (digits, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len()),
    );
    let n: u32 = digits
        .parse()
        .map_err(|_| JobError(format!("line {line}: bad timeout {value:?}")))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return err(format!("line {line}: timeout unit must be s, m or h")),
    };
    Ok(n.saturating_mul(factor))
}

fn parse_param(value: &str, line: usize) -> Result<ParamDef, JobError> {
    let mut words = value.split_whitespace();
    let name = words.next().unwrap_or_default().to_string();
    let kind = match words.next() {
        Some("string") | None => ParamKind::String,
        Some("int") => ParamKind::Int,
        Some("bool") => ParamKind::Bool,
        Some(other) => return err(format!("line {line}: unknown parameter type {other:?}")),
    };
    let mut param = ParamDef {
        name,
        kind,
        default: None,
        required: false,
    };
    for word in words {
        match word.split_once('=') {
            Some(("default", v)) => param.default = Some(v.to_string()),
            None if word == "required" => param.required = true,
            _ => return err(format!("line {line}: unexpected {word:?} in a parameter")),
        }
    }
    Ok(param)
}

fn check_value(param: &ParamDef, value: &str) -> Result<(), JobError> {
    let ok = match param.kind {
        ParamKind::String => value.len() <= 4096 && !value.contains('\0'),
        ParamKind::Int => value.parse::<i64>().is_ok(),
        ParamKind::Bool => matches!(value, "true" | "false"),
    };
    if ok {
        Ok(())
    } else {
        err(format!(
            "parameter {:?} must be {}: got {value:.60?}",
            param.name,
            match param.kind {
                ParamKind::String => "text under 4 KiB without NUL",
                ParamKind::Int => "an integer",
                ParamKind::Bool => "true or false",
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "#!/bin/sh\n# steward: name = restart\n# steward: timeout = 120s\n# steward: param = service string required\n# steward: param = wait int default=5\nsystemctl restart \"$STEWARD_PARAM_SERVICE\"\n";

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn files_round_trip() {
        let script = ScriptDef::from_file(FILE, "x").unwrap();
        assert_eq!(script.name, "restart");
        assert_eq!(script.timeout_secs, 120);
        assert_eq!(script.params.len(), 2);
        assert_eq!(script.to_file(), FILE);
        assert_eq!(
            ScriptDef::from_file(&script.to_file(), "x").unwrap(),
            script
        );
    }

    #[test]
    fn zsh_scripts_round_trip() {
        let text = "#!/bin/zsh\n# steward: name = mac\n# steward: timeout = 60s\nprint -r -- $ZSH_VERSION\n";
        let script = ScriptDef::from_file(text, "x").unwrap();
        assert_eq!(script.interpreter, Interpreter::Zsh);
        assert_eq!(script.to_file(), text);
    }

    #[test]
    fn parameters_are_typed_and_checked() {
        let script = ScriptDef::from_file(FILE, "x").unwrap();
        let check = |pairs: &[(&str, &str)], expect: Result<&str, &str>| {
            let got = script
                .resolve_params(&given(pairs))
                .map(|v| format!("{v:?}"))
                .map_err(|e| e.0);
            match expect {
                Ok(want) => assert_eq!(got.unwrap(), want),
                Err(fragment) => assert!(got.unwrap_err().contains(fragment)),
            }
        };
        check(
            &[("service", "nginx")],
            Ok(r#"{"service": "nginx", "wait": "5"}"#),
        );
        check(&[], Err("required"));
        check(&[("service", "a"), ("wait", "soon")], Err("integer"));
        check(&[("service", "a"), ("other", "1")], Err("no parameter"));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        for (text, fragment) in [
            ("# steward: nonsense\necho", "expected"),
            ("# steward: colour = red\necho", "unknown setting"),
            ("# steward: timeout = 5 days\necho", "timeout"),
            ("# steward: name = a b\necho", "script name"),
            ("# steward: name = ok\n", "empty"),
            ("# steward: param = x float\necho", "parameter type"),
        ] {
            let error = ScriptDef::from_file(text, "f").unwrap_err().0;
            assert!(error.contains(fragment), "{text:?}: {error}");
        }
    }
}
