//! The inventory report: what a device is and what it has installed.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Inventory {
    pub hostname: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel_version: String,
    pub arch: String,
    pub cpu_model: String,
    pub cpu_cores: u32,
    pub memory_total_bytes: u64,
    pub swap_total_bytes: u64,
    pub boot_time: i64,
    pub uptime_secs: u64,
    pub agent_version: String,
    pub filesystems: Vec<Filesystem>,
    pub interfaces: Vec<Interface>,
    pub users: Vec<LoggedInUser>,
    pub packages: Vec<Package>,
    /// Updates the package manager would install now, from its cached
    /// package lists; `None` when the agent cannot tell (no known package
    /// manager, or it failed).
    pub updates: Option<Vec<PendingUpdate>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filesystem {
    pub mountpoint: String,
    pub device: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggedInUser {
    pub name: String,
    pub terminal: String,
    pub host: String,
    pub since: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingUpdate {
    pub name: String,
    /// Installed version (empty for a package the update adds).
    pub current: String,
    pub available: String,
    /// From a security repository or advisory.
    pub security: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// `dpkg`, `rpm`, ...
    pub manager: String,
}
