//! The inventory report: what this device is and what it has installed.
//! Sent on every connect and when it changes (checked hourly). Pending
//! updates take the package manager seconds to list, so they are detected
//! apart (`super::patching::run_loop`) and the inventory carries the
//! latest answer.

use super::Host;
use steward_proto::{Filesystem, Interface, Inventory};

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
        agent_version: crate::AGENT_VERSION.into(),
        filesystems,
        interfaces,
        users: crate::os::logged_in_users(),
        packages: crate::os::packages(&host.package_root),
        updates: patching.as_ref().and_then(|d| d.updates.clone()),
        patching: patching.map(|d| d.status),
        timezone: super::timezone::detect(&host.package_root),
    }
}
