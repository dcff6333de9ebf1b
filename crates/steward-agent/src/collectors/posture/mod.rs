//! Security posture: checks written in data (`rules.rs`, built-in ones in
//! `builtin.yaml`) over facts the agent gathers (`gather.rs`, pure parsers
//! in `facts.rs`), listening ports, administrative group members, watched
//! files' integrity (`files.rs`) and login attempts from the auth log and
//! journald (`auth.rs`). The agent reports what it sees; the server scores
//! it, finds changes and decides what is a burst or unusual.

pub mod auth;
pub mod facts;
pub mod files;
pub mod gather;
pub mod platform;
pub mod rules;

use crate::command::{Cmd, run};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use steward_proto::{LoginEvent, MAX_LOGIN_EVENTS, PostureReport};

/// What the device's administrator configured.
#[derive(Debug, Clone)]
pub struct Config {
    /// How often checks, ports and files are looked at (`0s`: never).
    pub interval: Duration,
    /// How often the login logs are read.
    pub login_interval: Duration,
    /// Extra or replacing checks (`--posture-checks`).
    pub rules: rules::Rules,
    /// Auth logs followed (`--auth-log`; /var/log/auth.log by default).
    pub auth_logs: Vec<PathBuf>,
    /// Read journald too.
    pub journal: bool,
    /// Paths watched for integrity (`--watch-file`).
    pub files: Vec<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(300),
            login_interval: Duration::from_secs(30),
            rules: rules::merged(None),
            auth_logs: vec![PathBuf::from("/var/log/auth.log")],
            journal: true,
            files: Vec::new(),
        }
    }
}

/// The posture collector's state between cycles.
pub struct Watcher {
    config: Config,
    tails: Vec<auth::Tail>,
    /// The Windows event log's or macOS unified log's place.
    platform: platform::Logins,
    /// Where journald reading goes on (`None`: not started).
    cursor: Option<String>,
    journal_since: i64,
    last_full: Option<Instant>,
    /// The latest full view, without logins.
    pub current: PostureReport,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Watcher {
    pub fn new(config: Config) -> Self {
        let tails = config
            .auth_logs
            .iter()
            .cloned()
            .map(auth::Tail::new)
            .collect();
        Self {
            config,
            tails,
            platform: platform::Logins::default(),
            cursor: None,
            journal_since: now_ms() / 1000,
            last_full: None,
            current: PostureReport::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Login attempts written since the last call.
    pub async fn logins(&mut self) -> Vec<LoginEvent> {
        let now = now_ms();
        let mut events = Vec::new();
        for tail in &mut self.tails {
            for line in tail.read() {
                events.extend(auth::parse_line(&line, now));
            }
        }
        events.extend(self.platform.read().await);
        if self.config.journal && std::path::Path::new("/run/systemd/journal").exists() {
            let mut cmd = Cmd::new("journalctl")
                .arg("-o")
                .arg("json")
                .arg("--no-pager")
                .arg("-n")
                .arg(MAX_LOGIN_EVENTS.to_string());
            cmd = match &self.cursor {
                Some(cursor) => cmd.arg(format!("--after-cursor={cursor}")),
                None => cmd.arg(format!("--since=@{}", self.journal_since)),
            };
            // Both OpenSSH process names, Debian's unit, sudo and login.
            for m in [
                "SYSLOG_IDENTIFIER=sshd",
                "SYSLOG_IDENTIFIER=sshd-session",
                "SYSLOG_IDENTIFIER=sudo",
                "SYSLOG_IDENTIFIER=login",
            ] {
                cmd = cmd.arg(m);
            }
            let out = run(&cmd, gather::TOOL_TIMEOUT, 8 * 1024 * 1024).await;
            if out.code == Some(0) {
                let (found, cursor) = auth::parse_journal(&out.stdout);
                events.extend(found);
                if cursor.is_some() {
                    self.cursor = cursor;
                }
            }
        }
        events
    }

    /// Whether the full view is due.
    pub fn full_due(&self) -> bool {
        !self.config.interval.is_zero()
            && self
                .last_full
                .is_none_or(|at| at.elapsed() >= self.config.interval)
    }

    /// Gathers facts, answers the checks, lists ports, admins and files.
    pub async fn full(&mut self) {
        self.last_full = Some(Instant::now());
        let admins = gather::admins();
        let ports = gather::ports();
        let facts = gather::gather(&admins, &ports).await;
        let checks = rules::evaluate(&self.config.rules, &facts);
        let paths = self.config.files.clone();
        let files = tokio::task::spawn_blocking(move || files::scan(&paths))
            .await
            .unwrap_or_default();
        self.current = PostureReport {
            checks,
            ports,
            admins,
            files,
            logins: Vec::new(),
            logins_dropped: 0,
        };
    }
}

/// Puts back the login events of a report that could not be sent, ahead
/// of those queued since (so they go in the order they happened), within
/// the same bound.
pub fn requeue_logins(latest: &mut PostureReport, unsent: PostureReport) {
    let newer = std::mem::take(&mut latest.logins);
    latest.logins_dropped += unsent.logins_dropped;
    queue_logins(latest, unsent.logins);
    queue_logins(latest, newer);
}

/// Adds `events` to a report waiting to go, keeping at most
/// [`MAX_LOGIN_EVENTS`] (the rest counted as dropped).
pub fn queue_logins(report: &mut PostureReport, events: Vec<LoginEvent>) {
    for event in events {
        if report.logins.len() < MAX_LOGIN_EVENTS {
            report.logins.push(event);
        } else {
            report.logins_dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_proto::LoginOutcome;

    fn event(at_ms: i64) -> LoginEvent {
        LoginEvent {
            at_ms,
            outcome: LoginOutcome::Failed,
            service: "sshd".into(),
            user: "root".into(),
            address: "203.0.113.9".into(),
        }
    }

    #[test]
    fn unsent_logins_go_back_ahead_of_newer_ones_within_the_bound() {
        let mut latest = PostureReport::default();
        queue_logins(&mut latest, vec![event(3)]);
        let unsent = PostureReport {
            logins: vec![event(1), event(2)],
            logins_dropped: 4,
            ..PostureReport::default()
        };
        requeue_logins(&mut latest, unsent);
        let order: Vec<i64> = latest.logins.iter().map(|e| e.at_ms).collect();
        assert_eq!(order, [1, 2, 3]);
        assert_eq!(latest.logins_dropped, 4);

        // Past the bound, the newest are counted as dropped.
        let mut full = PostureReport::default();
        queue_logins(&mut full, (0..MAX_LOGIN_EVENTS as i64).map(event).collect());
        let unsent = PostureReport {
            logins: vec![event(-1)],
            ..PostureReport::default()
        };
        requeue_logins(&mut full, unsent);
        assert_eq!(full.logins.len(), MAX_LOGIN_EVENTS);
        assert_eq!(full.logins[0].at_ms, -1);
        assert_eq!(full.logins_dropped, 1);
    }
}
