//! SLA breach warnings: every few seconds, each open or acknowledged
//! incident of an organisation with SLA targets is weighed against its
//! priority's targets (`steward_incident::sla::standing`); an incident at
//! risk (80 % of the time gone) or past a target gets one warning per
//! threshold (`SlaStore::record_sla_warning`, so once across replicas):
//! a timeline entry, a notification through the organisation's channels
//! (`critical` for a breach, `warning` at risk) and an audit entry under
//! the name of whoever set the target, whose authority is checked as it
//! runs (they must still see the organisation's devices, all of them).

use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use steward_incident::kpi::IncidentTimes;
use steward_incident::sla::{Standing, Targets, standing};
use steward_store::{
    IncidentFilter, NewAuditEntry, Scope, SlaTargetRecord, SlaWarning, Store, StoreError,
    TimelineEntry,
};
use tokio::sync::watch;
use uuid::Uuid;

/// What the timeline and the audit name as the source of a warning.
pub const SOURCE: &str = "sla";
/// How often incidents are weighed.
const EVERY: Duration = Duration::from_secs(5);

/// Whether `username` may still set SLA targets for `org` (devices.manage
/// over the whole organisation, as setting one needs); why not.
async fn still_allowed(store: &dyn Store, username: &str, org: Uuid) -> Result<(), String> {
    crate::jobs::authority::org_manager(store, username, org, "the SLA target")
        .await
        .map(drop)
}

/// Weighs every open incident once at `now`; returns the warnings sent.
pub async fn sweep(store: &dyn Store, now: i64) -> Result<usize, StoreError> {
    let mut by_org: BTreeMap<Uuid, Vec<SlaTargetRecord>> = BTreeMap::new();
    for target in store.list_sla_targets(&Scope::all()).await? {
        by_org.entry(target.org_id).or_default().push(target);
    }
    let mut sent = 0;
    for (org, targets) in by_org {
        let scope = Scope::org(org);
        let incidents = store
            .list_incidents(&scope, &IncidentFilter::default())
            .await?;
        for incident in incidents
            .iter()
            .filter(|i| matches!(i.status.as_str(), "open" | "acknowledged"))
        {
            let Some(target) = targets.iter().find(|t| t.priority == incident.priority) else {
                continue;
            };
            let times = IncidentTimes {
                opened_at: incident.opened_at,
                acknowledged_at: incident.acknowledged_at,
                resolved_at: incident.resolved_at,
                cleared_by_itself: false,
            };
            let state = standing(
                &Targets {
                    acknowledge_ms: target.acknowledge_ms,
                    resolve_ms: target.resolve_ms,
                },
                &times,
                now,
            );
            for (what, st) in [
                ("acknowledge", state.acknowledge),
                ("resolve", state.resolve),
            ] {
                let (threshold, due_at) = match st {
                    Standing::AtRisk { due_at } => ("at_risk", due_at),
                    Standing::Breached { due_at, .. } => ("breached", due_at),
                    _ => continue,
                };
                if let Err(why) = still_allowed(store, &target.updated_by, org).await {
                    tracing::warn!(%org, incident = %incident.id, why, "SLA warning not sent.");
                    continue;
                }
                let key = format!("{what}.{threshold}");
                let breached = threshold == "breached";
                let summary = format!(
                    "incident {:?} ({}) {} its time to {what}",
                    incident.title,
                    incident.priority,
                    if breached {
                        "missed"
                    } else {
                        "is close to missing"
                    }
                );
                let body = json!({
                    "target": what, "threshold": threshold, "due_at": due_at,
                    "set_by": target.updated_by, "summary": summary,
                });
                let severity = if breached { "critical" } else { "warning" };
                let payload = json!({
                    "kind": "sla", "org_id": org, "incident_id": incident.id,
                    "title": incident.title, "priority": incident.priority,
                    "monitor": format!("SLA: time to {what}"), "state": "open",
                    "severity": severity, "threshold": key, "due_at": due_at,
                    "summary": summary, "at": now, "set_by": target.updated_by,
                });
                let warning = SlaWarning {
                    org_id: org,
                    incident: incident.id,
                    threshold: key.clone(),
                    at: now,
                    timeline: TimelineEntry {
                        at: now,
                        actor: SOURCE.into(),
                        kind: "sla".into(),
                        body: body.clone(),
                    },
                    severity: severity.into(),
                    payload: payload.to_string(),
                    audit: NewAuditEntry {
                        org_id: Some(org),
                        at: now / 1000,
                        actor: target.updated_by.clone(),
                        source: SOURCE.into(),
                        action: if breached {
                            "sla.breach"
                        } else {
                            "sla.at_risk"
                        }
                        .into(),
                        target: incident.id.to_string(),
                        detail: body.to_string(),
                    },
                };
                // The claim, the timeline entry, the queued notifications
                // and the audit entry commit together: a failure leaves
                // nothing claimed, so the next sweep sends it.
                if !store.record_sla_warning(&warning).await? {
                    continue;
                }
                sent += 1;
            }
        }
    }
    Ok(sent)
}

/// Runs [`sweep`] every few seconds until shutdown.
pub fn spawn(store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(error) = sweep(store.as_ref(), crate::now_ms()).await {
                tracing::warn!(%error, "SLA sweep failed.");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_store::{IncidentRecord, NewGrant, NewUser, RoleRecord};

    /// A target's warnings go out with its setter's authority, re-read at
    /// each sweep: someone who can only look (devices.view) no longer
    /// could set it, so nothing is sent in their name.
    #[tokio::test]
    async fn warnings_need_what_setting_the_target_needs() {
        let path = std::env::temp_dir().join(format!("steward-sla-{}.db", Uuid::now_v7()));
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(
            steward_store_sql::SqlStore::open_sqlite(&path)
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let org = store.default_org().await.unwrap().id;
        let mut roles = Vec::new();
        for (role, perms) in [
            ("looks", vec!["devices.view"]),
            ("manages", vec!["devices.view", "devices.manage"]),
        ] {
            store
                .create_role(&RoleRecord {
                    id: role.into(),
                    org_id: Some(org),
                    name: role.into(),
                    permissions: perms.into_iter().map(String::from).collect(),
                    version: 1,
                })
                .await
                .unwrap();
            roles.push(role);
        }
        let now = 100 * 3_600_000;
        for (n, role) in roles.iter().enumerate() {
            let user = Uuid::now_v7();
            store
                .create_user(&NewUser {
                    id: user,
                    org_id: org,
                    username: format!("setter-{role}"),
                    password_hash: "x".into(),
                    created_at: 1,
                    full_name: None,
                    email: None,
                })
                .await
                .unwrap();
            store
                .create_grant(&NewGrant {
                    id: Uuid::now_v7(),
                    user_id: user,
                    org_id: Some(org),
                    site: None,
                    role_id: role.to_string(),
                    deny: false,
                })
                .await
                .unwrap();
            let priority = ["p3", "p4"][n];
            store
                .create_sla_target(&SlaTargetRecord {
                    id: Uuid::now_v7(),
                    org_id: org,
                    priority: priority.into(),
                    acknowledge_ms: Some(60_000),
                    resolve_ms: None,
                    updated_by: format!("setter-{role}"),
                    updated_at: 1,
                    version: 1,
                })
                .await
                .unwrap();
            store
                .create_incident(
                    &IncidentRecord {
                        id: Uuid::now_v7(),
                        org_id: org,
                        title: format!("slow {priority}"),
                        status: "open".into(),
                        priority: priority.into(),
                        assignee: None,
                        devices: vec![],
                        alerts: vec![],
                        time_spent_ms: 0,
                        opened_at: now - 3_600_000,
                        opened_by: "tess".into(),
                        acknowledged_at: None,
                        resolved_at: None,
                        closed_at: None,
                        last_activity: now - 3_600_000,
                        version: 1,
                    },
                    &[],
                )
                .await
                .unwrap();
        }
        // Only the p4 incident, whose target's setter manages devices, is
        // warned about (its time to acknowledge was missed).
        assert_eq!(sweep(&*store, now).await.unwrap(), 1);
        let _ = std::fs::remove_file(&path);
    }
}
