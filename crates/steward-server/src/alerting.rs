//! Alerting on the ingest path: the pure engine (`steward-alert`) is fed
//! each stored batch and each status change as they happen; its changes are
//! recorded (one transaction each: alert, history, outbox) by one writer
//! task; a notifier task delivers the outbox with retries. The outbox lives
//! in the store, so nothing is lost across a restart.

use crate::now_ms;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_alert::Severity;
use steward_alert::engine::{Change, Engine, HeldAlert, PastSample};
use steward_alert::flapping::FlapRule;
use steward_alert::monitor::Monitor;
use steward_alert::monitor::MonitorSpec;
use steward_alert::noise::{Grouper, MaintenanceWindow, Silence, Suppression, Target};
use steward_store::{AlertChange, NoiseKind, Scope, Store};
use tokio::sync::{Notify, mpsc, watch};
use uuid::Uuid;

#[derive(Clone)]
struct DeviceMeta {
    org: Uuid,
    target: Target,
}

#[derive(Default)]
struct Noise {
    windows: HashMap<Uuid, Vec<MaintenanceWindow>>,
    silences: HashMap<Uuid, Vec<Silence>>,
    /// device → the device it depends on.
    upstream_of: HashMap<String, String>,
    /// Devices currently offline.
    offline: std::collections::HashSet<String>,
}

/// A group waiting to go out: organisation, first alert, payload.
type Pending = (Uuid, Uuid, serde_json::Value);

pub struct Alerting {
    engine: Mutex<Engine>,
    noise: Mutex<Noise>,
    /// Offline notifications wait here to go out as one per site.
    grouper: Mutex<Grouper>,
    groups: Mutex<HashMap<String, Pending>>,
    devices: Mutex<HashMap<Uuid, DeviceMeta>>,
    changes: mpsc::UnboundedSender<(Uuid, Change)>,
    /// Incident work (recorded alerts to correlate, people's notes), in
    /// the order it came.
    pub incidents: crate::incidents::IncidentQueue,
    store: Arc<dyn Store>,
    outbox: Arc<Notify>,
    remediations: mpsc::UnboundedSender<crate::jobs::RemediationRequest>,
    /// Alerts whose remediation is under way (or escalated), by key.
    remediating: Mutex<HashMap<AlertKey, Remediating>>,
    /// Remediation attempts per (monitor, device), for the hourly cap.
    attempts: Mutex<HashMap<(String, Uuid), Vec<i64>>>,
    /// How far behind the samples' own time the latest evaluation ran (ms).
    pub evaluation_lag_ms: std::sync::atomic::AtomicI64,
    /// Devices taken over (their state rebuilt from the store).
    pub takeovers: std::sync::atomic::AtomicU64,
}

/// (monitor, device, subject).
pub type AlertKey = (String, Uuid, String);

struct Remediating {
    escalated: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn severity_from_name(name: &str) -> Option<Severity> {
    match name {
        "warning" => Some(Severity::Warning),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "ok",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

impl Alerting {
    pub async fn start(
        store: Arc<dyn Store>,
        group_wait: Duration,
        give_up: Duration,
        outbound: crate::notify::Outbound,
        console: String,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<(
        Arc<Self>,
        mpsc::UnboundedReceiver<crate::jobs::RemediationRequest>,
    )> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (remediations, remediation_rx) = mpsc::unbounded_channel();
        let (incidents, incident_rx) = crate::incidents::IncidentQueue::new(store.clone());
        let alerting = Arc::new(Self {
            engine: Mutex::new(Engine::new(FlapRule::default())),
            noise: Mutex::default(),
            grouper: Mutex::new(Grouper::new(group_wait.as_millis() as i64)),
            groups: Mutex::default(),
            devices: Mutex::default(),
            changes: tx,
            incidents,
            store: store.clone(),
            outbox: Arc::new(Notify::new()),
            remediations,
            remediating: Mutex::default(),
            attempts: Mutex::default(),
            evaluation_lag_ms: std::sync::atomic::AtomicI64::new(0),
            takeovers: std::sync::atomic::AtomicU64::new(0),
        });
        alerting.reload().await?;
        tokio::spawn(alerting.clone().writer(rx));
        tokio::spawn(crate::incidents::link_incidents(
            store.clone(),
            alerting.outbox.clone(),
            incident_rx,
        ));
        tokio::spawn(alerting.clone().ticker(shutdown.clone()));
        tokio::spawn(notifier(
            store,
            outbound,
            console,
            give_up,
            alerting.outbox.clone(),
            shutdown,
        ));
        Ok((alerting, remediation_rx))
    }

    /// Whether the alert of `key` is still waiting on its remediation (not
    /// resolved, not escalated).
    pub fn remediation_pending(&self, key: &AlertKey) -> bool {
        lock(&self.remediating)
            .get(key)
            .is_some_and(|r| !r.escalated)
    }

    /// The remediation did not help: later changes of the alert notify as
    /// usual. False when the alert resolved meanwhile (nothing to escalate).
    pub fn escalate(&self, key: &AlertKey) -> bool {
        match lock(&self.remediating).get_mut(key) {
            Some(r) if !r.escalated => {
                r.escalated = true;
                true
            }
            _ => false,
        }
    }

    /// An alert was resolved by hand: the engine lets go of its key, so a
    /// condition still true opens a new alert at its next evaluation.
    pub fn release(&self, key: &steward_alert::lifecycle::AlertKey) {
        self.engine().release(key);
    }

    pub fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    /// Decides, for a change about to be recorded, whether a remediation
    /// starts (returned) and why it stays quiet.
    fn remediation_for(
        &self,
        change: &Change,
        device: Uuid,
        suppressed: &mut Option<String>,
    ) -> Option<steward_alert::monitor::Remediation> {
        let key: AlertKey = (
            change.key.monitor.clone(),
            device,
            change.key.subject.clone(),
        );
        let mut remediating = lock(&self.remediating);
        if change.severity == Severity::Ok {
            if let Some(r) = remediating.remove(&key)
                && !r.escalated
            {
                *suppressed = Some("remediated".into());
            }
            return None;
        }
        if let Some(r) = remediating.get(&key) {
            if !r.escalated {
                *suppressed = Some("remediating".into());
            }
            return None;
        }
        if !change.notify || suppressed.is_some() {
            return None;
        }
        let remediation = self
            .engine()
            .monitors()
            .iter()
            .find(|m| m.id == change.key.monitor)
            .and_then(|m| m.remediation.clone())?;
        let now = now_ms();
        let mut attempts = lock(&self.attempts);
        let recent = attempts.entry((key.0.clone(), device)).or_default();
        recent.retain(|at| now - at < 3_600_000);
        if recent.len() >= remediation.max_per_hour as usize {
            tracing::warn!(monitor = %change.monitor_name, %device, "Remediation rate limit reached; paging instead.");
            return None;
        }
        recent.push(now);
        remediating.insert(key, Remediating { escalated: false });
        *suppressed = Some("remediating".into());
        Some(remediation)
    }

    fn engine(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reloads every monitor from the store (after any change to them).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let monitors: Vec<Monitor> = self
            .store
            .list_monitors(&Scope::all())
            .await?
            .into_iter()
            .filter(|m| m.enabled)
            .filter_map(|m| match serde_json::from_value::<Monitor>(m.definition) {
                Ok(monitor) => Some(monitor),
                Err(error) => {
                    tracing::error!(monitor = %m.id, %error, "Skipping a monitor that does not parse.");
                    None
                }
            })
            .collect();
        self.engine().set_monitors(monitors);
        let mut noise = Noise::default();
        for rule in self
            .store
            .list_noise_rules(&Scope::all(), NoiseKind::Maintenance)
            .await?
        {
            match serde_json::from_value::<MaintenanceWindow>(rule.definition) {
                Ok(window) => noise.windows.entry(rule.org_id).or_default().push(window),
                // Say so: an ignored window lets alerts page during it (a
                // time zone this machine's tz database lacks, say).
                Err(error) => {
                    tracing::error!(window = %rule.id, %error, "Maintenance window ignored: it does not read.")
                }
            }
        }
        for rule in self
            .store
            .list_noise_rules(&Scope::all(), NoiseKind::Silence)
            .await?
        {
            match serde_json::from_value::<Silence>(rule.definition) {
                Ok(silence) => noise.silences.entry(rule.org_id).or_default().push(silence),
                Err(error) => {
                    tracing::error!(silence = %rule.id, %error, "Silence ignored: it does not read.")
                }
            }
        }
        for (device, upstream) in self.store.upstreams().await? {
            noise
                .upstream_of
                .insert(device.to_string(), upstream.to_string());
        }
        let mut current = self.noise.lock().unwrap_or_else(|p| p.into_inner());
        noise.offline = std::mem::take(&mut current.offline);
        *current = noise;
        Ok(())
    }

    /// Why a change of this device must not notify, if it must not.
    fn suppression(&self, org: Uuid, target: &Target, monitor: &str, at: i64) -> Option<String> {
        let noise = self.noise.lock().unwrap_or_else(|p| p.into_inner());
        let windows = noise
            .windows
            .get(&org)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let silences = noise
            .silences
            .get(&org)
            .map(Vec::as_slice)
            .unwrap_or_default();
        steward_alert::noise::suppression(target, monitor, at, windows, silences).map(|s| match s {
            Suppression::Maintenance { window } => format!("maintenance window {window:?}"),
            Suppression::Silenced { reason, by } => format!("silenced by {by}: {reason}"),
            Suppression::Dependency { upstream } => format!("upstream device {upstream} is down"),
        })
    }

    /// Sends each group whose wait is over as one notification.
    async fn flush_groups(&self) {
        let due = self
            .grouper
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .due(now_ms());
        for (key, devices) in due {
            let Some((org, alert, mut payload)) = self
                .groups
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key)
            else {
                continue;
            };
            let severity = payload["severity"]
                .as_str()
                .unwrap_or("critical")
                .to_string();
            // Devices whose upstream is down too are its consequence: listed
            // apart, not as news.
            let (devices, consequences): (Vec<String>, Vec<String>) = if severity == "ok" {
                (devices, Vec::new())
            } else {
                let noise = self.noise.lock().unwrap_or_else(|p| p.into_inner());
                devices.into_iter().partition(|d| {
                    steward_alert::noise::dependency(d, &noise.upstream_of, &noise.offline)
                        .is_none()
                })
            };
            if devices.is_empty() {
                continue;
            }
            payload["suppressed_by_dependency"] = consequences.into();
            let what = if severity == "ok" {
                "back online"
            } else {
                "offline"
            };
            payload["summary"] = format!(
                "{} {what} at site {}",
                crate::notify::count(devices.len(), "device", "devices"),
                payload["site"].as_str().unwrap_or("")
            )
            .into();
            payload["count"] = devices.len().into();
            payload["devices"] = devices.into();
            if let Err(error) = self
                .store
                .enqueue_notification(org, alert, &severity, None, &payload.to_string(), now_ms())
                .await
            {
                tracing::error!(%error, "Cannot queue a grouped notification.");
            }
            self.outbox.notify_one();
        }
    }

    async fn meta(&self, device: Uuid) -> Option<DeviceMeta> {
        if let Some(meta) = self.devices.lock().ok()?.get(&device).cloned() {
            return Some(meta);
        }
        let detail = self.store.get_device(&Scope::all(), device).await.ok()?;
        Some(self.cache_meta(&detail.summary))
    }

    /// Caches what evaluation needs of a device (organisation, site, tags,
    /// OS) from its stored summary.
    fn cache_meta(&self, summary: &steward_store::DeviceSummary) -> DeviceMeta {
        let meta = DeviceMeta {
            org: summary.org_id,
            target: Target {
                device: summary.id.to_string(),
                site: summary.site.clone(),
                tags: summary.tags.clone(),
                os: summary.os.clone(),
            },
        };
        if let Ok(mut devices) = self.devices.lock() {
            devices.insert(summary.id, meta.clone());
        }
        meta
    }

    fn emit(&self, org: Uuid, changes: Vec<Change>) {
        for change in changes {
            let _ = self.changes.send((org, change));
        }
    }

    /// A batch was stored for `device`.
    pub async fn on_batch(&self, device: Uuid, ts_ms: i64, points: &[steward_proto::Point]) {
        let Some(meta) = self.meta(device).await else {
            return;
        };
        let org = meta.org.to_string();
        let changes: Vec<Change> = {
            let mut engine = self.engine();
            points
                .iter()
                .flat_map(|p| {
                    engine.on_sample(&meta.target, &org, &p.name, &p.labels, ts_ms, p.value)
                })
                .collect()
        };
        self.emit(meta.org, changes);
        self.evaluation_lag_ms.store(
            (crate::now_ms() - ts_ms).max(0),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// This replica evaluates `device` from now on (its agent connected
    /// here, after a restart, a move or a replica's death): the engine's
    /// state of it is rebuilt from the store, its open alerts and its last
    /// stretch of samples, and whatever differs from the stored alerts is
    /// recorded (see `steward_alert::engine::takeover`). On a store error
    /// the device is evaluated from what this engine holds. `summary` is
    /// the device as just read from the store (it refreshes the cache).
    pub async fn take_over(&self, summary: &steward_store::DeviceSummary) {
        let device = summary.id;
        let meta = self.cache_meta(summary);
        let held: Vec<HeldAlert> = match self.store.device_open_alerts(device).await {
            Ok(alerts) => alerts
                .into_iter()
                .filter_map(|a| {
                    Some(HeldAlert {
                        key: steward_alert::lifecycle::AlertKey {
                            monitor: a.monitor_id,
                            device: device.to_string(),
                            subject: a.subject,
                        },
                        severity: severity_from_name(&a.severity)?,
                        since: a.opened_at,
                    })
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%device, %error, "Cannot read the device's open alerts to take it over.");
                return;
            }
        };
        let org = meta.org.to_string();
        let plan = self.engine().replay_plan(&meta.target, &org);
        let to_ms = now_ms();
        let mut history = Vec::new();
        for name in plan.metrics {
            let query = steward_store::MetricQuery {
                device_id: device,
                name,
                from_ms: to_ms - plan.lookback_ms,
                to_ms,
            };
            match self.store.query_metric(&Scope::all(), &query).await {
                Ok(series) => history.extend(series.into_iter().flat_map(|s| {
                    let (name, labels) = (s.name, s.labels);
                    s.samples.into_iter().map(move |(at, value)| PastSample {
                        name: name.clone(),
                        labels: labels.clone(),
                        at,
                        value,
                    })
                })),
                Err(error) => {
                    tracing::warn!(%device, metric = %query.name, %error, "Cannot replay the device's samples to take it over.");
                }
            }
        }
        let changes = self.engine().take_over(&meta.target, &org, &held, history);
        self.takeovers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !changes.is_empty() {
            tracing::info!(%device, changes = changes.len(), "Took the device over; its alerts were behind its samples.");
        }
        self.emit(meta.org, changes);
    }

    /// Forgets what is cached of a device (its inventory changed: OS, site).
    pub fn forget(&self, device: Uuid) {
        if let Ok(mut devices) = self.devices.lock() {
            devices.remove(&device);
        }
    }

    pub async fn on_check(
        &self,
        device: Uuid,
        check: &str,
        state: steward_alert::plugin::PluginState,
        message: &str,
        at: i64,
    ) {
        let Some(meta) = self.meta(device).await else {
            return;
        };
        let changes = self.engine().on_check(
            &meta.target,
            &meta.org.to_string(),
            check,
            state,
            message,
            at,
        );
        self.emit(meta.org, changes);
    }

    /// Reported log templates the log pattern monitors could not follow.
    pub fn log_templates_dropped(&self) -> u64 {
        self.engine().log_templates_dropped()
    }

    /// The device reported the log templates of one of its rules.
    pub async fn on_log_patterns(
        &self,
        device: Uuid,
        report: &steward_proto::logs::LogPatternReport,
    ) {
        let Some(meta) = self.meta(device).await else {
            return;
        };
        let seen: Vec<steward_alert::engine::SeenPattern> = report
            .patterns
            .iter()
            .map(|p| steward_alert::engine::SeenPattern {
                template: p.template.clone(),
                example: p.examples.first().cloned().unwrap_or_default(),
                count: p.count,
            })
            .collect();
        let changes = self.engine().on_log_patterns(
            &meta.target,
            &meta.org.to_string(),
            &report.rule,
            &seen,
            now_ms(),
        );
        self.emit(meta.org, changes);
    }

    pub async fn on_status(&self, device: Uuid, online: bool) {
        {
            let mut noise = self.noise.lock().unwrap_or_else(|p| p.into_inner());
            if online {
                noise.offline.remove(&device.to_string());
            } else {
                noise.offline.insert(device.to_string());
            }
        }
        let Some(meta) = self.meta(device).await else {
            return;
        };
        let changes =
            self.engine()
                .on_status(&meta.target, &meta.org.to_string(), online, now_ms());
        self.emit(meta.org, changes);
    }

    async fn ticker(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            self.flush_groups().await;
            let changes = self.engine().tick(now_ms());
            for change in changes {
                if let Some(meta) = Uuid::parse_str(&change.key.device)
                    .ok()
                    .and_then(|d| self.devices.lock().ok()?.get(&d).cloned())
                {
                    let _ = self.changes.send((meta.org, change));
                }
            }
        }
    }

    async fn writer(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<(Uuid, Change)>) {
        while let Some((org, change)) = rx.recv().await {
            let Ok(device) = Uuid::parse_str(&change.key.device) else {
                continue;
            };
            let target = self
                .meta(device)
                .await
                .map(|m| m.target)
                .unwrap_or_default();
            let offline_kind = self
                .engine()
                .monitors()
                .iter()
                .any(|m| m.id == change.key.monitor && matches!(m.spec, MonitorSpec::Offline));
            let mut suppressed = if change.notify {
                self.suppression(org, &target, &change.key.monitor, change.at)
            } else {
                None
            };
            let mut remediation = if offline_kind {
                None
            } else {
                self.remediation_for(&change, device, &mut suppressed)
            };
            // Offline changes go out grouped per site and monitor.
            let grouped = offline_kind && change.notify && suppressed.is_none();
            if grouped {
                suppressed = Some("grouped".into());
            }
            let record = AlertChange {
                org_id: org,
                monitor_id: change.key.monitor.clone(),
                monitor_name: change.monitor_name.clone(),
                device_id: device,
                subject: change.key.subject.clone(),
                severity: severity_name(change.severity).into(),
                at: change.at,
                summary: change.summary.clone(),
                notify: change.notify,
                flapping: change.flapping,
                suppressed,
            };
            let recorded = self.store.record_alert_change(&record).await;
            if let Ok(Some(alert)) = &recorded {
                let facts = crate::incidents::AlertFacts {
                    alert: *alert,
                    org,
                    device,
                    monitor_id: record.monitor_id.clone(),
                    monitor_name: record.monitor_name.clone(),
                    severity: record.severity.clone(),
                    summary: record.summary.clone(),
                    group: offline_kind.then(|| format!("{}|{}", target.site, record.monitor_id)),
                    suppressed: record.suppressed.clone(),
                    at: record.at,
                };
                // Off this path: its writes (incident, timeline, audit) wait
                // behind metric ingest on SQLite, and the next alert change
                // and its notification must not wait with them.
                self.incidents.correlate(facts);
            }
            match recorded {
                Ok(Some(alert)) if grouped => {
                    let state = if change.severity == Severity::Ok {
                        "resolved"
                    } else {
                        "open"
                    };
                    let key = format!("{org}|{}|{}|{state}", target.site, change.key.monitor);
                    self.groups
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(key.clone())
                        .or_insert_with(|| {
                            let payload = serde_json::json!({
                                "group": true,
                                "org_id": org,
                                "monitor": change.monitor_name,
                                "monitor_id": change.key.monitor,
                                "site": target.site,
                                "state": state,
                                "severity": severity_name(change.severity),
                                "at": change.at,
                            });
                            (org, alert, payload)
                        });
                    self.grouper.lock().unwrap_or_else(|p| p.into_inner()).add(
                        &key,
                        &change.key.device,
                        now_ms(),
                    );
                }
                Ok(Some(alert)) if remediation.is_some() => {
                    let Some(remediation) = remediation.take() else {
                        continue;
                    };
                    let _ = self.remediations.send(crate::jobs::RemediationRequest {
                        alert,
                        org,
                        key: (
                            change.key.monitor.clone(),
                            device,
                            change.key.subject.clone(),
                        ),
                        monitor_name: change.monitor_name.clone(),
                        severity: severity_name(change.severity).into(),
                        summary: change.summary.clone(),
                        remediation,
                    });
                }
                Ok(_) => self.outbox.notify_one(),
                Err(error) => {
                    tracing::error!(%error, monitor = %record.monitor_name, "Cannot record an alert change.")
                }
            }
        }
    }
}

async fn notifier(
    store: Arc<dyn Store>,
    outbound: crate::notify::Outbound,
    console: String,
    give_up: Duration,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
        let due = match store.due_notifications(now_ms(), 100).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "Cannot read the notification outbox.");
                continue;
            }
        };
        // Delivered one after another, then recorded side by side: each
        // record is a write that goes ahead of metric ingest (SQLite's write
        // gate), and recorded one by one between deliveries each waited for
        // a group of batches, and every notification behind it with it.
        let mut delivered = Vec::with_capacity(due.len());
        for item in due {
            let payload = crate::notify::names::name(&*store, &console, &item.payload).await;
            let result = outbound.deliver(&item.channel, &payload, item.id).await;
            delivered.push((item, result, now_ms()));
        }
        let records = delivered.into_iter().map(|(item, result, now)| {
            let store = store.clone();
            async move {
                match result {
                    Ok(()) => store.notification_sent(item.id, now).await,
                    Err(error) => {
                        let attempts = item.attempts.saturating_add(1);
                        let next = crate::notify::failure::next_attempt(
                            attempts,
                            item.queued_at,
                            now,
                            give_up,
                        );
                        match next {
                            Some(at) => {
                                tracing::warn!(channel = %item.channel.name, %error, attempts, retry_in_s = (at - now) / 1000, "Notification failed; will retry.")
                            }
                            None => {
                                tracing::error!(channel = %item.channel.name, %error, attempts, "Notification given up: it kept failing; the channel shows it as undelivered.")
                            }
                        }
                        store.notification_failed(item.id, &error, next, now).await
                    }
                }
            }
        });
        // Two at a time: each holds one of the store's few SQLite
        // connections while it waits, and API reads and alert writes need
        // them too.
        let mut records = futures_util::stream::iter(records).buffer_unordered(2);
        while let Some(outcome) = records.next().await {
            if let Err(error) = outcome {
                tracing::error!(%error, "Cannot update the notification outbox.");
            }
        }
    }
}
