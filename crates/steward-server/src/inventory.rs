//! Storing what an agent reports of itself (its inventory), at most once
//! per [`MIN_INTERVAL`] per connection. An inventory rewrites the device's
//! software rows (up to 20,000 packages), so an agent that sends one frame
//! after another (a bug, or a compromised agent) must not turn each into a
//! rewrite: frames that come sooner are held, the newest replacing the one
//! before, and the newest is stored when the interval ends or the
//! connection closes. Nothing is lost: what is stored last is always the
//! newest the agent sent.

use crate::AppState;
use std::sync::atomic::Ordering;
use std::time::Duration;
use steward_proto::Inventory;
use tokio::time::Instant;
use uuid::Uuid;

/// Shortest time between two stored inventories of one connection.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

/// One connection's inventory writes.
#[derive(Default)]
pub struct Gate {
    last_write: Option<Instant>,
    held: Option<Box<Inventory>>,
}

impl Gate {
    /// Stores `inventory` now, or holds it when the last write was less than
    /// [`MIN_INTERVAL`] ago.
    pub async fn offer(&mut self, state: &AppState, device: Uuid, inventory: Box<Inventory>) {
        if self
            .last_write
            .is_some_and(|at| at.elapsed() < MIN_INTERVAL)
        {
            if self.held.replace(inventory).is_some() {
                state
                    .metrics
                    .inventories_coalesced
                    .fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        self.write(state, device, inventory).await;
    }

    /// When a held inventory is due (None: nothing held).
    pub fn due(&self) -> Option<Instant> {
        self.held.as_ref()?;
        Some(
            self.last_write
                .map_or_else(Instant::now, |at| at + MIN_INTERVAL),
        )
    }

    /// Stores the held inventory, if any (when it is due, and when the
    /// connection closes).
    pub async fn flush(&mut self, state: &AppState, device: Uuid) {
        if let Some(inventory) = self.held.take() {
            self.write(state, device, inventory).await;
        }
    }

    async fn write(&mut self, state: &AppState, device: Uuid, inventory: Box<Inventory>) {
        self.last_write = Some(Instant::now());
        state.alerting.forget(device);
        let now = crate::now_secs();
        if let Err(error) = state.store.set_inventory(device, &inventory, now).await {
            tracing::error!(%device, %error, "Cannot store inventory.");
        }
        // Packages and pending updates, searchable across the fleet.
        if let Err(error) = state.store.record_software(device, &inventory, now).await {
            tracing::error!(%device, %error, "Cannot store software.");
        }
    }
}
