//! Every type that crosses the agent–server wire, and nothing else.
//!
//! Frames are JSON text messages over a WebSocket. Compatibility rules:
//! - changes are additive: new fields carry `#[serde(default)]`, unknown
//!   fields are ignored, unknown message types decode to `Unknown`;
//! - the agent says which [`PROTOCOL_VERSION`] it speaks in [`Hello`]; the
//!   server accepts every version from [`MIN_PROTOCOL_VERSION`] up.
//!
//! Everything an agent sends is hostile until [`AgentMessage::decode`] has
//! checked its size and [`Validate`] its contents.

mod backup;
mod disks;
mod inventory;
pub mod jobs;
pub mod logs;
mod posture;
pub mod update;
pub mod validate;
pub mod version;

pub use backup::*;
pub use disks::*;
pub use inventory::*;
pub use jobs::*;
pub use posture::*;
pub use update::{UpdateOffer, UpdateOutcome, UpdateReport};
pub use validate::{Limits, ProtoError, Validate};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The oldest agent protocol version a server of this build still accepts.
pub const MIN_PROTOCOL_VERSION: u32 = 1;
/// Largest frame either side accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// Path of the WebSocket an enrolled agent keeps open (mutual TLS).
pub const AGENT_WS_PATH: &str = "/agent/v1/connect";
/// Path of the WebSocket an agent uses once to trade a token for a certificate.
pub const ENROLL_WS_PATH: &str = "/agent/v1/enroll";
/// Path serving the CA certificate (PEM) that the enrollment token pins.
pub const CA_PATH: &str = "/ca.pem";

/// Every metric name an agent reports (OpenTelemetry system semantic
/// conventions where one exists): what a monitor may watch. The agent's
/// collectors are tested to report nothing else.
pub const METRIC_NAMES: &[&str] = &[
    "system.cpu.utilization",
    "system.cpu.load_average.1m",
    "system.cpu.load_average.5m",
    "system.cpu.load_average.15m",
    "system.memory.utilization",
    "system.memory.usage",
    "system.paging.utilization",
    "system.filesystem.utilization",
    "system.filesystem.usage",
    "system.network.io",
    "system.processes.count",
    "system.uptime",
    "log.match.count",
    "log.match.count_5m",
];

/// A message from an agent to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    Hello(Hello),
    Heartbeat(Heartbeat),
    Inventory(Box<Inventory>),
    Metrics(MetricBatch),
    /// Results of the agent's local script checks (Monitoring Plugins
    /// convention); the server parses the output.
    Checks(CheckRuns),
    /// The current outcome of each backup job the agent watches.
    Backups(BackupReport),
    /// Templates mined from the lines of a `--log-match` rule.
    LogPatterns(logs::LogPatternReport),
    /// The security posture: checks, ports, administrators, watched files
    /// and login events since the last report.
    Posture(Box<PostureReport>),
    /// SMART counters of the device's disks (a slow interval; see
    /// [`DiskHealthReport`]).
    DiskHealth(DiskHealthReport),
    /// Asks for a new certificate for this device (credential rotation);
    /// the private key of the CSR never leaves the agent.
    Renew {
        csr_pem: String,
    },
    /// A verified order started to run.
    RunStarted {
        run_id: String,
        started_at: i64,
    },
    /// Live output of a running order (bounded chunks; may be dropped when
    /// the connection is down, the final result carries the output).
    RunOutput {
        run_id: String,
        stream: OutputStream,
        data: String,
    },
    /// The final report of a run; resent until the server acks it.
    RunResult(RunResult),
    /// Bytes from a remote shell's terminal (base64).
    ShellOutput {
        session: String,
        data_b64: String,
    },
    ShellClosed {
        session: String,
        reason: String,
    },
    /// Asks for the bytes of an offered release from `offset` on.
    UpdateFetch {
        version: String,
        offset: u64,
    },
    /// How an offered update went (see [`UpdateOutcome`]).
    UpdateReport(UpdateReport),
    /// A message type this build does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

/// A message from the server to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome(Welcome),
    /// The metric batch with this sequence number is durably stored.
    Ack {
        seq: u64,
    },
    /// The server wants this device to rotate its credential now.
    RotateCredentials,
    /// The new certificate; the old one stops working once the agent has
    /// connected with the new one.
    Renewed {
        cert_pem: String,
    },
    /// Something to do, signed (see [`SignedOrder`]).
    Order(SignedOrder),
    /// The result of this run is durably stored: the agent may forget it.
    RunAck {
        run_id: String,
    },
    /// Keystrokes for a remote shell (base64).
    ShellInput {
        session: String,
        data_b64: String,
    },
    ShellResize {
        session: String,
        cols: u16,
        rows: u16,
    },
    ShellClose {
        session: String,
    },
    /// The probes the server assigns this agent (all of them: the list
    /// replaces the previous one; the agent runs them beside its own
    /// `--probe` flags). Results go back on the metric and check path
    /// tagged with the target device ([`PROBE_TARGET_LABEL`],
    /// [`CheckRun::device`]).
    Probes {
        probes: Vec<AssignedProbe>,
    },
    /// A signed agent release to install (self-update).
    UpdateOffer(UpdateOffer),
    /// Bytes of an offered release, `offset` onwards (base64); `total` is
    /// the release's size.
    UpdateChunk {
        version: String,
        offset: u64,
        total: u64,
        data_b64: String,
    },
    /// The previous message was refused; the connection stays usable unless
    /// the server closes it.
    Error {
        code: ErrorCode,
        message: String,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Malformed,
    TooLarge,
    Invalid,
    Unsupported,
    Internal,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u32,
    pub agent_version: String,
    /// Capabilities this device's local configuration switched off.
    #[serde(default)]
    pub refuses: Vec<Capability>,
    /// The target triple the agent was built for: which releases it takes
    /// (empty from agents before self-update).
    #[serde(default)]
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol_version: u32,
    pub device_id: String,
    /// How often the agent must send a heartbeat.
    pub heartbeat_interval_secs: u32,
    /// Highest metric batch sequence number the server has stored for this
    /// device; the agent never reuses a number at or below it.
    pub stored_seq: u64,
    /// When this connection's certificate expires (Unix seconds); the agent
    /// renews it well before.
    #[serde(default)]
    pub cert_not_after: Option<i64>,
    /// The job-signing public keys (base64) the server signs orders with;
    /// an agent that pinned none at enrollment pins these once.
    #[serde(default)]
    pub job_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub ts_ms: i64,
}

/// One collection cycle's metric points, all taken at `ts_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricBatch {
    /// Per-device sequence number, strictly increasing across agent restarts.
    pub seq: u64,
    pub ts_ms: i64,
    pub points: Vec<Point>,
}

/// A metric value named after the OpenTelemetry system semantic conventions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRuns {
    pub runs: Vec<CheckRun>,
}

/// One run of a local check: the plugin's exit code and standard output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRun {
    pub name: String,
    pub ts_ms: i64,
    pub exit_code: i32,
    pub output: String,
    /// The agentless device a server-assigned probe checked (its result
    /// is that device's, not the agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// The label a server-assigned probe's points carry: the agentless
/// device they belong to (the server moves them there and drops it).
pub const PROBE_TARGET_LABEL: &str = "steward.device";

/// A probe the server assigns an agent: `NAME=URL` as the agent's
/// `--probe` flag takes it, for the agentless device `device`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignedProbe {
    pub device: String,
    pub name: String,
    pub url: String,
}

/// Sent by the agent on the enrollment socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub protocol_version: u32,
    /// The secret part of the enrollment token.
    pub secret: String,
    /// PEM certificate signing request; the private key never leaves the agent.
    pub csr_pem: String,
    /// Display name asked for (defaults to the hostname).
    pub name: String,
    pub hostname: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EnrollResponse {
    Enrolled {
        device_id: String,
        cert_pem: String,
        /// Public keys (base64) whose signatures on orders the agent trusts.
        #[serde(default)]
        job_keys: Vec<String>,
    },
    Refused {
        message: String,
    },
}

impl AgentMessage {
    /// Decodes one frame from an agent, refusing oversized or malformed input
    /// and anything that fails validation.
    pub fn decode(frame: &str, limits: &Limits) -> Result<Self, ProtoError> {
        decode_json(frame).and_then(|message: Self| message.validate(limits).map(|()| message))
    }
}

impl ServerMessage {
    pub fn decode(frame: &str) -> Result<Self, ProtoError> {
        decode_json(frame)
    }
}

/// Size-checked JSON decoding shared by every frame type.
pub fn decode_json<T: serde::de::DeserializeOwned>(frame: &str) -> Result<T, ProtoError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(ProtoError::TooLarge {
            size: frame.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    serde_json::from_str(frame).map_err(|error| ProtoError::Malformed(bounded(error.to_string())))
}

/// The longest decoder message a refusal carries: serde quotes what it did
/// not expect (an unknown variant's whole name, say), which comes from the
/// sender, so the message is cut at a character boundary.
pub const MAX_MALFORMED_BYTES: usize = 400;

fn bounded(mut message: String) -> String {
    if message.len() > MAX_MALFORMED_BYTES {
        let mut end = MAX_MALFORMED_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// Encodes any wire type; these types always serialise.
pub fn encode<T: Serialize>(message: &T) -> String {
    serde_json::to_string(message).unwrap_or_else(|_| String::from("{}"))
}

/// The enrollment token an admin hands out: where the server is, which CA it
/// must present (SHA-256 of the CA certificate's DER), and the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollToken {
    /// `https://host:port` of the server.
    pub url: String,
    pub ca_sha256: String,
    pub secret: String,
}

const TOKEN_PREFIX: &str = "STW1.";

impl EnrollToken {
    pub fn encode(&self) -> String {
        format!(
            "{TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(encode_json_bytes(self))
        )
    }

    pub fn decode(text: &str) -> Result<Self, ProtoError> {
        let body = text.trim().strip_prefix(TOKEN_PREFIX).ok_or_else(|| {
            ProtoError::Malformed("enrollment token must start with STW1.".into())
        })?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| ProtoError::Malformed("enrollment token is not valid base64url".into()))?;
        serde_json::from_slice(&bytes)
            .map_err(|error| ProtoError::Malformed(format!("enrollment token: {error}")))
    }
}

fn encode_json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests;
