//! Names where ids go: every CLI argument that means a device, monitor,
//! script, user, channel, organisation or schedule takes its name as well
//! as its id. [`resolve`] decides from plain data (the typed text and the
//! objects it may mean); [`id_of`] fetches those objects, and only when the
//! text is not an id already.
//!
//! A name matches in any case; a device also by its hostname when no
//! device has that name. A name several objects share is refused with the
//! list of them (a device's site, hostname and short id), so the user can
//! pass the id of the one they mean; a short id (a prefix of at least 8
//! characters) is taken as well.

use crate::client::Client;
use anyhow::{Result, anyhow, bail};
use serde_json::Value;

/// What kind of object an argument means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Device,
    Monitor,
    Script,
    User,
    Channel,
    Org,
    Schedule,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Device => "device",
            Kind::Monitor => "monitor",
            Kind::Script => "script",
            Kind::User => "user",
            Kind::Channel => "channel",
            Kind::Org => "organisation",
            Kind::Schedule => "schedule",
        }
    }

    /// The list of all of them (a list without paging parameters answers
    /// whole).
    fn list(self) -> &'static str {
        match self {
            Kind::Device => "/api/v1/devices",
            Kind::Monitor => "/api/v1/monitors",
            Kind::Script => "/api/v1/scripts",
            Kind::User => "/api/v1/users",
            Kind::Channel => "/api/v1/channels",
            Kind::Org => "/api/v1/orgs",
            Kind::Schedule => "/api/v1/schedules",
        }
    }
}

/// An object a name may mean. `site` and `hostname` are a device's (empty
/// for the other kinds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    pub site: String,
    pub hostname: String,
}

impl Candidate {
    /// One object of a list answer (its name is `name`, `username` or
    /// `fields.name`).
    pub fn from_json(item: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let name = ["name", "username"]
            .iter()
            .find_map(|key| item[*key].as_str())
            .or_else(|| item["fields"]["name"].as_str())
            .unwrap_or_default()
            .to_string();
        Self {
            id: match &item["id"] {
                Value::String(id) => id.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            },
            name,
            site: text(&item["site"]),
            hostname: text(&item["hostname"]),
        }
    }
}

pub fn candidates(list: &Value) -> Vec<Candidate> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(Candidate::from_json)
        .collect()
}

/// Whether `text` is an id as the API writes them (a UUID).
pub fn is_id(text: &str) -> bool {
    as_id(text).is_some()
}

/// `text` as the API writes ids (lowercase, hyphenated), if it is a UUID.
fn as_id(text: &str) -> Option<String> {
    uuid::Uuid::try_parse(text.trim())
        .ok()
        .map(|id| id.to_string())
}

/// The id of the `noun` that `text` means among `candidates`: a UUID as it
/// is; an id or a name (exact, else in any case), else for devices a
/// hostname, else a unique id prefix of at least 8 characters. Err is the
/// sentence for the user: the candidates when several match; when none
/// does, similar names, or all of them when they are few.
pub fn resolve(noun: &str, text: &str, candidates: &[Candidate]) -> Result<String, String> {
    let wanted = text.trim().trim_end_matches('…');
    if let Some(id) = as_id(wanted) {
        return Ok(id);
    }
    if let Some(found) = candidates.iter().find(|c| c.id == wanted) {
        return Ok(found.id.clone());
    }
    let exact: Vec<&Candidate> = candidates.iter().filter(|c| c.name == wanted).collect();
    if let [one] = exact[..] {
        return Ok(one.id.clone());
    }
    let lower = wanted.to_lowercase();
    let tests: [&dyn Fn(&Candidate) -> bool; 3] = [
        &|c: &Candidate| c.name.to_lowercase() == lower,
        &|c: &Candidate| !c.hostname.is_empty() && c.hostname.to_lowercase() == lower,
        &|c: &Candidate| wanted.len() >= 8 && c.id.starts_with(&lower),
    ];
    for test in tests {
        let found: Vec<&Candidate> = candidates.iter().filter(|c| test(c)).collect();
        match found[..] {
            [] => continue,
            [one] => return Ok(one.id.clone()),
            _ => return Err(ambiguous(noun, wanted, &found, candidates)),
        }
    }
    let similar = similar(&lower, candidates);
    let mut all: Vec<&str> = Vec::new();
    for c in candidates {
        if !all.contains(&c.name.as_str()) {
            all.push(&c.name);
        }
    }
    Err(match (similar.is_empty(), all.len()) {
        (false, _) => format!(
            "no {noun} named {wanted:?} (similar: {})",
            similar.join(", ")
        ),
        (true, 0) => format!("no {noun} named {wanted:?} (there are none)"),
        (true, 1..=FEW) => format!("no {noun} named {wanted:?} (there are: {})", all.join(", ")),
        (true, _) => format!("no {noun} named {wanted:?}"),
    })
}

/// Up to this many objects, a name none has is answered with all of theirs.
const FEW: usize = 10;

fn ambiguous(noun: &str, wanted: &str, found: &[&Candidate], all: &[Candidate]) -> String {
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    let short = short_len(&ids);
    let mut lines = vec![format!(
        "{wanted:?} is {} {noun}s; pass the id of the one you mean:",
        found.len()
    )];
    for c in found {
        let mut about = Vec::new();
        if !c.site.is_empty() {
            about.push(format!("site {}", c.site));
        }
        if !c.hostname.is_empty() {
            about.push(format!("hostname {}", c.hostname));
        }
        about.push(format!("id {}", short_id(&c.id, short)));
        lines.push(format!("  {} ({})", c.name, about.join(", ")));
    }
    lines.join("\n")
}

/// The first `len` characters of an id, with `…` when that is not all.
fn short_id(id: &str, len: usize) -> String {
    match id.char_indices().nth(len) {
        Some((at, _)) => format!("{}…", &id[..at]),
        None => id.to_string(),
    }
}

/// The shortest prefix length, at least 8, telling all `ids` apart (ids
/// made in the same minute share their first 8 characters).
fn short_len(ids: &[&str]) -> usize {
    let longest = ids.iter().map(|id| id.len()).max().unwrap_or(0);
    (8..longest)
        .find(|&len| {
            let mut prefixes: Vec<&str> =
                ids.iter().map(|id| id.get(..len).unwrap_or(id)).collect();
            prefixes.sort_unstable();
            let all = prefixes.len();
            prefixes.dedup();
            prefixes.len() == all
        })
        .unwrap_or(longest)
}

/// Names like `lower` (one holds the other, or a letter or two differ),
/// nearest first, at most 5.
fn similar(lower: &str, candidates: &[Candidate]) -> Vec<String> {
    let limit = if lower.chars().count() >= 5 { 2 } else { 1 };
    let mut scored: Vec<(usize, &str)> = candidates
        .iter()
        .filter_map(|c| {
            let name = c.name.to_lowercase();
            let distance = edits(lower, &name);
            let near = distance <= limit || name.contains(lower) || lower.contains(name.as_str());
            (near && !name.is_empty()).then_some((distance, c.name.as_str()))
        })
        .collect();
    scored.sort();
    let mut names: Vec<String> = Vec::new();
    for (_, name) in scored {
        if !names.iter().any(|n| n == name) && names.len() < 5 {
            names.push(name.to_string());
        }
    }
    names
}

/// Levenshtein distance.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Job targets with each `device:NAME` made `device:ID` (the others as
/// they are).
pub fn resolve_targets(targets: &[String], devices: &[Candidate]) -> Result<Vec<String>, String> {
    targets
        .iter()
        .map(|target| match target.strip_prefix("device:") {
            Some(device) => Ok(format!("device:{}", resolve("device", device, devices)?)),
            None => Ok(target.clone()),
        })
        .collect()
}

/// How tables show objects by name: the name, and a short id after the
/// names two different objects share (`web-01 (0190abcd…)`). `items` are
/// (id, name) pairs, one a row; an object without a name shows its id.
pub fn labels(items: &[(&str, &str)]) -> Vec<String> {
    items
        .iter()
        .map(|&(id, name)| {
            if name.is_empty() {
                return id.to_string();
            }
            let mut sharing: Vec<&str> = items
                .iter()
                .filter(|(_, other)| *other == name)
                .map(|(other_id, _)| *other_id)
                .collect();
            sharing.sort_unstable();
            sharing.dedup();
            if sharing.len() < 2 {
                name.to_string()
            } else {
                format!("{name} ({})", short_id(id, short_len(&sharing)))
            }
        })
        .collect()
}

/// The id of the `kind` that `text` means (see [`resolve`]); the list is
/// fetched only when `text` is not an id.
pub async fn id_of(client: &Client, kind: Kind, text: &str) -> Result<String> {
    if let Some(id) = as_id(text) {
        return Ok(id);
    }
    let list = client.get(kind.list()).await?;
    resolve(kind.noun(), text, &candidates(&list)).map_err(|e| anyhow!(e))
}

/// An `--org` for the API, which takes an organisation's name: an id
/// becomes its name, a name goes as it is (None: the caller's own).
pub async fn org_name(client: &Client, org: Option<String>) -> Result<Option<String>> {
    let Some(text) = org else {
        return Ok(None);
    };
    let Some(id) = as_id(&text) else {
        // A name in any case is the organisation's name as it is spelt;
        // without the list (no orgs.manage), the server judges the text.
        let Some(orgs) = client.get_if_allowed(Kind::Org.list()).await? else {
            return Ok(Some(text));
        };
        let known = candidates(&orgs);
        let id = resolve(Kind::Org.noun(), &text, &known).map_err(|e| anyhow!(e))?;
        return Ok(known.into_iter().find(|c| c.id == id).map(|c| c.name));
    };
    let orgs = client.get(Kind::Org.list()).await?;
    match candidates(&orgs).into_iter().find(|c| c.id == id) {
        Some(org) => Ok(Some(org.name)),
        None => bail!("no organisation with id {text} that you manage"),
    }
}

/// Job targets with `device:NAME` made `device:ID`, among the devices of
/// `org` (a name or id; None: every organisation the caller sees); the
/// devices are fetched only when a target names one.
pub async fn targets(
    client: &Client,
    targets: Vec<String>,
    org: Option<&str>,
) -> Result<Vec<String>> {
    let named = targets
        .iter()
        .any(|t| t.strip_prefix("device:").is_some_and(|d| !is_id(d)));
    if !named {
        return Ok(targets);
    }
    let mut list = client.get(Kind::Device.list()).await?;
    // Within the organisation asked for (one who cannot list organisations
    // sees only their own devices anyway).
    if let Some(org) = org
        && let Some(orgs) = client.get_if_allowed(Kind::Org.list()).await?
    {
        let org_id = resolve(Kind::Org.noun(), org, &candidates(&orgs)).map_err(|e| anyhow!(e))?;
        if let Some(devices) = list.as_array_mut() {
            devices.retain(|d| d["org_id"] == org_id.as_str());
        }
    }
    resolve_targets(&targets, &candidates(&list)).map_err(|e| anyhow!(e))
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
