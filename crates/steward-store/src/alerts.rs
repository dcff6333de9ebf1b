//! What recording an alert change means, decided once for every back end:
//! given the alert open for the change's (monitor, device, subject), whether
//! to open one, update it or do nothing, the history event to append, the
//! severity the notification ranks as, and the notification's payload. The
//! back ends only run the SQL this asks for.

use crate::AlertChange;
use serde_json::{Value, json};
use uuid::Uuid;

/// The step to take for one change.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertStep {
    /// Nothing to record: a resolution with nothing open, or the open
    /// alert's own severity reported again (another replica's evaluator,
    /// after a device moved). Returns this id to the caller.
    Nothing(Option<Uuid>),
    /// Insert a new open alert with this id.
    Open { id: Uuid, event: Value },
    /// Update the open alert (resolve it or change its severity).
    Update {
        id: Uuid,
        event: Value,
        /// A resolution reaches the channels that heard of the alert: it
        /// ranks as the severity the alert had.
        rank_as: String,
    },
}

impl AlertChange {
    pub fn resolving(&self) -> bool {
        self.severity == "ok"
    }

    /// The step for this change, given the open alert (id, severity).
    pub fn step(&self, open: Option<(Uuid, String)>) -> AlertStep {
        let (id, event, rank_as) = match open {
            None if self.resolving() => return AlertStep::Nothing(None),
            None => {
                let event = json!({ "event": "opened", "severity": self.severity, "summary": self.summary });
                return AlertStep::Open {
                    id: Uuid::now_v7(),
                    event: self.decorate(event),
                };
            }
            Some((id, from)) if !self.resolving() && from == self.severity => {
                return AlertStep::Nothing(Some(id));
            }
            Some((id, from)) if self.resolving() => (
                id,
                json!({ "event": "resolved", "summary": self.summary }),
                from,
            ),
            Some((id, from)) => (
                id,
                json!({ "event": "severity_changed", "from": from, "to": self.severity, "summary": self.summary }),
                self.severity.clone(),
            ),
        };
        AlertStep::Update {
            id,
            event: self.decorate(event),
            rank_as,
        }
    }

    /// Whether a notification goes out.
    pub fn notifies(&self) -> bool {
        self.notify && self.suppressed.is_none()
    }

    fn decorate(&self, mut event: Value) -> Value {
        event["flapping"] = self.flapping.into();
        event["notified"] = self.notifies().into();
        if let Some(why) = &self.suppressed {
            event["suppressed"] = why.clone().into();
        }
        event
    }

    /// The notification's payload for alert `id`.
    pub fn payload(&self, id: Uuid) -> String {
        json!({
            "alert_id": id,
            "org_id": self.org_id,
            "monitor": self.monitor_name,
            "monitor_id": self.monitor_id,
            "device_id": self.device_id,
            "subject": self.subject,
            "severity": self.severity,
            "state": if self.resolving() { "resolved" } else { "open" },
            "flapping": self.flapping,
            "summary": self.summary,
            "at": self.at,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(severity: &str) -> AlertChange {
        AlertChange {
            org_id: Uuid::nil(),
            monitor_id: "m".into(),
            monitor_name: "disk".into(),
            device_id: Uuid::nil(),
            subject: "/".into(),
            severity: severity.into(),
            at: 1,
            summary: "full".into(),
            notify: true,
            flapping: false,
            suppressed: None,
        }
    }

    #[test]
    fn each_change_takes_its_step() {
        let id = Uuid::now_v7();
        assert_eq!(change("ok").step(None), AlertStep::Nothing(None));
        assert!(
            matches!(change("critical").step(None), AlertStep::Open { event, .. } if event["event"] == "opened")
        );
        assert_eq!(
            change("critical").step(Some((id, "critical".into()))),
            AlertStep::Nothing(Some(id)),
            "the same severity again"
        );
        let AlertStep::Update { event, rank_as, .. } =
            change("ok").step(Some((id, "critical".into())))
        else {
            panic!("a resolution updates");
        };
        assert_eq!(
            (event["event"].as_str(), rank_as.as_str()),
            (Some("resolved"), "critical")
        );
        let AlertStep::Update { event, rank_as, .. } =
            change("warning").step(Some((id, "critical".into())))
        else {
            panic!("a severity change updates");
        };
        assert_eq!(
            (event["from"].as_str(), rank_as.as_str()),
            (Some("critical"), "warning")
        );
    }

    #[test]
    fn a_suppressed_change_says_why_and_notifies_nobody() {
        let mut c = change("critical");
        c.suppressed = Some("silenced".into());
        let AlertStep::Open { event, .. } = c.step(None) else {
            panic!("opens");
        };
        assert_eq!(
            (event["notified"].as_bool(), event["suppressed"].as_str()),
            (Some(false), Some("silenced"))
        );
        assert!(!c.notifies());
    }
}
