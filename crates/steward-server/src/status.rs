//! Online/offline from heartbeat deadlines. Each heartbeat (or any frame)
//! pushes the device's deadline forward; one task sleeps until the earliest
//! deadline and marks those devices offline. No periodic scan of all
//! devices. Every transition is stored with its time (downtime reports).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_store::{Status, Store};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use uuid::Uuid;

#[derive(Default)]
struct Deadlines {
    by_device: HashMap<Uuid, Instant>,
    queue: BTreeSet<(Instant, Uuid)>,
    /// Devices seen since the last flush, with the time (Unix seconds).
    seen: HashMap<Uuid, i64>,
}

#[derive(Clone)]
pub struct StatusTracker {
    inner: Arc<Mutex<Deadlines>>,
    wake: Arc<Notify>,
    store: Arc<dyn Store>,
    window: Duration,
    /// Serialises status writes so an offline write racing a reconnect can
    /// never land after the online one.
    writes: Arc<tokio::sync::Mutex<()>>,
    alerting: Arc<crate::alerting::Alerting>,
}

impl StatusTracker {
    /// Starts the tracker. Devices stored as online get one window of grace
    /// to reconnect after a server restart before they are marked offline.
    pub async fn start(
        store: Arc<dyn Store>,
        window: Duration,
        shutdown: watch::Receiver<bool>,
        alerting: Arc<crate::alerting::Alerting>,
    ) -> anyhow::Result<Self> {
        let tracker = Self {
            inner: Arc::default(),
            wake: Arc::default(),
            store,
            window,
            writes: Arc::default(),
            alerting,
        };
        let deadline = Instant::now() + window;
        let statuses = tracker.store.device_statuses().await?;
        {
            let mut d = tracker.lock();
            for (device, status) in statuses {
                if status == Status::Online {
                    d.by_device.insert(device, deadline);
                    d.queue.insert((deadline, device));
                }
            }
        }
        tokio::spawn(tracker.clone().expire_loop(shutdown.clone()));
        tokio::spawn(tracker.clone().flush_loop(shutdown));
        Ok(tracker)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Deadlines> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records life from a device; marks it online if it was not.
    pub async fn touch(&self, device: Uuid) {
        let deadline = Instant::now() + self.window;
        let was_tracked = {
            let mut d = self.lock();
            d.seen.insert(device, crate::now_secs());
            let previous = d.by_device.insert(device, deadline);
            if let Some(previous) = previous {
                d.queue.remove(&(previous, device));
            }
            d.queue.insert((deadline, device));
            previous.is_some()
        };
        if !was_tracked {
            self.wake.notify_one();
            let _write = self.writes.lock().await;
            match self
                .store
                .set_status(device, Status::Online, crate::now_secs())
                .await
            {
                Ok(true) => self.alerting.on_status(device, true).await,
                Ok(false) => {}
                Err(error) => tracing::warn!(%device, %error, "Cannot record online status."),
            }
        }
    }

    /// Forgets a device (revoked): it goes offline now.
    pub async fn drop_device(&self, device: Uuid) {
        let removed = {
            let mut d = self.lock();
            d.by_device
                .remove(&device)
                .map(|at| d.queue.remove(&(at, device)))
        };
        if removed.is_some() {
            let _write = self.writes.lock().await;
            let _ = self
                .store
                .set_status(device, Status::Offline, crate::now_secs())
                .await;
        }
    }

    async fn expire_loop(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let next = self.lock().queue.first().map(|(at, _)| *at);
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {}
                _ = self.wake.notified() => continue,
                _ = shutdown.changed() => return,
            }
            let now = Instant::now();
            let expired: Vec<Uuid> = {
                let mut d = self.lock();
                let mut out = Vec::new();
                while let Some(&(at, device)) = d.queue.first() {
                    if at > now {
                        break;
                    }
                    d.queue.pop_first();
                    d.by_device.remove(&device);
                    out.push(device);
                }
                out
            };
            for device in expired {
                let _write = self.writes.lock().await;
                if self.lock().by_device.contains_key(&device) {
                    continue; // came back while we waited
                }
                tracing::info!(%device, "Device is offline: no heartbeat in time.");
                match self
                    .store
                    .set_status(device, Status::Offline, crate::now_secs())
                    .await
                {
                    Ok(true) => self.alerting.on_status(device, false).await,
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%device, %error, "Cannot record offline status."),
                }
            }
        }
    }

    /// Writes last-seen times in one transaction every few seconds instead
    /// of one write per heartbeat.
    async fn flush_loop(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            let stop = tokio::select! {
                _ = tick.tick() => false,
                _ = shutdown.changed() => true,
            };
            let seen: Vec<(Uuid, i64)> = self.lock().seen.drain().collect();
            if !seen.is_empty()
                && let Err(error) = self.store.set_last_seen(&seen).await
            {
                tracing::warn!(%error, "Cannot record last-seen times.");
            }
            if stop {
                return;
            }
        }
    }
}
