//! Jobs and remote sessions on the wire.
//!
//! The server sends a [`SignedOrder`]: the order's JSON text exactly as
//! signed, the Ed25519 signature over those bytes, and the id of the key.
//! The agent verifies the bytes it received before it parses them, so no
//! canonical re-serialisation is ever needed (see `steward-sign`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Captured stdout/stderr per run are cut at this size (the cut is marked).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// One live output chunk at most.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024;
/// Files moved by `file_get`/`file_put` at most (they travel in one frame).
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;
/// An order may not be valid for longer than this (bounds the agent's
/// replay memory).
pub const MAX_ORDER_LIFETIME_MS: i64 = 31 * 24 * 3600 * 1000;

/// An order with its signature; `payload` is the JSON of an [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedOrder {
    pub payload: String,
    /// Base64 (standard) Ed25519 signature over `payload`'s bytes.
    pub signature: String,
    /// Which trusted key signed it (base64 of the public key's SHA-256, cut).
    pub key_id: String,
}

/// One thing one device is told to do, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Unique per (job, device): the nonce and the idempotency key.
    pub run_id: String,
    pub job_id: String,
    /// The only device that may act on it.
    pub device_id: String,
    /// Unix milliseconds.
    pub issued_at: i64,
    /// Not acted on after this (Unix milliseconds).
    pub expires_at: i64,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Runs a script; parameters arrive as `STEWARD_PARAM_<NAME>` variables.
    Script {
        name: String,
        interpreter: Interpreter,
        body: String,
        /// SHA-256 of `body`, hex; checked by the agent.
        sha256: String,
        #[serde(default)]
        params: BTreeMap<String, String>,
        timeout_secs: u32,
        #[serde(default)]
        run_as: Option<String>,
    },
    /// Built-in actions.
    Reboot,
    RestartService {
        service: String,
    },
    CollectInventory,
    /// Does nothing and succeeds (load tests, connectivity checks).
    Ping,
    /// Opens an interactive terminal (a PTY) relayed over this connection.
    Shell {
        session: String,
        cols: u16,
        rows: u16,
        idle_timeout_secs: u32,
    },
    /// Installs these exact package versions with the device's package
    /// manager (apt: `apt-get install --only-upgrade name=version`, one
    /// package at a time, each reported), then checks what is installed
    /// and detects pending updates again.
    InstallUpdates {
        packages: Vec<PackageVersion>,
        timeout_secs: u32,
        /// Whether the device restarts once everything installed (after
        /// warning its logged-in users `reboot_grace_minutes` ahead).
        #[serde(default)]
        reboot: RebootAfter,
        #[serde(default)]
        reboot_grace_minutes: u32,
    },
    /// Reads a file; its bytes come back in the result (base64).
    FileGet {
        path: String,
        max_bytes: u64,
    },
    /// Writes a file atomically after checking its SHA-256.
    FilePut {
        path: String,
        content_b64: String,
        sha256: String,
    },
}

/// What `install_updates` does about restarting once its packages are in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RebootAfter {
    #[default]
    Never,
    /// When the system then says it needs one (flag file, newer kernel).
    IfRequired,
    Always,
}

/// The longest warning before a policy's restart, in minutes.
pub const MAX_REBOOT_GRACE_MINUTES: u32 = 120;

/// A package at an exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageVersion {
    pub name: String,
    pub version: String,
}

impl PackageVersion {
    /// Whether it is safe to hand to a package manager as one argument: a
    /// Debian/RPM package name and a version without spaces, controls or
    /// a leading dash.
    pub fn is_valid(&self) -> bool {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 256
            && !self.name.starts_with('-')
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c));
        let version_ok = !self.version.is_empty()
            && self.version.len() <= 256
            && !self.version.starts_with('-')
            && self
                .version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.~:_".contains(c));
        name_ok && version_ok
    }
}

impl Action {
    /// The capability a device can refuse in its local configuration.
    pub fn capability(&self) -> Capability {
        match self {
            Action::Script { .. } => Capability::Scripts,
            Action::Shell { .. } => Capability::Shell,
            Action::FileGet { .. } | Action::FilePut { .. } => Capability::Files,
            Action::Reboot
            | Action::InstallUpdates { .. }
            | Action::RestartService { .. }
            | Action::CollectInventory
            | Action::Ping => Capability::Actions,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpreter {
    Sh,
    Bash,
    Python3,
    Powershell,
    /// macOS's default shell.
    Zsh,
}

impl Interpreter {
    pub fn program(self) -> &'static str {
        match self {
            Interpreter::Sh => "sh",
            Interpreter::Bash => "bash",
            Interpreter::Python3 => "python3",
            Interpreter::Powershell => "pwsh",
            Interpreter::Zsh => "zsh",
        }
    }
}

/// What a device's local configuration can switch off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Scripts,
    Shell,
    Files,
    Actions,
}

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::Scripts,
        Capability::Shell,
        Capability::Files,
        Capability::Actions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Scripts => "scripts",
            Capability::Shell => "shell",
            Capability::Files => "files",
            Capability::Actions => "actions",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// The life of one run on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for the device (offline, or held back by a concurrency cap).
    Queued,
    /// Handed to the device's connection.
    Sent,
    /// The agent verified it and started it.
    Running,
    Succeeded,
    Failed,
    TimedOut,
    /// Its expiry passed before the device could run it.
    Expired,
    /// The agent refused it (bad signature, replay, capability off...).
    Refused,
    /// The agent stopped while it ran: it may or may not have finished.
    /// Never retried automatically.
    Unknown,
    /// Not sent: the job was cancelled or stopped after too many failures.
    Cancelled,
}

impl RunStatus {
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            RunStatus::Queued | RunStatus::Sent | RunStatus::Running
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Sent => "sent",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Expired => "expired",
            RunStatus::Refused => "refused",
            RunStatus::Unknown => "unknown",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        use RunStatus::*;
        [
            Queued, Sent, Running, Succeeded, Failed, TimedOut, Expired, Refused, Unknown,
            Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The final report of one run; kept by the agent until acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub run_id: String,
    pub status: RunStatus,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    /// Output beyond [`MAX_OUTPUT_BYTES`] was dropped.
    #[serde(default)]
    pub truncated: bool,
    #[serde(default)]
    pub started_at: Option<i64>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Why it was refused or failed to start, for people.
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}
