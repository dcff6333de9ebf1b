//! Configuration as code and object edits from the command line:
//! `steward apply -f FILE|DIR [--dry-run] [--prune]` converges roles,
//! scripts, channels, monitors, maintenance windows and schedules onto one
//! organisation from YAML (the plan is printed first; `plan.rs` decides it), `steward export`
//! writes the same format, and `steward edit | enable | disable | delete
//! KIND NAME` change one object. Everything goes through the API, so it is
//! authorised and audited like the console.

use crate::client::{Client, Remote};
use crate::names::{self, Candidate};
use crate::plan::{Held, KINDS, Kind, Plan, Step, plan_kind};
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Converge the roles, scripts, channels, monitors, maintenance windows
    /// and schedules of YAML files onto the server: creates what is new, changes what
    /// differs (fields a file leaves out keep their value; set one to null
    /// to clear it), and with --prune deletes what the files no longer
    /// hold. Prints the plan first. The format is what `export` writes.
    Apply {
        /// A YAML file, or a directory of them (*.yaml, *.yml).
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the objects of these kinds the files do not hold.
        #[arg(long)]
        prune: bool,
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print one organisation's roles, scripts, channels, monitors,
    /// maintenance windows and schedules as YAML for `apply` (channel
    /// secrets are not included; kinds your roles do not reach are left
    /// out, with a note on stderr).
    Export {
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Change fields of one object: `--set threshold=…` style pairs
    /// (`field=JSON`, or text when it is not JSON) or a YAML file of fields.
    Edit {
        kind: Kind,
        /// Its NAME or ID.
        name: String,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Turn a monitor, channel or schedule back on.
    Enable {
        kind: Kind,
        /// Its NAME or ID.
        name: String,
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Keep a monitor, channel or schedule without it running.
    Disable {
        kind: Kind,
        /// Its NAME or ID.
        name: String,
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete one object.
    Delete {
        kind: Kind,
        /// Its NAME or ID.
        name: String,
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: Command, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        Command::Apply {
            files,
            dry_run,
            prune,
            org,
            json,
        } => apply(&client, &files, dry_run, prune, org.as_deref(), json).await,
        Command::Export { org, json } => {
            let org = org_id(&client, org.as_deref()).await?;
            let mut out = serde_json::Map::new();
            for kind in KINDS {
                let Some(held) = held_if_allowed(&client, kind, &org).await? else {
                    eprintln!("(no {} exported: your roles do not reach them)", kind.key());
                    continue;
                };
                let list: Vec<Value> = held.into_values().map(|h| h.fields).collect();
                out.insert(kind.key().into(), Value::Array(list));
            }
            let out = Value::Object(out);
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", serde_norway::to_string(&out)?);
            }
            Ok(())
        }
        Command::Edit {
            kind,
            name,
            set,
            file,
            org,
            json,
        } => {
            let mut patch = match &file {
                Some(path) => read_yaml(path)?,
                None => json!({}),
            };
            for pair in &set {
                let (field, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--set takes FIELD=VALUE, not {pair:?}"))?;
                patch[field] =
                    serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
            }
            if patch.as_object().is_none_or(|m| m.is_empty()) {
                bail!("nothing to change: give --set FIELD=VALUE or -f FILE");
            }
            change(&client, kind, &name, org.as_deref(), Some(patch), json).await
        }
        Command::Enable {
            kind,
            name,
            org,
            json,
        } => switch(&client, kind, &name, org.as_deref(), true, json).await,
        Command::Disable {
            kind,
            name,
            org,
            json,
        } => switch(&client, kind, &name, org.as_deref(), false, json).await,
        Command::Delete {
            kind,
            name,
            org,
            json,
        } => change(&client, kind, &name, org.as_deref(), None, json).await,
    }
}

async fn switch(
    client: &Client,
    kind: Kind,
    name: &str,
    org: Option<&str>,
    on: bool,
    json: bool,
) -> Result<()> {
    if !matches!(kind, Kind::Monitor | Kind::Channel | Kind::Schedule) {
        bail!("only monitors, channels and schedules are turned on and off");
    }
    change(
        client,
        kind,
        name,
        org,
        Some(json!({ "enabled": on })),
        json,
    )
    .await
}

/// Deletes the object of `kind` called `name` (or with that id).
pub async fn delete_named(client: &Client, kind: Kind, name: &str, json: bool) -> Result<()> {
    change(client, kind, name, None, None, json).await
}

/// Patches (or with None deletes) the object of `kind` called `name`.
async fn change(
    client: &Client,
    kind: Kind,
    name: &str,
    org: Option<&str>,
    patch: Option<Value>,
    json: bool,
) -> Result<()> {
    let org = org_id(client, org).await?;
    let all = held(client, kind, &org).await?;
    let candidates: Vec<Candidate> = all
        .iter()
        .map(|(name, held)| Candidate {
            id: held.id.clone(),
            name: name.clone(),
            ..Candidate::default()
        })
        .collect();
    let id = names::resolve(kind.noun(), name, &candidates).map_err(|e| anyhow!(e))?;
    let found = all.values().find(|h| h.id == id).ok_or_else(|| {
        anyhow!(
            "no {} with id {id} in this organisation (--org names another)",
            kind.noun()
        )
    })?;
    let path = format!("{}/{}", kind.path(), found.id);
    let (answer, done) = match patch {
        Some(patch) => (
            client.patch(&path, &patch, Some(found.version)).await?,
            "changed",
        ),
        None => (client.delete(&path).await?, "deleted"),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        println!("{} {name:?} {done}.", capitalised(kind.noun()));
    }
    Ok(())
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The id of the organisation named, by its name or id (the caller's own
/// when None).
async fn org_id(client: &Client, name: Option<&str>) -> Result<String> {
    let Some(name) = name else {
        let me = client.get("/api/v1/whoami").await?;
        return me["org_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the server did not say which organisation you are in"));
    };
    names::id_of(client, names::Kind::Org, name).await
}

/// The objects of `kind` in organisation `org`, by name.
async fn held(client: &Client, kind: Kind, org: &str) -> Result<BTreeMap<String, Held>> {
    by_name(&client.get(kind.path()).await?, org)
}

/// [`held`], or None when the caller's roles do not reach the kind.
async fn held_if_allowed(
    client: &Client,
    kind: Kind,
    org: &str,
) -> Result<Option<BTreeMap<String, Held>>> {
    match client.get_if_allowed(kind.path()).await? {
        Some(list) => Ok(Some(by_name(&list, org)?)),
        None => Ok(None),
    }
}

/// A list answer's objects of organisation `org`, by name.
fn by_name(list: &Value, org: &str) -> Result<BTreeMap<String, Held>> {
    let mut by_name = BTreeMap::new();
    for item in list.as_array().into_iter().flatten() {
        if item["org_id"] != org {
            continue;
        }
        let fields = item["fields"].clone();
        let name = fields["name"]
            .as_str()
            .or_else(|| item["id"].as_str())
            .unwrap_or_default()
            .to_string();
        by_name.insert(
            name,
            Held {
                id: item["id"].as_str().unwrap_or_default().to_string(),
                version: item["version"].as_i64().unwrap_or(1),
                fields,
            },
        );
    }
    Ok(by_name)
}

fn read_yaml(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_norway::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))
}

/// The YAML files named: each file, and each *.yaml / *.yml in each
/// directory (in name order).
fn yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        bail!("no YAML files (*.yaml, *.yml) there");
    }
    Ok(files)
}

/// The objects the files define, by kind and name; an unknown section or
/// a name defined twice is refused with the file named.
fn wanted(files: &[PathBuf]) -> Result<BTreeMap<Kind, BTreeMap<String, Value>>> {
    let mut all: BTreeMap<Kind, BTreeMap<String, Value>> = BTreeMap::new();
    for file in files {
        let document = read_yaml(file)?;
        let Some(sections) = document.as_object() else {
            bail!(
                "{}: expected sections ({}), each a list",
                file.display(),
                KINDS.map(Kind::key).join(", ")
            );
        };
        for (key, list) in sections {
            let kind = KINDS.into_iter().find(|k| k.key() == key).ok_or_else(|| {
                anyhow!(
                    "{}: unknown section {key:?} (known: {})",
                    file.display(),
                    KINDS.map(Kind::key).join(", ")
                )
            })?;
            // Named, even empty: --prune reaches this kind.
            all.entry(kind).or_default();
            for item in list.as_array().into_iter().flatten() {
                let name = item["name"].as_str().ok_or_else(|| {
                    anyhow!("{}: a {} without a name", file.display(), kind.noun())
                })?;
                if all
                    .entry(kind)
                    .or_default()
                    .insert(name.to_string(), item.clone())
                    .is_some()
                {
                    bail!(
                        "{}: the {} {name:?} is defined twice",
                        file.display(),
                        kind.noun()
                    );
                }
            }
        }
    }
    Ok(all)
}

async fn apply(
    client: &Client,
    paths: &[PathBuf],
    dry_run: bool,
    prune: bool,
    org: Option<&str>,
    json: bool,
) -> Result<()> {
    let wanted = wanted(&yaml_files(paths)?)?;
    let org_name = org;
    let org = org_id(client, org).await?;
    let mut plan = Plan::default();
    for kind in KINDS {
        // A kind the files leave out and the caller cannot read is left
        // alone (an operator without roles.manage applies monitors).
        let held = if wanted.contains_key(&kind) {
            held(client, kind, &org).await?
        } else {
            match held_if_allowed(client, kind, &org).await? {
                Some(held) => held,
                None => continue,
            }
        };
        let empty = BTreeMap::new();
        // --prune deletes only within the kinds the files name (a section
        // may be empty): files older than a kind never delete its objects.
        plan_kind(
            kind,
            wanted.get(&kind).unwrap_or(&empty),
            &held,
            prune && wanted.contains_key(&kind),
            &mut plan,
        );
    }
    if !json {
        for step in &plan.steps {
            println!("{}", step.line());
        }
        println!("{}", plan.summary());
    }
    if dry_run {
        if json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        }
        return Ok(());
    }
    // Deletions last, in the reverse order of the kinds: a schedule goes
    // before the script it runs.
    let (deletes, changes): (Vec<&Step>, Vec<&Step>) = plan
        .steps
        .iter()
        .partition(|s| matches!(s, Step::Delete { .. }));
    let total = plan.steps.len();
    for (done, step) in changes
        .into_iter()
        .chain(deletes.into_iter().rev())
        .enumerate()
    {
        let result = match step {
            Step::Create { kind, fields, .. } => {
                let mut body = kind.create_body(fields);
                if let Some(name) = org_name {
                    body["org"] = json!(name);
                }
                client.post(kind.path(), &body).await
            }
            Step::Update {
                kind,
                id,
                version,
                fields,
                ..
            } => {
                client
                    .patch(&format!("{}/{id}", kind.path()), fields, Some(*version))
                    .await
            }
            Step::Delete { kind, id, .. } => client.delete(&format!("{}/{id}", kind.path())).await,
        };
        match result {
            Err(error) => bail!(
                "{}: {error:#} ({done} of {total} steps applied before it; nothing after it)",
                step.line()
            ),
            Ok(answer) => {
                if let Some(warning) = answer["warning"].as_str() {
                    eprintln!("warning: {}: {warning}", step.line());
                }
            }
        }
        if !json {
            eprintln!("[{}/{total}] {}", done + 1, step.line());
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        println!("Applied: {total} changes.");
    }
    Ok(())
}
