//! Running an external tool (a backup tool, the package manager, `who`):
//! bounded in time and output, never inheriting the agent's stdin, killed
//! with its whole process group on timeout. Secrets go to the child through
//! its environment only and are never logged. The agent's one runner for
//! tools whose output it reads; scripts and shells have their own paths
//! (`checks.rs`, `jobs/`) because they stream or need a terminal.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What a command left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The exit code; `None` when it was killed by a signal or timed out.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    /// The stderr, lossily decoded, at most [`MAX_STDERR`] bytes.
    pub stderr: String,
    /// Output beyond the cap was dropped.
    pub truncated: bool,
    pub timed_out: bool,
    /// Why the program could not be started (`NotFound`: it is not
    /// installed); `stderr` says so in words.
    pub start_error: Option<std::io::ErrorKind>,
}

pub const MAX_STDERR: usize = 16 * 1024;

/// A command to run.
#[derive(Debug, Clone, Default)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
    pub cwd: Option<PathBuf>,
    /// Written to the child's input (then closed); none: no input at all.
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(program: &str) -> Self {
        Self {
            program: program.to_string(),
            ..Self::default()
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }
}

async fn read_capped<R: AsyncRead + Unpin>(reader: Option<R>, max: usize) -> (Vec<u8>, bool) {
    let Some(mut reader) = reader else {
        return (Vec::new(), false);
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut truncated = false;
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = max.saturating_sub(buf.len());
                if n > room {
                    truncated = true;
                }
                // Keep draining past the cap so the child never blocks on a
                // full pipe.
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    (buf, truncated)
}

/// Runs `cmd` for at most `timeout`, keeping at most `max_stdout` bytes.
pub async fn run(cmd: &Cmd, timeout: Duration, max_stdout: usize) -> Output {
    let mut command = tokio::process::Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    crate::os::sys::own_group(&mut command);
    for (key, value) in &cmd.env {
        command.env(key, value);
    }
    if let Some(dir) = &cmd.cwd {
        command.current_dir(dir);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            return Output {
                code: None,
                stdout: Vec::new(),
                stderr: format!("cannot start {}: {error}", cmd.program),
                truncated: false,
                timed_out: false,
                start_error: Some(error.kind()),
            };
        }
    };
    if let (Some(input), Some(mut pipe)) = (cmd.stdin.clone(), child.stdin.take()) {
        // Apart from reading its output, so a child that writes before it
        // reads cannot block on a full pipe; one that never reads is no
        // failure.
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = pipe.write_all(&input).await;
        });
    }
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let finished = tokio::time::timeout(timeout, async {
        let ((out, out_cut), (err, _)) = tokio::join!(
            read_capped(stdout, max_stdout),
            read_capped(stderr, MAX_STDERR)
        );
        (child.wait().await, out, out_cut, err)
    })
    .await;
    match finished {
        Ok((status, stdout, truncated, stderr)) => Output {
            code: status.ok().and_then(|s| s.code()),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            truncated,
            timed_out: false,
            start_error: None,
        },
        Err(_) => {
            // The whole group: a shell's children too.
            if let Some(pid) = child.id() {
                crate::os::sys::kill_tree(pid);
            }
            let _ = child.kill().await;
            Output {
                code: None,
                stdout: Vec::new(),
                stderr: String::new(),
                truncated: false,
                timed_out: true,
                start_error: None,
            }
        }
    }
}

/// The last non-empty line of a tool's stderr, cut to `max` characters
/// and stripped of control characters: a reason for a report.
pub fn last_line(stderr: &str, max: usize) -> String {
    let line = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    clean(line, max)
}

/// `text` without control characters, at most `max` characters.
pub fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_is_capped_and_hangs_are_killed() {
        let big = run(
            &Cmd::new("/bin/sh")
                .arg("-c")
                .arg("yes x | head -c 1000000; echo err >&2"),
            Duration::from_secs(20),
            1000,
        )
        .await;
        assert_eq!(big.code, Some(0));
        assert_eq!(big.stdout.len(), 1000);
        assert!(big.truncated);
        assert_eq!(big.stderr.trim(), "err");
        let started = std::time::Instant::now();
        let hung = run(
            &Cmd::new("/bin/sh").arg("-c").arg("sleep 30 & sleep 30"),
            Duration::from_millis(300),
            1000,
        )
        .await;
        assert!(hung.timed_out);
        assert!(started.elapsed() < Duration::from_secs(10));
        let fed = run(
            &Cmd::new("/bin/cat").stdin("to the child"),
            Duration::from_secs(20),
            100,
        )
        .await;
        assert_eq!(fed.stdout, b"to the child");
        let missing = run(&Cmd::new("/nonexistent/tool"), Duration::from_secs(5), 10).await;
        assert_eq!(missing.code, None);
        assert!(missing.stderr.contains("cannot start"));
        assert_eq!(missing.start_error, Some(std::io::ErrorKind::NotFound));
        assert_eq!((big.start_error, hung.start_error), (None, None));
    }

    #[test]
    fn reasons_are_one_clean_line() {
        assert_eq!(
            last_line("a\nFatal: wrong \x1b[31mpassword\n\n", 100),
            "Fatal: wrong  [31mpassword"
        );
        assert_eq!(last_line("", 10), "");
        assert_eq!(clean("ééé", 2), "éé");
    }
}
