//! `steward monitors`: list, create from a JSON file, export and import
//! YAML lists, delete. (Editing: `steward edit monitor NAME`; keeping them
//! in git: `steward apply` and `steward export`.)

use crate::client::{Client, Remote};
use crate::{print_json, print_text};
use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum MonitorCommand {
    /// Create a monitor from a JSON file: {"name": ..., "spec": {"kind": "threshold" | "forecast" | "offline" | "check", ...}}.
    Create { file: PathBuf },
    /// Print every monitor as YAML (to keep them in git).
    Export,
    /// Create the monitors of a YAML file made by `export`; names that
    /// already exist are skipped (`steward apply -f FILE` updates them).
    Import { file: PathBuf },
    /// Delete a monitor.
    Delete {
        /// The monitor's NAME or ID.
        name: String,
    },
}

pub async fn run(command: Option<MonitorCommand>, json: bool, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        None => {
            let monitors = client.get("/api/v1/monitors").await?;
            if json {
                return print_json(&monitors);
            }
            for m in monitors.as_array().into_iter().flatten() {
                println!(
                    "{}  {:<24} {}",
                    m["id"].as_str().unwrap_or(""),
                    m["name"].as_str().unwrap_or(""),
                    m["definition"]["spec"]["kind"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        Some(MonitorCommand::Create { file }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let body: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let created = client.post("/api/v1/monitors", &body).await?;
            warn(&created);
            crate::answered(
                json,
                &created,
                format!(
                    "Created monitor {} ({})",
                    created["monitor"]["name"].as_str().unwrap_or(""),
                    created["id"].as_str().unwrap_or("")
                ),
            )
        }
        Some(MonitorCommand::Export) => {
            let monitors = client.get("/api/v1/monitors").await?;
            let list: Vec<Value> = monitors
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let d = &m["definition"];
                    json!({ "name": d["name"], "spec": d["spec"], "applies_to": d["applies_to"], "exclude": d["exclude"] })
                })
                .collect();
            print_text(serde_norway::to_string(&list)?)
        }
        Some(MonitorCommand::Import { file }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let list: Vec<Value> = serde_norway::from_str(&text)
                .with_context(|| format!("{} is not a monitor list", file.display()))?;
            let existing = client.get("/api/v1/monitors").await?;
            let names: Vec<&str> = existing
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["name"].as_str())
                .collect();
            for monitor in &list {
                let name = monitor["name"].as_str().unwrap_or("");
                if names.contains(&name) {
                    eprintln!("{name}: exists, skipped (steward apply -f FILE updates it)");
                    continue;
                }
                let created = client
                    .post("/api/v1/monitors", monitor)
                    .await
                    .with_context(|| format!("importing {name}"))?;
                eprintln!("{name}: created");
                warn(&created);
            }
            Ok(())
        }
        Some(MonitorCommand::Delete { name }) => {
            crate::config::delete_named(&client, crate::plan::Kind::Monitor, &name, json).await
        }
    }
}

/// The server's warning about what it accepted (a metric no agent
/// reports), on standard error.
pub fn warn(answer: &Value) {
    if let Some(warning) = answer["warning"].as_str() {
        eprintln!("warning: {warning}");
    }
}
