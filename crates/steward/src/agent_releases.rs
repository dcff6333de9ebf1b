//! `steward agent-release keygen|sign|upload|list` and `steward
//! agent-rollout start|list|show|stop`: agent self-update from the CLI.
//!
//! The release key is made and used offline: `keygen` writes the private
//! key (PKCS#8, base64, 0600) and the public key line agents pin
//! (`/etc/steward-agent/release-keys`, put there by the package); `sign`
//! writes the signed description of a binary beside it
//! (`FILE.release.json`); `upload` sends both, with any API token allowed
//! to upload, from anywhere. The server never sees the private key.

use crate::client::{Client, Remote};
use crate::{answered, print_json, print_text};
use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use steward_sign::OrderSigner;
use steward_sign::release::{self, Release};

#[derive(Subcommand, Debug)]
pub enum ReleaseCommand {
    /// Makes a release key: KEY (private: keep it offline) and KEY.pub
    /// (the line agents pin in /etc/steward-agent/release-keys).
    Keygen {
        key: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Signs an agent binary with the release key: writes FILE.release.json.
    Sign {
        file: PathBuf,
        /// The private release key (from `keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The agent version of the binary.
        #[arg(long)]
        version: String,
        /// Its target triple (default: this machine's, e.g.
        /// x86_64-unknown-linux-gnu).
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Uploads a signed binary (FILE and FILE.release.json).
    Upload {
        file: PathBuf,
        /// The signed description (default FILE.release.json).
        #[arg(long)]
        manifest: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Releases on the server.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    /// Offers a release to an organisation's devices: the pilot ring
    /// (--pilot-tag) first, the rest --ring-delay after every pilot device
    /// came back on the new version; stops when --max-failures devices fail.
    Start {
        #[arg(long)]
        version: String,
        /// Default: this machine's target triple.
        #[arg(long)]
        target: Option<String>,
        #[arg(long = "pilot-tag")]
        pilot_tags: Vec<String>,
        /// e.g. 4h, 2d.
        #[arg(long)]
        ring_delay: Option<String>,
        #[arg(long)]
        max_failures: Option<u32>,
        /// The organisation, by name (yours when you have one).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// A rollout with each device's answer.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    Stop {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".release.json");
    file.with_file_name(name)
}

fn this_target() -> String {
    steward_agent::update::target()
}

fn load_key(path: &Path) -> Result<steward_sign::LocalKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .with_context(|| format!("{} is not a release key (base64 PKCS#8)", path.display()))?;
    steward_sign::LocalKey::from_pkcs8(&bytes)
        .with_context(|| format!("{} is not an Ed25519 key", path.display()))
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist)", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

pub async fn release(command: ReleaseCommand, remote: &Remote) -> Result<()> {
    match command {
        ReleaseCommand::Keygen { key, json } => {
            let pair = steward_sign::LocalKey::generate()?;
            let public = key.with_extension("pub");
            write_new(
                &key,
                &base64::engine::general_purpose::STANDARD.encode(pair.pkcs8()),
                0o600,
            )?;
            write_new(
                &public,
                &format!(
                    "# Steward agent release key {}\n{}\n",
                    pair.key_id(),
                    pair.public_key_b64()
                ),
                0o644,
            )?;
            let answer = json!({
                "key": key, "public_key_file": public,
                "key_id": pair.key_id(), "public_key": pair.public_key_b64(),
            });
            answered(
                json,
                &answer,
                format!(
                    "Release key {} written to {} (keep it offline); agents pin {}",
                    pair.key_id(),
                    key.display(),
                    public.display()
                ),
            )
        }
        ReleaseCommand::Sign {
            file,
            key,
            version,
            target,
            json,
        } => {
            if let Err(message) = steward_agent::update::version::check(&version) {
                bail!(message);
            }
            let key = load_key(&key)?;
            let binary =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let description = Release::of(&target.unwrap_or_else(this_target), &version, &binary);
            let signature = release::sign(&key, &description);
            let manifest = json!({
                "target": description.target, "version": description.version,
                "sha256": description.sha256, "size": description.size,
                "key_id": signature.key_id, "signature": signature.signature,
            });
            let out = manifest_path(&file);
            std::fs::write(&out, serde_json::to_string_pretty(&manifest)? + "\n")
                .with_context(|| format!("cannot write {}", out.display()))?;
            answered(
                json,
                &manifest,
                format!(
                    "Signed {} {} for {} ({} bytes): {}",
                    file.display(),
                    description.version,
                    description.target,
                    description.size,
                    out.display()
                ),
            )
        }
        ReleaseCommand::Upload {
            file,
            manifest,
            json,
        } => {
            let manifest = manifest.unwrap_or_else(|| manifest_path(&file));
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("cannot read {}", manifest.display()))?;
            let described: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a release description", manifest.display()))?;
            let binary =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut query = Vec::new();
            for field in ["target", "version", "sha256", "key_id", "signature"] {
                let value = described[field].as_str().with_context(|| {
                    format!("{} has no {field}: sign the file again", manifest.display())
                })?;
                query.push((field, value.to_string()));
            }
            if !json {
                eprintln!("Uploading {} bytes…", binary.len());
            }
            let client = Client::new(remote)?;
            let answer = client
                .post_bytes("/api/v1/agent-releases", &query, binary)
                .await?;
            answered(
                json,
                &answer,
                format!(
                    "Release {} for {} uploaded ({} bytes, sha256 {}).",
                    answer["version"].as_str().unwrap_or("?"),
                    answer["target"].as_str().unwrap_or("?"),
                    answer["size"],
                    answer["sha256"].as_str().unwrap_or("?")
                ),
            )
        }
        ReleaseCommand::List { json } => {
            let list = Client::new(remote)?.get("/api/v1/agent-releases").await?;
            if json {
                return print_json(&list);
            }
            let mut text =
                String::from("TARGET                        VERSION        SIZE       BY");
            for r in list.as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "\n{:<29} {:<14} {:<10} {}",
                    r["target"].as_str().unwrap_or(""),
                    r["version"].as_str().unwrap_or(""),
                    r["size"],
                    r["created_by"].as_str().unwrap_or("")
                ));
            }
            print_text(text)
        }
    }
}

fn rollout_line(r: &Value) -> String {
    format!(
        "{}  {} {}  {}{}",
        r["id"].as_str().unwrap_or(""),
        r["target"].as_str().unwrap_or("?"),
        r["version"].as_str().unwrap_or("?"),
        r["state"].as_str().unwrap_or(""),
        match r["reason"].as_str() {
            Some(reason) if !reason.is_empty() => format!(" ({reason})"),
            _ => String::new(),
        }
    )
}

pub async fn rollout(command: RolloutCommand, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        RolloutCommand::Start {
            version,
            target,
            pilot_tags,
            ring_delay,
            max_failures,
            org,
            json,
        } => {
            let mut body = json!({
                "version": version, "target": target.unwrap_or_else(this_target),
                "pilot_tags": pilot_tags,
            });
            if let Some(delay) = ring_delay {
                body["ring_delay"] = json!(delay);
            }
            if let Some(max) = max_failures {
                body["max_failures"] = json!(max);
            }
            if let Some(org) = org {
                body["org"] = json!(org);
            }
            let answer = client.post("/api/v1/agent-rollouts", &body).await?;
            answered(
                json,
                &answer,
                format!("Rollout started: {}", rollout_line(&answer)),
            )
        }
        RolloutCommand::List { json } => {
            let list = client.get("/api/v1/agent-rollouts").await?;
            if json {
                return print_json(&list);
            }
            let lines: Vec<String> = list
                .as_array()
                .into_iter()
                .flatten()
                .map(rollout_line)
                .collect();
            print_text(if lines.is_empty() {
                "No rollouts.".to_string()
            } else {
                lines.join("\n")
            })
        }
        RolloutCommand::Show { id, json } => {
            let r = client.get(&format!("/api/v1/agent-rollouts/{id}")).await?;
            if json {
                return print_json(&r);
            }
            let mut text = rollout_line(&r);
            for d in r["devices"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "\n  {}  {}  {}",
                    d["device_id"].as_str().unwrap_or(""),
                    d["outcome"].as_str().unwrap_or("offered"),
                    d["detail"].as_str().unwrap_or("")
                ));
            }
            print_text(text)
        }
        RolloutCommand::Stop { id, json } => {
            let answer = client
                .post(&format!("/api/v1/agent-rollouts/{id}/stop"), &json!({}))
                .await?;
            answered(json, &answer, format!("Stopped: {}", rollout_line(&answer)))
        }
    }
}
