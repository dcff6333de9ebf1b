//! Patch policies at work: the plan for a device (`steward_patch::decide`
//! fed from the store), and the loop that turns a due plan into a signed
//! `install_updates` job. Each deployment is claimed once across replicas
//! (per device, packages and day, so a failed one is tried again the next
//! day at the earliest), and runs with the authority the policy's setter
//! has now; its audit entry names them.

use super::{JobRequest, authority, create_job};
use crate::AppState;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::Arc;
use steward_patch::{Decision, Device, Hold, Incident, Pilot, Policy, Reboot, Trouble, Update};
use steward_proto::RebootAfter;
use steward_store::{DeviceDetail, PatchRuleKind, Scope, Status, Store, StoreError};
use uuid::Uuid;

/// How the jobs the policy loop creates are named (`patch: POLICY`).
const PATCH_JOB: &str = "patch: ";
/// Their origin (`patch-policy:ID`): what marks them, not the name.
const PATCH_ORIGIN: &str = "patch-policy:";

/// A device's decision and the policy behind it (its id and setter).
pub struct Plan {
    pub decision: Decision,
    pub policy: Option<(Uuid, String)>,
    /// The applying policy's notice before a restart, in minutes.
    pub reboot_grace_minutes: u32,
}

/// The plan for `device` as of `now` (ms), from its organisation's
/// policies and holds.
pub async fn plan_for(
    store: &dyn Store,
    device: &DeviceDetail,
    now: i64,
) -> Result<Plan, StoreError> {
    let org = Scope::org(device.summary.org_id);
    let rules = store.list_patch_rules(&org, PatchRuleKind::Policy).await?;
    let mut owners = Vec::with_capacity(rules.len());
    let mut policies: Vec<Policy> = Vec::with_capacity(rules.len());
    for rule in rules {
        if let Ok(policy) = serde_json::from_value::<Policy>(rule.definition) {
            owners.push((policy.name.clone(), rule.id, rule.created_by));
            policies.push(policy);
        }
    }
    let holds: Vec<Hold> = store
        .list_patch_rules(&org, PatchRuleKind::Hold)
        .await?
        .into_iter()
        .filter_map(|r| serde_json::from_value(r.definition).ok())
        .collect();
    let stored = store.pending_updates(&org, device.summary.id).await?;
    let reboot_required = device
        .inventory
        .as_ref()
        .and_then(|i| i.patching.as_ref())
        .and_then(|p| p.reboot.required)
        .unwrap_or(false);
    let subject = Device {
        id: device.summary.id.to_string(),
        site: Some(device.summary.site.clone()),
        tags: device.summary.tags.clone(),
        // The zone the agent reported; none (or one the core does not
        // know): the policy's applies.
        timezone: device
            .inventory
            .as_ref()
            .map(|i| i.timezone.clone())
            .filter(|z| !z.is_empty()),
        reboot_required,
        updates: stored
            .iter()
            .map(|p| Update {
                name: p.name.clone(),
                version: p.available.clone(),
                security: p.security,
                first_seen: p.first_seen.saturating_mul(1000),
            })
            .collect(),
    };
    let pilot = match steward_patch::policy_for(&policies, &subject) {
        Some(policy) if !policy.pilot_tags.is_empty() => {
            pilot_of(store, &org, policy, device.summary.org_id).await?
        }
        _ => Pilot::default(),
    };
    let decision = steward_patch::decide(&policies, &holds, &subject, &pilot, now);
    let reboot_grace_minutes =
        steward_patch::policy_for(&policies, &subject).map_or(0, |p| p.reboot_grace_minutes);
    let policy = decision.policy.as_ref().and_then(|name| {
        owners
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, id, by)| (*id, by.clone()))
    });
    Ok(Plan {
        decision,
        policy,
        reboot_grace_minutes,
    })
}

/// The pilot ring of `policy` in its organisation and the critical alerts
/// its devices opened.
async fn pilot_of(
    store: &dyn Store,
    org: &Scope,
    policy: &Policy,
    org_id: Uuid,
) -> Result<Pilot, StoreError> {
    let devices: Vec<String> = store
        .list_devices(org)
        .await?
        .into_iter()
        .filter(|d| d.org_id == org_id && policy.pilot_tags.iter().any(|t| d.tags.contains(t)))
        .map(|d| d.id.to_string())
        .collect();
    let mut incidents: Vec<Incident> = store
        .list_alerts(org, false)
        .await?
        .into_iter()
        .filter(|a| a.severity == "critical" && devices.contains(&a.device_id.to_string()))
        .map(|a| Incident {
            device: a.device_id.to_string(),
            at: a.opened_at,
            trouble: Trouble::CriticalAlert { subject: a.subject },
        })
        .collect();
    // Installs the policy loop sent that did not land.
    for device in &devices {
        let Ok(id) = device.parse::<Uuid>() else {
            continue;
        };
        for run in store.device_runs(org, id, 20).await? {
            if !matches!(run.status.as_str(), "failed" | "timed_out") {
                continue;
            }
            let Ok(job) = store.get_job(org, run.job_id).await else {
                continue;
            };
            if !job
                .origin
                .as_deref()
                .is_some_and(|o| o.starts_with(PATCH_ORIGIN))
            {
                continue;
            }
            let package = run
                .stdout
                .lines()
                .find(|l| l.contains(": failed") || l.contains(": not tried"))
                .and_then(|l| l.split(':').next())
                .unwrap_or("")
                .to_string();
            incidents.push(Incident {
                device: device.clone(),
                at: run.finished_at.unwrap_or(0),
                trouble: Trouble::FailedUpdate { package },
            });
        }
    }
    Ok(Pilot { devices, incidents })
}

/// Sends the due installs of every online device of an organisation with
/// a policy.
pub(super) async fn deploy_due(state: &Arc<AppState>, now: i64) {
    let orgs: HashSet<Uuid> = match state
        .store
        .list_patch_rules(&Scope::all(), PatchRuleKind::Policy)
        .await
    {
        Ok(rules) => rules.into_iter().map(|r| r.org_id).collect(),
        Err(error) => {
            tracing::error!(%error, "Cannot read patch policies.");
            return;
        }
    };
    if orgs.is_empty() {
        return;
    }
    let devices = match state.store.list_devices(&Scope::all()).await {
        Ok(devices) => devices,
        Err(error) => {
            tracing::error!(%error, "Cannot list devices for patching.");
            return;
        }
    };
    for summary in devices
        .into_iter()
        .filter(|d| orgs.contains(&d.org_id) && d.status == Status::Online)
    {
        let plan = match state.store.get_device(&Scope::all(), summary.id).await {
            Ok(device) => plan_for(state.store.as_ref(), &device, now).await,
            Err(error) => Err(error),
        };
        let plan = match plan {
            Ok(plan) => plan,
            Err(error) => {
                tracing::error!(device = %summary.id, %error, "Cannot plan patches.");
                continue;
            }
        };
        let Some((policy_id, owner)) = plan.policy.clone() else {
            continue;
        };
        // Installs, or a restart the device needs inside its window.
        if !plan.decision.acts() {
            continue;
        }
        let day = now.div_euclid(86_400_000);
        let mut hash = Sha256::new();
        for p in &plan.decision.install {
            hash.update(format!("{}={}\n", p.name, p.version));
        }
        let key = format!("{day}:{}", hex::encode(hash.finalize()));
        match state
            .store
            .claim_patch_deployment(summary.id, &key, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::error!(device = %summary.id, %error, "Cannot claim a patch deployment.");
                continue;
            }
        }
        deploy(
            state,
            (summary.id, summary.org_id, &summary.name),
            &plan,
            (policy_id, &owner),
        )
        .await;
    }
}

/// Creates the install job with the policy setter's authority now.
async fn deploy(
    state: &Arc<AppState>,
    (device, org, name): (Uuid, Uuid, &str),
    plan: &Plan,
    (policy_id, owner): (Uuid, &str),
) {
    let target = format!("{PATCH_ORIGIN}{policy_id}");
    let policy = plan.decision.policy.clone().unwrap_or_default();
    let audit = |action: &'static str, detail: serde_json::Value| {
        crate::audit::write(state, Some(org), owner, "patching", action, &target, detail)
    };
    let packages = serde_json::json!(plan.decision.install);
    let reboot = match plan.decision.reboot {
        Reboot::Yes => RebootAfter::Always,
        Reboot::IfRequired => RebootAfter::IfRequired,
        Reboot::No | Reboot::Deferred => RebootAfter::Never,
    };
    let authority = match authority::owner(state, owner).await {
        Ok(authority) => authority,
        Err(reason) => {
            tracing::warn!(%policy, %reason, "Patch deployment not created.");
            audit(
                "patch.refused",
                serde_json::json!({ "policy": policy, "device": name, "packages": packages, "reason": reason }),
            )
            .await;
            return;
        }
    };
    let request: JobRequest = match serde_json::from_value(serde_json::json!({
        "name": format!("{PATCH_JOB}{policy}"),
        "action": {
            "kind": "install_updates", "packages": packages, "timeout_secs": 1800,
            "reboot": reboot, "reboot_grace_minutes": plan.reboot_grace_minutes,
        },
        "targets": [format!("device:{device}")],
    })) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(%error, "Cannot build a patch job.");
            return;
        }
    };
    let created = create_job(
        state,
        org,
        &authority::within_org(&authority.scripts, org),
        &request,
        &authority.principal.username,
        Some(target.clone()),
    )
    .await;
    match created {
        Ok(created) => {
            audit(
                "patch.deploy",
                serde_json::json!({
                    "policy": policy, "device": name, "packages": packages,
                    "job_id": created.id, "reboot": plan.decision.reboot,
                    "on_behalf_of": authority.principal.username,
                }),
            )
            .await;
        }
        Err(error) => {
            tracing::warn!(%policy, error = %error.message, "Patch deployment not created.");
            audit(
                "patch.refused",
                serde_json::json!({ "policy": policy, "device": name, "packages": packages, "reason": error.message }),
            )
            .await;
        }
    }
}

/// A finished run of a job the policy loop sent: a failure opens (or
/// updates) a critical alert on the device, notified like any other; a
/// success resolves it.
pub(super) async fn install_finished(
    state: &Arc<AppState>,
    job: Uuid,
    device: Uuid,
    status: &str,
    stdout: &str,
) {
    let Ok(record) = state.store.get_job(&Scope::all(), job).await else {
        return;
    };
    if !record
        .origin
        .as_deref()
        .is_some_and(|o| o.starts_with(PATCH_ORIGIN))
    {
        return;
    }
    let failed = matches!(status, "failed" | "timed_out");
    let summary = if failed {
        let lines: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains(": failed") || l.contains(": not tried"))
            .take(5)
            .collect();
        let what = if lines.is_empty() {
            format!("the install {status}")
        } else {
            lines.join("; ")
        };
        what.chars()
            .filter(|c| !c.is_control())
            .take(1000)
            .collect()
    } else {
        "installed".to_string()
    };
    let now = crate::now_ms();
    let change = steward_store::AlertChange {
        org_id: record.org_id,
        monitor_id: "patching".into(),
        monitor_name: "Patch installation".into(),
        device_id: device,
        subject: "install".into(),
        severity: if failed { "critical" } else { "ok" }.into(),
        at: now,
        summary,
        notify: true,
        flapping: false,
        suppressed: None,
    };
    let alert = match state.store.record_alert_change(&change).await {
        Ok(Some(alert)) => alert,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(%device, %error, "Cannot record a failed patch install.");
            return;
        }
    };
    let tags = state
        .store
        .get_device(&Scope::all(), device)
        .await
        .map(|d| d.summary.tags)
        .unwrap_or_default();
    if let Err(error) = state
        .store
        .enqueue_notification(
            record.org_id,
            alert,
            &change.severity,
            Some(&tags),
            &change.payload(alert),
            now,
        )
        .await
    {
        tracing::error!(%device, %error, "Cannot notify a failed patch install.");
    }
    state.alerting.wake_outbox();
}
