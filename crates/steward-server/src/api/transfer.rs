//! What file transfers leave in job records, and who may read it.
//!
//! A transfer is a job like any other (`file_get`, `file_put`), so the
//! file's bytes would sit in its record: an upload's content in the job's
//! action, a download's content (base64) in its run's output. Both are
//! readable only by callers who could have made the transfer (`shell.open`
//! on the device), and neither is kept once the transfer is over: the
//! caller has the download, the device has the upload, and the record
//! keeps a note of size and SHA-256 ([`forget`]). Everybody else sees
//! that a transfer ran, to which path, and how it ended.

use crate::AppState;
use crate::auth::Caller;
use crate::authz::{self, Permission};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use steward_store::{RunRecord, Scope};
use uuid::Uuid;

/// What callers without `shell.open` on the device see of a transfer's output.
pub const HIDDEN: &str =
    "(file transfer output: shown only to users who may open a shell on this device)";
/// How long a transfer nobody waits for any more may still finish before
/// its content is forgotten anyway (its order expires in 2 minutes).
const LATE_RESULT: Duration = Duration::from_secs(10 * 60);

pub fn is_transfer(action: &Value) -> bool {
    matches!(action["kind"].as_str(), Some("file_get" | "file_put"))
}

/// Bytes that `b64` decodes to.
fn decoded_len(b64: &str) -> usize {
    let b64 = b64.trim();
    let padding = b64.bytes().rev().take_while(|&b| b == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(padding)
}

/// A job's action as shown and as kept once sent: an upload's content is
/// replaced by its size (its `sha256` stays).
pub fn without_content(action: &Value) -> Value {
    let mut action = action.clone();
    if let Some(map) = action.as_object_mut()
        && let Some(content) = map.remove("content_b64")
    {
        let bytes = decoded_len(content.as_str().unwrap_or_default());
        map.insert("bytes".into(), bytes.into());
    }
    action
}

/// The note a download's output becomes once its caller has the content.
pub fn download_note(stdout: &str) -> String {
    match base64::engine::general_purpose::STANDARD.decode(stdout.trim()) {
        Ok(bytes) if !bytes.is_empty() => format!(
            "(file content not kept: {} bytes, sha256:{})",
            bytes.len(),
            steward_sign::sha256_hex(&bytes)
        ),
        _ => String::new(),
    }
}

/// Whether the caller may read file contents of `device`: it holds
/// `shell.open` there (what the transfer routes require).
pub async fn may_transfer(state: &AppState, caller: &Caller, device: Uuid) -> bool {
    let scope = authz::scope_for(&caller.principal, Permission::ShellOpen);
    !scope.is_empty() && state.store.get_device(&scope, device).await.is_ok()
}

/// The devices among `devices` whose file contents the caller may read.
pub async fn transfer_devices(
    state: &AppState,
    caller: &Caller,
    devices: impl IntoIterator<Item = Uuid>,
) -> HashSet<Uuid> {
    let mut allowed = HashSet::new();
    for device in devices.into_iter().collect::<HashSet<_>>() {
        if may_transfer(state, caller, device).await {
            allowed.insert(device);
        }
    }
    allowed
}

fn hide(run: &mut RunRecord) {
    if !run.stdout.is_empty() || !run.stderr.is_empty() {
        run.stdout = HIDDEN.into();
        run.stderr = String::new();
    }
}

/// Hides the output of a transfer job's runs on devices where the caller
/// may not transfer files.
pub async fn hide_job_runs(
    state: &AppState,
    caller: &Caller,
    action: &Value,
    runs: &mut [RunRecord],
) {
    if !is_transfer(action) {
        return;
    }
    let allowed = transfer_devices(state, caller, runs.iter().map(|r| r.device_id)).await;
    runs.iter_mut()
        .filter(|r| !allowed.contains(&r.device_id))
        .for_each(hide);
}

/// Hides the output of the transfer runs in one device's history unless
/// the caller may transfer files there. A job the caller cannot read
/// counts as a transfer.
pub async fn hide_device_runs(
    state: &AppState,
    caller: &Caller,
    device: Uuid,
    runs: &mut [RunRecord],
) {
    if may_transfer(state, caller, device).await {
        return;
    }
    let mut transfer: HashMap<Uuid, bool> = HashMap::new();
    for run in runs.iter_mut() {
        let is = match transfer.get(&run.job_id) {
            Some(is) => *is,
            None => {
                let is = state
                    .store
                    .get_job(&caller.scope, run.job_id)
                    .await
                    .map_or(true, |job| is_transfer(&job.action));
                transfer.insert(run.job_id, is);
                is
            }
        };
        if is {
            hide(run);
        }
    }
}

/// Replaces what the transfer job keeps of the file (see the module
/// documentation).
pub async fn forget(state: &AppState, job: Uuid, action: &Value, note: &str) {
    if let Err(error) = state
        .store
        .forget_file_content(job, &without_content(action), note)
        .await
    {
        tracing::error!(%job, %error, "Cannot forget a file transfer's content.");
    }
}

/// A transfer whose caller stopped waiting: its content is forgotten once
/// the device answers after all, or when it can no longer answer.
pub fn forget_later(state: std::sync::Arc<AppState>, job: Uuid, action: Value) {
    tokio::spawn(async move {
        let run = crate::jobs::wait_for_result(&state, &Scope::all(), job, LATE_RESULT).await;
        let note = match run {
            Ok(Some(run)) => download_note(&run.stdout),
            _ => String::new(),
        };
        forget(&state, job, &action, &note).await;
    });
}

/// The answer to a transfer's caller, who may see the content.
pub fn answer(job: Uuid, run: &RunRecord) -> Value {
    json!({
        "job_id": job,
        "status": run.status,
        "content_b64": run.stdout,
        "message": run.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_shown_and_kept_without_its_content() {
        let content = vec![1u8; 1000];
        let action = json!({
            "kind": "file_put",
            "path": "/etc/x",
            "sha256": "abc",
            "content_b64": base64::engine::general_purpose::STANDARD.encode(&content),
        });
        assert_eq!(
            without_content(&action),
            json!({ "kind": "file_put", "path": "/etc/x", "sha256": "abc", "bytes": 1000 })
        );
        let script = json!({ "kind": "script", "body": "echo" });
        assert_eq!(without_content(&script), script);
        assert!(is_transfer(&action) && !is_transfer(&script));
    }

    #[test]
    fn a_download_note_names_size_and_hash() {
        let note = download_note("aGVsbG8=");
        assert_eq!(
            note,
            format!(
                "(file content not kept: 5 bytes, sha256:{})",
                steward_sign::sha256_hex(b"hello")
            )
        );
        assert_eq!(download_note(""), "");
        for (b64, n) in [("", 0), ("aA==", 1), ("aGk=", 2), ("aGVs", 3)] {
            assert_eq!(decoded_len(b64), n, "{b64}");
        }
    }
}
