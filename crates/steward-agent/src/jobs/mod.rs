//! Jobs on the agent: every order is verified (signature by a pinned key,
//! addressed to this device, unexpired, never seen, body matching its
//! hash) before anything runs; the [`journal`] makes runs at-most-once and
//! reports exactly-once; the local configuration can refuse whole
//! capabilities (scripts, shell, files, actions).

pub mod exec;
mod files;
mod install;
pub mod journal;
pub mod shell;

use anyhow::{Context, Result};
use journal::Journal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_proto::{Action, AgentMessage, Capability, Order, RunResult, RunStatus, SignedOrder};
use steward_sign::{Refusal, Verifier};
use tokio::sync::{Notify, mpsc};

const KEYS_FILE: &str = "job-keys.json";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub struct Runner {
    dir: PathBuf,
    device_id: String,
    refuses: Vec<Capability>,
    verifier: Mutex<Verifier>,
    journal: Mutex<Journal>,
    out: mpsc::UnboundedSender<AgentMessage>,
    shells: shell::Sessions,
    /// Set by the collect_inventory action.
    pub inventory_now: Notify,
    /// How install_updates reaches the package manager (`--apt-config`,
    /// `--patch-root`).
    patching: crate::collectors::patching::Config,
    /// Woken after an install: detect pending updates again now.
    rescan: Arc<Notify>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The trusted job-signing keys pinned in the state directory.
pub fn load_keys(state_dir: &Path) -> Vec<String> {
    std::fs::read(state_dir.join(KEYS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn save_keys(state_dir: &Path, keys: &[String]) -> Result<()> {
    crate::state::write_private(&state_dir.join(KEYS_FILE), &serde_json::to_vec(keys)?)
}

fn result(run_id: &str, status: RunStatus, message: impl Into<String>) -> RunResult {
    RunResult {
        run_id: run_id.to_string(),
        status,
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
        started_at: None,
        duration_ms: None,
        message: message.into(),
    }
}

impl Runner {
    /// Opens the journal under `state_dir/jobs`; `out` carries messages to
    /// the server (dropped while disconnected, except results, which the
    /// journal keeps).
    pub fn open(
        state_dir: &Path,
        device_id: &str,
        refuses: Vec<Capability>,
        out: mpsc::UnboundedSender<AgentMessage>,
    ) -> Result<Self> {
        let keys = load_keys(state_dir);
        let verifier =
            Verifier::new(&keys).context("the pinned job-signing keys are unreadable")?;
        let mut journal = Journal::open(&state_dir.join("jobs"))?;
        // Absolute: scripts run with the jobs directory as working directory.
        let dir = std::fs::canonicalize(state_dir.join("jobs"))?;
        journal.collect_garbage(now_ms());
        Ok(Self {
            dir,
            device_id: device_id.to_string(),
            refuses,
            verifier: Mutex::new(verifier),
            journal: Mutex::new(journal),
            out,
            shells: shell::Sessions::default(),
            inventory_now: Notify::new(),
            patching: Default::default(),
            rescan: Arc::new(Notify::new()),
        })
    }

    /// Installs go through this package manager configuration and wake
    /// `rescan` when done.
    pub fn with_patching(
        mut self,
        patching: crate::collectors::patching::Config,
        rescan: Arc<Notify>,
    ) -> Self {
        self.patching = patching;
        self.rescan = rescan;
        self
    }

    pub fn refuses(&self) -> &[Capability] {
        &self.refuses
    }

    /// Pins the server's keys if none are pinned (an agent enrolled before
    /// keys were handed out at enrollment). Pinned keys never change this
    /// way: a key change must come from a trusted key.
    pub fn pin_keys_once(&self, state_dir: &Path, offered: &[String]) {
        let mut verifier = lock(&self.verifier);
        if !verifier.is_empty() || offered.is_empty() {
            return;
        }
        match Verifier::new(offered) {
            Ok(new) => {
                if let Err(error) = save_keys(state_dir, offered) {
                    tracing::error!(error = %format!("{error:#}"), "Cannot save the job-signing keys.");
                    return;
                }
                tracing::warn!(
                    "No job-signing key was pinned: pinned the one the server presented."
                );
                *verifier = new;
            }
            Err(error) => tracing::warn!(%error, "The server offered unusable job-signing keys."),
        }
    }

    /// Results to (re)send after connecting.
    pub fn unacked(&self) -> Vec<RunResult> {
        lock(&self.journal).unacked()
    }

    pub fn acked(&self, run_id: &str) {
        if let Err(error) = lock(&self.journal).ack(run_id) {
            tracing::error!(error = %format!("{error:#}"), "Cannot record a result's ack.");
        }
    }

    pub fn shell_input(&self, session: &str, input: shell::Input) {
        self.shells.input(session, input);
    }

    fn send(&self, message: AgentMessage) {
        let _ = self.out.send(message);
    }

    /// Verifies and runs an order, or refuses it (logged and reported).
    pub fn on_order(self: &Arc<Self>, signed: SignedOrder) {
        let verdict = {
            let journal = lock(&self.journal);
            lock(&self.verifier).verify(&signed, &self.device_id, now_ms(), |run| {
                journal.contains(run)
            })
        };
        let order = match verdict {
            Ok(order) => order,
            Err(Refusal::Replayed(run)) => {
                // A resend of a run we have: report its result again if the
                // server has not stored it, never run it again.
                let entry = lock(&self.journal).get(&run).cloned();
                if let Some(result) = entry.and_then(|e| e.result) {
                    self.send(AgentMessage::RunResult(result));
                }
                tracing::info!(%run, "Ignored an order already received (not run again).");
                return;
            }
            Err(refusal) => return self.refuse(&signed, refusal),
        };
        if self.refuses.contains(&order.action.capability()) {
            let message = format!(
                "this device's local configuration refuses {}",
                order.action.capability().as_str()
            );
            tracing::warn!(run = %order.run_id, %message, "Refused an order.");
            let refused = result(&order.run_id, RunStatus::Refused, message);
            let mut journal = lock(&self.journal);
            let _ = journal.start(&order.run_id, order.expires_at);
            let _ = journal.finish(&order.run_id, refused.clone());
            drop(journal);
            self.send(AgentMessage::RunResult(refused));
            return;
        }
        if let Action::Shell {
            session,
            cols,
            rows,
            idle_timeout_secs,
        } = &order.action
        {
            if let Err(error) = lock(&self.journal).remember(&order.run_id, order.expires_at) {
                tracing::error!(error = %format!("{error:#}"), "Cannot journal a shell order; refused.");
                return;
            }
            let idle = Duration::from_secs(u64::from((*idle_timeout_secs).clamp(10, 86_400)));
            self.shells
                .open(session.clone(), *cols, *rows, idle, self.out.clone());
            return;
        }
        if let Err(error) = lock(&self.journal).start(&order.run_id, order.expires_at) {
            // Not durably recorded: not run (it could run twice otherwise).
            tracing::error!(error = %format!("{error:#}"), "Cannot journal an order; not running it.");
            return;
        }
        let started_at = now_ms();
        self.send(AgentMessage::RunStarted {
            run_id: order.run_id.clone(),
            started_at,
        });
        tracing::info!(run = %order.run_id, job = %order.job_id, "Running a verified order.");
        let runner = self.clone();
        tokio::spawn(async move {
            let mut result = runner.execute(&order).await;
            result.started_at = Some(started_at);
            if let Err(error) = lock(&runner.journal).finish(&order.run_id, result.clone()) {
                tracing::error!(error = %format!("{error:#}"), "Cannot journal a result.");
            }
            runner.send(AgentMessage::RunResult(result));
        });
    }

    fn refuse(&self, signed: &SignedOrder, refusal: Refusal) {
        tracing::warn!(reason = %refusal, key_id = %signed.key_id.chars().take(40).collect::<String>(), "Refused an order: nothing was run.");
        // Tell the server, under the run id the order claims, when it was
        // addressed to this device (the server checks the run is ours).
        let Ok(claimed) = serde_json::from_str::<Order>(&signed.payload) else {
            return;
        };
        if claimed.device_id != self.device_id || matches!(refusal, Refusal::Misaddressed(_)) {
            return;
        }
        let status = match refusal {
            Refusal::Expired(_) => RunStatus::Expired,
            _ => RunStatus::Refused,
        };
        self.send(AgentMessage::RunResult(result(
            &claimed.run_id,
            status,
            refusal.to_string(),
        )));
    }

    async fn execute(&self, order: &Order) -> RunResult {
        let run_id = &order.run_id;
        let finish = |outcome: exec::Outcome| RunResult {
            run_id: run_id.clone(),
            status: outcome.status,
            exit_code: outcome.exit_code,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
            truncated: outcome.truncated,
            started_at: None,
            duration_ms: Some(outcome.duration.as_millis() as u64),
            message: outcome.message,
        };
        match &order.action {
            Action::Script {
                interpreter,
                body,
                params,
                timeout_secs,
                run_as,
                ..
            } => {
                let (program, first_args, extension) = match crate::os::interpreter(*interpreter) {
                    Ok(found) => found,
                    Err(error) => return result(run_id, RunStatus::Failed, error),
                };
                let path = self.dir.join(format!("{run_id}.{extension}"));
                if let Err(error) = crate::state::write_private(&path, body.as_bytes()) {
                    return result(
                        run_id,
                        RunStatus::Failed,
                        format!("cannot write the script: {error:#}"),
                    );
                }
                let mut command = tokio::process::Command::new(program);
                command
                    .args(first_args)
                    .arg(&path)
                    .current_dir(&self.dir)
                    .env("STEWARD_RUN_ID", run_id)
                    .env("STEWARD_JOB_ID", &order.job_id);
                for (name, value) in params {
                    command.env(
                        format!("STEWARD_PARAM_{}", name.to_ascii_uppercase()),
                        value,
                    );
                }
                #[cfg(windows)]
                if let Some(user) = run_as {
                    let _ = std::fs::remove_file(&path);
                    return result(
                        run_id,
                        RunStatus::Failed,
                        format!("cannot run as {user:?}: run_as is not supported on Windows"),
                    );
                }
                #[cfg(unix)]
                if let Some(user) = run_as {
                    match exec::lookup_user(user) {
                        Some((uid, gid)) => {
                            command.uid(uid).gid(gid).current_dir("/");
                            // The script file is the agent's (0600): let the user read it.
                            let _ = std::fs::set_permissions(
                                &path,
                                std::os::unix::fs::PermissionsExt::from_mode(0o644),
                            );
                        }
                        None => {
                            let _ = std::fs::remove_file(&path);
                            return result(
                                run_id,
                                RunStatus::Failed,
                                format!("no local user {user:?}"),
                            );
                        }
                    }
                }
                let timeout = Duration::from_secs(u64::from((*timeout_secs).max(1)));
                let outcome = exec::run(command, timeout, run_id, &self.out).await;
                let _ = std::fs::remove_file(&path);
                finish(outcome)
            }
            Action::RestartService { service } => {
                let (program, args) = crate::os::restart_service(service);
                let mut command = tokio::process::Command::new(program);
                command.args(args);
                finish(exec::run(command, Duration::from_secs(120), run_id, &self.out).await)
            }
            Action::Reboot => {
                let (program, args) = crate::os::reboot();
                let mut command = tokio::process::Command::new(program);
                command.args(args);
                let mut outcome =
                    exec::run(command, Duration::from_secs(30), run_id, &self.out).await;
                if outcome.status == RunStatus::Succeeded {
                    outcome.message = "reboot scheduled in one minute".into();
                }
                finish(outcome)
            }
            Action::InstallUpdates {
                packages,
                timeout_secs,
                reboot,
                reboot_grace_minutes,
            } => {
                let timeout = Duration::from_secs(u64::from(*timeout_secs).clamp(1, 7200));
                let mut outcome =
                    install::install(&self.patching, packages, timeout, run_id, &self.out).await;
                // A restart only after everything went in.
                if outcome.status == RunStatus::Succeeded {
                    let grace =
                        (*reboot_grace_minutes).min(steward_proto::MAX_REBOOT_GRACE_MINUTES);
                    install::reboot_after(&self.patching, *reboot, grace, packages, &mut outcome)
                        .await;
                }
                // The verification scan: detection again, then inventory.
                self.rescan.notify_one();
                finish(outcome)
            }
            Action::CollectInventory => {
                self.inventory_now.notify_one();
                result(
                    run_id,
                    RunStatus::Succeeded,
                    "inventory collection requested",
                )
            }
            Action::Ping => result(run_id, RunStatus::Succeeded, "pong"),
            Action::FileGet { path, max_bytes } => files::file_get(run_id, path, *max_bytes).await,
            Action::FilePut {
                path,
                content_b64,
                sha256,
            } => files::file_put(run_id, path, content_b64, sha256).await,
            Action::Shell { .. } => result(run_id, RunStatus::Failed, "not a job"),
        }
    }
}
