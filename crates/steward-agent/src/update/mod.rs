//! Self-update: the server offers a signed release over the agent's own
//! connection; the agent fetches it in chunks, verifies the signature by
//! its installation's pinned release key and the checksum, swaps its
//! binary (see [`swap`]), starts the new version in its place and reports
//! every outcome. A new version that does not connect in time is rolled
//! back by the guard, or by itself at its next start.

pub mod swap;
pub mod version;

use anyhow::{Context, Result};
use base64::Engine;
use std::path::{Path, PathBuf};
use std::time::Duration;
use steward_proto::{AgentMessage, UpdateOffer, UpdateOutcome, UpdateReport};
use steward_sign::release::{Release, ReleaseVerifier, Signature};
use swap::{AtStart, Marker};

pub use version::{target, version};

/// Where packages put the release keys the agent trusts.
pub const DEFAULT_KEYS: &str = "/etc/steward-agent/release-keys";

#[derive(Debug, Clone)]
pub struct Config {
    /// Keys the installation pinned; empty: updates are refused.
    pub keys: ReleaseVerifier,
    /// How long a new version has to connect.
    pub deadline: Duration,
    pub dir: PathBuf,
    /// The running binary.
    pub exe: PathBuf,
    /// The arguments it was started with (to start the next one alike).
    pub args: Vec<String>,
}

impl Config {
    /// Reads the key file (`None`: the default path, which may be absent).
    pub fn load(dir: &Path, keys: Option<&Path>, deadline: Duration) -> Result<Self> {
        let keys = match keys {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read release keys {}", path.display()))?;
                ReleaseVerifier::parse(&text).with_context(|| path.display().to_string())?
            }
            None => match std::fs::read_to_string(DEFAULT_KEYS) {
                Ok(text) => ReleaseVerifier::parse(&text).context(DEFAULT_KEYS)?,
                Err(_) => ReleaseVerifier::default(),
            },
        };
        Ok(Self {
            keys,
            deadline,
            dir: dir.to_path_buf(),
            exe: std::env::current_exe().context("cannot find the agent's own binary")?,
            args: std::env::args().skip(1).collect(),
        })
    }
}

/// What the session does after the updater saw a message.
#[derive(Debug)]
pub enum Step {
    Nothing,
    Send(Vec<AgentMessage>),
    /// Send these, then start the new binary in this process's place.
    Restart(Vec<AgentMessage>),
}

struct Download {
    offer: UpdateOffer,
    bytes: Vec<u8>,
}

pub struct Updater {
    config: Config,
    download: Option<Download>,
}

fn report(offer: &UpdateOffer, outcome: UpdateOutcome, detail: String) -> AgentMessage {
    AgentMessage::UpdateReport(UpdateReport {
        rollout_id: offer.rollout_id.clone(),
        version: offer.version.clone(),
        from_version: version().into(),
        outcome,
        detail,
    })
}

fn release(offer: &UpdateOffer) -> (Release, Signature) {
    (
        Release {
            target: offer.target.clone(),
            version: offer.version.clone(),
            sha256: offer.sha256.clone(),
            size: offer.size,
        },
        Signature {
            key_id: offer.key_id.clone(),
            signature: offer.signature.clone(),
        },
    )
}

impl Updater {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            download: None,
        }
    }

    pub fn on_offer(&mut self, offer: UpdateOffer) -> Step {
        if offer.version == version()
            || self
                .download
                .as_ref()
                .is_some_and(|d| d.offer.version == offer.version)
        {
            return Step::Nothing;
        }
        // The signature is checked before anything is fetched; the
        // checksum once the bytes are here.
        let (rel, sig) = release(&offer);
        if let Err(refusal) = self.config.keys.verify_signature(&rel, &sig, &target()) {
            tracing::warn!(version = %offer.version, %refusal, "Refused an agent update.");
            return Step::Send(vec![report(
                &offer,
                UpdateOutcome::Refused,
                refusal.to_string(),
            )]);
        }
        if offer.size > steward_proto::update::MAX_RELEASE_BYTES {
            let detail = format!("a release of {} bytes is too large", offer.size);
            return Step::Send(vec![report(&offer, UpdateOutcome::Refused, detail)]);
        }
        tracing::info!(version = %offer.version, size = offer.size, "Fetching an agent update.");
        let fetch = AgentMessage::UpdateFetch {
            version: offer.version.clone(),
            offset: 0,
        };
        self.download = Some(Download {
            bytes: Vec::with_capacity(offer.size as usize),
            offer,
        });
        Step::Send(vec![fetch])
    }

    pub fn on_chunk(&mut self, version: &str, offset: u64, data_b64: &str) -> Step {
        let Some(download) = self.download.as_mut() else {
            return Step::Nothing;
        };
        if download.offer.version != version || offset != download.bytes.len() as u64 {
            return Step::Nothing;
        }
        let bytes = match base64::engine::general_purpose::STANDARD.decode(data_b64) {
            Ok(bytes) if !bytes.is_empty() => bytes,
            _ => return self.fail(UpdateOutcome::Failed, "the server sent a bad chunk".into()),
        };
        download.bytes.extend_from_slice(&bytes);
        let (got, want) = (download.bytes.len() as u64, download.offer.size);
        if got < want {
            return Step::Send(vec![AgentMessage::UpdateFetch {
                version: version.into(),
                offset: got,
            }]);
        }
        let Some(download) = self.download.take() else {
            return Step::Nothing;
        };
        let (rel, sig) = release(&download.offer);
        if let Err(refusal) = self
            .config
            .keys
            .verify(&rel, &sig, &target(), &download.bytes)
        {
            tracing::warn!(version = %rel.version, %refusal, "Refused an agent update.");
            self.download = Some(download);
            return self.fail(UpdateOutcome::Refused, refusal.to_string());
        }
        match self.install(&download) {
            Ok(()) => {
                tracing::info!(version = %rel.version, "Agent update installed; starting it.");
                Step::Restart(vec![report(
                    &download.offer,
                    UpdateOutcome::Installing,
                    String::new(),
                )])
            }
            Err(error) => {
                let detail = format!("{error:#}");
                tracing::error!(%detail, "Cannot install the agent update.");
                Step::Send(vec![report(&download.offer, UpdateOutcome::Failed, detail)])
            }
        }
    }

    fn fail(&mut self, outcome: UpdateOutcome, detail: String) -> Step {
        match self.download.take() {
            Some(d) => Step::Send(vec![report(&d.offer, outcome, detail)]),
            None => Step::Nothing,
        }
    }

    fn install(&self, download: &Download) -> Result<()> {
        let Config { dir, exe, args, .. } = &self.config;
        let deadline_ms = now_ms() + self.config.deadline.as_millis() as i64;
        let marker = Marker {
            rollout_id: download.offer.rollout_id.clone(),
            from_version: version().into(),
            to_version: download.offer.version.clone(),
            exe: exe.clone(),
            prev: swap::prev_path(exe),
            deadline_ms,
            args: args.clone(),
            starts: 0,
            confirmed: false,
        };
        swap::save_marker(dir, &marker)?;
        if let Err(error) = swap::install(exe, &download.bytes) {
            swap::remove_marker(dir);
            return Err(error);
        }
        // The guard runs the previous binary (the one known to work). It is
        // started through a launcher that exits at once (reaped here), so
        // the guard is nobody's child once it is done, not a zombie of the
        // new version this process becomes.
        let launched = std::process::Command::new(&marker.prev)
            .arg("update-guard")
            .arg("--detach")
            .arg(dir.join(swap::MARKER))
            .arg(std::process::id().to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status();
        let error = match launched {
            Ok(status) if status.success() => return Ok(()),
            Ok(status) => format!("its launcher ended with {status}"),
            Err(error) => error.to_string(),
        };
        let _ = swap::restore(exe, &marker.prev);
        swap::remove_marker(dir);
        anyhow::bail!("cannot start the update guard: {error}")
    }

    /// Replaces this process with the new binary (returns only on failure:
    /// then the guard rolls back at the deadline).
    pub fn restart(&self) -> anyhow::Error {
        swap::exec(&self.config.exe, &self.config.args)
    }
}

#[cfg(unix)]
use std::os::unix::process::CommandExt as _;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Read at the agent's start, before anything else: rolls back (does not
/// return) when this new version should not run; otherwise counts the
/// start.
pub fn on_start(dir: &Path) -> Result<()> {
    let marker = swap::load_marker(dir);
    match swap::at_start(marker.as_ref(), version(), now_ms()) {
        AtStart::Nothing => Ok(()),
        AtStart::Trial => {
            let Some(mut marker) = marker else {
                return Ok(());
            };
            marker.starts += 1;
            swap::save_marker(dir, &marker)
        }
        AtStart::RollBack(why) => {
            let Some(marker) = marker else { return Ok(()) };
            tracing::warn!(%why, "Rolling the agent update back.");
            Err(roll_back(dir, &marker, &why))
        }
        AtStart::Failed => {
            let Some(marker) = marker else { return Ok(()) };
            let why = format!("version {} did not take over", marker.to_version);
            save_outcome(dir, &marker, UpdateOutcome::RolledBack, &why);
            swap::remove_marker(dir);
            Ok(())
        }
    }
}

fn save_outcome(dir: &Path, marker: &Marker, outcome: UpdateOutcome, detail: &str) {
    let report = UpdateReport {
        rollout_id: marker.rollout_id.clone(),
        version: marker.to_version.clone(),
        from_version: marker.from_version.clone(),
        outcome,
        detail: detail.chars().take(500).collect(),
    };
    if let Ok(bytes) = serde_json::to_vec(&report) {
        let _ = swap::write_durably(&dir.join(swap::OUTCOME), &bytes, 0o600);
    }
}

/// Restores the previous binary and records why (the disk is settled
/// before any process is stopped or started).
fn restore(dir: &Path, marker: &Marker, why: &str) -> Result<()> {
    swap::restore(&marker.exe, &marker.prev)?;
    save_outcome(dir, marker, UpdateOutcome::RolledBack, why);
    swap::remove_marker(dir);
    Ok(())
}

/// [`restore`], then starts the previous binary in this process's place.
fn roll_back(dir: &Path, marker: &Marker, why: &str) -> anyhow::Error {
    if let Err(error) = restore(dir, marker, why) {
        return error;
    }
    swap::exec(&marker.exe, &marker.args)
}

/// Called once a session was welcomed: confirms a pending update of this
/// version, and hands back any outcome waiting to be reported.
pub fn connected(dir: &Path) -> Vec<AgentMessage> {
    let mut out = Vec::new();
    if let Some(mut marker) = swap::load_marker(dir)
        && !marker.confirmed
        && marker.to_version == version()
    {
        marker.confirmed = true;
        if swap::save_marker(dir, &marker).is_ok() {
            tracing::info!(version = %marker.to_version, "Agent update confirmed.");
            out.push(AgentMessage::UpdateReport(UpdateReport {
                rollout_id: marker.rollout_id.clone(),
                version: marker.to_version.clone(),
                from_version: marker.from_version.clone(),
                outcome: UpdateOutcome::Succeeded,
                detail: String::new(),
            }));
        }
    }
    let outcome = dir.join(swap::OUTCOME);
    if let Some(report) = std::fs::read(&outcome)
        .ok()
        .and_then(|b| serde_json::from_slice::<UpdateReport>(&b).ok())
    {
        out.push(AgentMessage::UpdateReport(report));
    }
    out
}

/// Forgets outcomes once they were sent (called after the sends).
pub fn reported(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(swap::OUTCOME));
    if swap::load_marker(dir).is_some_and(|m| m.confirmed) {
        swap::remove_marker(dir);
    }
}

/// `steward-agent update-guard --detach MARKER PID`: starts the guard below
/// in a process group of its own and returns without waiting for it.
pub fn detach_guard(marker_path: &Path, pid: i32) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    let mut guard = std::process::Command::new(exe);
    guard
        .arg("update-guard")
        .arg(marker_path)
        .arg(pid.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    #[cfg(unix)]
    guard.process_group(0);
    guard.spawn().context("cannot start the update guard")?;
    Ok(())
}

/// `steward-agent update-guard MARKER PID`: waits for the new version to
/// confirm; at the deadline without it, restores the previous binary,
/// stops the new one and starts the previous one in this process's place.
pub fn guard(marker_path: &Path, pid: i32) -> Result<()> {
    let dir = marker_path
        .parent()
        .context("a marker without a directory")?;
    loop {
        let Some(marker) = swap::load_marker(dir) else {
            return Ok(());
        };
        if marker.confirmed {
            return Ok(());
        }
        if now_ms() > marker.deadline_ms {
            let why = format!(
                "version {} did not connect within the deadline",
                marker.to_version
            );
            tracing::warn!(%why, "Rolling the agent update back.");
            // Disk first: a service manager that sees the new version die
            // (and stops this guard with it) restarts the previous one.
            restore(dir, &marker, &why)?;
            #[cfg(not(unix))]
            let _ = pid;
            #[cfg(unix)]
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            return Err(swap::exec(&marker.exe, &marker.args));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
