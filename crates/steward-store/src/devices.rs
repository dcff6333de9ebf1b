//! Devices: identity, inventory, status, dependencies and local checks.

use crate::*;
use async_trait::async_trait;
use uuid::Uuid;

/// What the store keeps of each device.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn create_device(&self, device: &NewDevice) -> Result<()>;
    /// The device whose current or next certificate has this fingerprint.
    async fn device_by_fingerprint(&self, fingerprint: &str) -> Result<DeviceAuth>;
    /// Records a rotated certificate; both work until the device connects
    /// with the new one.
    async fn set_next_fingerprint(&self, device: Uuid, fingerprint: &str) -> Result<()>;
    /// The device connected with its next certificate: the old one stops
    /// working.
    async fn promote_fingerprint(&self, device: Uuid) -> Result<()>;
    async fn list_devices(&self, scope: &Scope) -> Result<Vec<DeviceSummary>>;
    async fn get_device(&self, scope: &Scope, id: Uuid) -> Result<DeviceDetail>;
    async fn revoke_device(&self, scope: &Scope, id: Uuid) -> Result<()>;
    /// Retires a device in scope: revoked, out of the lists (`list_devices`,
    /// fleet pages), its history kept; the first retirement's time stays.
    async fn retire_device(&self, scope: &Scope, id: Uuid, at: i64) -> Result<()>;
    /// Renames a device in scope (not retired) and moves it to `site`,
    /// while its version is still `expected` (any when None); returns the
    /// new version.
    async fn edit_device(
        &self,
        scope: &Scope,
        id: Uuid,
        name: &str,
        site: &str,
        expected: Option<i64>,
    ) -> Result<i64>;
    async fn set_inventory(
        &self,
        device: Uuid,
        inventory: &steward_proto::Inventory,
        at: i64,
    ) -> Result<()>;
    /// Records a status change if `to` differs from the stored status.
    async fn set_status(&self, device: Uuid, to: Status, at: i64) -> Result<bool>;
    /// Online → offline, only when the device was last seen before
    /// `seen_before` (by whichever replica holds it): of several replicas
    /// noticing the silence, one makes the transition. True when this call
    /// made it.
    async fn mark_offline_if_stale(&self, device: Uuid, at: i64, seen_before: i64) -> Result<bool>;
    /// Devices stored as online but last seen before `seen_before`.
    async fn stale_online(&self, seen_before: i64) -> Result<Vec<Uuid>>;
    async fn set_last_seen(&self, seen: &[(Uuid, i64)]) -> Result<()>;
    /// Every device with its stored status, for the status tracker at start.
    async fn device_statuses(&self) -> Result<Vec<(Uuid, Status)>>;
    async fn status_history(&self, scope: &Scope, device: Uuid) -> Result<Vec<StatusChange>>;

    /// Sets (or clears) the device this one depends on; both must be in
    /// scope and in the same organisation.
    async fn set_upstream(&self, scope: &Scope, device: Uuid, upstream: Option<Uuid>)
    -> Result<()>;
    /// Every (device, upstream) pair, for the alerting engine.
    async fn upstreams(&self) -> Result<Vec<(Uuid, Uuid)>>;

    // --- local script checks --------------------------------------------
    async fn save_check_results(
        &self,
        device: Uuid,
        org: Uuid,
        results: &[CheckResultRecord],
    ) -> Result<()>;
    async fn check_results(&self, scope: &Scope, device: Uuid) -> Result<Vec<CheckResultRecord>>;
}
