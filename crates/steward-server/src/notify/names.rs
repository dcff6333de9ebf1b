//! What a helpdesk needs in a notification besides ids: the device's name,
//! hostname and site, the organisation's name, and a link to the alert in
//! the console. Added when a notification goes out ([`name`]), so every
//! channel and every kind of payload (one alert, a group, a test) carries
//! the same fields; [`with_names`] decides, from plain data.

use serde_json::{Value, json};
use std::collections::HashMap;
use steward_store::{Scope, Store};
use uuid::Uuid;

/// A device as notifications name it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceName {
    pub name: String,
    pub hostname: String,
    pub site: String,
}

/// A runbook a notification points to (`steward_incident::runbooks`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunbookNote {
    pub id: String,
    pub title: String,
    /// The start of its procedure, as text.
    pub excerpt: String,
}

/// Most runbooks one notification names.
pub const MAX_RUNBOOKS: usize = 3;

/// The names a payload's ids stand for, and the runbooks attached to its
/// monitor or alert kind.
#[derive(Debug, Default)]
pub struct Names {
    pub org: Option<String>,
    pub devices: HashMap<String, DeviceName>,
    pub runbooks: Vec<RunbookNote>,
}

/// The ids a payload names: its organisation and devices.
pub fn ids_of(payload: &Value) -> (Option<Uuid>, Vec<Uuid>) {
    let org = payload["org_id"].as_str().and_then(|s| s.parse().ok());
    let mut devices: Vec<Uuid> = payload["device_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .into_iter()
        .collect();
    devices.extend(
        payload["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str()?.parse::<Uuid>().ok()),
    );
    (org, devices)
}

/// `payload` with names beside its ids and a `link` into `console` (the
/// server's public URL): to the alert for one alert, to the alerts page
/// for a group.
pub fn with_names(mut payload: Value, names: &Names, console: &str) -> Value {
    if !payload.is_object() {
        return payload;
    }
    if let Some(org) = &names.org {
        payload["org"] = json!(org);
    }
    if let Some(device) = payload["device_id"]
        .as_str()
        .and_then(|id| names.devices.get(id))
    {
        payload["device"] = json!(device.name);
        payload["hostname"] = json!(device.hostname);
        payload["site"] = json!(device.site);
    }
    if let Some(devices) = payload["devices"].as_array() {
        let named: Vec<Value> = devices
            .iter()
            .map(|d| {
                let id = d.as_str().unwrap_or_default();
                names
                    .devices
                    .get(id)
                    .map_or_else(|| json!(id), |n| json!(n.name))
            })
            .collect();
        payload["device_names"] = json!(named);
    }
    let console = console.trim_end_matches('/');
    if !names.runbooks.is_empty() {
        let runbooks: Vec<Value> = names
            .runbooks
            .iter()
            .take(MAX_RUNBOOKS)
            .map(|r| {
                json!({
                    "id": r.id, "title": r.title, "excerpt": r.excerpt,
                    "link": format!("{console}/#/runbooks?runbook={}", r.id),
                })
            })
            .collect();
        payload["runbooks"] = json!(runbooks);
    }
    payload["link"] = match payload["alert_id"].as_str() {
        Some(alert) if payload["state"] == "resolved" => {
            json!(format!("{console}/#/alerts?state=resolved&alert={alert}"))
        }
        Some(alert) => json!(format!("{console}/#/alerts?alert={alert}")),
        // An incident's own notification (an SLA warning): the incident.
        None if payload["incident_id"].is_string() => json!(format!(
            "{console}/#/incident/{}",
            payload["incident_id"].as_str().unwrap_or_default()
        )),
        None => json!(format!("{console}/#/alerts")),
    };
    payload
}

/// The notification `payload` (JSON text) with the names its ids stand
/// for, read from the store; a payload that is not JSON goes as it is.
pub async fn name(store: &dyn Store, console: &str, payload: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(payload) else {
        return payload.to_string();
    };
    let (org, devices) = ids_of(&value);
    let mut names = Names::default();
    if let Some(org) = org {
        // Scoped to the one organisation: the query reads its row only.
        names.org = store
            .list_orgs(&Scope::org(org))
            .await
            .ok()
            .and_then(|orgs| orgs.into_iter().find(|o| o.id == org))
            .map(|o| o.name);
    }
    for device in devices {
        if let Ok(detail) = store.get_device(&Scope::all(), device).await {
            names.devices.insert(
                device.to_string(),
                DeviceName {
                    name: detail.summary.name,
                    hostname: detail.summary.hostname,
                    site: detail.summary.site,
                },
            );
        }
    }
    if let (Some(org), Some(monitor)) = (org, value["monitor_id"].as_str()) {
        names.runbooks = runbooks_for(store, org, monitor, value["monitor"].as_str()).await;
    }
    with_names(value, &names, console).to_string()
}

/// The runbooks of `org` attached to an alert's monitor (by id or name)
/// or its kind (the monitor's kind; a built-in alert's id).
async fn runbooks_for(
    store: &dyn Store,
    org: Uuid,
    monitor: &str,
    monitor_name: Option<&str>,
) -> Vec<RunbookNote> {
    use steward_incident::runbooks::{Runbook, Subject, applies, excerpt};
    let scope = Scope::org(org);
    let Ok(runbooks) = store.list_runbooks(&scope).await else {
        return Vec::new();
    };
    if runbooks.is_empty() {
        return Vec::new();
    }
    let mut subject = Subject {
        monitors: vec![monitor.to_string()],
        alert_kinds: vec![monitor.to_string()],
        ..Subject::default()
    };
    subject.monitors.extend(monitor_name.map(str::to_string));
    if let Some(found) = store
        .list_monitors(&scope)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.id.to_string() == monitor)
    {
        subject.monitors.push(found.name.clone());
        if let Some(kind) = found.definition["spec"]["kind"].as_str() {
            subject.alert_kinds = vec![kind.to_string()];
        }
    }
    runbooks
        .iter()
        .filter_map(|r| {
            let runbook: Runbook = serde_json::from_value(r.definition.clone()).ok()?;
            applies(&runbook, &subject).then(|| RunbookNote {
                id: r.id.to_string(),
                title: r.title.clone(),
                excerpt: excerpt(&runbook.body),
            })
        })
        .take(MAX_RUNBOOKS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            org: Some("Client B".into()),
            devices: [(
                "d1".to_string(),
                DeviceName {
                    name: "web-01".into(),
                    hostname: "web-01.example".into(),
                    site: "hq".into(),
                },
            )]
            .into(),
            runbooks: vec![],
        }
    }

    #[test]
    fn one_alert_gets_its_device_organisation_and_link() {
        let named = with_names(
            json!({ "alert_id": "a1", "org_id": "o", "device_id": "d1", "state": "open" }),
            &names(),
            "https://rmm.example/",
        );
        assert_eq!(
            (
                &named["device"],
                &named["hostname"],
                &named["site"],
                &named["org"],
                &named["link"]
            ),
            (
                &json!("web-01"),
                &json!("web-01.example"),
                &json!("hq"),
                &json!("Client B"),
                &json!("https://rmm.example/#/alerts?alert=a1")
            )
        );
        let resolved = with_names(
            json!({ "alert_id": "a1", "device_id": "d1", "state": "resolved" }),
            &names(),
            "https://rmm.example",
        );
        assert_eq!(
            resolved["link"],
            "https://rmm.example/#/alerts?state=resolved&alert=a1"
        );
    }

    #[test]
    fn runbooks_go_with_their_title_excerpt_and_link() {
        let mut with = names();
        with.runbooks = (0..5)
            .map(|i| RunbookNote {
                id: format!("r{i}"),
                title: format!("Runbook {i}"),
                excerpt: "1. clean /tmp".into(),
            })
            .collect();
        let named = with_names(
            json!({ "alert_id": "a1", "device_id": "d1", "state": "open" }),
            &with,
            "https://rmm.example/",
        );
        let runbooks = named["runbooks"].as_array().unwrap();
        assert_eq!(runbooks.len(), MAX_RUNBOOKS);
        assert_eq!(runbooks[0]["title"], "Runbook 0");
        assert_eq!(runbooks[0]["excerpt"], "1. clean /tmp");
        assert_eq!(
            runbooks[0]["link"],
            "https://rmm.example/#/runbooks?runbook=r0"
        );
        let (_, body) = crate::notify::email_text(&named);
        assert!(body.contains("Runbook: Runbook 0"), "{body}");
        assert!(body.contains("1. clean /tmp"), "{body}");
        assert!(body.contains("#/runbooks?runbook=r0"), "{body}");
        // None attached: no field at all.
        let plain = with_names(json!({ "alert_id": "a1" }), &names(), "x");
        assert!(plain.get("runbooks").is_none(), "{plain}");
    }

    #[test]
    fn a_group_names_its_devices_and_unknown_ids_stay() {
        let named = with_names(
            json!({ "group": true, "site": "hq", "devices": ["d1", "gone"] }),
            &names(),
            "https://rmm.example",
        );
        assert_eq!(named["device_names"], json!(["web-01", "gone"]));
        assert_eq!(named["link"], "https://rmm.example/#/alerts");
        assert_eq!(named["site"], "hq");
        assert_eq!(with_names(json!("text"), &names(), "x"), json!("text"));
    }

    #[test]
    fn ids_are_read_from_one_alert_and_from_groups() {
        let device = Uuid::now_v7();
        let org = Uuid::now_v7();
        assert_eq!(
            ids_of(&json!({ "org_id": org, "device_id": device })),
            (Some(org), vec![device])
        );
        assert_eq!(
            ids_of(&json!({ "devices": [device.to_string(), "not an id"] })),
            (None, vec![device])
        );
    }
}
