//! Jobs: the I/O shell around `steward-jobs` and `steward-sign`.
//!
//! A job is stored with one run per target device before anything is sent
//! (a server crash mid-fan-out loses nothing: queued and sent runs are
//! delivered when their device next connects). Each run goes out as an
//! order signed for its device; the agent verifies it, runs it at most
//! once (its journal remembers every run id until the order expires) and
//! reports a final result until the server acks it after a durable commit.
//! A final status is recorded once: a repeated report changes nothing.

pub mod authority;
pub mod patches;
mod remediate;
mod schedules;
pub mod shell;

pub use remediate::RemediationRequest;

use crate::api::ApiError;
use crate::{AppState, now_ms};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_jobs::progress::{self, Counts, Policy};
use steward_jobs::script::ScriptDef;
use steward_jobs::target::{Candidate, Selector};
use steward_proto::{Action, Order, OutputStream, RunResult, RunStatus, ServerMessage};
use steward_sign::OrderSigner;
use steward_store::{NewJob, PendingRun, ReportOutcome, RunReport, Scope};
use tokio::sync::{broadcast, mpsc, watch};
use uuid::Uuid;

/// Default validity of a job: devices offline longer never run it.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// Reports written per transaction at most.
const REPORT_BATCH: usize = 2048;

/// What the API (and schedules) ask for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// A script of the library, by name or id...
    #[serde(default)]
    pub script: Option<String>,
    /// ...or a built-in action: reboot, restart_service, collect_inventory,
    /// ping.
    #[serde(default)]
    pub action: Option<serde_json::Value>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// `all`, `device:ID`, `tag:T`, `site:S`, `os:NAME`.
    pub targets: Vec<String>,
    #[serde(default)]
    pub org: Option<String>,
    /// How long devices that are offline may still receive it (default 24h).
    #[serde(default)]
    pub expires_in: Option<String>,
    #[serde(default)]
    pub concurrency: u32,
    #[serde(default)]
    pub stop_after_failures: u32,
}

/// Live progress for watchers (API streams, remediation).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEvent {
    Output {
        job_id: Uuid,
        run_id: Uuid,
        device_id: Uuid,
        stream: OutputStream,
        data: String,
    },
    Status {
        job_id: Uuid,
        run_id: Uuid,
        device_id: Uuid,
        status: String,
    },
}

#[derive(Default)]
struct LiveOutput {
    stdout: String,
    stderr: String,
}

pub struct Jobs {
    pub signer: Arc<dyn OrderSigner>,
    pub events: broadcast::Sender<JobEvent>,
    pub shells: shell::Shells,
    reports: Mutex<Option<mpsc::UnboundedSender<RunReport>>>,
    /// run → (job, device), for runs sent by this process.
    runs: Mutex<HashMap<Uuid, (Uuid, Uuid)>>,
    live: Mutex<HashMap<Uuid, LiveOutput>>,
    /// Jobs with a concurrency cap or failure stop still sending.
    paced: Mutex<HashSet<Uuid>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Jobs {
    pub fn new(signer: Arc<dyn OrderSigner>) -> Self {
        Self {
            signer,
            events: broadcast::channel(4096).0,
            shells: shell::Shells::default(),
            reports: Mutex::default(),
            runs: Mutex::default(),
            live: Mutex::default(),
            paced: Mutex::default(),
        }
    }

    /// The public keys agents must trust (sent at enrollment and welcome).
    pub fn public_keys(&self) -> Vec<String> {
        vec![self.signer.public_key_b64().to_string()]
    }

    /// Output so far of a run that is still going.
    pub fn live_output(&self, run: Uuid) -> Option<(String, String)> {
        lock(&self.live)
            .get(&run)
            .map(|l| (l.stdout.clone(), l.stderr.clone()))
    }

    fn report(&self, report: RunReport) {
        if let Some(tx) = lock(&self.reports).as_ref() {
            let _ = tx.send(report);
        }
    }
}

/// Starts the report writer, the sweeper (expiry, schedules, redelivery)
/// and the remediation runner.
pub fn start(
    state: Arc<AppState>,
    remediations: mpsc::UnboundedReceiver<RemediationRequest>,
    shutdown: watch::Receiver<bool>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    *lock(&state.jobs.reports) = Some(tx);
    tokio::spawn(report_writer(state.clone(), rx));
    tokio::spawn(sweeper(state.clone(), shutdown));
    tokio::spawn(remediate::run(state, remediations));
}

/// Builds the action a request asks for, with the script's parameters
/// checked and defaults filled in; for a script, also who last edited it.
async fn action_for(
    state: &AppState,
    scope: &Scope,
    request: &JobRequest,
) -> Result<(String, Action, Option<String>), ApiError> {
    match (&request.script, &request.action) {
        (Some(name), None) => {
            let record = state
                .store
                .get_script(scope, name)
                .await
                .map_err(|e| match e {
                    steward_store::StoreError::NotFound => {
                        ApiError::not_found(format!("no script {name:?}"))
                    }
                    other => other.into(),
                })?;
            let script: ScriptDef = serde_json::from_value(record.definition)
                .map_err(|e| ApiError::bad_request(format!("stored script is unreadable: {e}")))?;
            let params = script
                .resolve_params(&request.params)
                .map_err(|e| ApiError::bad_request(e.0))?;
            let sha256 = steward_sign::sha256_hex(script.body.as_bytes());
            let editor = Some(record.updated_by.clone());
            Ok((
                format!("{} v{}", script.name, record.version),
                Action::Script {
                    name: script.name,
                    interpreter: script.interpreter,
                    body: script.body,
                    sha256,
                    params,
                    timeout_secs: script.timeout_secs,
                    run_as: script.run_as,
                },
                editor,
            ))
        }
        (None, Some(action)) => {
            let action: Action = serde_json::from_value(action.clone())
                .map_err(|e| ApiError::bad_request(format!("unknown action: {e}")))?;
            match &action {
                Action::Reboot | Action::CollectInventory | Action::Ping => {}
                Action::RestartService { service } => {
                    if service.is_empty()
                        || service.len() > 128
                        || !service
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b))
                    {
                        return Err(ApiError::bad_request(format!(
                            "{service:?} is not a service name"
                        )));
                    }
                }
                Action::InstallUpdates {
                    packages,
                    timeout_secs,
                    reboot,
                    reboot_grace_minutes,
                } => {
                    // Nothing to install is a restart alone (`always`).
                    let none_ok = *reboot == steward_proto::RebootAfter::Always;
                    if (packages.is_empty() && !none_ok) || packages.len() > 500 {
                        return Err(ApiError::bad_request(
                            "install_updates names 1 to 500 packages (none only with reboot always)",
                        ));
                    }
                    if *reboot_grace_minutes > steward_proto::MAX_REBOOT_GRACE_MINUTES {
                        return Err(ApiError::bad_request(format!(
                            "reboot_grace_minutes is at most {}",
                            steward_proto::MAX_REBOOT_GRACE_MINUTES
                        )));
                    }
                    if let Some(bad) = packages.iter().find(|p| !p.is_valid()) {
                        return Err(ApiError::bad_request(format!(
                            "{}={} is not a package name and version",
                            bad.name, bad.version
                        )));
                    }
                    if !(1..=7200).contains(timeout_secs) {
                        return Err(ApiError::bad_request(
                            "timeout_secs is 1 to 7200 for install_updates",
                        ));
                    }
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "action must be reboot, restart_service, collect_inventory, install_updates or ping",
                    ));
                }
            }
            let name = serde_json::to_value(&action)
                .ok()
                .and_then(|v| v["kind"].as_str().map(String::from))
                .unwrap_or_default();
            Ok((name, action, None))
        }
        _ => Err(ApiError::bad_request(
            "give either a script or an action (not both)",
        )),
    }
}

/// What [`create_job`] made.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub id: Uuid,
    pub name: String,
    pub state: String,
    pub targets: usize,
}

/// Creates a job for `org` on the devices of `scope` the request selects,
/// stores it with its runs, then sends what can be sent. A run nobody
/// started by hand (`origin`: a schedule, a remediation) of a script is
/// also bounded by the script's last editor: devices where they may not
/// run scripts get a refused run saying so.
pub async fn create_job(
    state: &Arc<AppState>,
    org: Uuid,
    scope: &Scope,
    request: &JobRequest,
    by: &str,
    origin: Option<String>,
) -> Result<Created, ApiError> {
    // A script is looked up by name in the job's organisation only: another
    // organisation's script of the same name is neither run nor a conflict.
    let (default_name, action, editor) = action_for(state, &scope.within_org(org), request).await?;
    let editor_bound = match editor {
        Some(editor) if origin.is_some() && editor != by => {
            let bound = authority::author_scope(state, &editor).await;
            Some((bound, editor))
        }
        _ => None,
    };
    create_runs(
        state,
        org,
        scope,
        request,
        default_name,
        action,
        by,
        origin,
        editor_bound,
    )
    .await
}

/// Creates a job running `action` (file transfers and remediations come
/// here directly; they are not offered as plain actions).
#[allow(clippy::too_many_arguments)]
pub async fn create_with_action(
    state: &Arc<AppState>,
    org: Uuid,
    scope: &Scope,
    request: &JobRequest,
    default_name: String,
    action: Action,
    by: &str,
    origin: Option<String>,
) -> Result<Created, ApiError> {
    create_runs(
        state,
        org,
        scope,
        request,
        default_name,
        action,
        by,
        origin,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn create_runs(
    state: &Arc<AppState>,
    org: Uuid,
    scope: &Scope,
    request: &JobRequest,
    default_name: String,
    action: Action,
    by: &str,
    origin: Option<String>,
    editor_bound: Option<(Scope, String)>,
) -> Result<Created, ApiError> {
    let mut selector = Selector::default();
    for target in &request.targets {
        selector
            .add(target)
            .map_err(|e| ApiError::bad_request(e.0))?;
    }
    if selector.is_empty() {
        return Err(ApiError::bad_request(
            "no targets: give all, device:ID, tag:TAG, site:SITE or os:NAME",
        ));
    }
    let expires_in = match &request.expires_in {
        Some(text) => crate::api::parse_duration(text)?,
        None => DEFAULT_EXPIRY,
    };
    if expires_in.as_millis() as i64 > steward_proto::MAX_ORDER_LIFETIME_MS {
        return Err(ApiError::bad_request("expires_in may be 31 days at most"));
    }
    let capability = action.capability().as_str().to_string();
    let devices = state.store.list_devices(scope).await?;
    let runs: Vec<(Uuid, Uuid, String, String)> = devices
        .iter()
        .filter(|d| d.org_id == org && !d.revoked)
        .filter(|d| {
            selector.matches(&Candidate {
                id: &d.id.to_string(),
                site: &d.site,
                tags: &d.tags,
                os: &d.os,
            })
        })
        .map(|d| {
            if let Some((bound, editor)) = &editor_bound
                && !bound.allows(d.org_id, Some(&d.site))
            {
                (
                    Uuid::now_v7(),
                    d.id,
                    "refused".to_string(),
                    format!(
                        "the script was last changed by {editor}, who may not run scripts on this device; someone who may must save it again"
                    ),
                )
            } else if d.refuses.contains(&capability) {
                (
                    Uuid::now_v7(),
                    d.id,
                    "refused".to_string(),
                    format!("the device's local configuration refuses {capability}"),
                )
            } else {
                (Uuid::now_v7(), d.id, "queued".to_string(), String::new())
            }
        })
        .collect();
    if runs.is_empty() {
        return Err(ApiError::bad_request("no device matches the targets"));
    }
    let threshold = state.config.approval_threshold;
    // Whoever or whatever asks (a person, a schedule, a remediation): a job
    // reaching more devices than the threshold waits for a second person.
    let job_state = if threshold > 0 && runs.len() > threshold as usize {
        "pending_approval"
    } else {
        "active"
    };
    let policy = Policy {
        concurrency: request.concurrency,
        stop_after_failures: request.stop_after_failures,
    };
    let now = now_ms();
    let job = NewJob {
        id: Uuid::now_v7(),
        org_id: org,
        name: request.name.clone().unwrap_or(default_name),
        action: serde_json::to_value(&action).unwrap_or_default(),
        selector: serde_json::to_value(&selector).unwrap_or_default(),
        policy: serde_json::to_value(policy).unwrap_or_default(),
        created_at: now,
        created_by: by.to_string(),
        expires_at: now + expires_in.as_millis() as i64,
        state: job_state.into(),
        origin,
        runs,
    };
    state.store.create_job(&job).await?;
    tracing::info!(job = %job.id, name = %job.name, targets = job.runs.len(), by, "Job created.");
    if job_state == "active" {
        // Sending does not hold up the caller (a job for 10,000 devices
        // signs 10,000 orders).
        let (state, id) = (state.clone(), job.id);
        tokio::spawn(async move { start_job(&state, id, policy).await });
    }
    Ok(Created {
        id: job.id,
        name: job.name,
        state: job_state.into(),
        targets: job.runs.len(),
    })
}

/// Sends what an active job may send now, and tells the other replicas to
/// send to the devices they hold.
pub async fn start_job(state: &Arc<AppState>, job: Uuid, policy: Policy) {
    if policy != Policy::default() {
        lock(&state.jobs.paced).insert(job);
    }
    match state.store.runs_to_send(None, Some(job), now_ms()).await {
        Ok(runs) => dispatch(state, runs).await,
        Err(error) => tracing::error!(%job, %error, "Cannot read the runs of a job."),
    }
    crate::bus::tell(state, crate::bus::BusEvent::JobReady { job });
}

/// Live progress to this replica's watchers and the other replicas'.
fn emit(state: &AppState, event: JobEvent) {
    let _ = state.jobs.events.send(event.clone());
    crate::bus::tell(state, crate::bus::BusEvent::Job(event));
}

/// Signs and sends runs to their devices when connected, respecting each
/// job's concurrency cap and failure stop; marks queued ones sent.
pub async fn dispatch(state: &Arc<AppState>, runs: Vec<PendingRun>) {
    let now = now_ms();
    let mut by_job: BTreeMap<Uuid, Vec<PendingRun>> = BTreeMap::new();
    for run in runs {
        by_job.entry(run.job_id).or_default().push(run);
    }
    let mut sent = Vec::new();
    for (job, runs) in by_job {
        let policy: Policy = serde_json::from_value(runs[0].policy.clone()).unwrap_or_default();
        let mut budget = u64::MAX;
        if policy != Policy::default() {
            let counts = match state.store.get_job(&Scope::all(), job).await {
                Ok(record) => counts_of(&record.counts),
                Err(_) => continue,
            };
            match progress::next(policy, &counts) {
                progress::Next::Stop => {
                    let message = format!(
                        "not sent: the job stopped after {} failures",
                        counts.failures()
                    );
                    match state.store.cancel_queued(job, &message, now).await {
                        Ok(n) if n > 0 => {
                            tracing::warn!(%job, cancelled = n, "Job stopped after too many failures.")
                        }
                        Ok(_) => {}
                        Err(error) => tracing::error!(%job, %error, "Cannot cancel queued runs."),
                    }
                    lock(&state.jobs.paced).remove(&job);
                    continue;
                }
                progress::Next::Send(n) => budget = n,
            }
        }
        let Ok(action) = serde_json::from_value::<Action>(runs[0].action.clone()) else {
            tracing::error!(%job, "Stored job action does not parse; not sent.");
            continue;
        };
        for run in runs {
            let queued = run.status == "queued";
            if queued && budget == 0 {
                continue;
            }
            if !state.connections.is_connected(run.device_id) {
                continue;
            }
            let order = Order {
                run_id: run.run_id.to_string(),
                job_id: job.to_string(),
                device_id: run.device_id.to_string(),
                issued_at: now,
                expires_at: run.expires_at,
                action: action.clone(),
            };
            let message = ServerMessage::Order(state.jobs.signer.sign(&order));
            if state.connections.send(run.device_id, &message) {
                lock(&state.jobs.runs).insert(run.run_id, (job, run.device_id));
                if queued {
                    budget = budget.saturating_sub(1);
                    sent.push(run.run_id);
                }
            }
        }
    }
    if !sent.is_empty()
        && let Err(error) = state.store.mark_sent(&sent, now).await
    {
        tracing::error!(%error, "Cannot mark runs sent.");
    }
}

/// Runs per status, from a stored job's counts.
pub fn counts_of(map: &BTreeMap<String, u64>) -> Counts {
    let mut counts = Counts::default();
    for (status, n) in map {
        if let Some(status) = RunStatus::parse(status) {
            counts.0.insert(status.as_str(), *n);
        }
    }
    counts
}

/// Waits (polling) for the first run of `job` in `scope` to reach a final
/// status; None when `timeout` passes first. For one-device jobs: file
/// transfers, remediations.
pub async fn wait_for_result(
    state: &AppState,
    scope: &Scope,
    job: Uuid,
    timeout: Duration,
) -> Result<Option<steward_store::RunRecord>, steward_store::StoreError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let runs = state.store.job_runs(scope, job).await?;
        if let Some(run) = runs
            .into_iter()
            .next()
            .filter(|r| RunStatus::parse(&r.status).is_some_and(|s| s.is_final()))
        {
            return Ok(Some(run));
        }
        if tokio::time::Instant::now() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A device (re)connected: send what waits for it (queued runs, and sent
/// ones it may not have received; the agent ignores what it already has).
pub async fn on_connect(state: Arc<AppState>, device: Uuid) {
    match state.store.runs_to_send(Some(device), None, now_ms()).await {
        Ok(runs) if !runs.is_empty() => dispatch(&state, runs).await,
        Ok(_) => {}
        Err(error) => tracing::error!(%device, %error, "Cannot read runs waiting for a device."),
    }
}

/// An agent said a run started.
pub fn on_started(state: &AppState, device: Uuid, run_id: &str, started_at: i64) {
    let Ok(run) = Uuid::parse_str(run_id) else {
        return;
    };
    state.jobs.report(RunReport {
        run_id: run,
        device_id: device,
        status: "running".into(),
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
        message: String::new(),
        started_at: Some(started_at),
        duration_ms: None,
        at: now_ms(),
    });
}

/// Live output of a run: kept (bounded) until its result, and pushed to
/// watchers.
pub fn on_output(state: &AppState, device: Uuid, run_id: &str, stream: OutputStream, data: String) {
    let Ok(run) = Uuid::parse_str(run_id) else {
        return;
    };
    let Some((job, owner)) = lock(&state.jobs.runs).get(&run).copied() else {
        return;
    };
    if owner != device {
        return;
    }
    {
        let mut live = lock(&state.jobs.live);
        let entry = live.entry(run).or_default();
        let text = match stream {
            OutputStream::Stdout => &mut entry.stdout,
            OutputStream::Stderr => &mut entry.stderr,
        };
        if text.len() + data.len() <= steward_proto::MAX_OUTPUT_BYTES {
            text.push_str(&data);
        }
    }
    emit(
        state,
        JobEvent::Output {
            job_id: job,
            run_id: run,
            device_id: device,
            stream,
            data,
        },
    );
}

/// An agent's final report: stored by the writer, acked after the commit.
pub fn on_result(state: &AppState, device: Uuid, result: RunResult) {
    let Ok(run) = Uuid::parse_str(&result.run_id) else {
        return;
    };
    let status = match result.status {
        // An agent cannot claim a server-side state.
        RunStatus::Queued | RunStatus::Sent | RunStatus::Cancelled => RunStatus::Failed,
        other => other,
    };
    state.jobs.report(RunReport {
        run_id: run,
        device_id: device,
        status: status.as_str().into(),
        exit_code: result.exit_code,
        stdout: result.stdout,
        stderr: result.stderr,
        truncated: result.truncated,
        message: result.message,
        started_at: result.started_at,
        duration_ms: result.duration_ms.map(|d| d.min(i64::MAX as u64) as i64),
        at: now_ms(),
    });
}

async fn report_writer(state: Arc<AppState>, mut rx: mpsc::UnboundedReceiver<RunReport>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < REPORT_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        // A run that started and finished within one batch needs only its
        // final report.
        let finished: HashSet<Uuid> = batch
            .iter()
            .filter(|r| r.status != "running")
            .map(|r| r.run_id)
            .collect();
        batch.retain(|r| r.status != "running" || !finished.contains(&r.run_id));
        let outcomes = match state.store.apply_run_reports(&batch).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                // Not acked: the agents resend their results.
                tracing::error!(%error, reports = batch.len(), "Cannot store run reports.");
                continue;
            }
        };
        for (report, outcome) in batch.iter().zip(outcomes) {
            let is_final = report.status != "running";
            if is_final && outcome != ReportOutcome::Unknown {
                state.connections.send(
                    report.device_id,
                    &ServerMessage::RunAck {
                        run_id: report.run_id.to_string(),
                    },
                );
            }
            if outcome != ReportOutcome::Applied {
                continue;
            }
            let job = if is_final {
                lock(&state.jobs.live).remove(&report.run_id);
                lock(&state.jobs.runs).remove(&report.run_id)
            } else {
                lock(&state.jobs.runs).get(&report.run_id).copied()
            };
            if let Some((job, device)) = job {
                // Only what may be a policy's install costs a lookup.
                let failed = matches!(report.status.as_str(), "failed" | "timed_out");
                if is_final && (failed || report.stdout.contains(": installed\n")) {
                    patches::install_finished(&state, job, device, &report.status, &report.stdout)
                        .await;
                }
                emit(
                    &state,
                    JobEvent::Status {
                        job_id: job,
                        run_id: report.run_id,
                        device_id: device,
                        status: report.status.clone(),
                    },
                );
            }
        }
        // Paced jobs may send more now (or stop).
        let paced: Vec<Uuid> = lock(&state.jobs.paced).iter().copied().collect();
        for job in paced {
            match state.store.runs_to_send(None, Some(job), now_ms()).await {
                Ok(runs) if runs.iter().any(|r| r.status == "queued") => {
                    dispatch(&state, runs).await
                }
                Ok(_) => {
                    lock(&state.jobs.paced).remove(&job);
                }
                Err(error) => tracing::error!(%job, %error, "Cannot read a paced job."),
            }
        }
    }
}

/// Every second: expire queued runs, fire due schedules; every 15 s, send
/// queued runs to connected devices (a send that found a full channel).
async fn sweeper(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut round = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        round += 1;
        let now = now_ms();
        if let Err(error) = state.store.expire_runs(now).await {
            tracing::error!(%error, "Cannot expire runs.");
        }
        schedules::fire_schedules(&state, now).await;
        if round.is_multiple_of(5) {
            patches::deploy_due(&state, now).await;
        }
        if round.is_multiple_of(2) {
            crate::agent_updates::sweep(&state, now).await;
        }
        if round.is_multiple_of(15)
            && let Ok(runs) = state.store.runs_to_send(None, None, now).await
        {
            let queued = runs.into_iter().filter(|r| r.status == "queued").collect();
            dispatch(&state, queued).await;
        }
    }
}
