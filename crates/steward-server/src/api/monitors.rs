//! Monitors: created, read, edited in place (a new threshold applies from
//! the next sample), disabled, deleted. Disabling or deleting one resolves
//! the alerts it holds open, so none stays open with nothing to clear it.

use super::lifecycle::{expected_version, named_conflict, overlay, read_as, tagged};
use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_alert::monitor::{Monitor, MonitorSpec};
use steward_alert::noise::Matcher;
use steward_store::{MonitorRecord, Place, Scope};
use uuid::Uuid;

/// The organisation named (the caller's own when None), where the caller
/// must manage monitors.
pub(super) async fn org_for(
    state: &AppState,
    caller: &Caller,
    name: Option<&str>,
) -> Result<Uuid, ApiError> {
    let org = super::org_named(state, caller, name).await?;
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden("you cannot manage monitors there"));
    }
    Ok(org)
}

/// A monitor as it is created, edited (`PATCH` fields) and exported.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMonitor {
    name: String,
    org: Option<String>,
    spec: MonitorSpec,
    #[serde(default)]
    applies_to: Matcher,
    #[serde(default)]
    exclude: Matcher,
    #[serde(default)]
    remediation: Option<steward_alert::monitor::Remediation>,
    /// False keeps it without evaluating it (default true).
    #[serde(default = "super::lifecycle::yes")]
    enabled: bool,
}

/// A stored monitor in the shape [`NewMonitor`] reads (the server-written
/// remediation owner left out).
pub fn view(record: &MonitorRecord) -> Value {
    let mut fields = json!({
        "name": record.name,
        "spec": record.definition["spec"],
        "applies_to": record.definition.get("applies_to").cloned().unwrap_or(json!({})),
        "exclude": record.definition.get("exclude").cloned().unwrap_or(json!({})),
        "enabled": record.enabled,
    });
    if let Some(fix) = record
        .definition
        .get("remediation")
        .filter(|f| !f.is_null())
    {
        let mut fix = fix.clone();
        if let Some(map) = fix.as_object_mut() {
            map.remove("owner");
        }
        fields["remediation"] = fix;
    }
    fields
}

/// Checks a monitor's fields as its author may set them and builds the
/// record to store (version as given).
async fn build(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    org: Uuid,
    body: NewMonitor,
) -> Result<MonitorRecord, ApiError> {
    if body.name.is_empty() || body.name.len() > 128 || body.name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a monitor needs a name of 1-128 characters",
        ));
    }
    // Its alerts (names, figures) go to the organisation's channels: it
    // may reach only devices its author may manage monitors for.
    if !crate::jobs::authority::matcher_within(&caller.scope, org, &body.applies_to) {
        return Err(ApiError::forbidden(
            "this monitor would reach devices at sites you may not manage: limit it to your sites (applies_to.sites only)",
        ));
    }
    let mut remediation = body.remediation;
    if let Some(fix) = &mut remediation {
        remediation_allowed(state, caller, org, &body.applies_to, fix).await?;
    }
    let monitor = Monitor {
        id: id.to_string(),
        org_id: org.to_string(),
        name: body.name.clone(),
        spec: body.spec,
        applies_to: body.applies_to,
        exclude: body.exclude,
        remediation,
    };
    monitor
        .validate()
        .map_err(|e| ApiError::bad_request(format!("invalid monitor: {e}")))?;
    let definition =
        serde_json::to_value(&monitor).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(MonitorRecord {
        id,
        org_id: org,
        name: body.name,
        definition,
        enabled: body.enabled,
        version: 1,
    })
}

/// A warning when the monitor watches a metric no agent reports (a typo
/// makes a monitor that never fires), naming the closest known ones.
pub fn metric_warning(spec: &MonitorSpec) -> Option<String> {
    let metric = match spec {
        MonitorSpec::Threshold { metric, .. }
        | MonitorSpec::Forecast { metric, .. }
        | MonitorSpec::Anomaly { metric, .. } => metric,
        MonitorSpec::Offline | MonitorSpec::Check { .. } | MonitorSpec::LogPattern { .. } => {
            return None;
        }
    };
    let known = steward_proto::METRIC_NAMES;
    if known.contains(&metric.as_str()) {
        return None;
    }
    let mut close: Vec<(f64, &str)> = known
        .iter()
        .map(|k| (strsim::normalized_damerau_levenshtein(metric, k), *k))
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    // Only those about as close as the closest.
    let best = close.first().map_or(0.0, |c| c.0);
    close.retain(|(score, _)| *score >= best - 0.05);
    let hint = match close.as_slice() {
        [] => format!(
            "; agents report {}",
            known
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        close => format!(
            "; did you mean {}?",
            close
                .iter()
                .take(3)
                .map(|(_, k)| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    Some(format!(
        "no agent reports a metric named {metric:?}, so this monitor will not fire until one does{hint}"
    ))
}

/// The answer to a create or edit, with the metric warning when there is one.
fn with_warning(mut answer: Value, spec: &MonitorSpec) -> Value {
    if let Some(warning) = metric_warning(spec) {
        answer["warning"] = warning.into();
    }
    answer
}

/// Every evaluator (this replica's and the others') picks up a change
/// to monitors or noise rules.
pub(super) async fn reload(state: &AppState) -> Result<(), ApiError> {
    state
        .alerting
        .reload()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    crate::bus::tell(state, crate::bus::BusEvent::Reload);
    Ok(())
}

/// Resolves what a monitor holds open (it was disabled or deleted).
async fn resolve_held(state: &AppState, caller: &Caller, monitor: Uuid) -> Result<(), ApiError> {
    let id = monitor.to_string();
    for alert in state.store.list_alerts(&Scope::all(), true).await? {
        if alert.monitor_id == id {
            super::alerts::resolve_by_hand(
                state,
                &Scope::all(),
                alert.id,
                &caller.principal.username,
                false,
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn create_monitor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewMonitor>,
) -> ApiResult<Value> {
    let org = org_for(&state, &caller, body.org.as_deref()).await?;
    let record = build(&state, &caller, Uuid::now_v7(), org, body).await?;
    state
        .store
        .create_monitor(&record)
        .await
        .map_err(|e| named_conflict(e, "monitor", &record.name))?;
    reload(&state).await?;
    caller.changed(Value::Null, view(&record));
    let spec: Option<MonitorSpec> = serde_json::from_value(record.definition["spec"].clone()).ok();
    let answer = json!({ "id": record.id, "monitor": record.definition, "enabled": record.enabled, "version": record.version });
    Ok(Json(match &spec {
        Some(spec) => with_warning(answer, spec),
        None => answer,
    }))
}

/// A remediation runs a script on every device the monitor reaches, later
/// and unattended: whoever sets it up must hold `scripts.run` there (every
/// site it names, or the whole organisation with no site denied) and see
/// the script. It then runs as them, re-checked at each attempt.
async fn remediation_allowed(
    state: &AppState,
    caller: &Caller,
    org: Uuid,
    applies_to: &Matcher,
    fix: &mut steward_alert::monitor::Remediation,
) -> Result<(), ApiError> {
    crate::jobs::authority::may_leave_standing_work(&caller.principal)
        .map_err(ApiError::forbidden)?;
    let scripts = crate::authz::scope_for(&caller.principal, crate::authz::Permission::ScriptsRun);
    if !crate::jobs::authority::matcher_within(&scripts, org, applies_to) {
        return Err(ApiError::forbidden(
            "a remediation runs a script on every device the monitor applies to: you need scripts.run on all of them (limit the monitor to your sites with applies_to.sites)",
        ));
    }
    let script = state
        .store
        .get_script(
            &crate::jobs::authority::within_org(&scripts, org),
            &fix.script,
        )
        .await
        .map_err(|_| ApiError::bad_request(format!("no script {:?}", fix.script)))?;
    if script.org_id != org {
        return Err(ApiError::bad_request(format!(
            "the script {:?} belongs to another organisation",
            fix.script
        )));
    }
    // Whatever the request said: the remediation runs as its author.
    fix.owner = Some(caller.principal.username.clone());
    Ok(())
}

/// The record as answered: with its editable `fields` (what `PATCH` and
/// `steward apply` take, what `steward export` writes).
fn answer(record: &MonitorRecord) -> Value {
    super::lifecycle::with_fields(record, view(record))
}

pub async fn list_monitors(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<Value>> {
    let records = state.store.list_monitors(&readable(&caller.scope)).await?;
    let mut names = OrgNames::default();
    let mut answers = Vec::new();
    for record in &records {
        if caller.scope.allows_org(record.org_id) {
            answers.push(editable(answer(record)));
        } else if reaches_sites(&caller.scope, record) {
            answers.push(read_only_monitor(
                record,
                &names.of(&state, record.org_id).await,
            ));
        }
    }
    Ok(Json(answers))
}

pub async fn get_monitor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "monitor")?;
    let record = state
        .store
        .get_monitor(&readable(&caller.scope), id)
        .await?;
    if caller.scope.allows_org(record.org_id) {
        return Ok(tagged(record.version, editable(answer(&record))));
    }
    if !reaches_sites(&caller.scope, &record) {
        return Err(ApiError::not_found("not found"));
    }
    let org = OrgNames::default().of(&state, record.org_id).await;
    Ok(tagged(record.version, read_only_monitor(&record, &org)))
}

/// What a caller who manages monitors at some sites only may read: the
/// whole-organisation monitors and channels of those organisations (which
/// apply to their devices too), read-only. A site deny does not hide an
/// organisation's rows; a whole-organisation deny does.
pub(super) fn readable(scope: &Scope) -> Scope {
    Scope {
        allow: scope
            .allow
            .iter()
            // A site of every organisation (no such grant is made today)
            // must not widen to every organisation.
            .filter(|p| p.org.is_some() || p.site.is_none())
            .map(|p| Place {
                org: p.org,
                site: None,
            })
            .collect(),
        deny: scope
            .deny
            .iter()
            .filter(|p| p.site.is_none())
            .cloned()
            .collect(),
    }
}

/// Whether a monitor the caller may not edit can reach their devices: it
/// names none of their sites (whatever else it selects by) only when it
/// is limited to other sites.
fn reaches_sites(scope: &Scope, record: &MonitorRecord) -> bool {
    let sites: Vec<&str> = record.definition["applies_to"]["sites"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    sites.is_empty()
        || sites
            .iter()
            .any(|site| scope.allows(record.org_id, Some(site)))
}

/// Marks an answer as one the caller may change.
fn editable(mut value: Value) -> Value {
    value["editable"] = json!(true);
    value
}

/// Why an organisation-wide object is read-only for a site-limited
/// caller, in words.
pub(super) fn read_only_note(org: &str) -> String {
    format!(
        "set for the whole organisation {org}: changing it needs monitors.manage for all of {org} (ask one of its administrators)"
    )
}

/// A monitor as a caller limited to some sites reads it: what it watches
/// and where, no editable fields, and who may change it.
fn read_only_monitor(record: &MonitorRecord, org: &str) -> Value {
    let mut definition = view(record);
    if let Some(map) = definition.as_object_mut() {
        map.remove("name");
        map.remove("enabled");
        // What its self-healing runs (script, parameters) is for those
        // who may change it.
        map.remove("remediation");
    }
    json!({
        "id": record.id,
        "org_id": record.org_id,
        "name": record.name,
        "definition": definition,
        "enabled": record.enabled,
        "version": record.version,
        "editable": false,
        "note": read_only_note(org),
    })
}

/// Organisation names by id, each read once per request.
#[derive(Default)]
pub(super) struct OrgNames(std::collections::HashMap<Uuid, String>);

impl OrgNames {
    pub(super) async fn of(&mut self, state: &AppState, org: Uuid) -> String {
        if let Some(name) = self.0.get(&org) {
            return name.clone();
        }
        let name = state
            .store
            .list_orgs(&Scope::org(org))
            .await
            .ok()
            .and_then(|orgs| orgs.into_iter().next())
            .map(|o| o.name)
            .unwrap_or_else(|| org.to_string());
        self.0.insert(org, name.clone());
        name
    }
}

pub async fn patch_monitor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&id, "monitor")?;
    let expected = expected_version(&headers)?;
    let current = state.store.get_monitor(&caller.scope, id).await?;
    let body: NewMonitor = read_as(overlay(view(&current), patch)?, "monitor")?;
    if let Some(org) = body.org.as_deref()
        && org_for(&state, &caller, Some(org)).await? != current.org_id
    {
        return Err(ApiError::bad_request(
            "a monitor cannot move to another organisation: create it there and delete this one",
        ));
    }
    let mut record = build(&state, &caller, id, current.org_id, body).await?;
    record.version = state
        .store
        .update_monitor(&caller.scope, &record, expected.or(Some(current.version)))
        .await
        .map_err(|e| named_conflict(e, "monitor", &record.name))?;
    if current.enabled && !record.enabled {
        resolve_held(&state, &caller, id).await?;
    }
    reload(&state).await?;
    caller.changed(view(&current), view(&record));
    let spec: Option<MonitorSpec> = serde_json::from_value(record.definition["spec"].clone()).ok();
    let answered = answer(&record);
    Ok(tagged(
        record.version,
        match &spec {
            Some(spec) => with_warning(answered, spec),
            None => answered,
        },
    ))
}

pub async fn delete_monitor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "monitor")?;
    let current = state.store.get_monitor(&caller.scope, id).await?;
    state.store.delete_monitor(&caller.scope, id).await?;
    resolve_held(&state, &caller, id).await?;
    reload(&state).await?;
    caller.changed(view(&current), Value::Null);
    Ok(Json(json!({ "deleted": id })))
}

#[cfg(test)]
mod tests {
    use steward_alert::monitor::MonitorSpec;

    fn check(metric: &str, expected: Option<&str>) {
        let spec: MonitorSpec = serde_json::from_value(serde_json::json!({
            "kind": "threshold", "metric": metric,
            "threshold": { "direction": "above", "critical": { "trigger": 1.0 } }
        }))
        .expect("a spec");
        let warning = super::metric_warning(&spec);
        match (warning.as_deref(), expected) {
            (None, None) => {}
            (Some(w), Some(e)) => assert!(w.contains(e), "{metric}: {w}"),
            (w, e) => panic!("{metric}: warned {w:?}, expected {e:?}"),
        }
    }

    #[test]
    fn reading_widens_a_site_to_its_organisation_only() {
        use steward_store::{Place, Scope};
        let org = uuid::Uuid::now_v7();
        let place = |org, site: Option<&str>| Place {
            org,
            site: site.map(String::from),
        };
        let scope = Scope {
            allow: vec![place(Some(org), Some("hq")), place(None, Some("hq"))],
            deny: vec![place(Some(org), Some("lab"))],
        };
        let read = super::readable(&scope);
        assert_eq!(read.allow, vec![place(Some(org), None)]);
        assert!(read.deny.is_empty());
        assert!(!read.allows_org(uuid::Uuid::now_v7()), "another tenant");
    }

    #[test]
    fn unknown_metrics_are_warned_with_the_closest_names() {
        check("system.cpu.utilization", None);
        check("log.match.count_5m", None);
        check(
            "system.cpu.utilisation",
            Some(r#"did you mean "system.cpu.utilization"?"#),
        );
        check(
            "system.filesystem.utilisation",
            Some(r#""system.filesystem.utilization""#),
        );
        check("cpu", Some(r#"agents report "system.cpu.utilization""#));
        check("cpu", Some("will not fire until one does"));
    }
}
