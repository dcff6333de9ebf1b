//! Organisations (tenants): created, found, listed, renamed, and deleted
//! once nothing is left in them.

use crate::*;
use async_trait::async_trait;
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
}
