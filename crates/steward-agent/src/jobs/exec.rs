//! Running one command for a job: its own process group (a timeout kills
//! the whole tree), output captured up to a bound (the cut is marked) and
//! streamed live in chunks while it runs.

use std::process::Stdio;
use std::time::{Duration, Instant};
use steward_proto::{AgentMessage, MAX_CHUNK_BYTES, MAX_OUTPUT_BYTES, OutputStream, RunStatus};
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::mpsc;

pub struct Outcome {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
    pub duration: Duration,
    pub message: String,
}

/// Reads one stream to its end: keeps up to [`MAX_OUTPUT_BYTES`], sends
/// the rest of what it reads as live chunks.
async fn pump(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    run_id: String,
    stream: OutputStream,
    out: mpsc::UnboundedSender<AgentMessage>,
) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = vec![0u8; MAX_CHUNK_BYTES / 2];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
        if n > room {
            truncated = true;
        }
        kept.extend_from_slice(&buf[..n.min(room)]);
        if n <= room {
            let _ = out.send(AgentMessage::RunOutput {
                run_id: run_id.clone(),
                stream,
                data: String::from_utf8_lossy(&buf[..n]).into_owned(),
            });
        }
    }
    (kept, truncated)
}

/// Runs `command` to completion or `timeout`.
pub async fn run(
    mut command: Command,
    timeout: Duration,
    run_id: &str,
    out: &mpsc::UnboundedSender<AgentMessage>,
) -> Outcome {
    let started = Instant::now();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    crate::os::sys::own_group(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            return Outcome {
                status: RunStatus::Failed,
                exit_code: None,
                stdout: String::new(),
                stderr: String::new(),
                truncated: false,
                duration: started.elapsed(),
                message: format!("cannot start: {error}"),
            };
        }
    };
    let pid = child.id();
    let stdout = child.stdout.take().map(|s| {
        tokio::spawn(pump(
            s,
            run_id.to_string(),
            OutputStream::Stdout,
            out.clone(),
        ))
    });
    let stderr = child.stderr.take().map(|s| {
        tokio::spawn(pump(
            s,
            run_id.to_string(),
            OutputStream::Stderr,
            out.clone(),
        ))
    });
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let (status, exit_code, message) = match waited {
        Ok(Ok(exit)) => match exit.code() {
            Some(0) => (RunStatus::Succeeded, Some(0), String::new()),
            Some(code) => (RunStatus::Failed, Some(code), format!("exit code {code}")),
            None => (RunStatus::Failed, None, "killed by a signal".into()),
        },
        Ok(Err(error)) => (RunStatus::Failed, None, format!("cannot wait: {error}")),
        Err(_) => {
            kill_tree(pid);
            let _ = child.wait().await;
            (
                RunStatus::TimedOut,
                None,
                format!("killed after the {} s timeout", timeout.as_secs()),
            )
        }
    };
    // Children that kept the pipes open would block the readers: a short
    // grace, then the whole group goes.
    let collect = |handle: Option<tokio::task::JoinHandle<(Vec<u8>, bool)>>| async move {
        match handle {
            Some(handle) => match tokio::time::timeout(Duration::from_secs(2), handle).await {
                Ok(Ok(kept)) => kept,
                _ => (Vec::new(), true),
            },
            None => (Vec::new(), false),
        }
    };
    let (stdout, cut_out) = collect(stdout).await;
    let (stderr, cut_err) = collect(stderr).await;
    kill_tree(pid);
    Outcome {
        status,
        exit_code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        truncated: cut_out || cut_err,
        duration: started.elapsed(),
        message,
    }
}

/// Kills the process group led by `pid` (the job and everything it
/// started).
fn kill_tree(pid: Option<u32>) {
    if let Some(pid) = pid {
        crate::os::sys::kill_tree(pid);
    }
}

/// The uid and gid of a local user, from /etc/passwd.
pub fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 4 && fields[0] == name)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}
