//! `steward patch policies|policy|holds|hold|lift`: patch policies and
//! holds from the command line. A policy is written as the JSON the API
//! takes (a file, `-` for standard input); a hold from its flags. The text
//! is made by pure functions from the API's answers (tested with plain
//! data).

use crate::client::Client;
use crate::client::Remote;
use crate::{answered, output, print_json, print_text};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum PatchCommand {
    /// The patch policies in reach.
    Policies {
        #[arg(long)]
        json: bool,
    },
    /// Creates a policy from a JSON file (`-`: standard input), e.g.
    /// {"name": "nightly", "scope": {"kind": "organisation"}, "install":
    /// "security", "window": {"days": [0,1,2,3,4], "start_minute": 120,
    /// "duration_minutes": 120}, "reboot": "when_required"}.
    PolicyCreate {
        file: String,
        /// The organisation, by name (yours when you have one).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Changes a policy: the JSON file's fields replace the stored ones
    /// (`null` clears one).
    PolicyEdit {
        id: String,
        file: String,
        /// Only if the policy is still at this version (else 412).
        #[arg(long)]
        version: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Deletes a policy: its devices install nothing on their own until
    /// another covers them.
    PolicyDelete {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The holds in reach, with their reason and who set them.
    Holds {
        #[arg(long)]
        json: bool,
    },
    /// Holds a package (every version unless --version) wherever the
    /// scope reaches: the whole organisation, --site or --tag.
    Hold {
        package: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long, conflicts_with = "tag")]
        site: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Lifts a hold.
    Lift {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn checked_id(id: &str) -> Result<&str> {
    if uuid::Uuid::parse_str(id).is_err() {
        bail!("{id:?} is not an id (see `steward patch policies` or `steward patch holds`)");
    }
    Ok(id)
}

fn read_json(file: &str) -> Result<Value> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
    };
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{file} is not JSON"))?;
    if !value.is_object() {
        bail!("{file} holds a JSON object of the policy's fields");
    }
    Ok(value)
}

/// The scope a hold's flags name.
pub fn scope(site: Option<String>, tag: Option<String>) -> Value {
    match (site, tag) {
        (Some(site), _) => json!({ "kind": "site", "site": site }),
        (None, Some(tag)) => json!({ "kind": "tag", "tag": tag }),
        (None, None) => json!({ "kind": "organisation" }),
    }
}

pub async fn run(command: PatchCommand, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        PatchCommand::Policies { json } => {
            let list = client.get("/api/v1/patching/policies").await?;
            if json {
                print_json(&list)
            } else {
                print_text(policies_table(&list))
            }
        }
        PatchCommand::PolicyCreate { file, org, json } => {
            let mut body = read_json(&file)?;
            if org.is_some() {
                body["org"] = json!(org);
            }
            let answer = client.post("/api/v1/patching/policies", &body).await?;
            let said = format!(
                "Created the policy {} ({}).",
                answer["fields"]["name"].as_str().unwrap_or(""),
                answer["id"].as_str().unwrap_or("")
            );
            answered(json, &answer, said)
        }
        PatchCommand::PolicyEdit {
            id,
            file,
            version,
            json,
        } => {
            let body = read_json(&file)?;
            let path = format!("/api/v1/patching/policies/{}", checked_id(&id)?);
            let answer = client.patch(&path, &body, version).await?;
            let said = format!(
                "Saved the policy {} (version {}).",
                answer["fields"]["name"].as_str().unwrap_or(""),
                answer["version"]
            );
            answered(json, &answer, said)
        }
        PatchCommand::PolicyDelete { id, json } => {
            let path = format!("/api/v1/patching/policies/{}", checked_id(&id)?);
            let answer = client.delete(&path).await?;
            answered(json, &answer, format!("Deleted the policy {id}."))
        }
        PatchCommand::Holds { json } => {
            let list = client.get("/api/v1/patching/holds").await?;
            if json {
                print_json(&list)
            } else {
                print_text(holds_table(&list))
            }
        }
        PatchCommand::Hold {
            package,
            reason,
            version,
            site,
            tag,
            org,
            json,
        } => {
            let body = json!({
                "package": package, "version": version, "reason": reason,
                "scope": scope(site, tag), "org": org,
            });
            let answer = client.post("/api/v1/patching/holds", &body).await?;
            let said = format!(
                "Held {} ({}).",
                answer["fields"]["package"].as_str().unwrap_or(""),
                answer["id"].as_str().unwrap_or("")
            );
            answered(json, &answer, said)
        }
        PatchCommand::Lift { id, json } => {
            let path = format!("/api/v1/patching/holds/{}", checked_id(&id)?);
            let answer = client.delete(&path).await?;
            answered(json, &answer, format!("Lifted the hold {id}."))
        }
    }
}

fn scope_text(scope: &Value) -> String {
    match scope["kind"].as_str() {
        Some("site") => format!("site {}", scope["site"].as_str().unwrap_or("")),
        Some("tag") => format!("tag {}", scope["tag"].as_str().unwrap_or("")),
        _ => "organisation".into(),
    }
}

pub fn policies_table(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "No patch policy: nothing installs on its own.".into();
    }
    let mut rows = vec![vec![
        "ID".to_string(),
        "NAME".into(),
        "SCOPE".into(),
        "INSTALLS".into(),
        "REBOOT".into(),
        "SET BY".into(),
    ]];
    for p in &items {
        let f = &p["fields"];
        rows.push(vec![
            p["id"].as_str().unwrap_or("").to_string(),
            f["name"].as_str().unwrap_or("").to_string(),
            scope_text(&f["scope"]),
            f["install"].as_str().unwrap_or("").to_string(),
            f["reboot"].as_str().unwrap_or("").to_string(),
            p["created_by"].as_str().unwrap_or("").to_string(),
        ]);
    }
    output::table(&rows)
}

pub fn holds_table(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "No package is held.".into();
    }
    let mut rows = vec![vec![
        "ID".to_string(),
        "PACKAGE".into(),
        "VERSION".into(),
        "SCOPE".into(),
        "SET BY".into(),
        "REASON".into(),
    ]];
    for h in &items {
        let f = &h["fields"];
        rows.push(vec![
            h["id"].as_str().unwrap_or("").to_string(),
            f["package"].as_str().unwrap_or("").to_string(),
            f["version"].as_str().unwrap_or("every").to_string(),
            scope_text(&f["scope"]),
            h["definition"]["set_by"]
                .as_str()
                .or(h["created_by"].as_str())
                .unwrap_or("")
                .to_string(),
            f["reason"].as_str().unwrap_or("").to_string(),
        ]);
    }
    output::table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_read_as_a_table_with_who_and_why() {
        let list = json!([{
            "id": "0192", "created_by": "ann",
            "definition": { "set_by": "bob" },
            "fields": { "package": "openssl", "scope": { "kind": "tag", "tag": "db" }, "reason": "breaks billing" },
        }]);
        let text = holds_table(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ID"), "{text}");
        for word in ["openssl", "every", "tag db", "bob", "breaks billing"] {
            assert!(lines[1].contains(word), "{word}: {text}");
        }
        assert_eq!(holds_table(&json!([])), "No package is held.");
    }

    #[test]
    fn policies_read_as_a_table() {
        let list = json!([{
            "id": "0193", "created_by": "ann",
            "fields": { "name": "nightly", "scope": { "kind": "site", "site": "hq" }, "install": "security", "reboot": "when_required" },
        }]);
        let text = policies_table(&list);
        for word in ["nightly", "site hq", "security", "when_required", "ann"] {
            assert!(text.contains(word), "{word}: {text}");
        }
        assert!(policies_table(&json!([])).starts_with("No patch policy"));
    }

    #[test]
    fn a_hold_scope_comes_from_its_flags() {
        assert_eq!(scope(None, None), json!({ "kind": "organisation" }));
        assert_eq!(
            scope(Some("hq".into()), None),
            json!({ "kind": "site", "site": "hq" })
        );
        assert_eq!(
            scope(None, Some("db".into())),
            json!({ "kind": "tag", "tag": "db" })
        );
    }
}
