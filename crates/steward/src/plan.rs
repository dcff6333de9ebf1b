//! What `steward apply` would change, decided from plain data: the objects
//! the files define against the objects the server holds, kind by kind and
//! name by name. A field the files give and the server holds otherwise is
//! a change; a field the files leave out is not (the server keeps its
//! value, or its default); objects only the server holds are deleted with
//! `--prune`.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The kinds `apply` converges, in the order it creates and changes them
/// (scripts and channels before the monitors and schedules that use them;
/// deletions go in the reverse order).
pub const KINDS: [Kind; 6] = [
    Kind::Role,
    Kind::Script,
    Kind::Channel,
    Kind::Monitor,
    Kind::Maintenance,
    Kind::Schedule,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Monitor,
    Channel,
    Maintenance,
    Schedule,
    Silence,
    Role,
    Script,
}

impl Kind {
    /// The key of its list in a configuration file.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Monitor => "monitors",
            Kind::Channel => "channels",
            Kind::Maintenance => "maintenance",
            Kind::Schedule => "schedules",
            Kind::Silence => "silences",
            Kind::Role => "roles",
            Kind::Script => "scripts",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Kind::Monitor => "/api/v1/monitors",
            Kind::Channel => "/api/v1/channels",
            Kind::Maintenance => "/api/v1/maintenance",
            Kind::Schedule => "/api/v1/schedules",
            Kind::Silence => "/api/v1/silences",
            Kind::Role => "/api/v1/roles",
            Kind::Script => "/api/v1/scripts",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Kind::Monitor => "monitor",
            Kind::Channel => "channel",
            Kind::Maintenance => "maintenance window",
            Kind::Schedule => "schedule",
            Kind::Silence => "silence",
            Kind::Role => "role",
            Kind::Script => "script",
        }
    }

    /// The body of a `POST` creating an object with `fields` (a script's
    /// definition goes under `script`).
    pub fn create_body(self, fields: &Value) -> Value {
        match self {
            Kind::Script => serde_json::json!({ "script": fields }),
            _ => fields.clone(),
        }
    }
}

/// An object the server holds: its id, version and editable fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub id: String,
    pub version: i64,
    pub fields: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    Create {
        kind: Kind,
        name: String,
        fields: Value,
    },
    Update {
        kind: Kind,
        name: String,
        id: String,
        version: i64,
        /// The fields that differ.
        changed: Vec<String>,
        fields: Value,
    },
    Delete {
        kind: Kind,
        name: String,
        id: String,
        version: i64,
    },
}

impl Step {
    /// One line of the plan, as printed.
    pub fn line(&self) -> String {
        match self {
            Step::Create { kind, name, .. } => format!("+ {} {name:?} (create)", kind.noun()),
            Step::Update {
                kind,
                name,
                changed,
                ..
            } => format!("~ {} {name:?}: {} changes", kind.noun(), changed.join(", ")),
            Step::Delete { kind, name, .. } => format!("- {} {name:?} (delete)", kind.noun()),
        }
    }
}

/// The plan and what it leaves as it is.
#[derive(Debug, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub unchanged: usize,
}

impl Plan {
    pub fn summary(&self) -> String {
        let count = |f: fn(&Step) -> bool| self.steps.iter().filter(|s| f(s)).count();
        format!(
            "Plan: {} to create, {} to change, {} to delete, {} unchanged.",
            count(|s| matches!(s, Step::Create { .. })),
            count(|s| matches!(s, Step::Update { .. })),
            count(|s| matches!(s, Step::Delete { .. })),
            self.unchanged
        )
    }
}

/// Whether `held` already says everything `wanted` says: each field of an
/// object `wanted` gives is in `held` and alike (recursively); lists and
/// plain values are compared whole.
pub fn covers(held: &Value, wanted: &Value) -> bool {
    match (held, wanted) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(key, value)| h.get(key).is_some_and(|held| covers(held, value))),
        (Value::Number(h), Value::Number(w)) => h.as_f64() == w.as_f64(),
        _ => held == wanted,
    }
}

/// Fields that are never answered (secrets): the files may set them, but
/// they count as a change only alongside another one.
const UNSEEN: [&str; 2] = ["secret", "password"];

/// The plan for one kind: `wanted` from the files (name → fields), `held`
/// on the server (name → object).
pub fn plan_kind(
    kind: Kind,
    wanted: &BTreeMap<String, Value>,
    held: &BTreeMap<String, Held>,
    prune: bool,
    plan: &mut Plan,
) {
    for (name, fields) in wanted {
        let Some(current) = held.get(name) else {
            plan.steps.push(Step::Create {
                kind,
                name: name.clone(),
                fields: fields.clone(),
            });
            continue;
        };
        let changed: Vec<String> = fields
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| !UNSEEN.contains(&key.as_str()))
            .filter(|(key, value)| {
                !current
                    .fields
                    .get(key.as_str())
                    .is_some_and(|held| covers(held, value))
            })
            .map(|(key, _)| key.clone())
            .collect();
        if changed.is_empty() {
            plan.unchanged += 1;
        } else {
            plan.steps.push(Step::Update {
                kind,
                name: name.clone(),
                id: current.id.clone(),
                version: current.version,
                changed,
                fields: fields.clone(),
            });
        }
    }
    for (name, current) in held {
        if wanted.contains_key(name) {
            continue;
        }
        if prune {
            plan.steps.push(Step::Delete {
                kind,
                name: name.clone(),
                id: current.id.clone(),
                version: current.version,
            });
        } else {
            plan.unchanged += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn held(pairs: &[(&str, Value)]) -> BTreeMap<String, Held> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, (name, fields))| {
                (
                    name.to_string(),
                    Held {
                        id: format!("id-{name}"),
                        version: i as i64 + 1,
                        fields: fields.clone(),
                    },
                )
            })
            .collect()
    }

    fn wanted(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(name, fields)| (name.to_string(), fields.clone()))
            .collect()
    }

    /// The printed plan for `wanted` against `held`.
    fn check(
        wanted: BTreeMap<String, Value>,
        held: BTreeMap<String, Held>,
        prune: bool,
        expect: &[&str],
    ) {
        let mut plan = Plan::default();
        plan_kind(Kind::Monitor, &wanted, &held, prune, &mut plan);
        let mut lines: Vec<String> = plan.steps.iter().map(Step::line).collect();
        lines.push(plan.summary());
        assert_eq!(lines, expect);
    }

    #[test]
    fn new_changed_unchanged_and_pruned_objects() {
        let disk = json!({ "name": "disk", "spec": { "kind": "threshold", "threshold": { "for_ms": 0, "critical": { "trigger": 0.9 } } }, "enabled": true });
        let on_server = held(&[
            ("disk", disk.clone()),
            ("cpu", json!({ "name": "cpu", "enabled": true })),
            ("old", json!({ "name": "old" })),
        ]);
        check(
            wanted(&[
                // Defaults the server filled in (for_ms) are not changes.
                (
                    "disk",
                    json!({ "name": "disk", "spec": { "kind": "threshold", "threshold": { "critical": { "trigger": 0.90 } } } }),
                ),
                ("cpu", json!({ "name": "cpu", "enabled": false })),
                ("new", json!({ "name": "new" })),
            ]),
            on_server.clone(),
            false,
            &[
                "~ monitor \"cpu\": enabled changes",
                "+ monitor \"new\" (create)",
                "Plan: 1 to create, 1 to change, 0 to delete, 2 unchanged.",
            ],
        );
        check(
            wanted(&[(
                "disk",
                json!({ "spec": { "kind": "threshold", "threshold": { "critical": { "trigger": 0.8 } } } }),
            )]),
            on_server,
            true,
            &[
                "~ monitor \"disk\": spec changes",
                "- monitor \"cpu\" (delete)",
                "- monitor \"old\" (delete)",
                "Plan: 0 to create, 1 to change, 2 to delete, 0 unchanged.",
            ],
        );
    }

    #[test]
    fn secrets_alone_are_no_change_and_lists_compare_whole() {
        let on_server = held(&[("ops", json!({ "name": "ops", "to": ["a@x", "b@x"] }))]);
        check(
            wanted(&[(
                "ops",
                json!({ "name": "ops", "secret": "s3cret-s3cret-16", "to": ["a@x", "b@x"] }),
            )]),
            on_server.clone(),
            false,
            &["Plan: 0 to create, 0 to change, 0 to delete, 1 unchanged."],
        );
        check(
            wanted(&[("ops", json!({ "to": ["a@x"] }))]),
            on_server,
            false,
            &[
                "~ monitor \"ops\": to changes",
                "Plan: 0 to create, 1 to change, 0 to delete, 0 unchanged.",
            ],
        );
    }
}
