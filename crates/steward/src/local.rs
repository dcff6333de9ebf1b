//! Commands that read or write the server's data directory directly (they
//! work with the server stopped), and the audit trail commands.

use crate::client::{Client, Remote};
use crate::{AuditCommand, print_text};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use steward_server::bootstrap::{CA_CERT, DB_FILE, open_store};
use steward_store::Store;

/// Reads the whole audit trail, from the database or through the API.
async fn audit_entries(
    data_dir: Option<&Path>,
    remote: &Remote,
    after: i64,
) -> Result<Vec<steward_store::AuditEntry>> {
    match data_dir {
        Some(dir) => {
            let store = open_data_dir(dir).await?;
            let mut all = Vec::new();
            let mut last = after;
            loop {
                let page = store
                    .audit_entries(
                        &steward_store::Scope::all(),
                        last,
                        5000,
                        &Default::default(),
                    )
                    .await?;
                let Some(tail) = page.last() else { break };
                last = tail.id;
                all.extend(page);
            }
            store.close().await;
            Ok(all)
        }
        None => {
            let client = Client::new(remote)?;
            let mut all: Vec<steward_store::AuditEntry> = Vec::new();
            let mut last = after;
            loop {
                let page = client
                    .get(&format!("/api/v1/audit?after={last}&limit=5000"))
                    .await?;
                let page: Vec<Value> = serde_json::from_value(page)?;
                let Some(tail) = page.last() else { break };
                last = tail["id"].as_i64().unwrap_or(i64::MAX);
                for v in page {
                    all.push(steward_store::AuditEntry {
                        id: v["id"].as_i64().unwrap_or(0),
                        org_id: v["org_id"].as_str().and_then(|s| s.parse().ok()),
                        at: v["at"].as_i64().unwrap_or(0),
                        actor: v["actor"].as_str().unwrap_or("").into(),
                        source: v["source"].as_str().unwrap_or("").into(),
                        action: v["action"].as_str().unwrap_or("").into(),
                        target: v["target"].as_str().unwrap_or("").into(),
                        detail: v["detail"].as_str().unwrap_or("").into(),
                        prev_hash: v["prev_hash"].as_str().unwrap_or("").into(),
                        hash: v["hash"].as_str().unwrap_or("").into(),
                    });
                }
            }
            Ok(all)
        }
    }
}

pub async fn audit(command: AuditCommand, remote: &Remote) -> Result<()> {
    match command {
        AuditCommand::Verify { data_dir } => {
            let entries = audit_entries(data_dir.as_deref(), remote, 0).await?;
            match steward_store::verify_audit_chain(&entries, steward_store::AUDIT_GENESIS) {
                Ok(n) => print_text(format!("audit trail intact: {n} entries")),
                Err((_, why)) => bail!("audit trail broken: {why}"),
            }
        }
        AuditCommand::Export { data_dir, after } => {
            for entry in audit_entries(data_dir.as_deref(), remote, after).await? {
                println!("{}", serde_json::to_string(&entry)?);
            }
            Ok(())
        }
    }
}

/// Creates an API token directly in the data directory's database.
pub async fn offline_token(
    dir: &Path,
    user: &str,
    name: &str,
    expires: Option<&str>,
) -> Result<Value> {
    let store = open_data_dir(dir).await?;
    let user = store
        .user_by_name(user)
        .await
        .with_context(|| format!("no user {user:?}"))?;
    let now = steward_server::now_secs();
    let expires_at = expires
        .map(humantime::parse_duration)
        .transpose()?
        .map(|d| now + d.as_secs() as i64);
    let token = steward_server::auth::new_api_token();
    store
        .create_api_token(&steward_store::NewApiToken {
            id: uuid_v7(),
            user_id: user.id,
            name: name.to_string(),
            token_hash: steward_server::auth::hash_secret(&token),
            created_at: now,
            expires_at,
            role_id: None,
            scope_org: None,
            scope_site: None,
        })
        .await?;
    store.close().await;
    Ok(json!({ "token": token, "expires_at": expires_at }))
}

/// What a `--data-dir` command on a server using PostgreSQL needs.
const SET_DATABASE: &str = "set STEWARD_DATABASE to the server's database URL (its \
     --database, e.g. STEWARD_DATABASE=postgres://steward@db/steward) and run this again";

/// Opens the store of the server whose data directory is `dir`, for the
/// `--data-dir` commands: the PostgreSQL database `STEWARD_DATABASE` names,
/// else the directory's SQLite database, which must be one a server ran on
/// (never a new, empty one: that is what a server on PostgreSQL leaves).
async fn open_data_dir(dir: &Path) -> Result<Arc<dyn Store>> {
    if let Some(url) = database() {
        return open_store(dir, Some(&url)).await;
    }
    not_on_postgres(dir)?;
    if !dir.join(DB_FILE).exists() {
        bail!(
            "{} holds no Steward database; start the server once with --data-dir {} \
             (a server on PostgreSQL: {SET_DATABASE})",
            dir.display(),
            dir.display()
        );
    }
    let store = open_store(dir, None).await?;
    // Every server's first start creates the admin: no user, no server.
    if store.user_count().await? == 0 {
        store.close().await;
        bail!(
            "{} has no users, so no server ever ran on it; if the server uses PostgreSQL, \
             {SET_DATABASE}",
            dir.join(DB_FILE).display()
        );
    }
    Ok(store)
}

/// Fails when a server ran in `dir` (it made its CA there) but not on
/// SQLite: its data is in PostgreSQL, which only `STEWARD_DATABASE` finds.
pub fn not_on_postgres(dir: &Path) -> Result<()> {
    if dir.join(CA_CERT).exists() && !dir.join(DB_FILE).exists() {
        bail!(
            "{} has no SQLite database ({DB_FILE}) but a server ran there, so it keeps its data \
             in PostgreSQL: {SET_DATABASE}",
            dir.display()
        );
    }
    Ok(())
}

/// The shared database of a scaled-out installation (`STEWARD_DATABASE`),
/// for the commands that read the store directly.
fn database() -> Option<String> {
    std::env::var("STEWARD_DATABASE")
        .ok()
        .filter(|d| !d.is_empty())
}

fn uuid_v7() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
