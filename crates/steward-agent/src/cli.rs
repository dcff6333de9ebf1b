//! Command line of `steward-agent`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Where the agent keeps its state unless told otherwise.
#[cfg(windows)]
pub const DEFAULT_STATE_DIR: &str = r"C:\ProgramData\Steward\agent";
#[cfg(target_os = "macos")]
pub const DEFAULT_STATE_DIR: &str = "/Library/Application Support/Steward/agent";
#[cfg(not(any(windows, target_os = "macos")))]
pub const DEFAULT_STATE_DIR: &str = "/var/lib/steward-agent";

#[derive(Parser, Debug)]
#[command(name = "steward-agent", version, about = "Steward endpoint agent")]
pub struct Cli {
    /// Where the agent keeps its identity and spool.
    #[arg(
        long,
        env = "STEWARD_AGENT_STATE_DIR",
        default_value = DEFAULT_STATE_DIR
    )]
    pub state_dir: PathBuf,
    /// Run a separately named agent (its own identity under STATE_DIR/NAME);
    /// lets one machine run several agents.
    #[arg(long, env = "STEWARD_AGENT_NAME")]
    pub name: Option<String>,
    /// Log filter, e.g. `info` or `steward_agent=debug`.
    #[arg(long, env = "STEWARD_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start: the size of `Run` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Trade an enrollment token for this device's identity.
    Enroll { token: String },
    /// Keep collecting and reporting to the server (runs until stopped).
    Run {
        /// Metric collection interval.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        interval: Duration,
        /// Most bytes of unsent metrics kept on disk while the server is
        /// unreachable; the oldest are dropped beyond it.
        #[arg(long, default_value_t = 64 * 1024 * 1024)]
        spool_max_bytes: u64,
        /// Longest pause between reconnection attempts (the pause doubles
        /// from 1 s up to this, with random jitter).
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        reconnect_max: Duration,
        /// Also report this mountpoint (repeatable), even when it is a
        /// pseudo filesystem such as tmpfs.
        #[arg(long = "filesystem")]
        filesystems: Vec<String>,
        /// A local check, `NAME=COMMAND` (repeatable), run every
        /// --check-interval; Monitoring Plugins convention (exit 0 OK,
        /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
        #[arg(long = "check", value_parser = crate::checks::parse)]
        checks: Vec<crate::checks::Check>,
        /// Watch a process by exact name (repeatable): check `process.NAME`,
        /// CRITICAL when none runs.
        #[arg(long = "process", value_parser = crate::checks::process)]
        processes: Vec<crate::checks::Check>,
        /// Watch a systemd unit (repeatable): check `service.UNIT`,
        /// CRITICAL when it is not active.
        #[arg(long = "service", value_parser = crate::checks::service)]
        services: Vec<crate::checks::Check>,
        /// Count new lines of a log file matching a pattern (repeatable):
        /// `NAME=PATH=REGEX`, reported as log.match.count{rule=NAME} and
        /// log.match.count_5m{rule=NAME}.
        #[arg(long = "log-match", value_parser = crate::collectors::logs::parse)]
        log_rules: Vec<crate::collectors::logs::LogRule>,
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        check_interval: Duration,
        /// Probe another host every --check-interval (repeatable):
        /// `NAME=tcp://HOST:PORT`, `tls://`, `https://`, `smtp://` or
        /// `imap://` (STARTTLS), options as a query (`?timeout=5s&crit_days=7&ca=FILE`);
        /// check `probe.NAME` and metrics `probe.*{probe=NAME}`.
        #[arg(long = "probe", value_parser = crate::probes::parse)]
        probes: Vec<crate::probes::Probe>,
        /// Backup jobs to watch (restic, borg, systemd units, freshness,
        /// script hooks): a JSON file, see `collectors::backup::config`.
        #[arg(long)]
        backup_config: Option<PathBuf>,
        /// How often backup jobs are looked at (a repository is read again
        /// only when its files changed, or after its slow rescan interval).
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        backup_interval: Duration,
        /// Refuse these capabilities whatever the server sends, e.g.
        /// `--refuse shell,scripts` on a sensitive machine (scripts, shell,
        /// files, actions).
        #[arg(long, value_delimiter = ',', value_parser = parse_capability)]
        refuse: Vec<steward_proto::Capability>,
        /// How often pending updates and reboot needs are detected (`0s`
        /// switches detection off). apt is only simulated: nothing is
        /// downloaded or changed.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        patch_interval: Duration,
        /// Longest a detection pass may take; a package manager still
        /// running then is killed and the device reports `timed_out`.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        patch_timeout: Duration,
        /// An apt configuration file for detection (given to apt as
        /// APT_CONFIG), e.g. one pointing `Dir` at another root.
        #[arg(long, env = "STEWARD_AGENT_APT_CONFIG")]
        apt_config: Option<PathBuf>,
        /// Root under which detection reads `run/reboot-required`, `boot/`,
        /// dpkg's lock and log.
        #[arg(long, default_value = "/", env = "STEWARD_AGENT_PATCH_ROOT")]
        patch_root: PathBuf,
        /// What a patch policy's restart runs, as `COMMAND -r +MINUTES
        /// MESSAGE`.
        #[arg(long, default_value = "shutdown", env = "STEWARD_AGENT_REBOOT_COMMAND")]
        reboot_command: PathBuf,
        /// What warns logged-in users before that restart (the message on
        /// its standard input).
        #[arg(long, default_value = "wall", env = "STEWARD_AGENT_NOTICE_COMMAND")]
        notice_command: PathBuf,
        /// How often the security posture (checks, listening ports,
        /// administrators, watched files) is looked at (`0s`: never).
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        posture_interval: Duration,
        /// How often the disks' SMART counters are read with smartctl
        /// (`0s`: never; nothing is asked where smartctl is missing).
        #[arg(long, default_value = "6h", value_parser = humantime::parse_duration)]
        smart_interval: Duration,
        /// The smartctl to run.
        #[arg(long, default_value = "smartctl", env = "STEWARD_AGENT_SMARTCTL")]
        smartctl: PathBuf,
        /// How often the auth logs and journald are read for logins.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        login_interval: Duration,
        /// More posture checks (YAML, see `collectors::posture::rules`);
        /// a check with a built-in one's id replaces it.
        #[arg(long)]
        posture_checks: Option<PathBuf>,
        /// An auth log to follow for logins (repeatable; default
        /// /var/log/auth.log).
        #[arg(long = "auth-log")]
        auth_logs: Vec<PathBuf>,
        /// Do not read journald for logins.
        #[arg(long)]
        no_journal: bool,
        /// A file or directory whose files' SHA-256, owner and mode are
        /// watched (repeatable).
        #[arg(long = "watch-file")]
        watch_files: Vec<PathBuf>,
        /// Most CPU the agent itself may use, in percent of one core
        /// averaged over --budget-window (`0`: no limit). Over it, heavy
        /// passes (patching detection, posture view, inventory refresh)
        /// wait and the `agent.budget` check says why.
        #[arg(long, default_value_t = 5.0, value_parser = parse_percent)]
        budget_cpu_percent: f64,
        /// Most resident memory the agent may use, in MiB (`0`: no limit).
        #[arg(long, default_value_t = 64)]
        budget_memory_mib: u64,
        /// The window the CPU budget is averaged over; a throttle lasts at
        /// least this long.
        #[arg(long, default_value = "60s", value_parser = parse_window)]
        budget_window: Duration,
        /// The release keys this agent trusts for self-updates (one base64
        /// Ed25519 public key per line; default
        /// /etc/steward-agent/release-keys, installed by the package).
        /// Without one, every update is refused.
        #[arg(long, env = "STEWARD_AGENT_RELEASE_KEYS")]
        release_keys: Option<PathBuf>,
        /// How long a new agent version has to connect before it is rolled
        /// back.
        #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
        update_deadline: Duration,
    },
    /// Watches an update in progress (started by the agent itself).
    #[command(hide = true)]
    UpdateGuard {
        marker: PathBuf,
        pid: i32,
        /// Start the guard as a grandchild and return at once, so it is
        /// not left a zombie of the agent it watches.
        #[arg(long)]
        detach: bool,
    },
    /// Print this agent's identity and spool state.
    Status,
    /// Windows: install, start, stop or remove the agent's service (Linux
    /// and macOS use the systemd unit and the launchd daemon).
    #[command(subcommand)]
    Service(ServiceAction),
}

#[derive(Subcommand, Debug)]
pub enum ServiceAction {
    /// Register the service (started at boot, restarted on failure); the
    /// arguments after `--` are `run`'s flags.
    Install {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        run_args: Vec<String>,
    },
    Start,
    Stop,
    Uninstall,
    /// What the service control manager starts.
    #[command(hide = true)]
    Dispatch {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        run_args: Vec<String>,
    },
}

fn parse_percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=100.0 * 1024.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{text:?}: a percentage of one core, 0 for no limit"
        )),
    }
}

fn parse_window(text: &str) -> Result<Duration, String> {
    let window = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))?;
    if window < Duration::from_secs(2) {
        return Err(format!("{text:?}: the budget window is 2 s at least"));
    }
    Ok(window)
}

fn parse_capability(text: &str) -> Result<steward_proto::Capability, String> {
    steward_proto::Capability::parse(text)
        .ok_or_else(|| format!("{text:?}: capabilities are scripts, shell, files and actions"))
}

impl Cli {
    pub fn state_path(&self) -> PathBuf {
        match &self.name {
            Some(name) => self.state_dir.join(name),
            None => self.state_dir.clone(),
        }
    }

    /// The command that runs the agent enrolled by this invocation: the
    /// flags that select its state (`--state-dir`, made absolute, and
    /// `--name`, also when they came from the environment), shell-quoted.
    pub fn run_command(&self) -> String {
        let state_dir = std::path::absolute(&self.state_dir).unwrap_or(self.state_dir.clone());
        let mut words = vec![
            "steward-agent".to_string(),
            "--state-dir".into(),
            shell_quote(&state_dir.to_string_lossy()),
        ];
        if let Some(name) = &self.name {
            words.extend(["--name".into(), shell_quote(name)]);
        }
        words.push("run".into());
        words.join(" ")
    }
}

/// `text` as one POSIX shell word.
fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Parses the process arguments and runs the agent on a single-threaded
/// runtime (small footprint).
pub fn cli_main() -> Result<()> {
    run(Cli::parse())
}

/// The flags that select this agent's state (`--state-dir`, absolute, and
/// `--name`), for a command line started elsewhere.
fn state_args(cli: &Cli) -> Vec<String> {
    let state_dir = std::path::absolute(&cli.state_dir).unwrap_or(cli.state_dir.clone());
    let mut args = vec![
        "--state-dir".to_string(),
        state_dir.to_string_lossy().into_owned(),
    ];
    if let Some(name) = &cli.name {
        args.extend(["--name".into(), name.clone()]);
    }
    args
}

/// `service …`: the service control manager's side (Windows only).
fn service(state: Vec<String>, log: String, action: ServiceAction) -> Result<()> {
    #[cfg(windows)]
    {
        use crate::os::windows_service as svc;
        match action {
            ServiceAction::Install { run_args } => {
                let mut launch = state;
                launch.extend(["service".into(), "dispatch".into()]);
                launch.extend(run_args);
                svc::install(launch.into_iter().map(Into::into).collect())?;
                println!("Installed the {} service.", svc::SERVICE_NAME);
                Ok(())
            }
            ServiceAction::Start => svc::start(),
            ServiceAction::Stop => svc::stop(),
            ServiceAction::Uninstall => svc::uninstall(),
            ServiceAction::Dispatch { run_args } => {
                let argv = std::iter::once("steward-agent".to_string())
                    .chain(state)
                    .chain(["--log".into(), log, "run".into()])
                    .chain(run_args);
                svc::dispatch(Cli::try_parse_from(argv)?)
            }
        }
    }
    #[cfg(not(windows))]
    {
        let _ = (state, log, action);
        anyhow::bail!(
            "the service commands are for Windows; use the systemd unit (Linux) or the launchd daemon (macOS)"
        )
    }
}

pub fn run(cli: Cli) -> Result<()> {
    crate::memory::configure();
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // `Targets` rather than `EnvFilter`: no regex engine in the agent.
    let filter: tracing_subscriber::filter::Targets = cli.log.parse().unwrap_or_else(|_| {
        tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
    });
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(filter)
        .try_init();
    steward_pki::install_default_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = cli.state_path();
    let run_command = cli.run_command();
    let (state, log) = (state_args(&cli), cli.log.clone());
    match cli.command {
        Command::Enroll { token } => {
            let name = cli.name.clone();
            let device = runtime.block_on(crate::enroll::enroll(&dir, &token, name))?;
            println!("Enrolled as device {device}. Start the agent with: {run_command}");
            Ok(())
        }
        Command::Run {
            interval,
            spool_max_bytes,
            reconnect_max,
            filesystems,
            mut checks,
            processes,
            services,
            log_rules,
            check_interval,
            probes,
            backup_config,
            backup_interval,
            refuse,
            patch_interval,
            patch_timeout,
            apt_config,
            patch_root,
            reboot_command,
            notice_command,
            posture_interval,
            smart_interval,
            smartctl,
            login_interval,
            posture_checks,
            auth_logs,
            no_journal,
            watch_files,
            budget_cpu_percent,
            budget_memory_mib,
            budget_window,
            release_keys,
            update_deadline,
        } => {
            // An update in progress is settled before anything else: this
            // may roll back to the previous binary (and not return).
            crate::update::on_start(&dir)?;
            let update =
                crate::update::Config::load(&dir, release_keys.as_deref(), update_deadline)?;
            let extra = match &posture_checks {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
                        .and_then(|text| {
                            crate::collectors::posture::rules::parse(&text)
                                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
                        })?,
                ),
                None => None,
            };
            let default = crate::collectors::posture::Config::default();
            let posture = crate::collectors::posture::Config {
                interval: posture_interval,
                login_interval,
                rules: crate::collectors::posture::rules::merged(extra),
                auth_logs: if auth_logs.is_empty() {
                    default.auth_logs
                } else {
                    auth_logs
                },
                journal: !no_journal,
                files: watch_files,
            };
            let backups = match &backup_config {
                Some(path) => {
                    crate::collectors::backup::config::load(path).map_err(anyhow::Error::msg)?
                }
                None => Vec::new(),
            };
            checks.extend(processes);
            checks.extend(services);
            let options = crate::connection::RunOptions {
                interval,
                spool_max_bytes,
                reconnect_max,
                filesystems,
                checks,
                check_interval,
                probes,
                log_rules,
                refuses: refuse,
                patching: crate::collectors::patching::Config {
                    interval: patch_interval,
                    timeout: patch_timeout,
                    apt_config,
                    root: patch_root,
                    reboot_command,
                    notice_command,
                    ..Default::default()
                },
                backups,
                backup_interval,
                posture,
                smart: crate::collectors::smart::Config {
                    interval: smart_interval,
                    smartctl,
                    ..Default::default()
                },
                budget: crate::budget::Limits {
                    cpu_percent: budget_cpu_percent,
                    memory_bytes: budget_memory_mib.saturating_mul(1024 * 1024),
                    window: budget_window,
                },
                update,
            };
            runtime.block_on(crate::connection::run(&dir, options))
        }
        Command::Service(action) => service(state, log, action),
        Command::UpdateGuard {
            marker,
            pid,
            detach: true,
        } => crate::update::detach_guard(&marker, pid),
        Command::UpdateGuard { marker, pid, .. } => crate::update::guard(&marker, pid),
        Command::Status => {
            let state = crate::state::AgentState::load(&dir)?;
            let spool = crate::spool::Spool::open(&dir.join("spool"), u64::MAX)?;
            println!(
                "device:  {}\nserver:  {}\nspooled: {} batches",
                state.config.device_id,
                state.config.url,
                spool.len()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("steward-agent").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_run_command_keeps_the_flags_that_select_the_state() {
        let cli = parse(&[
            "--state-dir",
            "/srv/agents",
            "--name",
            "c1",
            "enroll",
            "STW1.x",
        ]);
        assert_eq!(
            cli.run_command(),
            "steward-agent --state-dir /srv/agents --name c1 run"
        );
        let cli = parse(&["enroll", "STW1.x"]);
        assert_eq!(
            cli.run_command(),
            "steward-agent --state-dir /var/lib/steward-agent run"
        );
    }

    #[test]
    fn odd_paths_and_names_are_quoted_for_the_shell() {
        let cli = parse(&[
            "--state-dir",
            "/tmp/my agents",
            "--name",
            "it's",
            "enroll",
            "t",
        ]);
        assert_eq!(
            cli.run_command(),
            r"steward-agent --state-dir '/tmp/my agents' --name 'it'\''s' run"
        );
    }
}
