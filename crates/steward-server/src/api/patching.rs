//! Patching routes: a device's pending updates (with why each is a
//! security one and since when it has been pending, and its reboot state),
//! fleet-wide software search compared by each package manager's version
//! rules, and the compliance figure. Every store call carries the caller's
//! scope.

use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use steward_store::{DevicePatchFigures, MAX_SOFTWARE_ROWS};

/// `GET /api/v1/devices/{id}/updates`.
pub async fn device_updates(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "device")?;
    let device = state.store.get_device(&caller.scope, id).await?;
    let stored = state.store.pending_updates(&caller.scope, id).await?;
    let seen: HashMap<(&str, &str), (i64, Option<i64>)> = stored
        .iter()
        .map(|p| {
            (
                (p.name.as_str(), p.arch.as_str()),
                (p.first_seen, p.security_since),
            )
        })
        .collect();
    let inventory = device.inventory.unwrap_or_default();
    // The agent's latest answer; when it could not tell this time, the
    // last one the store kept (without origins).
    let updates: Option<Vec<Value>> = match &inventory.updates {
        Some(updates) => Some(
            updates
                .iter()
                .map(|u| {
                    let (first_seen, security_since) = seen
                        .get(&(u.name.as_str(), u.arch.as_str()))
                        .copied()
                        .map_or((None, None), |(f, s)| (Some(f), s));
                    let mut value = serde_json::to_value(u).unwrap_or(Value::Null);
                    value["first_seen"] = json!(first_seen);
                    value["security_since"] = json!(security_since);
                    value
                })
                .collect(),
        ),
        None if device.inventory_at.is_some() && !stored.is_empty() => Some(
            stored
                .iter()
                .map(|p| {
                    json!({
                        "name": p.name, "current": p.current, "available": p.available,
                        "security": p.security, "rule": p.rule, "arch": p.arch,
                        "first_seen": p.first_seen, "security_since": p.security_since,
                    })
                })
                .collect(),
        ),
        None => None,
    };
    let count = |security: bool| {
        updates.as_ref().map(|list| {
            list.iter()
                .filter(|u| !security || u["security"] == json!(true))
                .count()
        })
    };
    Ok(Json(json!({
        "device_id": id,
        "device_name": device.summary.name,
        "reported_at": device.inventory_at,
        "pending": count(false),
        "security": count(true),
        "updates": updates,
        "patching": inventory.patching,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareQuery {
    name: Option<String>,
    below: Option<String>,
}

fn checked_text(what: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{what} must be 1 to 256 characters with no control characters"
        )));
    }
    Ok(())
}

/// `GET /api/v1/software?name=openssl&below=3.0.15`: the devices in scope
/// with that package, only those whose version orders below `below` by
/// their package manager's rules (Debian's for dpkg, RPM's for rpm).
pub async fn software(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<SoftwareQuery>,
) -> ApiResult<Value> {
    let name = query
        .name
        .ok_or_else(|| ApiError::bad_request("name is required: ?name=openssl"))?;
    checked_text("name", &name)?;
    if let Some(below) = &query.below {
        checked_text("below", below)?;
    }
    let mut rows = state
        .store
        .find_software(&caller.scope, &name, MAX_SOFTWARE_ROWS + 1)
        .await?;
    let truncated = rows.len() > MAX_SOFTWARE_ROWS as usize;
    rows.truncate(MAX_SOFTWARE_ROWS as usize);
    if let Some(below) = &query.below {
        rows.retain(|row| {
            steward_proto::version::compare(&row.manager, &row.version, below) == Ordering::Less
        });
    }
    let devices: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "device_id": r.device_id, "device_name": r.device_name, "org_id": r.org_id,
                "site": r.site, "version": r.version, "manager": r.manager,
            })
        })
        .collect();
    Ok(Json(json!({
        "name": name,
        "below": query.below,
        "devices": devices,
        "truncated": truncated,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceQuery {
    days: Option<u32>,
}

/// Default grace for a pending security update, in days.
const DEFAULT_DAYS: u32 = 14;

/// One group's figure: devices, those that reported, those compliant.
#[derive(Default)]
struct Tally {
    devices: u64,
    reporting: u64,
    compliant: u64,
    /// Reported once, but not within `PATCH_STALE_AFTER_SECS`.
    stale: u64,
}

impl Tally {
    fn add(&mut self, device: &DevicePatchFigures, compliant: bool, now: i64) {
        let current = device.reporting(now);
        self.devices += 1;
        self.reporting += u64::from(current);
        self.compliant += u64::from(current && compliant);
        self.stale += u64::from(device.reported && !current);
    }

    fn json(&self) -> Value {
        let share = (self.reporting > 0).then(|| {
            ((self.compliant as f64 / self.reporting as f64) * 10_000.0).round() / 10_000.0
        });
        json!({
            "devices": self.devices, "reporting": self.reporting,
            "compliant": self.compliant, "stale": self.stale, "share": share,
        })
    }
}

/// `GET /api/v1/patching/compliance?days=14`: the share of reporting
/// devices with no security update pending for more than `days` days
/// (since the server first saw it as one), overall, per organisation and
/// site, and per device.
pub async fn compliance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ComplianceQuery>,
) -> ApiResult<Value> {
    let days = query.days.unwrap_or(DEFAULT_DAYS);
    if days > 3650 {
        return Err(ApiError::bad_request("days must be at most 3650"));
    }
    let now = crate::now_secs();
    let cutoff = now - i64::from(days) * 86_400;
    let figures = state.store.patch_figures(&caller.scope).await?;
    let mut total = Tally::default();
    let mut orgs: BTreeMap<String, Tally> = BTreeMap::new();
    let mut sites: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut devices = Vec::with_capacity(figures.len());
    for device in &figures {
        let compliant = device.oldest_security_since.is_none_or(|t| t > cutoff);
        total.add(device, compliant, now);
        orgs.entry(device.org_id.to_string())
            .or_default()
            .add(device, compliant, now);
        sites
            .entry((device.org_id.to_string(), device.site.clone()))
            .or_default()
            .add(device, compliant, now);
        let current = device.reporting(now);
        devices.push(json!({
            "device_id": device.device_id, "device_name": device.device_name,
            "org_id": device.org_id, "site": device.site, "reported": device.reported,
            "updates_at": device.updates_at, "stale": device.reported && !current,
            "pending": device.pending, "security_pending": device.security_pending,
            "oldest_security_since": device.oldest_security_since,
            "compliant": current.then_some(compliant),
        }));
    }
    let with_key = |key: Value, tally: &Tally| {
        let mut value = tally.json();
        if let (Some(into), Some(from)) = (value.as_object_mut(), key.as_object()) {
            into.extend(from.clone());
        }
        value
    };
    Ok(Json(json!({
        "days": days,
        "at": now,
        "total": total.json(),
        "orgs": orgs.iter().map(|(org, t)| with_key(json!({ "org_id": org }), t)).collect::<Vec<_>>(),
        "sites": sites.iter().map(|((org, site), t)| with_key(json!({ "org_id": org, "site": site }), t)).collect::<Vec<_>>(),
        "devices": devices,
    })))
}
