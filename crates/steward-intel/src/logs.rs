//! Log patterns, pure: an online template miner in the manner of Drain
//! (He et al., 2017: lines grouped by length and first word, then by
//! token similarity; differing tokens become wildcards), and the fleet
//! view of templates that spreads a new pattern's burst into one signal.
//!
//! Bounds: a line is cut at [`MAX_LINE`] bytes and [`MAX_TOKENS`]
//! tokens, a token at [`MAX_TOKEN`] bytes; a miner keeps at most its
//! `capacity` templates and counts (never silently drops) the lines that
//! would have needed another; each template keeps [`EXAMPLES`] example
//! lines.

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const MAX_LINE: usize = 2048;
pub const MAX_TOKENS: usize = 64;
pub const MAX_TOKEN: usize = 64;
pub const EXAMPLES: usize = 3;
/// The token standing for any value.
pub const WILDCARD: &str = "<*>";
/// Share of a template's fixed tokens a line must match to join it.
const SIMILARITY: f64 = 0.5;
/// Most templates of one shape (token count and first token): a line is
/// compared with each of its shape's templates, so this bounds the work a
/// line costs, and a flood of one shape (a hostile agent's random words)
/// cannot take the capacity every other shape needs.
pub const MAX_PER_SHAPE: usize = 64;

/// One template: its tokens (with wildcards), how often and when it was
/// seen, and a few lines it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub id: u32,
    pub tokens: Vec<String>,
    pub count: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub examples: Vec<String>,
}

impl Template {
    /// The template as text ("Failed password for <*> from <*>").
    pub fn text(&self) -> String {
        self.tokens.join(" ")
    }
}

/// What became of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mined {
    /// Joined (or started, `new`) the template of this id.
    Template { id: u32, new: bool },
    /// It needed a new template and the miner is full: counted.
    Dropped,
    /// Nothing to mine (empty or blank).
    Empty,
}

#[derive(Debug, Clone)]
pub struct Miner {
    capacity: usize,
    templates: Vec<Template>,
    /// (token count, first token or wildcard) → template indexes.
    groups: HashMap<(usize, String), Vec<usize>>,
    dropped: u64,
}

/// A token that is probably a value: it starts with a digit or has at
/// least as many digits as letters (numbers, addresses, times, `pid=1234`),
/// or is very long. Names with a digit (`ssh2`, `EXT4-fs`) stay; values
/// among them differ from line to line and become wildcards when merged.
fn variable(token: &str) -> bool {
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    let letters = token.bytes().filter(u8::is_ascii_alphabetic).count();
    token.len() >= MAX_TOKEN
        || token.as_bytes().first().is_some_and(u8::is_ascii_digit)
        || (digits > 0 && digits >= letters)
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The tokens of a line, values masked.
pub fn tokens(line: &str) -> Vec<String> {
    cut(line, MAX_LINE)
        .split_whitespace()
        .take(MAX_TOKENS)
        .map(|t| {
            if variable(t) {
                WILDCARD.to_string()
            } else {
                cut(t, MAX_TOKEN).to_string()
            }
        })
        .collect()
}

impl Miner {
    /// A miner keeping at most `capacity` templates.
    pub fn new(capacity: usize) -> Miner {
        Miner {
            capacity,
            templates: Vec::new(),
            groups: HashMap::new(),
            dropped: 0,
        }
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    pub fn template(&self, id: u32) -> Option<&Template> {
        self.templates.get(id as usize)
    }

    /// Lines that needed a template beyond the capacity.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Mines one line seen at `at_ms`.
    pub fn add(&mut self, line: &str, at_ms: i64) -> Mined {
        let tokens = tokens(line);
        if tokens.is_empty() {
            return Mined::Empty;
        }
        let key = (tokens.len(), tokens[0].clone());
        let candidates = self.groups.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        let best = candidates
            .iter()
            .map(|&i| (i, similarity(&self.templates[i].tokens, &tokens)))
            .filter(|&(_, s)| s >= SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        if let Some((i, _)) = best {
            let t = &mut self.templates[i];
            for (mine, theirs) in t.tokens.iter_mut().zip(&tokens) {
                if mine != theirs && mine != WILDCARD {
                    *mine = WILDCARD.to_string();
                }
            }
            t.count += 1;
            t.first_ms = t.first_ms.min(at_ms);
            t.last_ms = t.last_ms.max(at_ms);
            if t.examples.len() < EXAMPLES {
                t.examples.push(cut(line, 200).to_string());
            }
            return Mined::Template {
                id: t.id,
                new: false,
            };
        }
        if self.templates.len() >= self.capacity || candidates.len() >= MAX_PER_SHAPE {
            self.dropped += 1;
            return Mined::Dropped;
        }
        let id = self.templates.len() as u32;
        self.templates.push(Template {
            id,
            tokens,
            count: 1,
            first_ms: at_ms,
            last_ms: at_ms,
            examples: vec![cut(line, 200).to_string()],
        });
        self.groups.entry(key).or_default().push(id as usize);
        Mined::Template { id, new: true }
    }
}

/// Share of the template's tokens the line has at the same place
/// (wildcards match anything).
fn similarity(template: &[String], line: &[String]) -> f64 {
    let same = template
        .iter()
        .zip(line)
        .filter(|(a, b)| *a == WILDCARD || a == b)
        .count();
    same as f64 / template.len().max(1) as f64
}

/// A new template seen on many devices at once: one signal, naming it.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    pub template: String,
    pub devices: Vec<String>,
    pub examples: Vec<String>,
    pub first_ms: i64,
}

#[derive(Debug, Clone)]
struct Seen {
    first_ms: i64,
    last_ms: i64,
    devices: BTreeSet<String>,
    examples: Vec<String>,
    raised: bool,
}

/// The fleet's templates by text: when each was first seen, on which
/// devices lately. A template that is new (first seen less than `window`
/// ago) and reaches `min_devices` devices within `window` raises one
/// [`Burst`]. At most `capacity` templates are followed: the least
/// recently seen one is forgotten for a new one (counted). Templates
/// seen in the first window of observation are the baseline, never new.
#[derive(Debug, Clone)]
pub struct Spread {
    window_ms: i64,
    min_devices: usize,
    capacity: usize,
    seen: BTreeMap<String, Seen>,
    forgotten: u64,
    /// The first observation: templates first seen within a window of it
    /// are the baseline (what was there before anyone watched), not new.
    started_ms: Option<i64>,
}

/// The most devices a burst may ask for (only that many are remembered).
const MAX_DEVICES: usize = 1_000;

impl Spread {
    pub fn new(window_ms: i64, min_devices: usize, capacity: usize) -> Spread {
        Spread {
            window_ms,
            min_devices: min_devices.clamp(1, MAX_DEVICES),
            capacity: capacity.max(1),
            seen: BTreeMap::new(),
            forgotten: 0,
            started_ms: None,
        }
    }

    /// Templates forgotten to make room.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// `device` logged a line of `template` (text) at `at_ms`.
    pub fn observe(
        &mut self,
        device: &str,
        template: &str,
        example: &str,
        at_ms: i64,
    ) -> Option<Burst> {
        if !self.seen.contains_key(template) && self.seen.len() >= self.capacity {
            let stalest = self
                .seen
                .iter()
                .min_by_key(|(_, s)| s.last_ms)
                .map(|(k, _)| k.clone())?;
            self.seen.remove(&stalest);
            self.forgotten += 1;
        }
        let s = self
            .seen
            .entry(template.to_string())
            .or_insert_with(|| Seen {
                first_ms: at_ms,
                last_ms: at_ms,
                devices: BTreeSet::new(),
                examples: Vec::new(),
                raised: false,
            });
        s.last_ms = s.last_ms.max(at_ms);
        let started = *self.started_ms.get_or_insert(at_ms);
        let baseline = s.first_ms - started < self.window_ms;
        let fresh = !baseline && at_ms - s.first_ms <= self.window_ms;
        if !fresh || s.raised {
            return None;
        }
        if s.devices.len() < self.min_devices
            && s.devices.insert(device.to_string())
            && s.examples.len() < EXAMPLES
        {
            s.examples.push(format!("{device}: {}", cut(example, 200)));
        }
        if s.devices.len() >= self.min_devices {
            s.raised = true;
            return Some(Burst {
                template: template.to_string(),
                devices: s.devices.iter().cloned().collect(),
                examples: s.examples.clone(),
                first_ms: s.first_ms,
            });
        }
        None
    }
}

pub mod surge;
pub use surge::{Surge, Surging};

#[cfg(test)]
mod tests;
