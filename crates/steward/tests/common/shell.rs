//! An interactive `steward shell` session driven from a test.

use super::{STEWARD, Server};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `steward shell DEVICE` with `token`, reading its output on a thread.
pub struct Shell {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Shell {
    pub fn open(server: &Server, token: &str, device: &str) -> Self {
        let mut child = Command::new(STEWARD)
            .args(["shell", device])
            .env("STEWARD_URL", server.url())
            .env("STEWARD_TOKEN", token)
            .env("STEWARD_CA", server.ca())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    pub fn type_line(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        let _ = stdin.write_all(format!("{text}\n").as_bytes());
        let _ = stdin.flush();
    }

    pub fn wait_for_output(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200))
                && line.contains(needle)
            {
                return;
            }
        }
        panic!("the shell never printed {needle:?}");
    }

    /// Whether the CLI exited (the server closed the terminal) within `timeout`.
    pub fn ended_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
