//! `steward agentless list|create|edit|delete|probes|probe-add|probe-delete`:
//! agentless devices (switches, printers, UPSs, websites…) checked by a
//! chosen agent, and the probes the server assigns it. Devices are named
//! by name or id (`names.rs`); the text is made by pure functions.

use crate::client::{Client, Remote};
use crate::names::{Kind, id_of};
use crate::{answered, print_json, print_text};
use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum AgentlessCommand {
    /// Agentless devices with their probing agent, status and probes.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Adds an agentless device probed by an agent's device.
    Create {
        name: String,
        /// switch, router, firewall, access-point, printer, ups, storage,
        /// server, website, certificate, database or other.
        #[arg(long)]
        category: String,
        /// Its host name or IP address.
        #[arg(long)]
        address: String,
        /// The device (name or id) whose agent probes it.
        #[arg(long)]
        agent: String,
        /// Default: the probing agent's site.
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Changes an agentless device (name, category, address, agent).
    Edit {
        device: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Retires an agentless device (its history stays).
    Delete {
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Adds a probe (`tcp://host:port`, `https://host/path?match=…`,
    /// `snmp://host?community=…`…) run by the device's agent.
    ProbeAdd {
        device: String,
        name: String,
        url: String,
        #[arg(long)]
        json: bool,
    },
    /// Removes a probe by its name.
    ProbeDelete {
        device: String,
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: AgentlessCommand, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        AgentlessCommand::List { json } => {
            let list = client.get("/api/v1/agentless-devices").await?;
            if json {
                print_json(&list)
            } else {
                print_text(table(&list))
            }
        }
        AgentlessCommand::Create {
            name,
            category,
            address,
            agent,
            site,
            json,
        } => {
            let agent = id_of(&client, Kind::Device, &agent).await?;
            let body = json!({ "name": name, "category": category, "address": address, "probe_agent": agent, "site": site });
            let answer = client.post("/api/v1/agentless-devices", &body).await?;
            let id = answer["id"].as_str().unwrap_or_default().to_string();
            answered(
                json,
                &answer,
                format!("Created agentless device {name} ({id})."),
            )
        }
        AgentlessCommand::Edit {
            device,
            name,
            category,
            address,
            agent,
            json,
        } => {
            let id = id_of(&client, Kind::Device, &device).await?;
            let agent = match agent {
                Some(agent) => Some(id_of(&client, Kind::Device, &agent).await?),
                None => None,
            };
            let body = json!({ "name": name, "category": category, "address": address, "probe_agent": agent });
            let answer = client
                .patch(&format!("/api/v1/agentless-devices/{id}"), &body, None)
                .await?;
            answered(json, &answer, format!("Changed agentless device {device}."))
        }
        AgentlessCommand::Delete { device, json } => {
            let id = id_of(&client, Kind::Device, &device).await?;
            let answer = client
                .delete(&format!("/api/v1/agentless-devices/{id}"))
                .await?;
            answered(json, &answer, format!("Retired agentless device {device}."))
        }
        AgentlessCommand::ProbeAdd {
            device,
            name,
            url,
            json,
        } => {
            let id = id_of(&client, Kind::Device, &device).await?;
            let answer = client
                .post(
                    &format!("/api/v1/agentless-devices/{id}/probes"),
                    &json!({ "name": name, "url": url }),
                )
                .await?;
            answered(json, &answer, format!("Added probe {name} to {device}."))
        }
        AgentlessCommand::ProbeDelete { device, name, json } => {
            let id = id_of(&client, Kind::Device, &device).await?;
            let probes = client
                .get(&format!("/api/v1/agentless-devices/{id}/probes"))
                .await?;
            let probe = probes
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name.as_str())
                .and_then(|p| p["id"].as_str())
                .ok_or_else(|| anyhow::anyhow!("{device} has no probe {name:?}"))?
                .to_string();
            let answer = client
                .delete(&format!("/api/v1/agentless-devices/{id}/probes/{probe}"))
                .await?;
            answered(
                json,
                &answer,
                format!("Removed probe {name} from {device}."),
            )
        }
    }
}

/// The list as a table: a device per row, its probes by name.
pub fn table(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "No agentless devices.".into();
    }
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let mut rows = vec![vec![
        "NAME".to_string(),
        "CATEGORY".into(),
        "ADDRESS".into(),
        "STATUS".into(),
        "AGENT".into(),
        "PROBES".into(),
    ]];
    for item in &items {
        let probes: Vec<String> = item["probes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| text(&p["name"]))
            .collect();
        rows.push(vec![
            text(&item["name"]),
            text(&item["category"]),
            text(&item["address"]),
            text(&item["status"]),
            text(&item["probe_agent"]).chars().take(8).collect(),
            if probes.is_empty() {
                "-".into()
            } else {
                probes.join(",")
            },
        ]);
    }
    crate::output::table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_device_and_its_probes() {
        let list = json!([{ "name": "shop", "category": "website", "address": "127.0.0.2",
            "status": "unknown", "probe_agent": "0192aaaa-bbbb", "probes": [{ "name": "web" }, { "name": "port" }] }]);
        let text = table(&list);
        assert!(text.contains("shop"), "{text}");
        assert!(text.contains("web,port"), "{text}");
        assert!(text.contains("unknown"), "{text}");
        assert!(text.contains("0192aaaa"), "{text}");
        assert_eq!(table(&json!([])), "No agentless devices.");
    }
}
