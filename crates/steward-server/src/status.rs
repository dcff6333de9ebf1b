//! Online/offline from heartbeat deadlines. Each heartbeat (or any frame)
//! pushes the device's deadline forward; one task sleeps until the earliest
//! deadline and marks those devices offline. Every transition is stored
//! with its time (downtime reports).
//!
//! Several replicas: a device's frames reach the replica holding its
//! connection, which writes its last-seen time every `flush_every`. Going
//! offline is conditional on that shared time being stale, so a replica
//! whose device moved to another one does not mark it offline, and of
//! several replicas noticing a silence exactly one makes the transition
//! (and raises the alert). A slow sweep finds devices nobody holds any more
//! (their replica died and they did not come back).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_store::{Status, Store};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use uuid::Uuid;

/// The longest pause between two sweeps for devices nobody holds.
const ORPHAN_SWEEP_MAX: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Deadlines {
    by_device: HashMap<Uuid, Instant>,
    queue: BTreeSet<(Instant, Uuid)>,
    /// Devices seen since the last flush, with the time (Unix seconds).
    seen: HashMap<Uuid, i64>,
    /// When this replica last heard from each device it tracks.
    last_touch: HashMap<Uuid, i64>,
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
        tokio::spawn(tracker.clone().flush_loop(shutdown.clone()));
        tokio::spawn(tracker.clone().orphan_sweep(shutdown));
        Ok(tracker)
    }

    /// How often last-seen times are written: well inside the window, so
    /// another replica never sees a live device as stale.
    fn flush_every(&self) -> Duration {
        (self.window / 3).clamp(Duration::from_millis(200), Duration::from_secs(5))
    }

    /// Devices last seen before this (Unix seconds) are silent for good.
    fn stale_before(&self) -> i64 {
        let margin = (self.window + self.flush_every()).as_secs_f64().ceil() as i64 + 1;
        crate::now_secs() - margin
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Deadlines> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records life from a device; marks it online if it was not.
    pub async fn touch(&self, device: Uuid) {
        let deadline = Instant::now() + self.window;
        let now = crate::now_secs();
        let was_tracked = {
            let mut d = self.lock();
            d.seen.insert(device, now);
            d.last_touch.insert(device, now);
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
            // Written at once (not at the next flush): a replica this device
            // just left must see that it is alive here.
            if let Err(error) = self.store.set_last_seen(&[(device, now)]).await {
                tracing::warn!(%device, %error, "Cannot record the last-seen time.");
            }
            match self.store.set_status(device, Status::Online, now).await {
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
            d.last_touch.remove(&device);
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
                // Offline unless another replica heard from it after we did.
                let last = self.lock().last_touch.remove(&device);
                let seen_before = last.map_or_else(|| self.stale_before(), |t| t + 1);
                self.offline_if_stale(device, seen_before).await;
            }
        }
    }

    /// Offline, unless it was seen lately (here or by another replica).
    async fn offline_if_stale(&self, device: Uuid, stale_before: i64) {
        match self
            .store
            .mark_offline_if_stale(device, crate::now_secs(), stale_before)
            .await
        {
            Ok(true) => {
                tracing::info!(%device, "Device is offline: no heartbeat in time.");
                self.alerting.on_status(device, false).await;
                // What it probes is unknown now, not down.
                crate::agentless::agent_offline(self.store.as_ref(), device, crate::now_secs())
                    .await
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%device, %error, "Cannot record offline status."),
        }
    }

    /// Every half window, and at least every `ORPHAN_SWEEP_MAX`: devices
    /// stored as online that nobody has seen (their replica went away and
    /// they did not reconnect) go offline. A dead replica's devices are
    /// thus taken over within `flush_every` + 1 s + `ORPHAN_SWEEP_MAX` of
    /// when a single server would have noticed their silence.
    async fn orphan_sweep(self, mut shutdown: watch::Receiver<bool>) {
        let every = (self.window / 2).clamp(Duration::from_secs(1), ORPHAN_SWEEP_MAX);
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let stale = match self.store.stale_online(self.stale_before()).await {
                Ok(stale) => stale,
                Err(error) => {
                    tracing::warn!(%error, "Cannot look for silent devices.");
                    continue;
                }
            };
            for device in stale {
                if self.lock().by_device.contains_key(&device) {
                    continue; // ours, and alive or on its own deadline
                }
                let _write = self.writes.lock().await;
                self.offline_if_stale(device, self.stale_before()).await;
            }
        }
    }

    /// Writes last-seen times in one transaction every `flush_every`
    /// instead of one write per heartbeat.
    async fn flush_loop(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.flush_every());
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
