//! Command line of `steward-agent`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "steward-agent", version, about = "Steward endpoint agent")]
pub struct Cli {
    /// Where the agent keeps its identity and spool.
    #[arg(
        long,
        env = "STEWARD_AGENT_STATE_DIR",
        default_value = "/var/lib/steward-agent"
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
    UpdateGuard { marker: PathBuf, pid: i32 },
    /// Print this agent's identity and spool state.
    Status,
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

pub fn run(cli: Cli) -> Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // `Targets` rather than `EnvFilter`: no regex engine in the agent.
    let filter: tracing_subscriber::filter::Targets = cli.log.parse().unwrap_or_else(|_| {
        tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
    });
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(filter)
        .init();
    steward_pki::install_default_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = cli.state_path();
    let run_command = cli.run_command();
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
            login_interval,
            posture_checks,
            auth_logs,
            no_journal,
            watch_files,
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
                update,
            };
            runtime.block_on(crate::connection::run(&dir, options))
        }
        Command::UpdateGuard { marker, pid } => crate::update::guard(&marker, pid),
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
