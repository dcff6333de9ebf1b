//! OTLP in: OpenTelemetry metrics and logs over OTLP/HTTP
//! (`POST /api/v1/otlp/v1/metrics`, `/api/v1/otlp/v1/logs`; an exporter's
//! endpoint is `https://SERVER/api/v1/otlp`), protobuf
//! (`application/x-protobuf`) or JSON (`application/json`), gzip or not,
//! with an organisation's ingestion token (`Authorization: Bearer
//! stwo_…`, `api/otlp_tokens.rs`).
//!
//! The shell: authenticate, decode (`wire.rs`, `json.rs`), find the
//! devices the resources name (one store query), let `convert.rs` decide
//! (pure), then store points as unsequenced batches through the ingest
//! queue (evaluated by the alert engine first, like an agent's) and feed
//! log templates to the log pattern monitors. A resource naming no device
//! of the token's organisation, or a point the store would refuse, is
//! rejected and counted in OTLP's partial success; a request with nothing
//! accepted gets 400 and changes nothing.

pub mod convert;
pub mod json;
pub mod wire;

use crate::AppState;
use crate::api::ApiError;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use convert::{Converted, Selector};
use prost::Message;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use steward_store::{IngestBatch, OtlpTokenRecord, UNSEQUENCED};
use uuid::Uuid;

/// The largest request body, as sent (compressed or not): 4 MiB.
pub const MAX_OTLP_BODY: usize = 4 << 20;
/// The largest request once decompressed: 16 MiB.
pub const MAX_DECODED: usize = 16 << 20;
/// What an ingestion token's text starts with.
pub const TOKEN_PREFIX: &str = "stwo_";
/// The routes.
pub const METRICS_PATH: &str = "/api/v1/otlp/v1/metrics";
pub const LOGS_PATH: &str = "/api/v1/otlp/v1/logs";

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Protobuf,
    Json,
}

/// An OTLP answer in the request's encoding.
struct Answer {
    status: StatusCode,
    encoding: Encoding,
    protobuf: Vec<u8>,
    json: serde_json::Value,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self.encoding {
            Encoding::Protobuf => (
                self.status,
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                self.protobuf,
            )
                .into_response(),
            Encoding::Json => (self.status, axum::Json(self.json)).into_response(),
        }
    }
}

/// An error as OTLP/HTTP answers it: a `google.rpc.Status` in the
/// request's encoding (in JSON also as `error`, like the rest of the API).
fn failure(encoding: Encoding, error: ApiError) -> Answer {
    let code = match error.status {
        StatusCode::UNAUTHORIZED => 16,
        StatusCode::PAYLOAD_TOO_LARGE => 8,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::INTERNAL_SERVER_ERROR => 14,
        _ => 3,
    };
    Answer {
        status: error.status,
        encoding,
        protobuf: wire::Status {
            code,
            message: error.message.clone(),
        }
        .encode_to_vec(),
        json: serde_json::json!({ "code": code, "message": error.message, "error": error.message }),
    }
}

fn success(encoding: Encoding, rejected: u64, message: Option<String>, logs: bool) -> Answer {
    let partial = (rejected > 0 || message.is_some()).then(|| wire::ExportPartialSuccess {
        rejected: rejected as i64,
        error_message: message.clone().unwrap_or_default(),
    });
    let protobuf = if logs {
        wire::ExportLogsServiceResponse {
            partial_success: partial,
        }
        .encode_to_vec()
    } else {
        wire::ExportMetricsServiceResponse {
            partial_success: partial,
        }
        .encode_to_vec()
    };
    let key = if logs {
        "rejectedLogRecords"
    } else {
        "rejectedDataPoints"
    };
    let json = if rejected > 0 || message.is_some() {
        serde_json::json!({ "partialSuccess": { key: rejected.to_string(), "errorMessage": message.unwrap_or_default() } })
    } else {
        serde_json::json!({})
    };
    Answer {
        status: StatusCode::OK,
        encoding,
        protobuf,
        json,
    }
}

fn encoding_of(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match kind.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("OTLP/HTTP takes application/x-protobuf or application/json, not {other:?}"),
        )),
    }
}

/// The token the request bears, looked up by its hash.
async fn token(state: &AppState, headers: &HeaderMap) -> Result<OtlpTokenRecord, ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "an OTLP request needs an ingestion token: Authorization: Bearer stwo_…",
            )
        })?;
    if !given.starts_with(TOKEN_PREFIX) {
        return Err(ApiError::unauthorized(
            "that is not an OTLP ingestion token (they start with stwo_; create one with `steward otlp-token create`)",
        ));
    }
    state
        .store
        .otlp_token_by_hash(&crate::auth::hash_secret(given))
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked ingestion token"))
}

/// The body, decompressed when gzip, within the limits.
fn body_bytes(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<u8>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("an OTLP request is at most {} MiB", MAX_OTLP_BODY >> 20),
            )
        } else {
            ApiError::bad_request(format!("the request's body could not be read: {e}"))
        }
    })?;
    let coding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match coding.as_str() {
        "identity" | "" => Ok(body.to_vec()),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .take(MAX_DECODED as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::bad_request(format!("the gzip body is corrupt: {e}")))?;
            if out.len() > MAX_DECODED {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request is over {} MiB once decompressed",
                        MAX_DECODED >> 20
                    ),
                ));
            }
            Ok(out)
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding {other:?}: OTLP/HTTP takes gzip or none"),
        )),
    }
}

/// The device of each selector (or why none), with one store query.
async fn devices_of(
    state: &AppState,
    org: Uuid,
    selectors: &[Selector],
) -> Result<Vec<Result<Uuid, String>>, ApiError> {
    let mut ids: Vec<Uuid> = selectors.iter().filter_map(|s| s.id).collect();
    let mut names: Vec<String> = selectors
        .iter()
        .filter_map(|s| s.host_name.clone())
        .collect();
    ids.sort();
    ids.dedup();
    names.sort();
    names.dedup();
    let found = state.store.otlp_devices(org, &ids, &names).await?;
    Ok(selectors
        .iter()
        .map(|s| convert::resolve(s, &found))
        .collect())
}

fn malformed(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("the {what} request is malformed: {e}"))
}

/// `POST /api/v1/otlp/v1/metrics`.
pub async fn export_metrics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let encoding = encoding_of(&headers).unwrap_or(Encoding::Json);
    match metrics(&state, &headers, body).await {
        Ok(answer) => answer.into_response(),
        Err(error) => failure(encoding, error).into_response(),
    }
}

async fn metrics(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, ApiError> {
    let token = token(state, headers).await?;
    let encoding = encoding_of(headers)?;
    let bytes = body_bytes(headers, body)?;
    let request = match encoding {
        Encoding::Protobuf => wire::ExportMetricsServiceRequest::decode(&bytes[..])
            .map_err(|e| malformed("metrics", e))?,
        Encoding::Json => json::metrics_request(&bytes).map_err(|e| malformed("metrics", e))?,
    };
    let selectors: Vec<Selector> = request
        .resource_metrics
        .iter()
        .map(|rm| convert::selector(rm.resource.as_ref()))
        .collect();
    let devices = devices_of(state, token.org_id, &selectors).await?;
    let now = crate::now_ms();
    let mut rejected = Converted::default();
    // Per device, per time: one batch.
    let mut batches: BTreeMap<(Uuid, i64), Vec<steward_proto::Point>> = BTreeMap::new();
    for (rm, device) in request.resource_metrics.iter().zip(devices) {
        let mut converted = Converted::default();
        convert::metric_points(rm, now, &mut converted);
        match device {
            Ok(device) => {
                for (at, point) in converted.points {
                    batches.entry((device, at)).or_default().push(point);
                }
            }
            Err(why) => {
                let count = converted.points.len() as u64 + converted.rejected;
                rejected.reject(count, || why);
                continue;
            }
        }
        if converted.rejected > 0 || converted.first_error.is_some() {
            let why = converted.first_error.unwrap_or_default();
            rejected.reject(converted.rejected, || why);
        }
    }
    if batches.is_empty() && (rejected.rejected > 0 || rejected.first_error.is_some()) {
        return Err(ApiError::bad_request(format!(
            "nothing was stored: {}",
            rejected.first_error.unwrap_or_default()
        )));
    }
    let mut waits = Vec::with_capacity(batches.len());
    for ((device, at), points) in batches {
        state.alerting.on_batch(device, at, &points).await;
        let batch = IngestBatch {
            device_id: device,
            org_id: token.org_id,
            seq: UNSEQUENCED,
            ts_ms: at,
            points,
        };
        let count = batch.points.len() as u64;
        let stored = state
            .ingest
            .enqueue(batch)
            .await
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
        waits.push((count, stored));
    }
    let mut stored_points = 0u64;
    for (count, wait) in waits {
        match wait.await {
            Ok(steward_store::IngestOutcome::Stored) => stored_points += count,
            Ok(_) => rejected.reject(count, || "the device is unknown or revoked".into()),
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the store did not take the points: {e}"),
                ));
            }
        }
    }
    state
        .metrics
        .otlp_points
        .fetch_add(stored_points, std::sync::atomic::Ordering::Relaxed);
    Ok(success(
        encoding,
        rejected.rejected,
        rejected.first_error,
        false,
    ))
}

/// `POST /api/v1/otlp/v1/logs`.
pub async fn export_logs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let encoding = encoding_of(&headers).unwrap_or(Encoding::Json);
    match logs(&state, &headers, body).await {
        Ok(answer) => answer.into_response(),
        Err(error) => failure(encoding, error).into_response(),
    }
}

async fn logs(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, ApiError> {
    let token = token(state, headers).await?;
    let encoding = encoding_of(headers)?;
    let bytes = body_bytes(headers, body)?;
    let request = match encoding {
        Encoding::Protobuf => {
            wire::ExportLogsServiceRequest::decode(&bytes[..]).map_err(|e| malformed("logs", e))?
        }
        Encoding::Json => json::logs_request(&bytes).map_err(|e| malformed("logs", e))?,
    };
    let selectors: Vec<Selector> = request
        .resource_logs
        .iter()
        .map(|rl| convert::selector(rl.resource.as_ref()))
        .collect();
    let devices = devices_of(state, token.org_id, &selectors).await?;
    let now = crate::now_ms();
    let mut rejected = Converted::default();
    let mut lines: BTreeMap<Uuid, Vec<(i64, String)>> = BTreeMap::new();
    for (rl, device) in request.resource_logs.iter().zip(devices) {
        let records = rl.scope_logs.iter().flat_map(|s| &s.log_records);
        match device {
            Ok(device) => {
                let mine = lines.entry(device).or_default();
                for record in records {
                    let at = match record.time_unix_nano.max(record.observed_time_unix_nano) {
                        0 => now,
                        ns => (ns / 1_000_000) as i64,
                    };
                    if let Some(line) = convert::log_line(record) {
                        mine.push((at, line));
                    }
                }
            }
            Err(why) => rejected.reject(records.count() as u64, || why),
        }
    }
    if lines.is_empty() && rejected.rejected > 0 {
        return Err(ApiError::bad_request(format!(
            "nothing was taken: {}",
            rejected.first_error.unwrap_or_default()
        )));
    }
    for (device, lines) in lines {
        state
            .metrics
            .otlp_log_records
            .fetch_add(lines.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Some(report) = convert::log_report(&lines) {
            state.alerting.on_log_patterns(device, &report).await;
        }
    }
    Ok(success(
        encoding,
        rejected.rejected,
        rejected.first_error,
        true,
    ))
}
