//! `steward incident list|show|open|note|ack|resolve|runbooks|run`: incidents from the
//! command line. The text is made by pure functions from the API's
//! answers (tested with plain data).

use crate::client::{Client, Remote};
use crate::{answered, output, print_json, print_text};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Incidents, newest first (open and acknowledged ones unless --all).
    List {
        /// Every status, resolved and closed ones too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One incident with its timeline.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Opens an incident by hand.
    Open {
        title: String,
        /// p1 (most urgent) to p4.
        #[arg(long, default_value = "p3")]
        priority: String,
        /// The organisation, by name (yours when you have one).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Adds a note to an incident's timeline.
    Note {
        id: String,
        text: String,
        /// Minutes worked, added to its time spent.
        #[arg(long)]
        minutes: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledges an incident (work has started).
    Ack {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Resolves an incident.
    Resolve {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The runbooks that apply to an incident.
    Runbooks {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Runs a script a runbook offers on the incident's devices (as you),
    /// and puts the job on its timeline.
    Run {
        id: String,
        /// The runbook's id.
        #[arg(long)]
        runbook: String,
        /// The script's name (one the runbook offers).
        #[arg(long)]
        script: String,
        /// A script parameter, NAME=VALUE (repeats).
        #[arg(long = "param")]
        params: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

fn checked_id(id: &str) -> Result<&str> {
    if uuid::Uuid::parse_str(id).is_err() {
        bail!("{id:?} is not an incident id (see `steward incident list`)");
    }
    Ok(id)
}

pub async fn run(command: IncidentCommand, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        IncidentCommand::List { all, json } => {
            let mut list = client.get("/api/v1/incidents").await?;
            if !all && let Some(items) = list.as_array_mut() {
                items.retain(|i| matches!(i["status"].as_str(), Some("open" | "acknowledged")));
            }
            if json {
                print_json(&list)
            } else {
                print_text(incidents_table(&list))
            }
        }
        IncidentCommand::Show { id, json } => {
            let incident = client
                .get(&format!("/api/v1/incidents/{}", checked_id(&id)?))
                .await?;
            if json {
                print_json(&incident)
            } else {
                print_text(incident_text(&incident))
            }
        }
        IncidentCommand::Open {
            title,
            priority,
            org,
            assignee,
            json,
        } => {
            let body =
                json!({ "title": title, "priority": priority, "org": org, "assignee": assignee });
            let answer = client.post("/api/v1/incidents", &body).await?;
            let id = answer["id"].as_str().unwrap_or("").to_string();
            answered(json, &answer, format!("Opened incident {id}."))
        }
        IncidentCommand::Note {
            id,
            text,
            minutes,
            json,
        } => {
            let body =
                json!({ "text": text, "time_spent_ms": minutes.map(|m| i64::from(m) * 60_000) });
            let answer = client
                .post(
                    &format!("/api/v1/incidents/{}/notes", checked_id(&id)?),
                    &body,
                )
                .await?;
            answered(json, &answer, format!("Noted on incident {id}."))
        }
        IncidentCommand::Ack { id, json } => status(&client, &id, "acknowledged", json).await,
        IncidentCommand::Resolve { id, json } => status(&client, &id, "resolved", json).await,
        IncidentCommand::Runbooks { id, json } => {
            let list = client
                .get(&format!("/api/v1/incidents/{}/runbooks", checked_id(&id)?))
                .await?;
            if json {
                print_json(&list)
            } else {
                print_text(crate::runbooks::runbooks_table(&list))
            }
        }
        IncidentCommand::Run {
            id,
            runbook,
            script,
            params,
            json,
        } => {
            let mut named = serde_json::Map::new();
            for param in params {
                let Some((name, value)) = param.split_once('=') else {
                    bail!("--param takes NAME=VALUE, not {param:?}");
                };
                named.insert(name.into(), json!(value));
            }
            let body = json!({ "runbook": runbook, "script": script, "params": named });
            let answer = client
                .post(
                    &format!("/api/v1/incidents/{}/runs", checked_id(&id)?),
                    &body,
                )
                .await?;
            let job = answer["job"]["id"].as_str().unwrap_or("").to_string();
            answered(
                json,
                &answer,
                format!("Started job {job} on incident {id}'s devices."),
            )
        }
    }
}

async fn status(client: &Client, id: &str, to: &str, json: bool) -> Result<()> {
    let answer = client
        .patch(
            &format!("/api/v1/incidents/{}", checked_id(id)?),
            &json!({ "status": to }),
            None,
        )
        .await?;
    answered(json, &answer, format!("Incident {id} is {to}."))
}

pub fn incidents_table(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "No incidents.".into();
    }
    let mut rows = vec![vec![
        "ID".to_string(),
        "STATUS".into(),
        "PRIORITY".into(),
        "ASSIGNEE".into(),
        "OPENED".into(),
        "TITLE".into(),
    ]];
    for i in &items {
        let text = |key: &str| i[key].as_str().unwrap_or("").to_string();
        rows.push(vec![
            text("id"),
            text("status"),
            text("priority"),
            i["assignee"].as_str().unwrap_or("-").to_string(),
            output::ago(i["opened_at"].as_i64().map(|ms| ms / 1000)),
            text("title"),
        ]);
    }
    output::table(&rows)
}

pub fn incident_text(incident: &Value) -> String {
    let text = |key: &str| incident[key].as_str().unwrap_or("").to_string();
    let mut out = format!(
        "{} [{} {}]\nid {}  assignee {}  devices {}  alerts {}  time spent {} min\n",
        text("title"),
        text("status"),
        text("priority"),
        text("id"),
        incident["assignee"].as_str().unwrap_or("-"),
        incident["devices"].as_array().map_or(0, Vec::len),
        incident["alerts"].as_array().map_or(0, Vec::len),
        incident["time_spent_ms"].as_i64().unwrap_or(0) / 60_000,
    );
    for entry in incident["timeline"].as_array().cloned().unwrap_or_default() {
        let what = match entry["kind"].as_str().unwrap_or("") {
            "note" => entry["body"]["text"].as_str().unwrap_or("").to_string(),
            "status" => format!(
                "status {} -> {}",
                entry["body"]["from"].as_str().unwrap_or("?"),
                entry["body"]["to"].as_str().unwrap_or("?")
            ),
            "alert" => format!(
                "alert {} {}",
                entry["body"]["state"].as_str().unwrap_or(""),
                entry["body"]["summary"].as_str().unwrap_or("")
            ),
            "job" => format!(
                "ran {} from runbook {:?} (job {})",
                entry["body"]["script"].as_str().unwrap_or("?"),
                entry["body"]["runbook_title"].as_str().unwrap_or("?"),
                entry["body"]["job_id"].as_str().unwrap_or("?")
            ),
            kind => format!("{kind} {}", entry["body"]),
        };
        out.push_str(&format!(
            "  {}  {:<12} {}\n",
            output::date_time(entry["at"].as_i64().map(|ms| ms / 1000)),
            entry["actor"].as_str().unwrap_or(""),
            what.trim_end()
        ));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incidents_read_as_a_table_and_a_timeline() {
        assert_eq!(incidents_table(&json!([])), "No incidents.");
        let list = json!([{ "id": "i1", "status": "open", "priority": "p2", "assignee": null, "opened_at": 0, "title": "Disk full on web-1" }]);
        let table = incidents_table(&list);
        assert!(
            table.contains("Disk full on web-1") && table.contains("p2"),
            "{table}"
        );
        let incident = json!({
            "id": "i1", "title": "Disk full on web-1", "status": "resolved", "priority": "p2",
            "assignee": "bob", "devices": ["d"], "alerts": ["a"], "time_spent_ms": 600000,
            "timeline": [
                { "at": 0, "actor": "alerting", "kind": "alert", "body": { "state": "open", "summary": "disk 97 %" } },
                { "at": 1000, "actor": "bob", "kind": "note", "body": { "text": "cleaned /var/log" } },
                { "at": 2000, "actor": "bob", "kind": "status", "body": { "from": "acknowledged", "to": "resolved" } },
            ],
        });
        let text = incident_text(&incident);
        for part in [
            "time spent 10 min",
            "alerting",
            "alert open disk 97 %",
            "cleaned /var/log",
            "status acknowledged -> resolved",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }
}
