//! What the patch policies decide for one device now
//! (`steward_patch::decide`): which pending updates install, which wait and
//! why (a hold and who set it, the mode, a deferral, the pilot ring, the
//! window), and whether it reboots. The console's pending updates show
//! these reasons; the deployment loop acts on the same decision.

use super::{ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use std::sync::Arc;
use steward_patch::{Decision, Device, Hold, Incident, Pilot, Policy, Trouble, Update};
use steward_store::{DeviceDetail, PatchRuleKind, Scope, Store, StoreError};
use uuid::Uuid;

/// The decision for a device the caller may see, as of `now` (ms).
pub async fn plan_for(
    store: &dyn Store,
    device: &DeviceDetail,
    now: i64,
) -> Result<Decision, StoreError> {
    let org = Scope::org(device.summary.org_id);
    let policies: Vec<Policy> = store
        .list_patch_rules(&org, PatchRuleKind::Policy)
        .await?
        .into_iter()
        .filter_map(|r| serde_json::from_value(r.definition).ok())
        .collect();
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
        // Agents do not report their zone yet: the policy's applies.
        timezone: None,
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
    Ok(steward_patch::decide(
        &policies, &holds, &subject, &pilot, now,
    ))
}

/// The pilot ring of `policy` in its organisation and the critical alerts
/// its devices opened (failed installs join them with deployments).
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
    let incidents = store
        .list_alerts(org, false)
        .await?
        .into_iter()
        .filter(|a| a.severity == "critical" && devices.contains(&a.device_id.to_string()))
        .map(|a| Incident {
            device: a.device_id.to_string(),
            at: a.opened_at.saturating_mul(1000),
            trouble: Trouble::CriticalAlert { subject: a.subject },
        })
        .collect();
    Ok(Pilot { devices, incidents })
}

pub async fn device_plan(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "device")?;
    let device = state.store.get_device(&caller.scope, id).await?;
    let decision = plan_for(state.store.as_ref(), &device, crate::now_ms()).await?;
    let mut value = json!(decision);
    value["device_id"] = json!(id);
    Ok(Json(value))
}
