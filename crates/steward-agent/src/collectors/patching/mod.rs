//! Patching detection: pending updates, why each is (or is not) a security
//! update, whether the device needs a reboot and why, and when it last
//! upgraded. A thin layer of I/O around the pure parsers in `apt`, `dnf`
//! and `reboot`.
//!
//! Nothing here changes the host: apt is only simulated (`apt-get -s`, no
//! lock taken, no `apt-get update`), needrestart runs in list-only mode.
//! Every command is bounded by the pass's deadline and killed past it, so a
//! hung package manager gives a `timed_out` status, never a stuck agent;
//! the pass runs as its own task (`run_loop`) and never delays heartbeats.

pub mod apt;
pub mod dnf;
pub mod locks;
pub mod macos;
pub mod reboot;
pub mod seam;
#[cfg(test)]
mod tests;
pub mod windows;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_proto::{DetectionState, PatchStatus, PendingUpdate, SecuritySource};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Most pending updates reported (the rest are counted in `truncated`):
/// keeps an inventory frame well under the 4 MiB limit.
pub const MAX_UPDATES: usize = 5_000;
/// Most bytes of a command's output read (the rest is read and dropped).
const MAX_OUTPUT: usize = 32 * 1024 * 1024;
/// Names per `apt-cache policy` call.
const POLICY_CHUNK: usize = 200;

/// How and where to detect.
#[derive(Debug, Clone)]
pub struct Config {
    /// Time between passes (zero switches detection off).
    pub interval: Duration,
    /// Longest a pass may take, all commands included.
    pub timeout: Duration,
    /// An apt configuration file handed to apt as `APT_CONFIG` (e.g. one
    /// setting `Dir` to an isolated root); apt is then used even when not
    /// on the PATH's usual places.
    pub apt_config: Option<PathBuf>,
    /// Where `run/`, `boot/`, `var/lib/dpkg/` and `var/log/` are read
    /// (`/` on a real device).
    pub root: PathBuf,
    /// Ask needrestart too (only when running as root, and only if it is
    /// installed).
    pub needrestart: bool,
    /// The running kernel's release (`None`: this host's).
    pub kernel_release: Option<String>,
    /// What a policy's restart runs, as `COMMAND -r +MINUTES MESSAGE`
    /// (`shutdown`; tests give a stand-in that records its arguments).
    pub reboot_command: PathBuf,
    /// What warns logged-in users first, the message on its standard
    /// input (`wall`).
    pub notice_command: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(300),
            apt_config: None,
            root: PathBuf::from("/"),
            reboot_command: PathBuf::from("shutdown"),
            notice_command: PathBuf::from("wall"),
            needrestart: true,
            kernel_release: None,
        }
    }
}

/// One pass's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection {
    /// `None` when the package manager could not tell.
    pub updates: Option<Vec<PendingUpdate>>,
    pub status: PatchStatus,
}

static LATEST: Mutex<Option<Detection>> = Mutex::new(None);

/// The latest pass's answer (`None` before the first).
pub fn latest() -> Option<Detection> {
    LATEST.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Detects every `config.interval` (sooner again after a failed pass) and
/// wakes `ready` after each pass. While the agent is over its budget a
/// pass waits (looked at again every budget window).
pub async fn run_loop(
    config: Config,
    ready: Arc<Notify>,
    rescan: Arc<Notify>,
    budget: Arc<crate::budget::Budget>,
) {
    if config.interval.is_zero() {
        return;
    }
    loop {
        if !budget.allow(crate::budget::Pass::Patching) {
            let wait = budget.window().min(config.interval);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = rescan.notified() => {}
            }
            continue;
        }
        let detection = detect(&config).await;
        let failed = detection.status.state != DetectionState::Ok;
        tracing::debug!(state = ?detection.status.state, ms = detection.status.duration_ms, "Patching detection done.");
        *LATEST.lock().unwrap_or_else(|p| p.into_inner()) = Some(detection);
        // The pass's buffers (apt's output, the parsed policies) are
        // dropped: give their pages back.
        crate::memory::trim();
        ready.notify_one();
        let pause = if failed {
            config.interval.min(Duration::from_secs(300))
        } else {
            config.interval
        };
        // An install asks for a pass at once (its verification scan).
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = rescan.notified() => {}
        }
    }
}

pub(crate) use crate::collectors::clean;

/// One detection pass.
pub async fn detect(config: &Config) -> Detection {
    let started = Instant::now();
    let deadline = started + config.timeout;
    let mut status = PatchStatus {
        checked_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        ..PatchStatus::default()
    };
    let mut compare: fn(&str, &str) -> std::cmp::Ordering = steward_proto::version::compare_debian;
    let mut evidence = reboot::Evidence::default();
    let updates = if config.apt_config.is_some() || on_path("apt-get") {
        status.manager = "apt".into();
        detect_apt(config, deadline, &mut status).await
    } else if on_path("dnf") {
        status.manager = "dnf".into();
        compare = steward_proto::version::compare_rpm;
        let updates = detect_dnf(deadline, &mut status).await;
        if let Ok(ran) = run("dnf", &["-q", "needs-restarting", "-r"], None, deadline).await {
            evidence.needs_restarting = Some(dnf::needs_restarting(ran.code, &ran.stdout));
        }
        updates
    } else {
        status.state = DetectionState::NotAvailable;
        status.error = "no package manager the agent knows (apt, dnf)".into();
        None
    };
    let updates = updates.map(|mut updates| {
        if updates.len() > MAX_UPDATES {
            status.truncated = (updates.len() - MAX_UPDATES).min(u32::MAX as usize) as u32;
            updates.truncate(MAX_UPDATES);
        }
        updates
    });

    // Reboot evidence: files first (cheap), then needrestart as root.
    let root = config.root.clone();
    let kernel = config.kernel_release.clone();
    let files = tokio::task::spawn_blocking(move || read_files(&root, kernel)).await;
    if let Ok((files, last_upgrade)) = files {
        evidence.flag = files.flag;
        evidence.flag_packages = files.flag_packages;
        evidence.running_kernel = files.running_kernel;
        evidence.installed_kernels = files.installed_kernels;
        status.last_upgrade = last_upgrade;
    }
    if config.needrestart && crate::os::sys::is_privileged() && on_path("needrestart") {
        // -r l: list only, never restart anything.
        if let Ok(ran) = run("needrestart", &["-b", "-r", "l"], None, deadline).await {
            let parsed = reboot::parse_needrestart(&ran.stdout);
            status.services = parsed.services.clone();
            evidence.needrestart = Some(parsed);
        }
    }
    status.reboot = reboot::decide(&evidence, compare);
    status.duration_ms = started.elapsed().as_millis().min(u128::from(u32::MAX)) as u64;
    Detection { updates, status }
}

/// Whether the system needs a restart now, by its files alone (the flag
/// file, a newer kernel installed): read right after an install.
pub async fn reboot_now(config: &Config) -> steward_proto::RebootState {
    let root = config.root.clone();
    let kernel = config.kernel_release.clone();
    let mut evidence = reboot::Evidence::default();
    if let Ok((files, _)) = tokio::task::spawn_blocking(move || read_files(&root, kernel)).await {
        evidence.flag = files.flag;
        evidence.flag_packages = files.flag_packages;
        evidence.running_kernel = files.running_kernel;
        evidence.installed_kernels = files.installed_kernels;
    }
    reboot::decide(&evidence, steward_proto::version::compare_debian)
}

/// What the files under the root say.
#[derive(Debug, Default)]
struct Files {
    flag: bool,
    flag_packages: Option<String>,
    running_kernel: String,
    installed_kernels: Vec<String>,
}

fn read_files(root: &Path, kernel: Option<String>) -> (Files, Option<i64>) {
    let read_small = |path: PathBuf| -> Option<String> {
        use std::io::Read;
        let mut text = String::new();
        std::fs::File::open(path)
            .ok()?
            .take(256 * 1024)
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    };
    let run_dir = root.join("run");
    let flag =
        run_dir.join("reboot-required").exists() || root.join("var/run/reboot-required").exists();
    let flag_packages = read_small(run_dir.join("reboot-required.pkgs"))
        .or_else(|| read_small(root.join("var/run/reboot-required.pkgs")));
    let running_kernel = kernel
        .or_else(|| read_small(PathBuf::from("/proc/sys/kernel/osrelease")))
        .unwrap_or_default()
        .trim()
        .to_string();
    let installed_kernels = std::fs::read_dir(root.join("boot"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("vmlinuz-").map(|k| clean(k, 256))
                })
                .take(256)
                .collect()
        })
        .unwrap_or_default();
    let last_upgrade = read_log_tail(&root.join("var/log/dpkg.log"))
        .and_then(|(tail, mtime)| reboot::last_upgrade(&tail, mtime));
    (
        Files {
            flag,
            flag_packages,
            running_kernel,
            installed_kernels,
        },
        last_upgrade,
    )
}

/// The last 512 KiB of a log (whole lines) and its modification time.
fn read_log_tail(path: &Path) -> Option<(String, i64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    let from = meta.len().saturating_sub(512 * 1024);
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut bytes = Vec::new();
    file.take(512 * 1024).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let text = if from > 0 {
        text.split_once('\n')
            .map_or(String::new(), |(_, r)| r.to_string())
    } else {
        text
    };
    Some((text, mtime))
}

async fn detect_apt(
    config: &Config,
    deadline: Instant,
    status: &mut PatchStatus,
) -> Option<Vec<PendingUpdate>> {
    let apt_config = config.apt_config.as_deref();
    if let Some(holder) = locks::dpkg_lock_holder(&config.root) {
        status.state = DetectionState::Locked;
        status.error = clean(
            &format!("the dpkg lock is held by {holder}; detection retries in 5 minutes"),
            1024,
        );
        return None;
    }
    let simulation = match run(
        "apt-get",
        &["-s", "-q", "-o", "Debug::NoLocking=1", "dist-upgrade"],
        apt_config,
        deadline,
    )
    .await
    {
        Ok(ran) if ran.code == Some(0) => ran.stdout,
        Ok(ran) => {
            status.state = if apt::is_locked(&ran.stderr) {
                DetectionState::Locked
            } else {
                DetectionState::Failed
            };
            status.error = clean(&last_lines(&ran.stderr, "apt-get -s dist-upgrade"), 1024);
            return None;
        }
        Err(failure) => {
            failure.record("apt-get -s dist-upgrade", status);
            return None;
        }
    };
    let upgrades = apt::parse_simulation(&simulation, 100_000);
    status.security_source = SecuritySource::Origins;
    let sources = match run("apt-cache", &["policy"], apt_config, deadline).await {
        Ok(ran) if ran.code == Some(0) => apt::parse_sources(&ran.stdout),
        _ => Default::default(),
    };
    let mut policies = std::collections::HashMap::new();
    let names: Vec<&str> = upgrades
        .iter()
        .take(MAX_UPDATES)
        .map(|u| u.name.as_str())
        // A name apt printed is a name; anything else is not passed on.
        .filter(|n| !n.starts_with('-'))
        .collect();
    for chunk in names.chunks(POLICY_CHUNK) {
        let mut args = vec!["policy", "--"];
        args.extend_from_slice(chunk);
        match run("apt-cache", &args, apt_config, deadline).await {
            Ok(ran) => policies.extend(apt::parse_policies(&ran.stdout)),
            Err(failure) => {
                // Classified from the simulation's release names instead.
                status.error = clean(
                    &format!(
                        "apt-cache policy: {failure}; security classified from the simulation"
                    ),
                    1024,
                );
                break;
            }
        }
    }
    Some(apt::pending(upgrades, &sources, &policies))
}

async fn detect_dnf(deadline: Instant, status: &mut PatchStatus) -> Option<Vec<PendingUpdate>> {
    let mut updates = match run("dnf", &["-q", "-C", "check-update"], None, deadline).await {
        Ok(ran) if ran.code == Some(0) => Vec::new(),
        Ok(ran) if ran.code == Some(100) => dnf::parse_check_update(&ran.stdout, 100_000),
        Ok(ran) => {
            status.state = DetectionState::Failed;
            status.error = clean(&last_lines(&ran.stderr, "dnf check-update"), 1024);
            return None;
        }
        Err(failure) => {
            failure.record("dnf check-update", status);
            return None;
        }
    };
    // Any advisory at all (installed or not) says the repositories carry
    // updateinfo; none says they do not, which is not "no security update".
    let all = run(
        "dnf",
        &["-q", "-C", "updateinfo", "list", "--all"],
        None,
        deadline,
    )
    .await;
    let security = run(
        "dnf",
        &["-q", "-C", "updateinfo", "list", "--security"],
        None,
        deadline,
    )
    .await;
    match (all, security) {
        (Ok(all), _) if all.code == Some(0) && all.stdout.trim().is_empty() => {
            status.security_source = SecuritySource::NoAdvisoryMetadata;
        }
        (_, Ok(security)) if security.code == Some(0) => {
            status.security_source = SecuritySource::Advisories;
            dnf::apply_advisories(&mut updates, &dnf::parse_advisories(&security.stdout));
        }
        _ => status.security_source = SecuritySource::Unknown,
    }
    Some(updates)
}

/// The last lines of a command's error output, for the status.
fn last_lines(stderr: &str, what: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    if tail.is_empty() {
        format!("{what} failed")
    } else {
        format!("{what}: {tail}")
    }
}

/// Whether `program` is an executable file in a `PATH` directory.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && crate::os::sys::is_executable(&m))
        })
    })
}

/// What a finished command said.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

#[derive(Debug)]
enum Failure {
    Missing,
    TimedOut,
    Io(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Missing => f.write_str("not installed"),
            Failure::TimedOut => f.write_str("no answer before the detection timeout"),
            Failure::Io(error) => f.write_str(error),
        }
    }
}

impl Failure {
    fn record(&self, what: &str, status: &mut PatchStatus) {
        status.state = match self {
            Failure::Missing => DetectionState::NotAvailable,
            Failure::TimedOut => DetectionState::TimedOut,
            Failure::Io(_) => DetectionState::Failed,
        };
        status.error = clean(&format!("{what}: {self}"), 1024);
    }
}

/// Runs a command in the C locale with no input, reading at most
/// `MAX_OUTPUT` bytes of its output, killed (with its process group: apt
/// waits on dpkg, which may be what hangs) at `deadline`.
async fn run(
    program: &str,
    args: &[&str],
    apt_config: Option<&Path>,
    deadline: Instant,
) -> Result<Ran, Failure> {
    let mut cmd = crate::command::Cmd::new(program)
        .env("LC_ALL", "C")
        .env("DEBIAN_FRONTEND", "noninteractive");
    cmd.args = args.iter().map(Into::into).collect();
    if let Some(file) = apt_config {
        cmd = cmd.env("APT_CONFIG", file);
    }
    let timeout = deadline.saturating_duration_since(Instant::now());
    let output = crate::command::run(&cmd, timeout, MAX_OUTPUT).await;
    match output.start_error {
        Some(std::io::ErrorKind::NotFound) => return Err(Failure::Missing),
        Some(_) => return Err(Failure::Io(output.stderr)),
        None if output.timed_out => return Err(Failure::TimedOut),
        None => {}
    }
    Ok(Ran {
        code: output.code,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: output.stderr,
    })
}
