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
    /// The target triple the agent was built for: which releases it takes.
    pub agent_target: String,
    pub filesystems: Vec<Filesystem>,
    pub interfaces: Vec<Interface>,
    pub users: Vec<LoggedInUser>,
    pub packages: Vec<Package>,
    /// Updates the package manager would install now, from its cached
    /// package lists; `None` when the agent cannot tell (no known package
    /// manager, or it failed).
    pub updates: Option<Vec<PendingUpdate>>,
    /// How the latest detection of pending updates went, why the device
    /// needs a reboot, what else it knows (`None` from agents before it).
    pub patching: Option<PatchStatus>,
    /// The device's time zone (an IANA name such as `Europe/Berlin`),
    /// empty when the agent could not tell: patch windows open on its wall
    /// clock.
    pub timezone: String,
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
    /// The rule that made it a security update (`label Debian-Security`,
    /// `archive jammy-security`, `advisory RHSA-2024:1234 severity
    /// Important`, or a security version hidden behind a newer
    /// candidate); empty when it is not one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rule: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// Where the candidate comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<RepoOrigin>,
    /// dnf: the advisory and its severity, when one covers the update.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advisory: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub severity: String,
}

/// A repository's Release fields (apt) or its id (dnf: `label`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepoOrigin {
    /// `o=`: `Debian`, `Ubuntu`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub origin: String,
    /// `l=`: `Debian-Security`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// `n=`: `bookworm-security`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub codename: String,
    /// `a=` (the suite): `stable-security`, `jammy-security`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub archive: String,
    /// The host it is fetched from.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub site: String,
}

/// How a detection pass went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionState {
    /// The package manager answered; `updates` is its answer.
    #[default]
    Ok,
    /// Another process holds the package manager's lock.
    Locked,
    /// The package manager did not answer within the agent's timeout.
    TimedOut,
    /// No package manager the agent knows (or patching is switched off).
    NotAvailable,
    /// It answered with an error (see `error`).
    Failed,
    /// A state this build does not know.
    #[serde(other)]
    Unknown,
}

/// Where the security flag of the updates comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecuritySource {
    /// Not determined (detection failed, or an older agent).
    #[default]
    Unknown,
    /// apt: the candidate's repository (origin, label, codename, archive).
    Origins,
    /// dnf: the repositories' updateinfo advisories.
    Advisories,
    /// dnf: no repository carries advisory metadata, so nothing can be
    /// called a security update (which is not "no security updates").
    NoAdvisoryMetadata,
}

/// The agent's latest patching detection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PatchStatus {
    /// `apt`, `dnf`, or empty when none was found.
    pub manager: String,
    pub state: DetectionState,
    /// What went wrong, in the package manager's words (bounded).
    pub error: String,
    pub security_source: SecuritySource,
    /// When the pass ran (Unix seconds) and how long it took.
    pub checked_at: i64,
    pub duration_ms: u64,
    /// Pending updates left out of `updates` beyond the agent's cap.
    pub truncated: u32,
    pub reboot: RebootState,
    /// Services running outdated code (needrestart, when run as root).
    pub services: Vec<String>,
    /// Last successful package upgrade (Unix seconds), from dpkg's log.
    pub last_upgrade: Option<i64>,
}

/// Whether the device needs a reboot, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RebootState {
    /// `None`: nothing the agent could read tells.
    pub required: Option<bool>,
    pub reasons: Vec<RebootReason>,
    /// Packages that asked for it (`/run/reboot-required.pkgs`).
    pub packages: Vec<String>,
    pub running_kernel: String,
    /// The newest kernel installed of the running one's flavour.
    pub newest_kernel: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RebootReason {
    /// `flag_file`, `kernel`, `needrestart`, `needs_restarting`.
    pub source: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// `dpkg`, `rpm`, ...
    pub manager: String,
}
