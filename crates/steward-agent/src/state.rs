//! The agent's state directory: identity (key 0600), pinned CA, settings.
//!
//! ```text
//! DIR/agent.json   server URL, device id, name
//! DIR/ca.pem       the CA learnt at enrollment (pinned)
//! DIR/cert.pem     this device's certificate
//! DIR/key.pem      this device's private key (0600)
//! DIR/spool/       unsent metric batches
//! ```

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::Path;
use steward_pki::CertifiedKey;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentConfig {
    pub url: String,
    pub device_id: String,
    pub name: String,
}

pub struct AgentState {
    pub config: AgentConfig,
    pub ca_pem: String,
    pub identity: CertifiedKey,
}

/// Writes a file only its owner can read, atomically.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = crate::os::sys::create_private(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Completes an identity swap interrupted by a crash: both `.next` files
/// were fully written before the first rename, so finishing is safe.
fn finish_rotation(dir: &Path) -> Result<()> {
    for name in ["key", "cert"] {
        let next = dir.join(format!("{name}.next.pem"));
        if next.exists() {
            fs::rename(&next, dir.join(format!("{name}.pem")))?;
        }
    }
    Ok(())
}

/// Replaces the identity with a rotated one (crash-safe, see
/// `finish_rotation`).
pub fn save_identity(dir: &Path, identity: &CertifiedKey) -> Result<()> {
    write_private(&dir.join("key.next.pem"), identity.key_pem.as_bytes())?;
    write_private(&dir.join("cert.next.pem"), identity.cert_pem.as_bytes())?;
    finish_rotation(dir)
}

impl AgentState {
    pub fn load(dir: &Path) -> Result<Self> {
        finish_rotation(dir)?;
        let read = |name: &str| {
            fs::read_to_string(dir.join(name)).with_context(|| {
                format!("cannot read {} (has this agent been enrolled? run `steward-agent enroll TOKEN`)", dir.join(name).display())
            })
        };
        let config: AgentConfig =
            serde_json::from_str(&read("agent.json")?).context("agent.json is corrupt")?;
        Ok(Self {
            config,
            ca_pem: read("ca.pem")?,
            identity: CertifiedKey {
                cert_pem: read("cert.pem")?,
                key_pem: read("key.pem")?,
            },
        })
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        #[cfg(unix)]
        fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        write_private(&dir.join("key.pem"), self.identity.key_pem.as_bytes())?;
        write_private(&dir.join("cert.pem"), self.identity.cert_pem.as_bytes())?;
        write_private(&dir.join("ca.pem"), self.ca_pem.as_bytes())?;
        write_private(
            &dir.join("agent.json"),
            &serde_json::to_vec_pretty(&self.config)?,
        )?;
        Ok(())
    }
}
