//! `steward runbook list|show|create|edit|versions|delete`: runbooks (the
//! Markdown procedures shown on alerts and incidents) from the command
//! line. The text is made by pure functions from the API's answers.

use crate::client::{Client, Remote};
use crate::{answered, output, print_json, print_text};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

/// What a runbook holds, as options (each list option repeats).
#[derive(Args, Debug, Default)]
pub struct RunbookFields {
    #[arg(long)]
    title: Option<String>,
    /// A Markdown file with the procedure ("-" reads standard input).
    #[arg(long)]
    body_file: Option<String>,
    /// A monitor (id or name) whose alerts show it.
    #[arg(long = "monitor")]
    monitors: Vec<String>,
    /// An alert kind (a monitor's kind, or a built-in alert's id).
    #[arg(long = "alert-kind")]
    alert_kinds: Vec<String>,
    /// A script (by name) it documents.
    #[arg(long = "script")]
    scripts: Vec<String>,
    /// A problem (id or signature) it documents.
    #[arg(long = "problem")]
    problems: Vec<String>,
    /// A script (by name) it offers to run with one click.
    #[arg(long = "offer")]
    offers: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum RunbookCommand {
    /// Runbooks, by title.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One runbook with its procedure.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Writes a new runbook.
    Create {
        #[command(flatten)]
        fields: RunbookFields,
        /// The organisation, by name (yours when you have one).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Saves a new version of a runbook: the options given replace those
    /// fields (a list option replaces the whole list).
    Edit {
        id: String,
        #[command(flatten)]
        fields: RunbookFields,
        /// Only if the runbook is still at this version.
        #[arg(long)]
        version: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Every saved version, newest first.
    Versions {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Deletes a runbook and its versions.
    Delete {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn checked_id(id: &str) -> Result<&str> {
    if uuid::Uuid::parse_str(id).is_err() {
        bail!("{id:?} is not a runbook id (see `steward runbook list`)");
    }
    Ok(id)
}

/// The JSON fields the options set (only those given).
fn fields_json(fields: RunbookFields) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    if let Some(title) = fields.title {
        out.insert("title".into(), json!(title));
    }
    if let Some(file) = fields.body_file {
        let body = if file == "-" {
            std::io::read_to_string(std::io::stdin()).context("reading the body from stdin")?
        } else {
            std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?
        };
        out.insert("body".into(), json!(body));
    }
    for (key, list) in [
        ("monitors", fields.monitors),
        ("alert_kinds", fields.alert_kinds),
        ("scripts", fields.scripts),
        ("problems", fields.problems),
        ("offers", fields.offers),
    ] {
        if !list.is_empty() {
            out.insert(key.into(), json!(list));
        }
    }
    Ok(out)
}

pub async fn run(command: RunbookCommand, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        RunbookCommand::List { json } => {
            let list = client.get("/api/v1/runbooks").await?;
            if json {
                print_json(&list)
            } else {
                print_text(runbooks_table(&list))
            }
        }
        RunbookCommand::Show { id, json } => {
            let runbook = client
                .get(&format!("/api/v1/runbooks/{}", checked_id(&id)?))
                .await?;
            if json {
                print_json(&runbook)
            } else {
                print_text(runbook_text(&runbook))
            }
        }
        RunbookCommand::Create { fields, org, json } => {
            let mut body = fields_json(fields)?;
            if !body.contains_key("title") {
                bail!("a runbook needs --title");
            }
            if let Some(org) = org {
                body.insert("org".into(), json!(org));
            }
            let answer = client
                .post("/api/v1/runbooks", &Value::Object(body))
                .await?;
            let id = answer["id"].as_str().unwrap_or("").to_string();
            answered(json, &answer, format!("Created runbook {id}."))
        }
        RunbookCommand::Edit {
            id,
            fields,
            version,
            json,
        } => {
            let body = fields_json(fields)?;
            let answer = client
                .patch(
                    &format!("/api/v1/runbooks/{}", checked_id(&id)?),
                    &Value::Object(body),
                    version,
                )
                .await?;
            let saved = answer["version"].as_i64().unwrap_or(0);
            answered(
                json,
                &answer,
                format!("Saved runbook {id} as version {saved}."),
            )
        }
        RunbookCommand::Versions { id, json } => {
            let list = client
                .get(&format!("/api/v1/runbooks/{}/versions", checked_id(&id)?))
                .await?;
            if json {
                print_json(&list)
            } else {
                print_text(versions_table(&list))
            }
        }
        RunbookCommand::Delete { id, json } => {
            let answer = client
                .delete(&format!("/api/v1/runbooks/{}", checked_id(&id)?))
                .await?;
            answered(json, &answer, format!("Deleted runbook {id}."))
        }
    }
}

pub fn runbooks_table(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "No runbooks.".into();
    }
    let mut rows = vec![vec![
        "ID".to_string(),
        "VERSION".into(),
        "ATTACHED TO".into(),
        "OFFERS".into(),
        "TITLE".into(),
    ]];
    for r in &items {
        rows.push(vec![
            r["id"].as_str().unwrap_or("").to_string(),
            r["version"].as_i64().unwrap_or(0).to_string(),
            attachments(r),
            names(&r["offers"]),
            r["title"].as_str().unwrap_or("").to_string(),
        ]);
    }
    output::table(&rows)
}

fn names(list: &Value) -> String {
    let all: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if all.is_empty() {
        "-".into()
    } else {
        all.join(", ")
    }
}

fn attachments(r: &Value) -> String {
    let parts: Vec<String> = [
        ("monitor", "monitors"),
        ("kind", "alert_kinds"),
        ("script", "scripts"),
        ("problem", "problems"),
    ]
    .iter()
    .flat_map(|(what, key)| {
        r[*key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(move |n| format!("{what} {n}"))
    })
    .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

pub fn runbook_text(r: &Value) -> String {
    format!(
        "{} (version {}, by {})\nid {}\nattached to: {}\noffers: {}\n\n{}",
        r["title"].as_str().unwrap_or(""),
        r["version"].as_i64().unwrap_or(0),
        r["updated_by"].as_str().unwrap_or(""),
        r["id"].as_str().unwrap_or(""),
        attachments(r),
        names(&r["offers"]),
        r["body"].as_str().unwrap_or("").trim_end()
    )
}

pub fn versions_table(list: &Value) -> String {
    let mut rows = vec![vec![
        "VERSION".to_string(),
        "SAVED".into(),
        "BY".into(),
        "TITLE".into(),
    ]];
    for v in list.as_array().into_iter().flatten() {
        rows.push(vec![
            v["version"].as_i64().unwrap_or(0).to_string(),
            output::date_time(v["created_at"].as_i64().map(|ms| ms / 1000)),
            v["created_by"].as_str().unwrap_or("").to_string(),
            v["definition"]["title"].as_str().unwrap_or("").to_string(),
        ]);
    }
    output::table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbooks_read_as_a_table_a_page_and_versions() {
        assert_eq!(runbooks_table(&json!([])), "No runbooks.");
        let r = json!({
            "id": "r1", "title": "Disk full", "version": 2, "updated_by": "bob",
            "body": "1. clean /tmp\n", "monitors": ["disk"], "alert_kinds": [], "scripts": [],
            "problems": [], "offers": ["clean-tmp"],
        });
        let table = runbooks_table(&json!([r]));
        assert!(
            table.contains("monitor disk") && table.contains("clean-tmp"),
            "{table}"
        );
        let text = runbook_text(&r);
        for part in [
            "Disk full (version 2, by bob)",
            "offers: clean-tmp",
            "1. clean /tmp",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let versions = versions_table(&json!([
            { "version": 2, "created_at": 0, "created_by": "bob", "definition": { "title": "Disk full" } },
        ]));
        assert!(
            versions.contains("bob") && versions.contains("Disk full"),
            "{versions}"
        );
    }
}
