//! One alert per (monitor, device, subject): open → acknowledged → resolved,
//! deduplicated, with its history. A condition that fires again while its
//! alert is open updates it; after resolution a new firing opens a new one.

use crate::{Millis, Severity};
use serde::{Deserialize, Serialize};

/// What an alert is about. `subject` distinguishes instances of one monitor
/// on one device (a mountpoint, a service name); empty when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertKey {
    pub monitor: String,
    pub device: String,
    pub subject: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AlertEvent {
    Opened {
        at: Millis,
        severity: Severity,
    },
    SeverityChanged {
        at: Millis,
        from: Severity,
        to: Severity,
    },
    Acknowledged {
        at: Millis,
        by: String,
    },
    Resolved {
        at: Millis,
        by: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub key: AlertKey,
    pub state: AlertState,
    pub severity: Severity,
    pub opened_at: Millis,
    pub acknowledged_by: Option<String>,
    pub history: Vec<AlertEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("the alert is resolved")]
    Resolved,
    #[error("the alert is already acknowledged")]
    AlreadyAcknowledged,
}

impl Alert {
    pub fn open(key: AlertKey, severity: Severity, at: Millis) -> Self {
        Self {
            key,
            state: AlertState::Open,
            severity,
            opened_at: at,
            acknowledged_by: None,
            history: vec![AlertEvent::Opened { at, severity }],
        }
    }

    pub fn is_active(&self) -> bool {
        self.state != AlertState::Resolved
    }

    /// The condition reported `severity` again; returns the event when
    /// something changed (Ok resolves the alert).
    pub fn update(&mut self, severity: Severity, at: Millis) -> Option<AlertEvent> {
        if !self.is_active() {
            return None;
        }
        let event = match severity {
            Severity::Ok => {
                self.state = AlertState::Resolved;
                AlertEvent::Resolved { at, by: None }
            }
            s if s != self.severity => {
                let event = AlertEvent::SeverityChanged {
                    at,
                    from: self.severity,
                    to: s,
                };
                self.severity = s;
                event
            }
            _ => return None,
        };
        self.history.push(event.clone());
        Some(event)
    }

    pub fn acknowledge(&mut self, by: &str, at: Millis) -> Result<AlertEvent, LifecycleError> {
        match self.state {
            AlertState::Resolved => Err(LifecycleError::Resolved),
            AlertState::Acknowledged => Err(LifecycleError::AlreadyAcknowledged),
            AlertState::Open => {
                self.state = AlertState::Acknowledged;
                self.acknowledged_by = Some(by.to_string());
                let event = AlertEvent::Acknowledged {
                    at,
                    by: by.to_string(),
                };
                self.history.push(event.clone());
                Ok(event)
            }
        }
    }

    /// Resolved by a person (the condition may fire again later).
    pub fn resolve(&mut self, by: &str, at: Millis) -> Result<AlertEvent, LifecycleError> {
        if !self.is_active() {
            return Err(LifecycleError::Resolved);
        }
        self.state = AlertState::Resolved;
        let event = AlertEvent::Resolved {
            at,
            by: Some(by.to_string()),
        };
        self.history.push(event.clone());
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AlertKey {
        AlertKey {
            monitor: "disk".into(),
            device: "d1".into(),
            subject: "/".into(),
        }
    }

    #[test]
    fn lifecycle_and_dedup() {
        let mut alert = Alert::open(key(), Severity::Warning, 1);
        assert_eq!(
            alert.update(Severity::Warning, 2),
            None,
            "repeats are deduplicated"
        );
        assert!(matches!(
            alert.update(Severity::Critical, 3),
            Some(AlertEvent::SeverityChanged { .. })
        ));
        assert!(alert.acknowledge("alice", 4).is_ok());
        assert_eq!(
            alert.acknowledge("bob", 5),
            Err(LifecycleError::AlreadyAcknowledged)
        );
        assert_eq!(alert.acknowledged_by.as_deref(), Some("alice"));
        assert!(matches!(
            alert.update(Severity::Ok, 6),
            Some(AlertEvent::Resolved { by: None, .. })
        ));
        assert_eq!(
            alert.update(Severity::Critical, 7),
            None,
            "a resolved alert stays resolved"
        );
        assert_eq!(alert.resolve("alice", 8), Err(LifecycleError::Resolved));
        assert_eq!(alert.history.len(), 4);
    }
}
