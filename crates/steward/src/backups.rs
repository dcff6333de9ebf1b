//! `steward backups [--device D] [--since 30d] [--json]`: the success rate
//! per organisation, site and device over a period, or one device's jobs
//! (result, newest good copy, size, restore test) and recent outcomes.

use crate::client::{Client, Remote};
use crate::names::{self, Kind};
use crate::{output, print_json, print_text};
use anyhow::Result;
use serde_json::Value;

fn rate(row: &Value) -> String {
    match row["success_rate"].as_f64() {
        Some(rate) => format!("{:.1} %", rate * 100.0),
        None => "-".into(),
    }
}

fn counts(row: &Value) -> [String; 3] {
    ["ok", "warning", "failed"].map(|k| row[k].as_u64().unwrap_or(0).to_string())
}

/// The summary as text: organisations, sites, then devices.
pub fn summary_text(summary: &Value) -> String {
    let mut rows = vec![
        ["PLACE", "NAME", "RATE", "OK", "WARNING", "FAILED"]
            .map(String::from)
            .to_vec(),
    ];
    let each = |key: &str| summary[key].as_array().cloned().unwrap_or_default();
    for org in each("orgs") {
        let [ok, warning, failed] = counts(&org);
        rows.push(vec![
            "org".into(),
            org["org_id"].as_str().unwrap_or("").into(),
            rate(&org),
            ok,
            warning,
            failed,
        ]);
    }
    for site in each("sites") {
        let [ok, warning, failed] = counts(&site);
        let name = site["site"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("(no site)");
        rows.push(vec![
            "site".into(),
            name.into(),
            rate(&site),
            ok,
            warning,
            failed,
        ]);
    }
    for device in each("devices") {
        let [ok, warning, failed] = counts(&device);
        rows.push(vec![
            "device".into(),
            device["name"].as_str().unwrap_or("").into(),
            rate(&device),
            ok,
            warning,
            failed,
        ]);
    }
    output::table(&rows)
}

fn size(bytes: Option<u64>) -> String {
    match bytes {
        None => "-".into(),
        Some(n) if n < 1024 => format!("{n} B"),
        Some(n) if n < 1 << 20 => format!("{:.1} KiB", n as f64 / 1024.0),
        Some(n) if n < 1 << 30 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        Some(n) => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
    }
}

/// One device's jobs as text.
pub fn device_text(answer: &Value) -> String {
    let mut rows = vec![
        [
            "JOB",
            "SOURCE",
            "RESULT",
            "LAST RUN",
            "NEWEST GOOD",
            "SIZE",
            "RESTORE TEST",
            "REASON",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for job in answer["jobs"].as_array().into_iter().flatten() {
        let secs = |key: &str| job[key].as_i64().map(|ms| ms / 1000);
        let restore = &job["restore_test"];
        rows.push(vec![
            job["name"].as_str().unwrap_or("").into(),
            job["source"].as_str().unwrap_or("").into(),
            job["result"].as_str().unwrap_or("").into(),
            output::ago(secs("last_run_ms")),
            output::ago(secs("newest_good_ms")),
            size(job["size_bytes"].as_u64()),
            restore["result"].as_str().unwrap_or("-").into(),
            job["reason"].as_str().unwrap_or("").into(),
        ]);
    }
    output::table(&rows)
}

pub async fn run(remote: &Remote, device: Option<&str>, since: &str, json: bool) -> Result<()> {
    let client = Client::new(remote)?;
    if since.is_empty() || !since.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') {
        anyhow::bail!("--since {since:?}: a duration such as 30d, 12h or \"7d 12h\"");
    }
    let since = since.replace(' ', "%20");
    let answer = match device {
        Some(device) => {
            let id = names::id_of(&client, Kind::Device, device).await?;
            client
                .get(&format!("/api/v1/devices/{id}/backups?since={since}"))
                .await?
        }
        None => {
            client
                .get(&format!("/api/v1/backups/summary?since={since}"))
                .await?
        }
    };
    if json {
        return print_json(&answer);
    }
    print_text(if device.is_some() {
        device_text(&answer)
    } else {
        summary_text(&answer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_show_rates_and_jobs() {
        let summary = json!({
            "orgs": [{ "org_id": "o1", "ok": 3, "warning": 0, "failed": 1, "success_rate": 0.75 }],
            "sites": [{ "org_id": "o1", "site": "", "ok": 3, "warning": 0, "failed": 1, "success_rate": 0.75 }],
            "devices": [{ "name": "web-01", "ok": 0, "warning": 0, "failed": 0, "success_rate": null }],
        });
        let text = summary_text(&summary);
        assert!(
            text.contains("75.0 %") && text.contains("(no site)") && text.contains("web-01"),
            "{text}"
        );
        let device = json!({ "jobs": [{ "name": "home", "source": "restic", "result": "failed", "size_bytes": 3145728,
            "reason": "wrong password", "restore_test": { "result": "ok" } }] });
        let text = device_text(&device);
        assert!(
            text.contains("3.0 MiB") && text.contains("wrong password") && text.contains("ok"),
            "{text}"
        );
    }
}
