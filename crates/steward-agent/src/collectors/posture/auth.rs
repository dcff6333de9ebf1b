//! Login attempts from the auth log (/var/log/auth.log, followed across
//! rotation) and journald (`journalctl -o json` after a cursor): sshd
//! (also OpenSSH 9.8's `sshd-session`), sudo and login. The line parser is
//! pure; the readers are bounded: at most [`MAX_READ`] bytes a cycle, lines
//! longer than [`MAX_LINE`] are skipped whole, binary junk decodes lossily.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use steward_proto::{LoginEvent, LoginOutcome};

/// Most bytes read from the log per cycle (the rest waits for the next).
pub const MAX_READ: u64 = 4 * 1024 * 1024;
/// Longest line kept; a longer one is not a log line and is skipped.
pub const MAX_LINE: usize = 8 * 1024;

fn clean(text: &str) -> String {
    super::super::clean(text, 64)
}

/// The source address as an IP address, or nothing (a hostname or junk
/// would make every attempt look new).
fn address(text: &str) -> Option<String> {
    text.trim()
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|a| a.to_string())
}

fn event(outcome: LoginOutcome, service: &str, user: &str, addr: &str, at_ms: i64) -> LoginEvent {
    LoginEvent {
        at_ms,
        outcome,
        service: service.to_string(),
        user: clean(user),
        address: address(addr).unwrap_or_default(),
    }
}

/// `USER from ADDR` at the start of `rest`.
fn user_from(rest: &str) -> Option<(&str, &str)> {
    let (user, tail) = rest.split_once(" from ")?;
    let addr = tail.split_whitespace().next()?;
    Some((user, addr))
}

/// The events one message of `program` says (a repeated message: several).
pub fn parse_message(program: &str, message: &str, at_ms: i64) -> Vec<LoginEvent> {
    let message = message.trim();
    // rsyslog: "message repeated 3 times: [ Failed password for … ]"
    if let Some(rest) = message.strip_prefix("message repeated ")
        && let Some((count, inner)) = rest.split_once(" times: [")
        && let Ok(count) = count.parse::<usize>()
    {
        let inner = inner.trim_end_matches(']').trim();
        return parse_message(program, inner, at_ms)
            .into_iter()
            .flat_map(|e| std::iter::repeat_n(e, count.min(1000)))
            .collect();
    }
    let one = |e: Option<LoginEvent>| e.into_iter().collect::<Vec<_>>();
    match program {
        "sshd" | "sshd-session" => {
            if let Some(rest) = message.strip_prefix("Accepted ") {
                let rest = rest.split_once(" for ").map(|(_, r)| r);
                return one(rest
                    .and_then(user_from)
                    .map(|(user, addr)| event(LoginOutcome::Accepted, "sshd", user, addr, at_ms)));
            }
            if let Some(rest) = message.strip_prefix("Invalid user ") {
                return one(user_from(rest)
                    .map(|(user, addr)| event(LoginOutcome::Failed, "sshd", user, addr, at_ms)));
            }
            if let Some(rest) = message.strip_prefix("Failed ")
                && let Some((_, rest)) = rest.split_once(" for ")
                // Counted by its "Invalid user" line already.
                && !rest.starts_with("invalid user ")
            {
                return one(user_from(rest)
                    .map(|(user, addr)| event(LoginOutcome::Failed, "sshd", user, addr, at_ms)));
            }
            Vec::new()
        }
        "sudo" => {
            let Some((user, rest)) = message.split_once(" : ") else {
                return Vec::new();
            };
            let user = user.trim();
            if user.contains(char::is_whitespace) || user.is_empty() {
                return Vec::new();
            }
            if let Some((count, _)) = rest.split_once(" incorrect password attempt") {
                let count = count.trim().parse::<usize>().unwrap_or(1).clamp(1, 100);
                return vec![event(LoginOutcome::Failed, "sudo", user, "", at_ms); count];
            }
            if rest.starts_with("TTY=") || rest.contains("COMMAND=") {
                return vec![event(LoginOutcome::Accepted, "sudo", user, "", at_ms)];
            }
            Vec::new()
        }
        "login" => {
            if let Some(rest) = message.strip_prefix("FAILED LOGIN ")
                && let Some((_, user)) = rest.split_once(" FOR '")
                && let Some((user, _)) = user.split_once('\'')
            {
                return vec![event(LoginOutcome::Failed, "login", user, "", at_ms)];
            }
            if message.starts_with("ROOT LOGIN ") {
                return vec![event(LoginOutcome::Accepted, "login", "root", "", at_ms)];
            }
            if let Some(rest) =
                message.strip_prefix("pam_unix(login:session): session opened for user ")
            {
                let user = rest.split(['(', ' ']).next().unwrap_or("");
                return vec![event(LoginOutcome::Accepted, "login", user, "", at_ms)];
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// One syslog line: RFC 3339 (Debian 12's rsyslog) or the traditional
/// `Mon dd hh:mm:ss` (dated `now_ms`: it has no year or zone).
pub fn parse_line(line: &str, now_ms: i64) -> Vec<LoginEvent> {
    let mut words = line.splitn(2, ' ');
    let first = words.next().unwrap_or("");
    let (at_ms, rest) = match super::super::backup::time::parse_rfc3339(first) {
        Some(at) => (at, words.next().unwrap_or("")),
        None => {
            // "Dec  6 23:31:00 host …": skip three fields (two spaces after
            // a one-digit day).
            let mut rest = line;
            for _ in 0..3 {
                rest = rest.trim_start();
                rest = rest.split_once(' ').map_or("", |(_, r)| r);
            }
            (now_ms, rest)
        }
    };
    // "host program[pid]: message"
    let Some((_host, rest)) = rest.trim_start().split_once(' ') else {
        return Vec::new();
    };
    let Some((tag, message)) = rest.split_once(": ") else {
        return Vec::new();
    };
    let program = tag.split('[').next().unwrap_or(tag);
    parse_message(program, message, at_ms)
}

/// Follows a log file: new lines since the last read, across rotation
/// (the old file, still open, is read to its end before the new one is
/// opened) and truncation. The first read only notes where the file ends.
#[derive(Debug)]
pub struct Tail {
    pub path: PathBuf,
    file: Option<(File, u64)>,
    offset: u64,
    partial: Vec<u8>,
    /// Inside a line longer than [`MAX_LINE`]: drop bytes to its end.
    skipping: bool,
}

impl Tail {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            offset: 0,
            partial: Vec::new(),
            skipping: false,
        }
    }

    fn open_at_end(&mut self) {
        if let Ok(file) = File::open(&self.path)
            && let Ok(meta) = file.metadata()
        {
            self.offset = meta.len();
            self.file = Some((file, crate::os::sys::file_id(&meta)));
        }
    }

    /// Reads what was appended, up to `budget` bytes, into complete lines.
    fn drain(&mut self, budget: &mut u64, lines: &mut Vec<String>) {
        let Some((file, _)) = &mut self.file else {
            return;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Truncated in place (copytruncate): start over.
            self.offset = 0;
            self.partial.clear();
            self.skipping = false;
        }
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        let read = file.take(*budget).read_to_end(&mut buf).unwrap_or_default() as u64;
        *budget -= read;
        self.offset += read;
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            let complete = chunk.last() == Some(&b'\n');
            if self.skipping {
                self.skipping = !complete;
                continue;
            }
            self.partial.extend_from_slice(chunk);
            if self.partial.len() > MAX_LINE {
                self.partial.clear();
                self.skipping = !complete;
                continue;
            }
            if complete {
                lines.push(
                    String::from_utf8_lossy(&self.partial)
                        .trim_end()
                        .to_string(),
                );
                self.partial.clear();
            }
        }
    }

    /// The complete lines written since the last call.
    pub fn read(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.file.is_none() {
            self.open_at_end();
            return lines;
        }
        let mut budget = MAX_READ;
        self.drain(&mut budget, &mut lines);
        // Rotated: the path names another file now. The old one is read to
        // its end (above); the new one from its start.
        let current = std::fs::metadata(&self.path)
            .map(|m| crate::os::sys::file_id(&m))
            .ok();
        let open = self.file.as_ref().map(|(_, ino)| *ino);
        if current.is_some()
            && current != open
            && budget > 0
            && let Ok(file) = File::open(&self.path)
            && let Ok(meta) = file.metadata()
        {
            self.file = Some((file, crate::os::sys::file_id(&meta)));
            self.offset = 0;
            self.partial.clear();
            self.skipping = false;
            self.drain(&mut budget, &mut lines);
        }
        lines
    }
}

/// journald entries as `journalctl -o json` prints them: the events and
/// the last cursor read. Entries whose MESSAGE is not text are skipped.
pub fn parse_journal(output: &[u8]) -> (Vec<LoginEvent>, Option<String>) {
    let mut events = Vec::new();
    let mut cursor = None;
    for line in output.split(|b| *b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue; // a cut last line, or junk
        };
        if let Some(c) = entry.get("__CURSOR").and_then(|c| c.as_str())
            && c.len() < 512
        {
            cursor = Some(c.to_string());
        }
        let text = |key: &str| entry.get(key).and_then(|v| v.as_str()).unwrap_or("");
        let program = match text("SYSLOG_IDENTIFIER") {
            "" => text("_COMM"),
            id => id,
        };
        let at_ms = text("__REALTIME_TIMESTAMP")
            .parse::<i64>()
            .map(|us| us / 1000)
            .unwrap_or(0);
        events.extend(parse_message(program, text("MESSAGE"), at_ms));
    }
    (events, cursor)
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
