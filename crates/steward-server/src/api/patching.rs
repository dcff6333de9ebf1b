//! Patching routes: a device's pending updates (with why each is a
//! security one and since when it has been pending, and its reboot state),
//! fleet-wide software search compared by each package manager's version
//! rules, and the compliance figure. Every store call carries the caller's
//! scope.

use super::{ApiError, ApiResult, id_param};
use crate::auth::Caller;
use crate::patch_compliance::{self, Tally};
use crate::{AppState, now_secs};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use steward_store::MAX_SOFTWARE_ROWS;

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

/// `GET /api/v1/patching/compliance?days=14`: the share of reporting
/// devices with no security update pending for more than `days` days
/// (since the server first saw it as one), overall, per organisation and
/// site, and per device.
pub async fn compliance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ComplianceQuery>,
) -> ApiResult<Value> {
    let days = query.days.unwrap_or(patch_compliance::DEFAULT_DAYS);
    if days > 3650 {
        return Err(ApiError::bad_request("days must be at most 3650"));
    }
    let now = now_secs();
    let cutoff = patch_compliance::cutoff(now, days);
    let figures = state.store.patch_figures(&caller.scope).await?;
    let mut total = Tally::default();
    let mut orgs: BTreeMap<String, Tally> = BTreeMap::new();
    let mut sites: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut devices = Vec::with_capacity(figures.len());
    for device in &figures {
        let compliant = patch_compliance::compliant(device, cutoff);
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
            "reboot_required": device.reboot_required,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    since_days: Option<u32>,
}

/// `GET /api/v1/patching/compliance/history?since_days=30`: each recorded
/// day's compliance (at the default grace) summed over the sites in the
/// caller's scope, and per site.
pub async fn compliance_history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Value> {
    let since_days = query.since_days.unwrap_or(30);
    if !(1..=366).contains(&since_days) {
        return Err(ApiError::bad_request("since_days is 1 to 366"));
    }
    let today = now_secs().div_euclid(86_400);
    let rows = state
        .store
        .compliance_history(&caller.scope, today - i64::from(since_days) + 1)
        .await?;
    let date = |day: i64| {
        jiff::Timestamp::from_second(day * 86_400)
            .map(|t| t.to_string()[..10].to_string())
            .unwrap_or_default()
    };
    let figures = |devices, reporting, compliant, stale, reboot| {
        json!({
            "devices": devices, "reporting": reporting, "compliant": compliant, "stale": stale,
            "reboot_required": reboot, "share": patch_compliance::share(compliant, reporting),
        })
    };
    let mut days: BTreeMap<i64, [u64; 5]> = BTreeMap::new();
    let mut sites = Vec::with_capacity(rows.len());
    for r in &rows {
        let sum = days.entry(r.day).or_default();
        for (into, from) in sum.iter_mut().zip([
            r.devices,
            r.reporting,
            r.compliant,
            r.stale,
            r.reboot_required,
        ]) {
            *into += from;
        }
        let mut site = figures(
            r.devices,
            r.reporting,
            r.compliant,
            r.stale,
            r.reboot_required,
        );
        site["day"] = json!(date(r.day));
        site["org_id"] = json!(r.org_id);
        site["site"] = json!(r.site);
        sites.push(site);
    }
    let days: Vec<Value> = days
        .into_iter()
        .map(|(day, [d, rep, c, st, rb])| {
            let mut value = figures(d, rep, c, st, rb);
            value["day"] = json!(date(day));
            value
        })
        .collect();
    Ok(Json(json!({
        "grace_days": patch_compliance::DEFAULT_DAYS,
        "days": days,
        "sites": sites,
    })))
}

/// `GET /api/v1/patching/compliance.csv?days=14`: the same figures for a
/// spreadsheet, one device a line (times in UTC, RFC 3339). Device names
/// come from agents: a cell a spreadsheet would run as a formula is
/// written as text.
pub async fn compliance_csv(
    state: State<Arc<AppState>>,
    caller: Caller,
    query: Query<ComplianceQuery>,
) -> Result<Response, ApiError> {
    let Json(answer) = compliance(state, caller, query).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"patch-compliance.csv\"",
            ),
        ],
        compliance_rows(&answer),
    )
        .into_response())
}

const CSV_HEADER: &str = "device_id,device_name,org_id,site,state,pending,security_pending,oldest_security_since,reboot_required,updates_at\n";

/// The CSV of a compliance answer.
fn compliance_rows(answer: &Value) -> String {
    let mut out = String::from(CSV_HEADER);
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let time = |v: &Value| {
        v.as_i64()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    for d in answer["devices"].as_array().into_iter().flatten() {
        let state = match (
            d["reported"].as_bool(),
            d["stale"].as_bool(),
            d["compliant"].as_bool(),
        ) {
            (Some(false), _, _) => "not_reported",
            (_, Some(true), _) => "stale",
            (_, _, Some(true)) => "compliant",
            _ => "not_compliant",
        };
        let reboot = match d["reboot_required"].as_bool() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        let row = [
            text(&d["device_id"]),
            text(&d["device_name"]),
            text(&d["org_id"]),
            text(&d["site"]),
            state.to_string(),
            d["pending"].to_string(),
            d["security_pending"].to_string(),
            time(&d["oldest_security_since"]),
            reboot.to_string(),
            time(&d["updates_at"]),
        ];
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// One CSV cell: quoted when it holds a separator, a quote or a line
/// break; a leading `= + - @` (or tab, CR) is made text with a `'`.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_made_text() {
        assert_eq!(csv_cell("web-01"), "web-01");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn compliance_rows_say_each_device_state() {
        let answer = json!({ "devices": [
            { "device_id": "d1", "device_name": "=cmd|' /C calc'!A0", "org_id": "o", "site": "hq", "reported": true, "stale": false,
              "compliant": false, "pending": 3, "security_pending": 1, "oldest_security_since": 86_400, "reboot_required": true, "updates_at": 90_000 },
            { "device_id": "d2", "device_name": "new", "org_id": "o", "site": "hq", "reported": false, "stale": false,
              "compliant": null, "pending": 0, "security_pending": 0, "oldest_security_since": null, "reboot_required": null, "updates_at": null },
        ] });
        assert_eq!(
            compliance_rows(&answer),
            format!(
                "{CSV_HEADER}d1,'=cmd|' /C calc'!A0,o,hq,not_compliant,3,1,1970-01-02T00:00:00Z,yes,1970-01-02T01:00:00Z\n\
                 d2,new,o,hq,not_reported,0,0,,unknown,\n"
            )
        );
    }
}
