//! Remote shell sessions: which browser (or CLI) socket a device's terminal
//! output goes to. The session itself is opened by a signed order, so the
//! agent only starts a terminal the server's key authorised for it.

use base64::Engine;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;
use uuid::Uuid;

/// What the agent sends back for a session.
#[derive(Debug)]
pub enum ShellEvent {
    Output(Vec<u8>),
    Closed(String),
}

#[derive(Default)]
pub struct Shells {
    sessions: Mutex<HashMap<String, (Uuid, mpsc::Sender<ShellEvent>)>>,
}

impl Shells {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Uuid, mpsc::Sender<ShellEvent>)>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn open(&self, device: Uuid, session: &str) -> mpsc::Receiver<ShellEvent> {
        let (tx, rx) = mpsc::channel(256);
        self.lock().insert(session.to_string(), (device, tx));
        rx
    }

    pub fn close(&self, session: &str) {
        self.lock().remove(session);
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Whether the session was opened on this replica.
    pub fn is_local(&self, session: &str) -> bool {
        self.lock().contains_key(session)
    }

    /// Output from `device` for `session`; ignored unless that device owns
    /// the session (a device cannot write into another's terminal).
    pub fn output(&self, device: Uuid, session: &str, data_b64: &str) {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data_b64) else {
            return;
        };
        if let Some((owner, tx)) = self.lock().get(session)
            && *owner == device
        {
            // A slow viewer loses output rather than stalling the agent's
            // connection.
            let _ = tx.try_send(ShellEvent::Output(bytes));
        }
    }

    pub fn closed(&self, device: Uuid, session: &str, reason: String) {
        if let Some((owner, tx)) = self.lock().get(session)
            && *owner == device
        {
            let _ = tx.try_send(ShellEvent::Closed(reason));
        }
    }
}
