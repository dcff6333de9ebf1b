//! OTLP ingestion tokens (per organisation, stored hashed) and the devices
//! an OpenTelemetry resource may name (by id or host name, within the
//! token's organisation).

use crate::{Result, Scope};
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

/// An OTLP ingestion token as stored: its secret only as a SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtlpTokenRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// Hex SHA-256 of the token's text; never answered.
    #[serde(skip)]
    pub secret_hash: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A device an OTLP resource may be mapped to: enrolled, not revoked, not
/// retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpDevice {
    pub id: Uuid,
    pub org_id: Uuid,
    pub hostname: String,
}

#[async_trait]
pub trait OtlpStore: Send + Sync {
    async fn create_otlp_token(&self, token: &OtlpTokenRecord) -> Result<()>;
    /// Tokens in scope (organisation-wide rows), by organisation and name.
    async fn list_otlp_tokens(&self, scope: &Scope) -> Result<Vec<OtlpTokenRecord>>;
    /// Deletes a token in scope: requests bearing it are refused at once.
    async fn revoke_otlp_token(&self, scope: &Scope, id: Uuid) -> Result<()>;
    /// The token whose secret hashes to `secret_hash`, if any.
    async fn otlp_token_by_hash(&self, secret_hash: &str) -> Result<Option<OtlpTokenRecord>>;
    /// The live devices of `org` with one of `ids` or whose host name is
    /// one of `hostnames` (compared in ASCII lower case), at most 1,000.
    async fn otlp_devices(
        &self,
        org: Uuid,
        ids: &[Uuid],
        hostnames: &[String],
    ) -> Result<Vec<OtlpDevice>>;
}
