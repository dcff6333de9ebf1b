//! Log patterns an agent mined from the lines its `--log-match` rules
//! matched (templates: the lines with their values replaced by `<*>`).

use crate::validate::{Limits, ProtoError, Validate};
use serde::{Deserialize, Serialize};

/// Most templates in one report, and example lines per template.
pub const MAX_PATTERNS: usize = 100;
pub const MAX_EXAMPLES: usize = 3;
/// Longest template text and example line (bytes).
pub const MAX_PATTERN_TEXT: usize = 512;

/// The templates of one rule whose lines came since the last report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogPatternReport {
    pub rule: String,
    pub patterns: Vec<LogPattern>,
    /// Lines the agent's miner could not place (its templates are full),
    /// since it started.
    #[serde(default)]
    pub dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogPattern {
    pub template: String,
    /// Lines of it since the last report.
    pub count: u64,
    #[serde(default)]
    pub examples: Vec<String>,
}

fn invalid(field: &'static str, reason: &str) -> ProtoError {
    ProtoError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn line(field: &'static str, text: &str) -> Result<(), ProtoError> {
    if text.len() > MAX_PATTERN_TEXT {
        return Err(invalid(field, "longer than 512 bytes"));
    }
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

impl Validate for LogPatternReport {
    fn validate(&self, _limits: &Limits) -> Result<(), ProtoError> {
        if !crate::validate::is_metric_name(&self.rule, 64) {
            return Err(invalid("log_patterns.rule", "not a rule name"));
        }
        if self.patterns.len() > MAX_PATTERNS {
            return Err(invalid("log_patterns.patterns", "more than 100 templates"));
        }
        for p in &self.patterns {
            if p.template.trim().is_empty() {
                return Err(invalid("log_patterns.template", "empty"));
            }
            line("log_patterns.template", &p.template)?;
            if p.examples.len() > MAX_EXAMPLES {
                return Err(invalid("log_patterns.examples", "more than 3 examples"));
            }
            for e in &p.examples {
                line("log_patterns.examples", e)?;
            }
        }
        Ok(())
    }
}
