//! Monitors, alerts and notification channels.

use super::{ApiError, ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_alert::monitor::{Monitor, MonitorSpec};
use steward_alert::noise::Matcher;
use steward_store::{
    AlertEventRecord, AlertRecord, ChannelRecord, MonitorRecord, NoiseKind, NoiseRule,
};
use uuid::Uuid;

async fn org_for(state: &AppState, caller: &Caller, name: Option<&str>) -> Result<Uuid, ApiError> {
    let org = super::org_named(state, caller, name).await?;
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden("you cannot manage monitors there"));
    }
    Ok(org)
}

#[derive(Deserialize)]
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
}

pub async fn create_monitor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewMonitor>,
) -> ApiResult<Value> {
    if body.name.is_empty() || body.name.len() > 128 || body.name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a monitor needs a name of 1-128 characters",
        ));
    }
    let org = org_for(&state, &caller, body.org.as_deref()).await?;
    // Its alerts (names, figures) go to the organisation's channels: it
    // may reach only devices its author may manage monitors for.
    if !crate::jobs::authority::matcher_within(&caller.scope, org, &body.applies_to) {
        return Err(ApiError::forbidden(
            "this monitor would reach devices at sites you may not manage: limit it to your sites (applies_to.sites only)",
        ));
    }
    let mut remediation = body.remediation;
    if let Some(fix) = &mut remediation {
        remediation_allowed(&state, &caller, org, &body.applies_to, fix).await?;
    }
    let id = Uuid::now_v7();
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
    state
        .store
        .create_monitor(&MonitorRecord {
            id,
            org_id: org,
            name: body.name,
            definition,
        })
        .await?;
    state
        .alerting
        .reload()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The other replicas' evaluators too.
    crate::bus::tell(&state, crate::bus::BusEvent::Reload);
    Ok(Json(json!({ "id": id, "monitor": monitor })))
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

pub async fn list_monitors(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<MonitorRecord>> {
    Ok(Json(state.store.list_monitors(&caller.scope).await?))
}

pub async fn delete_monitor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "monitor")?;
    state.store.delete_monitor(&caller.scope, id).await?;
    state
        .alerting
        .reload()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The other replicas' evaluators too.
    crate::bus::tell(&state, crate::bus::BusEvent::Reload);
    Ok(Json(json!({ "deleted": id })))
}

#[derive(Deserialize)]
pub struct AlertFilter {
    /// Only open and acknowledged alerts (default true).
    active: Option<bool>,
    /// Only alerts in this state (open, acknowledged, resolved).
    state: Option<String>,
    /// Only the alerts of this device.
    device: Option<Uuid>,
}

pub async fn list_alerts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(filter): Query<AlertFilter>,
) -> ApiResult<Vec<AlertRecord>> {
    let active = filter.active.unwrap_or(filter.state.is_none());
    let mut alerts = state.store.list_alerts(&caller.scope, active).await?;
    if let Some(wanted) = &filter.state {
        alerts.retain(|a| &a.state == wanted);
    }
    if let Some(device) = filter.device {
        alerts.retain(|a| a.device_id == device);
    }
    Ok(Json(alerts))
}

pub async fn alert_history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<AlertEventRecord>> {
    Ok(Json(
        state
            .store
            .alert_history(&caller.scope, id_param(&id, "alert")?)
            .await?,
    ))
}

pub async fn acknowledge(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "alert")?;
    state
        .store
        .acknowledge_alert(
            &caller.scope,
            id,
            &caller.principal.username,
            crate::now_ms(),
        )
        .await?;
    Ok(Json(
        json!({ "acknowledged": id, "by": caller.principal.username }),
    ))
}

pub async fn resolve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "alert")?;
    state
        .store
        .resolve_alert(
            &caller.scope,
            id,
            &caller.principal.username,
            crate::now_ms(),
        )
        .await?;
    Ok(Json(
        json!({ "resolved": id, "by": caller.principal.username }),
    ))
}

#[derive(Deserialize)]
pub struct NewChannel {
    name: String,
    org: Option<String>,
    /// `webhook` or `email`.
    kind: String,
    /// Webhook: where to POST.
    url: Option<String>,
    /// Webhook: HMAC key for the `X-Steward-Signature` header.
    secret: Option<String>,
    /// Email: SMTP relay, port (587), `starttls` (default), `tls` or
    /// `none` (local relays only), sender, recipients, credentials.
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    tls: Option<String>,
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    username: Option<String>,
    password: Option<String>,
    /// `warning` (default) or `critical`.
    min_severity: Option<String>,
    /// Only alerts of devices with one of these tags (all devices when
    /// empty). Grouped offline notifications go to every channel.
    #[serde(default)]
    tags: Vec<String>,
}

pub async fn create_channel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewChannel>,
) -> ApiResult<ChannelRecord> {
    let config = match body.kind.as_str() {
        "webhook" => {
            let url = body.url.unwrap_or_default();
            let secret = body.secret.unwrap_or_default();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
                return Err(ApiError::bad_request("the webhook URL must be http(s)://"));
            }
            refuse_target(state.outbound.policy().check_url(&url))?;
            if secret.len() < 16 {
                return Err(ApiError::bad_request(
                    "the signing secret needs at least 16 characters",
                ));
            }
            json!({ "url": url, "secret": secret })
        }
        "email" => {
            let host = body.smtp_host.unwrap_or_default();
            let tls = body.tls.unwrap_or_else(|| "starttls".into());
            if host.is_empty()
                || host.len() > 253
                || !matches!(tls.as_str(), "starttls" | "tls" | "none")
            {
                return Err(ApiError::bad_request(
                    "email needs smtp_host and tls of starttls, tls or none",
                ));
            }
            let port = body.smtp_port.unwrap_or(587);
            let policy = state.outbound.policy();
            refuse_target(policy.check_host(&host))?;
            refuse_target(policy.check_smtp_port(crate::egress::literal(&host), port))?;
            let from = body.from.unwrap_or_default();
            let valid = |a: &str| a.parse::<lettre::message::Mailbox>().is_ok();
            if !valid(&from) || body.to.is_empty() || !body.to.iter().all(|t| valid(t)) {
                return Err(ApiError::bad_request(
                    "email needs a valid from address and at least one valid to address",
                ));
            }
            json!({ "smtp_host": host, "smtp_port": port, "tls": tls, "from": from, "to": body.to, "username": body.username, "password": body.password })
        }
        "slack" | "teams" => {
            let url = body.url.unwrap_or_default();
            if !url.starts_with("https://") || url.len() > 2048 {
                return Err(ApiError::bad_request(
                    "the incoming webhook URL must be https://",
                ));
            }
            refuse_target(state.outbound.policy().check_url(&url))?;
            json!({ "url": url })
        }
        _ => {
            return Err(ApiError::bad_request(
                "supported channel kinds: webhook, email, slack, teams",
            ));
        }
    };
    let mut config = config;
    config["tags"] = json!(body.tags);
    let min_severity = body.min_severity.unwrap_or_else(|| "warning".into());
    if !matches!(min_severity.as_str(), "warning" | "critical") {
        return Err(ApiError::bad_request("min_severity is warning or critical"));
    }
    let org = org_for(&state, &caller, body.org.as_deref()).await?;
    let channel = ChannelRecord {
        id: Uuid::now_v7(),
        org_id: org,
        name: body.name,
        kind: body.kind,
        config,
        min_severity,
        pending: 0,
        last_error: None,
    };
    state.store.create_channel(&channel).await?;
    Ok(Json(channel))
}

/// A target the address policy refuses, as a 400 naming the reason. Only
/// what the text says is known here; names are checked when resolved.
fn refuse_target(checked: Result<(), crate::egress::EgressError>) -> Result<(), ApiError> {
    checked.map_err(|e| ApiError::bad_request(format!("cannot notify there: {e}")))
}

/// How many alerts were kept quiet, and why (maintenance, silence,
/// dependency, grouping).
pub async fn suppressed(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult<Value> {
    let counts = state.store.suppression_counts(&caller.scope).await?;
    Ok(Json(json!(
        counts
            .into_iter()
            .map(|(reason, count)| json!({ "reason": reason, "count": count }))
            .collect::<Vec<_>>()
    )))
}

pub async fn list_channels(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<ChannelRecord>> {
    Ok(Json(state.store.list_channels(&caller.scope).await?))
}

#[derive(Deserialize)]
pub struct NewWindow {
    org: Option<String>,
    name: String,
    matcher: Matcher,
    schedule: steward_alert::noise::Schedule,
}

/// A maintenance window: alerts are still recorded, not notified.
pub async fn create_maintenance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewWindow>,
) -> ApiResult<NoiseRule> {
    if body.name.is_empty() || body.name.len() > 128 {
        return Err(ApiError::bad_request(
            "a maintenance window needs a name of 1-128 characters",
        ));
    }
    let org = org_for(&state, &caller, body.org.as_deref()).await?;
    let window = steward_alert::noise::MaintenanceWindow {
        name: body.name,
        matcher: body.matcher,
        schedule: body.schedule,
    };
    save_rule(
        &state,
        &caller,
        org,
        NoiseKind::Maintenance,
        serde_json::to_value(&window),
    )
    .await
}

#[derive(Deserialize)]
pub struct NewSilence {
    org: Option<String>,
    matcher: Matcher,
    /// Only this monitor (its id); every monitor when absent.
    monitor: Option<String>,
    /// How long, e.g. "2h".
    duration: String,
    reason: String,
}

pub async fn create_silence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<NewSilence>,
) -> ApiResult<NoiseRule> {
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_request("a silence needs a reason"));
    }
    let org = org_for(&state, &caller, body.org.as_deref()).await?;
    let until = crate::now_ms().saturating_add(
        super::parse_duration(&body.duration)?
            .as_millis()
            .min(i64::MAX as u128) as i64,
    );
    let silence = steward_alert::noise::Silence {
        matcher: body.matcher,
        monitor: body.monitor,
        until,
        reason: body.reason,
        by: caller.principal.username.clone(),
    };
    save_rule(
        &state,
        &caller,
        org,
        NoiseKind::Silence,
        serde_json::to_value(&silence),
    )
    .await
}

async fn save_rule(
    state: &AppState,
    caller: &Caller,
    org: Uuid,
    kind: NoiseKind,
    definition: serde_json::Result<Value>,
) -> ApiResult<NoiseRule> {
    let rule = NoiseRule {
        id: Uuid::now_v7(),
        org_id: org,
        kind: Some(kind),
        definition: definition.map_err(|e| ApiError::bad_request(e.to_string()))?,
        created_by: caller.principal.username.clone(),
        created_at: crate::now_secs(),
    };
    state.store.create_noise_rule(&rule).await?;
    state
        .alerting
        .reload()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The other replicas' evaluators too.
    crate::bus::tell(state, crate::bus::BusEvent::Reload);
    Ok(Json(rule))
}

pub async fn list_maintenance(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<NoiseRule>> {
    Ok(Json(
        state
            .store
            .list_noise_rules(&caller.scope, NoiseKind::Maintenance)
            .await?,
    ))
}

pub async fn list_silences(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Vec<NoiseRule>> {
    Ok(Json(
        state
            .store
            .list_noise_rules(&caller.scope, NoiseKind::Silence)
            .await?,
    ))
}
