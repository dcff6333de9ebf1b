//! Organisations (tenants): created, found, listed, renamed, and deleted
//! once nothing is left in them.

use crate::*;
use async_trait::async_trait;
use serde::Serialize;
use uuid::Uuid;

#[async_trait]
pub trait TenancyStore: Send + Sync {
    /// The root (service provider) organisation; created on first use.
    async fn default_org(&self) -> Result<Org>;
    async fn create_org(&self, name: &str) -> Result<Org>;
    async fn org_by_name(&self, scope: &Scope, name: &str) -> Result<Org>;
    async fn list_orgs(&self, scope: &Scope) -> Result<Vec<Org>>;
    async fn set_org_require_totp(&self, scope: &Scope, org: Uuid, require: bool) -> Result<()>;
    /// Renames an organisation in scope while its version is still
    /// `expected` (any when None); returns the new version
    /// ([`StoreError::Stale`] with the current one otherwise).
    async fn rename_org(
        &self,
        scope: &Scope,
        org: Uuid,
        name: &str,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// What an organisation still holds, by kind ("devices", "users", …),
    /// the kinds with none left out.
    async fn org_contents(&self, org: Uuid) -> Result<Vec<(String, u64)>>;
    /// Deletes an organisation in scope that holds nothing
    /// ([`TenancyStore::org_contents`] empty; refused otherwise): it leaves
    /// every list and its name is free again; its row stays for the
    /// append-only audit trail. The root organisation stays.
    async fn delete_org(&self, scope: &Scope, org: Uuid) -> Result<()>;
    /// The sites of the organisations in scope (a site exists while
    /// something names it) with what names each, by organisation and name.
    async fn list_sites(&self, scope: &Scope) -> Result<Vec<SiteRecord>>;
    /// Renames site `from` of `org` (or merges it into `to`, which may
    /// exist) where rows name it: devices (retired ones too), enrollment
    /// tokens, grants and API token limits, in one transaction; answers
    /// the rows changed. Definitions that name sites (monitors, noise
    /// rules, schedules) are the caller's to rewrite.
    async fn rename_site(&self, scope: &Scope, org: Uuid, from: &str, to: &str) -> Result<u64>;
}

/// A site and what names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteRecord {
    pub org_id: Uuid,
    pub name: String,
    /// Devices there, retired ones left out.
    pub devices: u64,
    pub enroll_tokens: u64,
    pub grants: u64,
}
