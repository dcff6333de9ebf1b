//! Security posture: what the agent's data-written checks answered, the
//! facts the server diffs (listening ports, administrators, watched files)
//! and the login events it judges. The agent observes and reports; the
//! server decides (scores, changes, failed-login bursts, unusual logins).

use serde::{Deserialize, Serialize};

/// One posture report: the agent's current view, sent when it changes and
/// at least every few minutes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostureReport {
    pub checks: Vec<PostureCheck>,
    /// Sockets listening now (TCP) or bound unconnected (UDP).
    pub ports: Vec<ListeningPort>,
    /// Members of the administrative groups (sudo, wheel, admin).
    pub admins: Vec<GroupMember>,
    /// The watched files (file integrity), in path order.
    pub files: Vec<FileState>,
    /// Login events read since the previous report.
    pub logins: Vec<LoginEvent>,
    /// Login events read but not sent (more than [`MAX_LOGIN_EVENTS`]).
    pub logins_dropped: u64,
}

/// How a check answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostureStatus {
    Pass,
    Fail,
    /// The check does not apply here (no SSH server, say), or a value this
    /// build does not know.
    #[default]
    #[serde(other)]
    NotApplicable,
}

impl PostureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostureStatus::Pass => "pass",
            PostureStatus::Fail => "fail",
            PostureStatus::NotApplicable => "not_applicable",
        }
    }
}

/// One check's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostureCheck {
    /// `[a-z0-9_.]`, e.g. `ssh.root_login`.
    pub id: String,
    pub title: String,
    pub status: PostureStatus,
    /// Why it answered so (the facts it read).
    pub reason: String,
    /// How to fix it when it fails.
    pub fix: String,
    /// Its share of the score, 1 to 10.
    pub weight: u8,
}

/// A listening socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct ListeningPort {
    /// `tcp` or `udp` (IPv4 and IPv6 alike).
    pub proto: String,
    pub address: String,
    pub port: u16,
    /// The owning process's name, where readable.
    pub process: String,
}

/// A member of an administrative group.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupMember {
    pub group: String,
    pub user: String,
}

/// A watched file as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileState {
    pub path: String,
    /// Hex SHA-256 of the content; empty when not read (see `error`).
    pub sha256: String,
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (`0o644` as 420).
    pub mode: u32,
    pub size: u64,
    /// Why it could not be read (missing, too large, not a file).
    pub error: String,
}

/// What a login event was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginOutcome {
    Accepted,
    Failed,
    #[default]
    #[serde(other)]
    Other,
}

/// One login attempt read from journald or an auth log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginEvent {
    /// Unix ms (the log's time; the agent's reading time when it has none).
    pub at_ms: i64,
    pub outcome: LoginOutcome,
    /// `sshd`, `sudo` or `login`.
    pub service: String,
    pub user: String,
    /// The source address (empty for local logins and sudo).
    pub address: String,
}

pub const MAX_POSTURE_CHECKS: usize = 256;
pub const MAX_PORTS: usize = 1024;
pub const MAX_ADMINS: usize = 512;
pub const MAX_FILES: usize = 1024;
pub const MAX_LOGIN_EVENTS: usize = 1000;
/// Longest reason or fix text.
pub const MAX_POSTURE_TEXT: usize = 512;

#[cfg(test)]
mod tests {
    use crate::{AgentMessage, Limits, LoginOutcome, PostureStatus};

    #[test]
    fn a_report_decodes_with_defaults_and_unknown_values() {
        let frame = r#"{"type":"posture","checks":[
            {"id":"ssh.root_login","title":"t","status":"fail","reason":"r","fix":"f","weight":3},
            {"id":"x.y","status":"maybe","weight":1}],
            "logins":[{"at_ms":1,"outcome":"failed","service":"sshd","user":"root","address":"203.0.113.9"},{"outcome":"odd"}]}"#;
        let Ok(AgentMessage::Posture(report)) = AgentMessage::decode(frame, &Limits::default())
        else {
            panic!("not a posture report")
        };
        assert_eq!(report.checks[0].status, PostureStatus::Fail);
        assert_eq!(report.checks[1].status, PostureStatus::NotApplicable);
        assert_eq!(report.logins[0].outcome, LoginOutcome::Failed);
        assert_eq!(report.logins[1].outcome, LoginOutcome::Other);
    }

    #[test]
    fn hostile_reports_are_refused() {
        let limits = Limits::default();
        let many = format!(
            r#"{{"type":"posture","logins":[{}]}}"#,
            vec![r#"{"at_ms":1}"#; 1001].join(",")
        );
        assert!(AgentMessage::decode(&many, &limits).is_err());
        for bad in [
            r#"{"type":"posture","checks":[{"id":"Bad Id","weight":1}]}"#,
            r#"{"type":"posture","checks":[{"id":"a.b","weight":0}]}"#,
            r#"{"type":"posture","checks":[{"id":"a.b","weight":1},{"id":"a.b","weight":1}]}"#,
            r#"{"type":"posture","logins":[{"at_ms":-5}]}"#,
            r#"{"type":"posture","files":[{"path":"relative"}]}"#,
            r#"{"type":"posture","ports":[{"proto":"tcp","address":"\u0007"}]}"#,
        ] {
            assert!(AgentMessage::decode(bad, &limits).is_err(), "{bad}");
        }
        let long = format!(
            r#"{{"type":"posture","checks":[{{"id":"a.b","weight":1,"reason":"{}"}}]}}"#,
            "x".repeat(600)
        );
        assert!(AgentMessage::decode(&long, &limits).is_err());
    }
}
