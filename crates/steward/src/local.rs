//! Commands that read or write the server's data directory directly (they
//! work with the server stopped), and the audit trail commands.

use crate::client::{Client, Remote};
use crate::{AuditCommand, print_text};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Reads the whole audit trail, from the database or through the API.
async fn audit_entries(
    data_dir: Option<&std::path::Path>,
    remote: &Remote,
    after: i64,
) -> Result<Vec<steward_store::AuditEntry>> {
    match data_dir {
        Some(dir) => {
            let store = steward_server::bootstrap::open_store(dir, database().as_deref()).await?;
            let mut all = Vec::new();
            let mut last = after;
            loop {
                let page = store
                    .audit_entries(&steward_store::Scope::all(), last, 5000)
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
    dir: &std::path::Path,
    user: &str,
    name: &str,
    expires: Option<&str>,
) -> Result<Value> {
    if database().is_none() && !dir.join(steward_server::bootstrap::DB_FILE).exists() {
        bail!(
            "{} holds no Steward database; start the server once with --data-dir {}",
            dir.display(),
            dir.display()
        );
    }
    let store = steward_server::bootstrap::open_store(dir, database().as_deref()).await?;
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
