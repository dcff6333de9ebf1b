//! The inventory report: what this device is and what it has installed.
//! Sent on every connect and when it changes (checked hourly). Pending
//! updates take the package manager seconds to list, so they are detected
//! apart (`super::patching::run_loop`) and the inventory carries the
//! latest answer.

use super::Host;
use steward_proto::{Filesystem, Interface, Inventory};

/// What the host's libraries tell (blocking; run it off the runtime). The
/// installed packages and logged-in users come from commands: [`complete`]
/// adds them.
pub fn collect(host: &mut Host) -> Inventory {
    use sysinfo::System;
    host.system.refresh_memory();
    host.disks.refresh(true);
    host.networks.refresh(true);
    let cpus = host.system.cpus();
    let filesystems = host
        .disks
        .iter()
        .map(|d| Filesystem {
            mountpoint: d.mount_point().to_string_lossy().into_owned(),
            device: d.name().to_string_lossy().into_owned(),
            fs_type: d.file_system().to_string_lossy().into_owned(),
            total_bytes: d.total_space(),
            available_bytes: d.available_space(),
        })
        .take(256)
        .collect();
    let interfaces = host
        .networks
        .iter()
        .map(|(name, data)| Interface {
            name: name.to_string_lossy().into_owned(),
            mac: data.mac_address().to_string(),
            addresses: data
                .ip_networks()
                .iter()
                .map(|n| format!("{}/{}", n.addr, n.prefix))
                .take(64)
                .collect(),
        })
        .take(256)
        .collect();
    let patching = super::patching::latest();
    Inventory {
        hostname: crate::os::hostname(),
        os_name: System::name().unwrap_or_default(),
        os_version: System::os_version().unwrap_or_default(),
        kernel_version: System::kernel_version().unwrap_or_default(),
        arch: System::cpu_arch(),
        cpu_model: cpus
            .first()
            .map(|c| c.brand().trim().to_string())
            .unwrap_or_default(),
        cpu_cores: cpus.len() as u32,
        memory_total_bytes: host.system.total_memory(),
        swap_total_bytes: host.system.total_swap(),
        boot_time: System::boot_time().unwrap_or(0) as i64,
        uptime_secs: System::uptime().unwrap_or(0),
        agent_version: crate::update::version().into(),
        agent_target: crate::update::target(),
        filesystems,
        interfaces,
        users: Vec::new(),
        packages: Vec::new(),
        updates: patching.as_ref().and_then(|d| d.updates.clone()),
        patching: patching.map(|d| d.status),
        timezone: super::timezone::detect(&host.package_root),
    }
}

/// Adds what commands tell (each bounded in time: one that hangs leaves its
/// part empty, not the inventory waiting).
pub async fn complete(inventory: &mut Inventory, package_root: &std::path::Path) {
    let (users, packages) = tokio::join!(
        crate::os::logged_in_users(),
        crate::os::packages(package_root)
    );
    inventory.users = users;
    inventory.packages = packages;
}

/// Cuts the package list (then pending updates and users) until the
/// inventory fits in one frame the server accepts: an inventory over the
/// limit would be refused, the connection closed and the same inventory
/// sent again on reconnect, forever. Returns how many entries were dropped.
pub fn fit(inventory: &mut Inventory, max_frame: usize) -> usize {
    let size = |inventory: &Inventory| {
        steward_proto::encode(&steward_proto::AgentMessage::Inventory(Box::new(
            inventory.clone(),
        )))
        .len()
    };
    let mut dropped = 0;
    // A margin under the limit for the frame's envelope.
    let budget = max_frame - max_frame / 16;
    while size(inventory) > budget {
        let list = if !inventory.packages.is_empty() {
            inventory.packages.len()
        } else if let Some(updates) = inventory.updates.as_ref().filter(|u| !u.is_empty()) {
            updates.len()
        } else if !inventory.users.is_empty() {
            inventory.users.len()
        } else {
            break;
        };
        let keep = list * 3 / 4;
        dropped += list - keep;
        if !inventory.packages.is_empty() {
            inventory.packages.truncate(keep);
        } else if let Some(updates) = inventory.updates.as_mut().filter(|u| !u.is_empty()) {
            updates.truncate(keep);
        } else {
            inventory.users.truncate(keep);
        }
    }
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "The inventory is larger than one frame; its package list was cut to fit."
        );
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_proto::Package;

    #[test]
    fn an_inventory_over_the_frame_limit_is_cut_to_fit() {
        let long = "x".repeat(250);
        let mut inventory = Inventory {
            hostname: "big".into(),
            packages: (0..20_000)
                .map(|i| Package {
                    name: format!("{i}{long}"),
                    version: long.clone(),
                    manager: "dpkg".into(),
                })
                .collect(),
            ..Inventory::default()
        };
        let max = steward_proto::MAX_FRAME_BYTES;
        let dropped = fit(&mut inventory, max);
        let frame = steward_proto::encode(&steward_proto::AgentMessage::Inventory(Box::new(
            inventory.clone(),
        )));
        assert!(frame.len() <= max, "{} bytes", frame.len());
        assert!(dropped > 0 && inventory.packages.len() > 5_000);
        assert_eq!(inventory.packages.len() + dropped, 20_000);
        // The server takes it.
        steward_proto::AgentMessage::decode(&frame, &steward_proto::Limits::default()).unwrap();
        // Small inventories are left alone.
        let mut small = Inventory::default();
        assert_eq!(fit(&mut small, max), 0);
    }
}
