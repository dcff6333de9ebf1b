//! Storing what an agent reports of itself (its inventory), at most once
//! per [`MIN_INTERVAL`] per device. An inventory rewrites the device's
//! software rows (up to 20,000 packages), so an agent that sends one frame
//! after another, or reconnects to send one each time (a bug, or a
//! compromised agent), must not turn each into a rewrite: frames that come
//! sooner are held, the newest replacing the one before, and the newest is
//! stored when the interval ends, whether or not its connection is still
//! open. Nothing is lost but inventories a newer one replaced (counted in
//! `steward_inventories_coalesced_total`); a held one dies with the
//! process, and the agent sends its inventory again on every connect.

use crate::AppState;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_proto::Inventory;
use tokio::time::Instant;
use uuid::Uuid;

/// Shortest time between two stored inventories of one device.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

/// The inventory writes of the devices this replica holds.
#[derive(Default)]
pub struct Inventories {
    slots: Mutex<HashMap<Uuid, Slot>>,
}

struct Slot {
    last_write: Instant,
    held: Option<Box<Inventory>>,
}

impl Inventories {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stores `inventory` now, or holds it (and stores the newest held when
/// the interval ends) when the device's last write was less than
/// [`MIN_INTERVAL`] ago.
pub async fn offer(state: &Arc<AppState>, device: Uuid, inventory: Box<Inventory>) {
    let now = Instant::now();
    let inventory = {
        let mut slots = state.inventories.slots();
        // Devices that wrote long ago are forgotten as the map is used.
        if slots.len() > 1024 {
            slots
                .retain(|_, s| s.held.is_some() || now.duration_since(s.last_write) < MIN_INTERVAL);
        }
        match slots.get_mut(&device) {
            Some(slot) if now.duration_since(slot.last_write) < MIN_INTERVAL => {
                let due = slot.last_write + MIN_INTERVAL;
                match slot.held.replace(inventory) {
                    Some(_) => {
                        state
                            .metrics
                            .inventories_coalesced
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    // The first one held: it is stored when due.
                    None => {
                        tokio::spawn(store_when_due(state.clone(), device, due));
                    }
                }
                None
            }
            _ => {
                slots.insert(
                    device,
                    Slot {
                        last_write: now,
                        held: None,
                    },
                );
                Some(inventory)
            }
        }
    };
    if let Some(inventory) = inventory {
        write(state, device, inventory).await;
    }
}

async fn store_when_due(state: Arc<AppState>, device: Uuid, due: Instant) {
    tokio::time::sleep_until(due).await;
    let held = {
        let mut slots = state.inventories.slots();
        slots.get_mut(&device).and_then(|slot| {
            slot.last_write = Instant::now();
            slot.held.take()
        })
    };
    if let Some(inventory) = held {
        write(&state, device, inventory).await;
    }
}

async fn write(state: &AppState, device: Uuid, inventory: Box<Inventory>) {
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
