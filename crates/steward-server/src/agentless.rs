//! Agentless devices on the server: the probes handed to each probing
//! agent (with the authority of the person who set each up, re-checked
//! every time), the results that come back on the agent's socket moved to
//! the device they belong to, and dependency suppression (an offline
//! probing agent turns its devices "unknown", and their probe alerts are
//! neither raised nor resolved since no result comes).
//!
//! What decides is pure ([`split`], [`allowed`]); the rest reads and
//! writes the store and the agent's socket.

use crate::AppState;
use crate::authz::{self, Permission};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use steward_proto::{AssignedProbe, PROBE_TARGET_LABEL, Point, ServerMessage};
use steward_store::{AssignedProbe as StoredProbe, IngestBatch, Status, Store};
use uuid::Uuid;

/// How long the agentless devices an agent may report for are cached.
const TARGETS_TTL: Duration = Duration::from_secs(15);

/// The agentless devices each agent probes, read at most every
/// [`TARGETS_TTL`] (an edit made on another replica shows within it).
#[derive(Default)]
pub struct Targets {
    map: Mutex<HashMap<Uuid, (Instant, Vec<Uuid>)>>,
    /// When each agentless device was last recorded online here (its
    /// status and last-seen time are written at most every
    /// [`SEEN_EVERY`], not per result).
    seen: Mutex<HashMap<Uuid, Instant>>,
}

/// How often a device's results write its status and last-seen time.
const SEEN_EVERY: Duration = Duration::from_secs(5);

impl Targets {
    pub async fn of(&self, store: &dyn Store, agent: Uuid) -> Vec<Uuid> {
        if let Some((at, devices)) = self.lock().get(&agent)
            && at.elapsed() < TARGETS_TTL
        {
            return devices.clone();
        }
        let devices = match store.agentless_of(agent).await {
            Ok(devices) => devices,
            Err(error) => {
                tracing::warn!(%agent, %error, "Cannot read the agentless devices of an agent.");
                return Vec::new();
            }
        };
        self.lock().insert(agent, (Instant::now(), devices.clone()));
        devices
    }

    pub fn forget(&self, agent: Uuid) {
        self.lock().remove(&agent);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, Vec<Uuid>)>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Splits an agent's points into its own and those of the devices its
/// assigned probes checked (the target label removed). A point naming a
/// device not in `targets` is dropped and counted: an agent reports only
/// for the devices it was given.
pub fn split(
    points: Vec<Point>,
    targets: &[Uuid],
) -> (Vec<Point>, BTreeMap<Uuid, Vec<Point>>, usize) {
    let mut own = Vec::with_capacity(points.len());
    let mut theirs: BTreeMap<Uuid, Vec<Point>> = BTreeMap::new();
    let mut dropped = 0;
    for mut point in points {
        match point.labels.remove(PROBE_TARGET_LABEL) {
            None => own.push(point),
            Some(device) => match Uuid::parse_str(&device) {
                Ok(device) if targets.contains(&device) => {
                    theirs.entry(device).or_default().push(point)
                }
                _ => dropped += 1,
            },
        }
    }
    (own, theirs, dropped)
}

/// Probe kinds the agent knows (the scheme of a probe's URL).
pub const PROBE_SCHEMES: &[&str] = &[
    "tcp", "tls", "http", "https", "smtp", "smtps", "imap", "imaps", "snmp", "icmp", "dns",
];

/// Checks a probe as a person sets it up (pure): the agent parses it again
/// and reports what it cannot run, but what is plainly wrong is refused
/// here with the reason.
pub fn check_probe(name: &str, url: &str) -> Result<(), String> {
    if !steward_proto::validate::is_metric_name(name, 48) {
        return Err(format!(
            "{name:?}: a probe's name is lowercase letters, digits, _ or . (48 at most)"
        ));
    }
    if url.is_empty() || url.len() > 512 || !url.chars().all(|c| c.is_ascii_graphic()) {
        return Err("a probe's URL is 1 to 512 printable ASCII characters without spaces".into());
    }
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
    if !PROBE_SCHEMES.contains(&scheme) {
        return Err(format!(
            "{url:?}: a probe's URL starts with one of {}://",
            PROBE_SCHEMES.join("://, ")
        ));
    }
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    if query.split('&').any(|pair| pair.starts_with("ca=")) {
        return Err("a probe set up on the server may not name a file on the agent (ca=)".into());
    }
    Ok(())
}

/// Whether a probe's creator may still manage devices where the probed
/// device is (pure): why not, for the audit.
pub fn allowed(scope: &steward_store::Scope, org: Uuid, site: &str) -> Result<(), String> {
    if scope.allows(org, Some(site)) {
        Ok(())
    } else {
        Err(format!("no longer holds devices.manage at site {site:?}"))
    }
}

/// The probes `agent` may run now: those whose creator still holds
/// devices.manage where the device is (re-read on every hand-over); the
/// others are left out and audited.
async fn authorised(state: &AppState, agent: Uuid, probes: Vec<StoredProbe>) -> Vec<AssignedProbe> {
    let mut scopes: HashMap<String, Option<steward_store::Scope>> = HashMap::new();
    let mut out = Vec::with_capacity(probes.len());
    for assigned in probes {
        let who = assigned.probe.created_by.clone();
        if !scopes.contains_key(&who) {
            let scope = match state.store.user_by_name(&who).await {
                Ok(user) => state
                    .store
                    .principal_for_user(user.id)
                    .await
                    .ok()
                    .map(|p| authz::scope_for(&p, Permission::DevicesManage)),
                Err(_) => None,
            };
            scopes.insert(who.clone(), scope);
        }
        let verdict = match scopes.get(&who).and_then(Option::as_ref) {
            Some(scope) => allowed(scope, assigned.probe.org_id, &assigned.site),
            None => Err("no longer exists".into()),
        };
        match verdict {
            Ok(()) => out.push(AssignedProbe {
                device: assigned.probe.device_id.to_string(),
                name: assigned.probe.name,
                url: assigned.probe.url,
            }),
            Err(why) => {
                tracing::warn!(%agent, probe = %assigned.probe.id, %who, %why, "A probe's creator lost the authority to run it; not handed to the agent.");
                crate::audit::write(
                    state,
                    Some(assigned.probe.org_id),
                    &who,
                    "probes",
                    "probe.refused",
                    &assigned.probe.device_id.to_string(),
                    serde_json::json!({ "probe": assigned.probe.name, "agent": agent, "reason": format!("{who:?} {why}") }),
                )
                .await;
            }
        }
    }
    out
}

/// Hands `agent` its probes (all of them; the list replaces the last).
/// Called when it says hello and after every change; false when no
/// replica holds it (it gets them when it connects).
pub async fn push(state: &AppState, agent: Uuid) -> bool {
    state.agentless.forget(agent);
    let probes = match state.store.probes_for_agent(agent).await {
        Ok(probes) => probes,
        Err(error) => {
            tracing::error!(%agent, %error, "Cannot read the probes assigned to an agent.");
            return false;
        }
    };
    let probes = authorised(state, agent, probes).await;
    crate::bus::send_to_device(state, agent, ServerMessage::Probes { probes })
}

/// The agent connected here: this replica evaluates its agentless
/// devices from now on (their results come on its socket), so what the
/// engine holds of them is rebuilt from the store, as for the agent.
pub async fn take_over(state: &AppState, agent: Uuid) {
    for device in state.store.agentless_of(agent).await.unwrap_or_default() {
        if let Ok(detail) = state
            .store
            .get_device(&steward_store::Scope::all(), device)
            .await
        {
            state.alerting.take_over(&detail.summary).await;
        }
    }
}

/// Stores and evaluates the points of the devices an agent's probes
/// checked; returns the commits to wait for before acking its batch.
pub async fn ingest_points(
    state: &AppState,
    agent: &steward_store::DeviceAuth,
    ts_ms: i64,
    points: Vec<Point>,
) -> (Vec<Point>, Vec<crate::ingest::Stored>) {
    let has_targets = points
        .iter()
        .any(|p| p.labels.contains_key(PROBE_TARGET_LABEL));
    if !has_targets {
        return (points, Vec::new());
    }
    let targets = state.agentless.of(state.store.as_ref(), agent.id).await;
    let (own, theirs, dropped) = split(points, &targets);
    if dropped > 0 {
        tracing::warn!(agent = %agent.id, dropped, "Dropped probe points for devices this agent does not probe.");
    }
    let mut waits = Vec::new();
    for (device, points) in theirs {
        state.alerting.on_batch(device, ts_ms, &points).await;
        seen(state, device).await;
        // The batch's time is its sequence number: strictly increasing
        // from one agent, the same when a batch is resent (idempotent).
        let batch = IngestBatch {
            device_id: device,
            org_id: agent.org_id,
            seq: ts_ms.max(0) as u64,
            ts_ms,
            points,
        };
        match state.ingest.enqueue(batch).await {
            Ok(wait) => waits.push(wait),
            Err(error) => tracing::error!(%device, %error, "Cannot queue probe results."),
        }
    }
    (own, waits)
}

/// A result came for an agentless device: it is online (known).
pub async fn seen(state: &AppState, device: Uuid) {
    {
        let mut seen = state
            .agentless
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen
            .get(&device)
            .is_some_and(|at| at.elapsed() < SEEN_EVERY)
        {
            return;
        }
        if seen.len() > 100_000 {
            seen.clear();
        }
        seen.insert(device, Instant::now());
    }
    let now = crate::now_secs();
    if let Err(error) = state.store.set_status(device, Status::Online, now).await {
        tracing::warn!(%device, %error, "Cannot record an agentless device's status.");
    }
    let _ = state.store.set_last_seen(&[(device, now)]).await;
}

/// Whether `device` is one `agent` probes (for check results).
pub async fn is_target(state: &AppState, agent: Uuid, device: &str) -> Option<Uuid> {
    let device = Uuid::parse_str(device).ok()?;
    state
        .agentless
        .of(state.store.as_ref(), agent)
        .await
        .contains(&device)
        .then_some(device)
}

/// The probing agent went offline: its agentless devices are "unknown"
/// (not down: nobody can tell), and no offline alert is raised for them.
pub async fn agent_offline(store: &dyn Store, agent: Uuid, at: i64) {
    let devices = match store.agentless_of(agent).await {
        Ok(devices) => devices,
        Err(error) => {
            tracing::warn!(%agent, %error, "Cannot read the agentless devices of an offline agent.");
            return;
        }
    };
    for device in devices {
        if let Err(error) = store.set_status(device, Status::Unknown, at).await {
            tracing::warn!(%device, %error, "Cannot mark an agentless device unknown.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str, target: Option<&str>) -> Point {
        let mut labels = BTreeMap::from([("probe".to_string(), "web".to_string())]);
        if let Some(t) = target {
            labels.insert(PROBE_TARGET_LABEL.to_string(), t.to_string());
        }
        Point {
            name: name.into(),
            labels,
            value: 1.0,
        }
    }

    #[test]
    fn points_go_to_their_device_and_foreign_ones_are_dropped() {
        let mine = Uuid::now_v7();
        let other = Uuid::now_v7();
        let (own, theirs, dropped) = split(
            vec![
                point("system.cpu.utilization", None),
                point("probe.success", Some(&mine.to_string())),
                point("probe.success", Some(&other.to_string())),
                point("probe.success", Some("not-an-id")),
            ],
            &[mine],
        );
        assert_eq!(own.len(), 1);
        assert_eq!(dropped, 2);
        let moved = &theirs[&mine];
        assert_eq!(moved.len(), 1);
        assert!(!moved[0].labels.contains_key(PROBE_TARGET_LABEL));
        assert_eq!(moved[0].labels["probe"], "web");
    }

    #[test]
    fn probes_are_checked_as_they_are_set_up() {
        assert!(check_probe("web", "https://example.org/health?match=ok").is_ok());
        assert!(check_probe("port", "tcp://10.0.0.1:22").is_ok());
        assert!(check_probe("Web", "tcp://h:1").is_err());
        assert!(check_probe("web", "gopher://h").is_err());
        assert!(check_probe("web", "tcp://h:1 x").is_err());
        assert!(check_probe("web", "tls://h:443?ca=/etc/shadow").is_err());
        assert!(check_probe("web", &format!("tcp://{}:1", "h".repeat(600))).is_err());
    }

    #[test]
    fn a_creator_outside_the_site_is_refused() {
        let org = Uuid::now_v7();
        let scope = steward_store::Scope {
            allow: vec![steward_store::Place {
                org: Some(org),
                site: Some("paris".into()),
            }],
            deny: vec![],
        };
        assert!(allowed(&scope, org, "paris").is_ok());
        assert!(allowed(&scope, org, "lyon").is_err());
        assert!(allowed(&scope, Uuid::now_v7(), "paris").is_err());
    }
}
