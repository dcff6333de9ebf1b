//! An organisation's problem rules (`/api/v1/problem-rules`): the
//! thresholds the problem scan (`crate::problems`) applies to its alerts,
//! [`Rule::DEFAULTS`] until someone sets them. Read with any grant in the
//! organisation (`?org=` names it); replaced with `PATCH` under the
//! version read (`If-Match`; version 0 is "the defaults, never saved"),
//! which needs `devices.manage` for the whole organisation.

use super::lifecycle::{expected_version, tagged};
use super::{ApiError, org_named};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use steward_incident::problems::Rule;
use steward_store::{ProblemRulesRecord, Scope};
use uuid::Uuid;

/// Most rules one organisation sets.
const MAX_RULES: usize = 10;
/// The longest window a rule looks over: a week (the scan reads that
/// much history every minute).
const MAX_WINDOW_MS: i64 = 7 * 86_400_000;
/// The largest count or device threshold.
const MAX_THRESHOLD: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesQuery {
    #[serde(default)]
    org: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRules {
    #[serde(default)]
    org: Option<String>,
    /// Absent: the rules in force (saved as they are).
    #[serde(default)]
    rules: Option<Vec<Rule>>,
}

fn answer(org: Uuid, record: Option<&ProblemRulesRecord>) -> Value {
    match record {
        Some(r) => json!({
            "org_id": org, "rules": r.rules, "defaults": false,
            "updated_by": r.updated_by, "updated_at": r.updated_at, "version": r.version,
        }),
        None => json!({
            "org_id": org, "rules": Rule::DEFAULTS, "defaults": true,
            "updated_by": null, "updated_at": null, "version": 0,
        }),
    }
}

async fn current(state: &AppState, org: Uuid) -> Result<Option<ProblemRulesRecord>, ApiError> {
    Ok(state
        .store
        .list_problem_rules(&Scope::org(org))
        .await?
        .into_iter()
        .find(|r| r.org_id == org))
}

fn check(rules: &[Rule]) -> Result<(), ApiError> {
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(ApiError::bad_request(format!(
            "an organisation has 1 to {MAX_RULES} problem rules"
        )));
    }
    for rule in rules {
        rule.check().map_err(ApiError::bad_request)?;
        let (window, count, devices) = match *rule {
            Rule::Spread {
                window_ms,
                min_count,
                min_devices,
            } => (window_ms, min_count, min_devices),
            Rule::Repeat {
                window_ms,
                min_count,
            } => (window_ms, min_count, 2),
        };
        if window > MAX_WINDOW_MS {
            return Err(ApiError::bad_request(
                "a rule's window is at most a week (604800000 ms)",
            ));
        }
        if count > MAX_THRESHOLD || devices > MAX_THRESHOLD {
            return Err(ApiError::bad_request(format!(
                "min_count and min_devices are at most {MAX_THRESHOLD}"
            )));
        }
    }
    Ok(())
}

pub async fn get_problem_rules(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<RulesQuery>,
) -> Result<Response, ApiError> {
    let org = org_named(&state, &caller, query.org.as_deref()).await?;
    let record = current(&state, org).await?;
    let version = record.as_ref().map_or(0, |r| r.version);
    Ok(tagged(version, answer(org, record.as_ref())))
}

pub async fn patch_problem_rules(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let body: NewRules = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!(
            "problem rules are {{\"rules\": [{{\"kind\": \"repeat\"|\"spread\", \"window_ms\", \"min_count\", \"min_devices\" (spread)}}]}}: {e}"
        ))
    })?;
    let org = org_named(&state, &caller, body.org.as_deref()).await?;
    if !caller.scope.allows_org(org) {
        return Err(ApiError::forbidden(
            "problem rules belong to the whole organisation: changing them needs devices.manage there, not at one site",
        ));
    }
    caller.acting_in(org);
    let before = current(&state, org).await?;
    let rules = match body.rules {
        Some(rules) => rules,
        None => before
            .as_ref()
            .and_then(|r| serde_json::from_value(r.rules.clone()).ok())
            .unwrap_or_else(|| Rule::DEFAULTS.to_vec()),
    };
    check(&rules)?;
    // "0" is the ETag of the defaults (never saved).
    let unsaved = headers
        .get(axum::http::header::IF_MATCH)
        .is_some_and(|v| matches!(v.to_str().map(str::trim), Ok("\"0\"" | "W/\"0\"")));
    let expected = if unsaved {
        Some(0)
    } else {
        expected_version(&headers)?
    };
    let mut record = ProblemRulesRecord {
        org_id: org,
        rules: serde_json::to_value(&rules).map_err(|e| ApiError::bad_request(e.to_string()))?,
        updated_by: caller.principal.username.clone(),
        updated_at: crate::now_ms(),
        version: 0,
    };
    record.version = state
        .store
        .save_problem_rules(
            &record,
            Some(expected.unwrap_or_else(|| before.as_ref().map_or(0, |r| r.version))),
        )
        .await?;
    caller.changed(
        answer(org, before.as_ref())["rules"].clone(),
        record.rules.clone(),
    );
    Ok(tagged(record.version, answer(org, Some(&record))))
}
