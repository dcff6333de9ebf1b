//! Enrollment: generate a key, send a CSR with the token's secret, keep the
//! certificate. The server is trusted only if it presents the CA whose hash
//! the token carries.

use crate::state::{AgentConfig, AgentState};
use crate::transport;
use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use std::path::Path;
use std::sync::Arc;
use steward_proto::{EnrollRequest, EnrollResponse, EnrollToken, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message;

pub async fn enroll(dir: &Path, token_text: &str, name: Option<String>) -> Result<String> {
    if dir.join("agent.json").exists() {
        bail!(
            "{} already holds an enrolled agent; use another --state-dir or --name, or remove it to re-enroll",
            dir.display()
        );
    }
    let token =
        EnrollToken::decode(token_text).context("this is not a Steward enrollment token")?;
    let hostname = crate::os::hostname();
    let name = name.unwrap_or_else(|| hostname.clone());
    let (csr_pem, key_pem) = steward_pki::agent_csr(&name)?;
    let (config, verifier) = steward_pki::pinned_ca_client_config(&token.ca_sha256)?;
    let mut socket =
        transport::open(&token.url, steward_proto::ENROLL_WS_PATH, Arc::new(config)).await?;
    let request = EnrollRequest {
        protocol_version: PROTOCOL_VERSION,
        secret: token.secret.clone(),
        csr_pem,
        name: name.clone(),
        hostname,
    };
    socket
        .send(Message::text(steward_proto::encode(&request)))
        .await?;
    let reply = loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => break text,
            Some(Ok(Message::Close(_))) | None => {
                bail!("the server closed the connection without answering")
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
        }
    };
    let (device_id, cert_pem, job_keys) =
        match steward_proto::decode_json::<EnrollResponse>(&reply)? {
            EnrollResponse::Enrolled {
                device_id,
                cert_pem,
                job_keys,
            } => (device_id, cert_pem, job_keys),
            EnrollResponse::Refused { message } => bail!("enrollment refused: {message}"),
        };
    let ca_pem = verifier
        .ca_pem()
        .ok_or_else(|| anyhow!("the server's CA was not captured"))?;
    AgentState {
        config: AgentConfig {
            url: token.url,
            device_id: device_id.clone(),
            name,
        },
        ca_pem,
        identity: steward_pki::CertifiedKey { cert_pem, key_pem },
    }
    .save(dir)?;
    // Orders are obeyed only when signed by these keys.
    crate::jobs::save_keys(dir, &job_keys)?;
    let _ = socket.close(None).await;
    Ok(device_id)
}
