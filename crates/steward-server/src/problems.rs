//! Problems found without anyone asking: every minute, the alerts of the
//! last day are read per organisation as occurrences (signature: the
//! monitor), `steward_incident::problems::find` applies the default rules
//! and `decide` says what becomes of each problem found (opened, updated,
//! reopened after a resolve, or nothing). Each change is audited as
//! decided by `problems`, naming the rule. A repeat problem (one device)
//! is kept under the signature `MONITOR@DEVICE`.

use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use steward_incident::problems::{self, Decision, OnRecord, Rule, Status};
use steward_store::{NewAuditEntry, ProblemRecord, Scope, Store, StoreError};
use tokio::sync::watch;
use uuid::Uuid;

/// Who decides what this module does, in the audit log.
pub const ACTOR: &str = "problems";
/// How often the rules run.
const EVERY: Duration = Duration::from_secs(60);
/// The periodic task's name in `task_slots`.
const TASK: &str = "problems.scan";

fn window(rules: &[Rule]) -> i64 {
    rules
        .iter()
        .map(|r| match *r {
            Rule::Spread { window_ms, .. } | Rule::Repeat { window_ms, .. } => window_ms,
        })
        .max()
        .unwrap_or(0)
}

fn status_of(text: &str) -> Status {
    match text {
        "resolved" => Status::Resolved,
        "known_error" => Status::KnownError,
        _ => Status::Open,
    }
}

/// The rules organisations set (`/api/v1/problem-rules`); an
/// organisation absent uses [`Rule::DEFAULTS`]. Rules that no longer read
/// (a stored row from a later version) fall back to the defaults, logged.
pub async fn rules_by_org(store: &dyn Store) -> Result<HashMap<Uuid, Vec<Rule>>, StoreError> {
    let mut rules = HashMap::new();
    for record in store.list_problem_rules(&Scope::all()).await? {
        match serde_json::from_value::<Vec<Rule>>(record.rules) {
            Ok(set) => {
                rules.insert(record.org_id, set);
            }
            Err(error) => {
                tracing::warn!(org = %record.org_id, %error, "Problem rules unreadable: the defaults apply.");
            }
        }
    }
    Ok(rules)
}

/// Runs the rules once over the alerts before `now`; returns how many
/// problem records changed.
pub async fn scan(store: &dyn Store, now: i64) -> Result<usize, StoreError> {
    let custom = rules_by_org(store).await?;
    let widest = custom
        .values()
        .map(|r| window(r))
        .chain([window(&Rule::DEFAULTS)])
        .max()
        .unwrap_or(0);
    let occurrences = store.alert_occurrences(now - widest).await?;
    let mut by_org: BTreeMap<Uuid, Vec<steward_store::AlertOccurrence>> = BTreeMap::new();
    for o in occurrences {
        by_org.entry(o.org_id).or_default().push(o);
    }
    let mut changed = 0;
    for (org, mut seen) in by_org {
        let rules: &[Rule] = custom.get(&org).map_or(&Rule::DEFAULTS, Vec::as_slice);
        let since = now - window(rules);
        seen.retain(|o| o.at >= since);
        let plain: Vec<problems::Occurrence> = seen
            .iter()
            .map(|o| problems::Occurrence {
                signature: o.monitor_id.clone(),
                device: o.device_id.to_string(),
                at: o.at,
            })
            .collect();
        let on_record: HashMap<(String, String), ProblemRecord> = store
            .list_problems(&Scope::org(org))
            .await?
            .into_iter()
            .map(|p| ((p.signature.clone(), p.rule_kind.clone()), p))
            .collect();
        for found in problems::find(rules, &plain) {
            let (signature, kind) = match found.rule {
                Rule::Spread { .. } => (found.signature.clone(), "spread"),
                Rule::Repeat { .. } => {
                    let device = found.devices.iter().next().cloned().unwrap_or_default();
                    (format!("{}@{device}", found.signature), "repeat")
                }
            };
            let record = on_record.get(&(signature.clone(), kind.to_string()));
            let decision = problems::decide(
                record
                    .map(|r| OnRecord {
                        status: status_of(&r.status),
                        last_seen: r.last_seen,
                        resolved_at: r.resolved_at,
                    })
                    .as_ref(),
                &found,
            );
            let action = match decision {
                Decision::Nothing => continue,
                Decision::Open => "problem.open",
                Decision::Update => "problem.update",
                Decision::Reopen => "problem.reopen",
            };
            let mut devices: BTreeSet<Uuid> = found
                .devices
                .iter()
                .filter_map(|d| Uuid::parse_str(d).ok())
                .collect();
            let mut incidents: BTreeSet<Uuid> = seen
                .iter()
                .filter(|o| {
                    o.monitor_id == found.signature
                        && found.devices.contains(&o.device_id.to_string())
                })
                .filter_map(|o| o.incident_id)
                .collect();
            if let Some(r) = record {
                devices.extend(r.devices.iter().copied());
                incidents.extend(r.incidents.iter().copied());
            }
            let reopened = decision == Decision::Reopen;
            let problem = ProblemRecord {
                id: record.map_or_else(Uuid::now_v7, |r| r.id),
                org_id: org,
                signature: signature.clone(),
                rule_kind: kind.into(),
                rule: serde_json::to_value(found.rule).unwrap_or_default(),
                status: match record {
                    Some(r) if !reopened => r.status.clone(),
                    _ => "open".into(),
                },
                count: found.count as i64,
                first_seen: record.map_or(found.first_seen, |r| r.first_seen.min(found.first_seen)),
                last_seen: found.last_seen,
                devices: devices.into_iter().collect(),
                incidents: incidents.into_iter().collect(),
                root_cause: record.and_then(|r| r.root_cause.clone()),
                workaround: record.and_then(|r| r.workaround.clone()),
                fix: record.and_then(|r| r.fix.clone()),
                known_error: record.is_some_and(|r| r.known_error),
                resolved_at: if reopened {
                    None
                } else {
                    record.and_then(|r| r.resolved_at)
                },
                version: 1,
            };
            store.save_problem(&problem).await?;
            changed += 1;
            store
                .append_audit(&NewAuditEntry {
                    org_id: Some(org),
                    at: now / 1000,
                    actor: ACTOR.into(),
                    source: "server".into(),
                    action: action.into(),
                    target: problem.id.to_string(),
                    detail: json!({
                        "signature": signature, "rule": found.rule, "count": found.count,
                        "devices": problem.devices.len(),
                    })
                    .to_string(),
                })
                .await?;
        }
    }
    Ok(changed)
}

/// The scan of the minute `now` falls in, by whichever replica claims
/// that minute first (`TaskStore::claim_task_slot`): every replica ticks,
/// one scans, so the audit gets each change once. `None`: another
/// replica has this minute.
pub async fn scan_once_a_minute(store: &dyn Store, now: i64) -> Result<Option<usize>, StoreError> {
    if !store
        .claim_task_slot(TASK, now.div_euclid(EVERY.as_millis() as i64))
        .await?
    {
        return Ok(None);
    }
    scan(store, now).await.map(Some)
}

/// Runs [`scan_once_a_minute`] every minute until shutdown.
pub fn spawn(store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(error) = scan_once_a_minute(store.as_ref(), crate::now_ms()).await {
                tracing::warn!(%error, "Problem detection failed.");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_store::{AlertChange, NewDevice};

    #[tokio::test]
    async fn twenty_alerts_of_one_monitor_on_ten_devices_are_one_problem() {
        let path = std::env::temp_dir().join(format!("steward-problems-{}.db", Uuid::now_v7()));
        let store: Arc<dyn Store> = Arc::new(
            steward_store_sql::SqlStore::open_sqlite(&path)
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let org = store.default_org().await.unwrap().id;
        let hour = 3_600_000;
        let start = 1_000 * hour;
        let mut devices = Vec::new();
        for n in 0..10 {
            let id = Uuid::now_v7();
            store
                .create_device(&NewDevice {
                    id,
                    org_id: org,
                    site: "hq".into(),
                    name: format!("web-{n}"),
                    hostname: format!("web-{n}.lan"),
                    tags: vec![],
                    cert_fingerprint: format!("fp-{n}"),
                    enrolled_at: 1,
                })
                .await
                .unwrap();
            devices.push(id);
        }
        let alert = |device: Uuid, at: i64, severity: &str| AlertChange {
            org_id: org,
            monitor_id: "disk".into(),
            monitor_name: "disk full".into(),
            device_id: device,
            subject: String::new(),
            severity: severity.into(),
            at,
            summary: "disk".into(),
            notify: true,
            flapping: false,
            suppressed: None,
        };
        // Twenty alerts: each device fires, clears and fires again.
        for round in 0..2 {
            for (n, device) in devices.iter().enumerate() {
                let at = start + round * 2 * hour + n as i64 * 60_000;
                store
                    .record_alert_change(&alert(*device, at, "critical"))
                    .await
                    .unwrap();
                store
                    .record_alert_change(&alert(*device, at + 1_000, "ok"))
                    .await
                    .unwrap();
            }
        }
        let now = start + 4 * hour;
        // Two replicas tick in the same minute: one scans, once.
        let (a, b) = tokio::join!(
            scan_once_a_minute(store.as_ref(), now),
            scan_once_a_minute(store.as_ref(), now + 1_000)
        );
        let mut outcomes = [a.unwrap(), b.unwrap()];
        outcomes.sort();
        assert_eq!(outcomes, [None, Some(1)]);
        let found = store.list_problems(&Scope::all()).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let problem = &found[0];
        assert_eq!(problem.signature, "disk");
        assert_eq!(problem.rule_kind, "spread");
        assert_eq!(problem.count, 20);
        assert_eq!(problem.devices.len(), 10);
        assert_eq!(problem.status, "open");
        // Nothing new: nothing changes.
        assert_eq!(scan(store.as_ref(), now).await.unwrap(), 0);
        let audit = store
            .audit_entries(&Scope::all(), 0, 100, &Default::default())
            .await
            .unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|e| e.actor == ACTOR && e.action == "problem.open")
                .count(),
            1,
            "{audit:?}"
        );

        // Resolved by a person; the alerts come back: reopened, with what
        // was learnt kept.
        let mut resolved = problem.clone();
        resolved.status = "resolved".into();
        resolved.resolved_at = Some(now);
        resolved.root_cause = Some("logs never rotated".into());
        store
            .update_problem(&Scope::all(), &resolved, None)
            .await
            .unwrap();
        assert_eq!(
            scan(store.as_ref(), now + 1).await.unwrap(),
            0,
            "quiet since"
        );
        store
            .record_alert_change(&alert(devices[0], now + 60_000, "critical"))
            .await
            .unwrap();
        assert_eq!(scan(store.as_ref(), now + 120_000).await.unwrap(), 1);
        let again = store.get_problem(&Scope::all(), problem.id).await.unwrap();
        assert_eq!(again.status, "open");
        assert_eq!(again.resolved_at, None);
        assert_eq!(again.count, 21);
        assert_eq!(again.root_cause.as_deref(), Some("logs never rotated"));
        store.close().await;
        let _ = std::fs::remove_file(&path);
    }
    #[tokio::test]
    async fn an_organisations_own_rules_replace_the_defaults_in_the_scan() {
        let path = std::env::temp_dir().join(format!("steward-rules-{}.db", Uuid::now_v7()));
        let store: Arc<dyn Store> = Arc::new(
            steward_store_sql::SqlStore::open_sqlite(&path)
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let org = store.default_org().await.unwrap().id;
        let device = Uuid::now_v7();
        store
            .create_device(&NewDevice {
                id: device,
                org_id: org,
                site: "hq".into(),
                name: "db-1".into(),
                hostname: "db-1.lan".into(),
                tags: vec![],
                cert_fingerprint: "fp-db".into(),
                enrolled_at: 1,
            })
            .await
            .unwrap();
        let hour = 3_600_000;
        let start = 1_000 * hour;
        // Three failures in half an hour on one device.
        for n in 0..3 {
            for severity in ["critical", "ok"] {
                store
                    .record_alert_change(&AlertChange {
                        org_id: org,
                        monitor_id: "backup".into(),
                        monitor_name: "backup failed".into(),
                        device_id: device,
                        subject: String::new(),
                        severity: severity.into(),
                        at: start + n * 600_000 + i64::from(severity == "ok") * 1_000,
                        summary: "backup".into(),
                        notify: true,
                        flapping: false,
                        suppressed: None,
                    })
                    .await
                    .unwrap();
            }
        }
        let now = start + hour;
        // The defaults want ten.
        assert_eq!(scan(store.as_ref(), now).await.unwrap(), 0);
        let rules = serde_json::json!([{ "kind": "repeat", "window_ms": hour, "min_count": 3 }]);
        store
            .save_problem_rules(
                &steward_store::ProblemRulesRecord {
                    org_id: org,
                    rules,
                    updated_by: "alice".into(),
                    updated_at: now,
                    version: 0,
                },
                Some(0),
            )
            .await
            .unwrap();
        assert_eq!(scan(store.as_ref(), now).await.unwrap(), 1);
        let found = store.list_problems(&Scope::all()).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule_kind, "repeat");
        assert_eq!(found[0].signature, format!("backup@{device}"));
        assert_eq!(found[0].count, 3);
        // Outside the organisation's window, its alerts are not read.
        assert_eq!(scan(store.as_ref(), start + 3 * hour).await.unwrap(), 0);
        store.close().await;
        let _ = std::fs::remove_file(&path);
    }
}
