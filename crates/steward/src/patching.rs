//! `steward software` and `steward device updates`: fleet-wide software
//! search and one device's pending updates. The text is made by pure
//! functions from the API's answers (tested with plain data).

use crate::client::{Client, Remote};
use crate::{output, print_json, print_text};
use anyhow::Result;
use serde_json::Value;

/// `text` as one query-string value (RFC 3986 unreserved characters kept).
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `steward software --name NAME [--below VERSION]`.
pub async fn software(remote: &Remote, name: &str, below: Option<&str>, json: bool) -> Result<()> {
    let mut path = format!("/api/v1/software?name={}", query_value(name));
    if let Some(below) = below {
        path.push_str(&format!("&below={}", query_value(below)));
    }
    let answer = Client::new(remote)?.get(&path).await?;
    if json {
        print_json(&answer)
    } else {
        print_text(software_text(&answer))
    }
}

pub fn software_text(answer: &Value) -> String {
    let name = answer["name"].as_str().unwrap_or("");
    let devices = answer["devices"].as_array().cloned().unwrap_or_default();
    let what = match answer["below"].as_str() {
        Some(below) => format!("{name} below {below}"),
        None => name.to_string(),
    };
    if devices.is_empty() {
        return format!("No device runs {what}.");
    }
    let mut rows = vec![vec![
        "DEVICE".to_string(),
        "SITE".into(),
        "VERSION".into(),
        "MANAGER".into(),
    ]];
    for d in &devices {
        let text = |key: &str| d[key].as_str().unwrap_or("").to_string();
        rows.push(vec![
            text("device_name"),
            text("site"),
            text("version"),
            text("manager"),
        ]);
    }
    let mut out = format!(
        "{} device{} run{} {what}:\n{}",
        devices.len(),
        if devices.len() == 1 { "" } else { "s" },
        if devices.len() == 1 { "s" } else { "" },
        output::table(&rows)
    );
    if answer["truncated"] == Value::Bool(true) {
        out.push_str("\n(more devices than one answer holds: the list is cut)");
    }
    out
}

/// `steward device updates DEVICE`.
pub async fn device_updates(client: &Client, id: &str, json: bool) -> Result<()> {
    let answer = client.get(&format!("/api/v1/devices/{id}/updates")).await?;
    if json {
        print_json(&answer)
    } else {
        print_text(updates_text(&answer))
    }
}

pub fn updates_text(answer: &Value) -> String {
    let name = answer["device_name"].as_str().unwrap_or("?");
    let status = &answer["patching"];
    let mut lines = Vec::new();
    let state = status["state"].as_str().unwrap_or("");
    match (answer["updates"].as_array(), state) {
        (None, _) if status.is_null() => {
            lines.push(format!("{name} has not reported its pending updates yet."))
        }
        (None, _) => lines.push(format!(
            "{name}: pending updates unknown ({state}{}).",
            match status["error"].as_str() {
                Some(e) if !e.is_empty() => format!(": {e}"),
                _ => String::new(),
            }
        )),
        (Some(updates), _) => {
            let security = updates
                .iter()
                .filter(|u| u["security"] == Value::Bool(true))
                .count();
            lines.push(format!(
                "{name}: {} pending update{}, {security} security{}",
                updates.len(),
                if updates.len() == 1 { "" } else { "s" },
                match status["security_source"].as_str() {
                    Some("no_advisory_metadata") => " (no advisory metadata: security unknown)",
                    _ => "",
                }
            ));
            if !updates.is_empty() {
                let mut rows = vec![vec![
                    "PACKAGE".to_string(),
                    "INSTALLED".into(),
                    "CANDIDATE".into(),
                    "SECURITY".into(),
                    "SINCE".into(),
                ]];
                for u in updates {
                    let text = |key: &str| u[key].as_str().unwrap_or("").to_string();
                    let security = if u["security"] == Value::Bool(true) {
                        let rule = text("rule");
                        if rule.is_empty() {
                            "yes".to_string()
                        } else {
                            rule
                        }
                    } else {
                        "-".into()
                    };
                    rows.push(vec![
                        text("name"),
                        text("current"),
                        text("available"),
                        security,
                        output::date_time(u["first_seen"].as_i64()),
                    ]);
                }
                lines.push(output::table(&rows));
            }
        }
    }
    let reboot = &status["reboot"];
    match reboot["required"].as_bool() {
        Some(true) => {
            lines.push("Reboot required:".into());
            for reason in reboot["reasons"].as_array().into_iter().flatten() {
                lines.push(format!("  - {}", reason["detail"].as_str().unwrap_or("")));
            }
        }
        Some(false) => lines.push("No reboot required.".into()),
        None if !status.is_null() => lines.push("Reboot need unknown.".into()),
        None => {}
    }
    if let Some(services) = status["services"].as_array().filter(|s| !s.is_empty()) {
        let names: Vec<&str> = services.iter().filter_map(Value::as_str).collect();
        lines.push(format!("Services to restart: {}", names.join(", ")));
    }
    if let Some(at) = status["last_upgrade"].as_i64() {
        lines.push(format!("Last upgrade: {}", output::date_time(Some(at))));
    }
    lines.join("\n")
}

/// `steward compliance [--days N] [--csv]`.
pub async fn compliance(remote: &Remote, days: u32, json: bool, csv: bool) -> Result<()> {
    if csv {
        let text = Client::new(remote)?
            .get_text(&format!("/api/v1/patching/compliance.csv?days={days}"))
            .await?;
        print!("{text}");
        return Ok(());
    }
    let answer = Client::new(remote)?
        .get(&format!("/api/v1/patching/compliance?days={days}"))
        .await?;
    if json {
        print_json(&answer)
    } else {
        print_text(compliance_text(&answer))
    }
}

fn share(tally: &Value) -> String {
    match tally["share"].as_f64() {
        Some(share) => format!("{:.1} %", share * 100.0),
        None => "-".into(),
    }
}

pub fn compliance_text(answer: &Value) -> String {
    let total = &answer["total"];
    let mut out = format!(
        "{} of {} reporting devices have no security update pending over {} days ({}); {} devices in all.",
        total["compliant"],
        total["reporting"],
        answer["days"],
        share(total),
        total["devices"]
    );
    let sites = answer["sites"].as_array().cloned().unwrap_or_default();
    if !sites.is_empty() {
        let mut rows = vec![vec![
            "SITE".to_string(),
            "DEVICES".into(),
            "REPORTING".into(),
            "COMPLIANT".into(),
            "SHARE".into(),
        ]];
        for site in &sites {
            rows.push(vec![
                site["site"].as_str().unwrap_or("").to_string(),
                site["devices"].to_string(),
                site["reporting"].to_string(),
                site["compliant"].to_string(),
                share(site),
            ]);
        }
        out.push('\n');
        out.push_str(&output::table(&rows));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn compliance_reads_as_a_sentence_and_a_table() {
        let answer = json!({ "days": 14,
            "total": { "devices": 3, "reporting": 2, "compliant": 1, "share": 0.5 },
            "sites": [{ "org_id": "o", "site": "hq", "devices": 3, "reporting": 2, "compliant": 1, "share": 0.5 }] });
        let text = compliance_text(&answer);
        assert!(text.starts_with("1 of 2 reporting devices have no security update pending over 14 days (50.0 %); 3 devices in all.\nSITE"), "{text}");
        assert!(
            text.ends_with("hq    3        2          1          50.0 %"),
            "{text}"
        );
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query_value("libstdc++6"), "libstdc%2B%2B6");
        assert_eq!(query_value("1:3.0~rc1 x&y"), "1%3A3.0~rc1%20x%26y");
    }

    #[test]
    fn software_lists_devices_or_says_none() {
        let answer = json!({ "name": "openssl", "below": "3.0.15", "truncated": false, "devices": [
            { "device_name": "web-01", "site": "hq", "version": "3.0.11-1~deb12u2", "manager": "dpkg" },
        ] });
        let text = software_text(&answer);
        assert!(
            text.starts_with("1 device runs openssl below 3.0.15:\nDEVICE"),
            "{text}"
        );
        assert!(
            text.contains("web-01  hq    3.0.11-1~deb12u2  dpkg"),
            "{text}"
        );
        let none = json!({ "name": "openssl", "below": null, "devices": [], "truncated": false });
        assert_eq!(software_text(&none), "No device runs openssl.");
    }

    #[test]
    fn updates_say_why_and_what_about_reboots() {
        let answer = json!({
            "device_name": "web-01",
            "updates": [{ "name": "stwd-demo", "current": "1.0-1", "available": "2.0-1", "security": true,
                          "rule": "label Debian-Security", "first_seen": null, "security_since": null }],
            "patching": { "state": "ok", "security_source": "origins", "services": ["ssh.service"],
                          "last_upgrade": null,
                          "reboot": { "required": true, "reasons": [{ "source": "flag_file", "detail": "/run/reboot-required exists" }] } },
        });
        let text = updates_text(&answer);
        assert!(
            text.starts_with("web-01: 1 pending update, 1 security\n"),
            "{text}"
        );
        assert!(
            text.contains("stwd-demo  1.0-1      2.0-1      label Debian-Security"),
            "{text}"
        );
        assert!(
            text.contains("Reboot required:\n  - /run/reboot-required exists"),
            "{text}"
        );
        assert!(text.contains("Services to restart: ssh.service"), "{text}");
        let locked = json!({ "device_name": "db", "updates": null,
            "patching": { "state": "locked", "error": "the dpkg lock is held by process 7 (dpkg)", "reboot": { "required": null } } });
        assert_eq!(
            updates_text(&locked),
            "db: pending updates unknown (locked: the dpkg lock is held by process 7 (dpkg)).\nReboot need unknown."
        );
        let never = json!({ "device_name": "new", "updates": null, "patching": null });
        assert_eq!(
            updates_text(&never),
            "new has not reported its pending updates yet."
        );
    }
}
