//! `steward device …` and `steward metrics`: one device, by its name
//! (or hostname) or id.

use crate::client::{Client, Remote};
use crate::names::{self, Kind};
use crate::{answered, output, print_json, print_text};
use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum DeviceCommand {
    /// Full inventory of a device.
    Show {
        /// The device's NAME or ID (or hostname).
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device's identity; it is disconnected and refused from now on.
    Revoke {
        /// The device's NAME or ID (or hostname).
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Retire a decommissioned device: revoked, gone from the lists, its
    /// history kept for reports.
    Retire {
        /// The device's NAME or ID (or hostname).
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Ask a connected device to rotate its certificate now (the old one
    /// stops working once it reconnects with the new one).
    Rotate {
        /// The device's NAME or ID (or hostname).
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// A device's pending updates, why each is a security one, and
    /// whether it needs a reboot.
    Updates {
        /// The device's NAME or ID (or hostname).
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Online/offline transitions of a device.
    History {
        /// The device's NAME or ID (or hostname).
        device: String,
        #[arg(long)]
        json: bool,
    },
}

impl DeviceCommand {
    fn device(&self) -> &str {
        match self {
            DeviceCommand::Show { device, .. }
            | DeviceCommand::Revoke { device, .. }
            | DeviceCommand::Retire { device, .. }
            | DeviceCommand::Rotate { device, .. }
            | DeviceCommand::Updates { device, .. }
            | DeviceCommand::History { device, .. } => device,
        }
    }
}

pub async fn run(command: DeviceCommand, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    let typed = command.device().to_string();
    let id = names::id_of(&client, Kind::Device, &typed).await?;
    // The sentences name the device as the user did, with its id when
    // that was a name.
    let called = if typed == id {
        id.clone()
    } else {
        format!("{typed} ({id})")
    };
    match command {
        DeviceCommand::Show { json, .. } => {
            let device = client.get(&format!("/api/v1/devices/{id}")).await?;
            if json {
                print_json(&device)
            } else {
                print_text(output::device_detail(&device))
            }
        }
        DeviceCommand::Rotate { json, .. } => answered(
            json,
            &client
                .post(&format!("/api/v1/devices/{id}/rotate"), &json!({}))
                .await?,
            format!("Device {called} was asked to rotate its certificate."),
        ),
        DeviceCommand::Retire { json, .. } => answered(
            json,
            &client.delete(&format!("/api/v1/devices/{id}")).await?,
            format!("Device {called} retired: gone from the lists, its history kept."),
        ),
        DeviceCommand::Revoke { json, .. } => answered(
            json,
            &client
                .post(&format!("/api/v1/devices/{id}/revoke"), &json!({}))
                .await?,
            format!("Device {called} revoked: disconnected and refused from now on."),
        ),
        DeviceCommand::Updates { json, .. } => {
            crate::patching::device_updates(&client, &id, json).await
        }
        DeviceCommand::History { json, .. } => {
            let history = client
                .get(&format!("/api/v1/devices/{id}/status-history"))
                .await?;
            if json {
                return print_json(&history);
            }
            for change in history.as_array().into_iter().flatten() {
                println!(
                    "{}  {} -> {}",
                    output::when(change["at"].as_i64()),
                    change["from"].as_str().unwrap_or("?"),
                    change["to"].as_str().unwrap_or("?")
                );
            }
            Ok(())
        }
    }
}

/// `steward metrics DEVICE METRIC --since …`.
pub async fn metrics(
    remote: &Remote,
    device: &str,
    metric: &str,
    since: &str,
    json: bool,
) -> Result<()> {
    let client = Client::new(remote)?;
    let id = names::id_of(&client, Kind::Device, device).await?;
    let series = client
        .get(&format!(
            "/api/v1/devices/{id}/metrics/{metric}?since={since}"
        ))
        .await?;
    if json {
        return print_json(&series);
    }
    for s in series.as_array().into_iter().flatten() {
        println!("{} {}", s["name"].as_str().unwrap_or(""), s["labels"]);
        for sample in s["samples"].as_array().into_iter().flatten() {
            println!(
                "  {}  {}",
                output::when(sample[0].as_i64().map(|ms| ms / 1000)),
                sample[1]
            );
        }
    }
    Ok(())
}
