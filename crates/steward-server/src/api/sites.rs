//! Sites: listed with what names them; renamed (or merged into another)
//! everywhere they are named, rows and definitions alike, so no monitor,
//! silence, window or schedule is left pointing at the old name.

use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_store::{NoiseKind, SiteRecord};

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<SiteRecord>> {
    Ok(Json(state.store.list_sites(&caller.scope).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitePatch {
    /// The new name; an existing site's name merges the two.
    name: String,
}

/// Replaces `from` by `to` in the `sites` list of a matcher-shaped object
/// (`{"sites": [...], ...}`); whether anything changed. A merge leaves the
/// name once.
pub fn rename_in_matcher(matcher: &mut Value, from: &str, to: &str) -> bool {
    let Some(sites) = matcher.get_mut("sites").and_then(Value::as_array_mut) else {
        return false;
    };
    if !sites.iter().any(|s| s == from) {
        return false;
    }
    let mut renamed: Vec<Value> = Vec::with_capacity(sites.len());
    for site in sites.drain(..) {
        let site = if site == from { json!(to) } else { site };
        if !renamed.contains(&site) {
            renamed.push(site);
        }
    }
    *sites = renamed;
    true
}

/// Replaces `site:from` targets of a job request by `site:to`.
pub fn rename_in_targets(job: &mut Value, from: &str, to: &str) -> bool {
    let Some(targets) = job.get_mut("targets").and_then(Value::as_array_mut) else {
        return false;
    };
    let old = format!("site:{from}");
    let mut changed = false;
    for target in targets.iter_mut() {
        if target == &json!(old) {
            *target = json!(format!("site:{to}"));
            changed = true;
        }
    }
    changed
}

/// Renames site `site` of organisation `id` to the body's name.
pub async fn rename(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, site)): Path<(String, String)>,
    Json(body): Json<SitePatch>,
) -> ApiResult<Value> {
    let org = id_param(&id, "organisation")?;
    super::place::valid_label("a site", &body.name)?;
    // Grants and API token limits name sites: renaming (or merging) one
    // moves what people may do there, so it is for someone who holds every
    // permission in the whole organisation, at both sites (no deny).
    let everywhere = crate::authz::Permission::ALL
        .into_iter()
        .filter(|p| *p != crate::authz::Permission::OrgsManage)
        .all(|p| {
            let scope = crate::authz::scope_for(&caller.principal, p);
            scope.allows_org(org)
                && scope.allows(org, Some(&site))
                && scope.allows(org, Some(&body.name))
        });
    if !everywhere {
        return Err(ApiError::forbidden(
            "renaming a site moves the grants that name it: it needs every permission (an administrator's) for the whole organisation, at both sites",
        ));
    }
    caller.acting_in(org);
    let scope = caller.scope.clone();
    // Rows first; a rename left half-done (a definition edited meanwhile)
    // is finished by sending it again: no rows then, definitions still.
    let rows = match state
        .store
        .rename_site(&scope, org, &site, &body.name)
        .await
    {
        Ok(rows) => rows,
        Err(steward_store::StoreError::NotFound) => 0,
        Err(other) => return Err(other.into()),
    };
    let mut definitions = Vec::new();
    let mut left = Vec::new();
    for mut monitor in state.store.list_monitors(&scope).await? {
        let definition = &mut monitor.definition;
        let mut changed = false;
        for key in ["applies_to", "exclude"] {
            if let Some(matcher) = definition.get_mut(key) {
                changed |= rename_in_matcher(matcher, &site, &body.name);
            }
        }
        if changed && monitor.org_id == org {
            let what = format!("monitor {}", monitor.name);
            match state
                .store
                .update_monitor(&scope, &monitor, Some(monitor.version))
                .await
            {
                Ok(_) => definitions.push(what),
                Err(_) => left.push(what),
            }
        }
    }
    for kind in [NoiseKind::Silence, NoiseKind::Maintenance] {
        for mut rule in state.store.list_noise_rules(&scope, kind).await? {
            let changed = rule
                .definition
                .get_mut("matcher")
                .is_some_and(|m| rename_in_matcher(m, &site, &body.name));
            if changed && rule.org_id == org {
                let name = rule.definition["name"].as_str().unwrap_or("silence");
                let what = format!("{} {name}", noise_noun(kind));
                match state
                    .store
                    .update_noise_rule(&scope, kind, rule.id, &rule.definition, Some(rule.version))
                    .await
                {
                    Ok(_) => definitions.push(what),
                    Err(_) => left.push(what),
                }
            }
        }
    }
    for mut schedule in state.store.list_schedules(&scope).await? {
        if schedule.org_id == org && rename_in_targets(&mut schedule.job, &site, &body.name) {
            let what = format!("schedule {}", schedule.name);
            match state
                .store
                .update_schedule(&scope, &schedule, Some(schedule.version))
                .await
            {
                Ok(_) => definitions.push(what),
                Err(_) => left.push(what),
            }
        }
    }
    if rows == 0 && definitions.is_empty() && left.is_empty() {
        return Err(ApiError::not_found(format!(
            "nothing names a site {site:?} in this organisation"
        )));
    }
    // What alerting knows of these devices (their site) and of the rules.
    let moved: Vec<uuid::Uuid> = state
        .store
        .list_devices(&scope)
        .await?
        .into_iter()
        .filter(|d| d.site == body.name)
        .map(|d| d.id)
        .collect();
    for device in &moved {
        state.alerting.forget(*device);
    }
    crate::bus::tell(
        &state,
        crate::bus::BusEvent::DevicesChanged {
            devices: moved.clone(),
        },
    );
    super::monitors::reload(&state).await?;
    // Grants moved: cached principals are read again.
    crate::revocation::credentials_changed(&state);
    caller.changed(
        json!({ "site": site }),
        json!({ "site": body.name, "rows": rows, "definitions": definitions }),
    );
    if !left.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!(
                "renamed where it could; {} changed meanwhile and still name {site:?}: send the rename again to finish",
                left.join(", ")
            ),
        ));
    }
    Ok(Json(json!({
        "org_id": org,
        "from": site,
        "name": body.name,
        "rows": rows,
        "devices": moved.len(),
        "definitions": definitions,
    })))
}

fn noise_noun(kind: NoiseKind) -> &'static str {
    match kind {
        NoiseKind::Silence => "silence",
        NoiseKind::Maintenance => "maintenance window",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn matchers_and_targets_are_renamed_and_merged() {
        let check = |mut value: serde_json::Value, expected: serde_json::Value, changed: bool| {
            assert_eq!(
                super::rename_in_matcher(&mut value, "branch", "hq"),
                changed
            );
            assert_eq!(value, expected);
        };
        check(
            json!({ "sites": ["branch"] }),
            json!({ "sites": ["hq"] }),
            true,
        );
        check(
            json!({ "sites": ["hq", "branch", "lab"], "tags": ["branch"] }),
            json!({ "sites": ["hq", "lab"], "tags": ["branch"] }),
            true,
        );
        check(
            json!({ "tags": ["branch"] }),
            json!({ "tags": ["branch"] }),
            false,
        );
        check(
            json!({ "sites": ["lab"] }),
            json!({ "sites": ["lab"] }),
            false,
        );
        let mut job = json!({ "targets": ["site:branch", "tag:site:branch", "all"] });
        assert!(super::rename_in_targets(&mut job, "branch", "hq"));
        assert_eq!(job["targets"], json!(["site:hq", "tag:site:branch", "all"]));
    }
}
