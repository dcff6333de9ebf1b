//! Remote terminals: a login shell on a PTY, its output relayed in chunks,
//! keystrokes and resizes from the server, closed on exit, on request, or
//! after the idle timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_proto::AgentMessage;
use tokio::sync::mpsc;

#[cfg(unix)]
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub enum Input {
    Data(Vec<u8>),
    Resize(u16, u16),
    Close,
}

#[derive(Default, Clone)]
pub struct Sessions {
    live: Arc<Mutex<HashMap<String, mpsc::Sender<Input>>>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<Input>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Input for a session this agent opened (others are ignored).
    pub fn input(&self, session: &str, input: Input) {
        if let Some(tx) = self.lock().get(session) {
            let _ = tx.try_send(input);
        }
    }

    pub fn open(
        &self,
        session: String,
        cols: u16,
        rows: u16,
        idle: Duration,
        out: mpsc::UnboundedSender<AgentMessage>,
    ) {
        let (tx, rx) = mpsc::channel(256);
        self.lock().insert(session.clone(), tx);
        let sessions = self.clone();
        tokio::spawn(async move {
            let reason = match relay(&session, cols, rows, idle, rx, &out).await {
                Ok(reason) => reason,
                Err(error) => format!("cannot open a terminal: {error}"),
            };
            tracing::info!(%session, %reason, "Remote shell closed.");
            sessions.lock().remove(&session);
            let _ = out.send(AgentMessage::ShellClosed { session, reason });
        });
    }
}

#[cfg(unix)]
fn shell_program() -> &'static str {
    ["/bin/bash", "/bin/sh"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("/bin/sh")
}

/// No terminal here yet (Windows needs ConPTY): the server is told why.
#[cfg(not(unix))]
async fn relay(
    _session: &str,
    _cols: u16,
    _rows: u16,
    _idle: Duration,
    _input: mpsc::Receiver<Input>,
    _out: &mpsc::UnboundedSender<AgentMessage>,
) -> anyhow::Result<String> {
    anyhow::bail!("remote terminals are not available on this system yet (ConPTY is to come)")
}

#[cfg(unix)]
async fn relay(
    session: &str,
    cols: u16,
    rows: u16,
    idle: Duration,
    mut input: mpsc::Receiver<Input>,
    out: &mpsc::UnboundedSender<AgentMessage>,
) -> anyhow::Result<String> {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (pty, pts) = pty_process::open()?;
    pty.resize(pty_process::Size::new(rows, cols))?;
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    let mut child = pty_process::Command::new(shell_program())
        .arg("-l")
        .env("TERM", "xterm-256color")
        .current_dir(home)
        .kill_on_drop(true)
        .spawn(pts)?;
    tracing::info!(%session, "Remote shell opened.");
    let (mut reader, mut writer) = pty.into_split();
    let mut buf = vec![0u8; 8192];
    loop {
        tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let _ = out.send(AgentMessage::ShellOutput {
                        session: session.to_string(),
                        data_b64: B64.encode(&buf[..n]),
                    });
                }
            },
            message = tokio::time::timeout(idle, input.recv()) => match message {
                Err(_) => {
                    let _ = child.start_kill();
                    return Ok(format!("idle for {} s", idle.as_secs()));
                }
                Ok(Some(Input::Data(bytes))) => writer.write_all(&bytes).await?,
                Ok(Some(Input::Resize(cols, rows))) => {
                    let _ = writer.resize(pty_process::Size::new(rows, cols));
                }
                Ok(Some(Input::Close)) | Ok(None) => {
                    let _ = child.start_kill();
                    return Ok("closed by the server".into());
                }
            },
        }
    }
    let status = child.wait().await?;
    Ok(format!("the shell exited ({status})"))
}
