//! The agent binary, offered for download on the enrollment page: the
//! `steward-agent` beside this server's own executable (a release archive
//! and `cargo build` put them together), with its size and SHA-256 so the
//! copy on the endpoint can be checked.

use super::{ApiError, ApiResult};
use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the agent binary is: beside the running server.
fn path() -> Option<PathBuf> {
    let name = format!("steward-agent{}", std::env::consts::EXE_SUFFIX);
    let path = std::env::current_exe().ok()?.with_file_name(name);
    path.is_file().then_some(path)
}

const MISSING: &str = "no steward-agent binary beside this server's executable: copy it from the release archive (or build it with cargo build -p steward) next to steward";

fn missing() -> ApiError {
    ApiError::not_found(MISSING)
}

/// What the console shows: whether it is there, its size and digest.
pub async fn info(State(_): State<Arc<AppState>>) -> ApiResult<Value> {
    let Some(path) = path() else {
        return Ok(Json(json!({ "available": false, "error": MISSING })));
    };
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the agent binary: {e}")))?;
    Ok(Json(json!({
        "available": true,
        "file": "steward-agent",
        "bytes": bytes.len(),
        "sha256": hex::encode(Sha256::digest(&bytes)),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

pub async fn download(State(_): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let path = path().ok_or_else(missing)?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the agent binary: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"steward-agent\"",
            ),
        ],
        bytes,
    )
        .into_response())
}
