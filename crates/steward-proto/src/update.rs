//! Agent self-update on the wire: the server offers a signed release, the
//! agent fetches it in chunks over its own connection, verifies it against
//! the release key its installation pinned (never one the server sends),
//! swaps itself and reports every outcome.

use serde::{Deserialize, Serialize};

/// Bytes of a release per [`ServerMessage::UpdateChunk`](crate::ServerMessage)
/// (base64 in the frame: well under [`crate::MAX_FRAME_BYTES`]).
pub const UPDATE_CHUNK_BYTES: usize = 1024 * 1024;
/// The largest agent binary a release may hold.
pub const MAX_RELEASE_BYTES: u64 = 256 * 1024 * 1024;

/// A release offered to this device: what to fetch and what it must hash
/// and be signed as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateOffer {
    pub rollout_id: String,
    /// Target triple, e.g. `x86_64-unknown-linux-gnu`.
    pub target: String,
    pub version: String,
    /// SHA-256 (hex) of the binary.
    pub sha256: String,
    pub size: u64,
    /// Ed25519 signature (base64) by the release key over
    /// `steward_sign::release::message`.
    pub signature: String,
    pub key_id: String,
}

/// How an update went, as the agent reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOutcome {
    /// Verified and swapped in; the new version starts now.
    Installing,
    /// The new version connected and was acknowledged.
    Succeeded,
    /// The new version did not connect in time (or would not start): the
    /// previous one was restored and runs again.
    RolledBack,
    /// The release failed verification (signature, checksum, size, target)
    /// and was not installed.
    Refused,
    /// Download or disk trouble; nothing was changed.
    Failed,
    #[serde(other)]
    Unknown,
}

impl UpdateOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installing => "installing",
            Self::Succeeded => "succeeded",
            Self::RolledBack => "rolled_back",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateReport {
    pub rollout_id: String,
    /// The version the update was to.
    pub version: String,
    /// The version running before it.
    pub from_version: String,
    pub outcome: UpdateOutcome,
    #[serde(default)]
    pub detail: String,
}
