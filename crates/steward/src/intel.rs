//! `steward capacity [--within 7d|30d|90d] [--json]`: filesystems and
//! memory forecast to reach 90 % within the horizon, soonest first;
//! `steward outliers [--json]`: devices far from their peers (same tag or
//! OS), furthest first.

use crate::client::{Client, Remote};
use crate::{output, print_json, print_text};
use anyhow::Result;
use serde_json::Value;

fn days(ms: Option<i64>) -> String {
    match ms {
        Some(0) => "now".into(),
        Some(ms) => format!("{:.1} d", ms as f64 / 86_400_000.0),
        None => "-".into(),
    }
}

fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or("-".into(), |v| format!("{:.1} %", v * 100.0))
}

/// The capacity answer as text.
pub fn capacity_text(answer: &Value) -> String {
    let mut rows = vec![
        [
            "DEVICE", "WHAT", "IN", "SOONEST", "LATEST", "NOW", "PER DAY",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for item in answer["items"].as_array().into_iter().flatten() {
        let what = if item["metric"].as_str().unwrap_or("").contains("filesystem") {
            format!(
                "disk {}",
                item["labels"]["mountpoint"].as_str().unwrap_or("")
            )
        } else {
            "memory".into()
        };
        rows.push(vec![
            item["device_name"].as_str().unwrap_or("").into(),
            what,
            days(item["eta_ms"].as_i64()),
            days(item["soonest_ms"].as_i64()),
            days(item["latest_ms"].as_i64()),
            percent(&item["level"]),
            percent(&item["rate_per_day"]),
        ]);
    }
    let mut text = output::table(&rows);
    let skipped = answer["skipped"].as_u64().unwrap_or(0);
    if skipped > 0 {
        text.push_str(&format!(
            "\n{skipped} devices not read (over the limit a request reads)"
        ));
    }
    text
}

/// The outliers as text.
pub fn outliers_text(answer: &Value) -> String {
    let mut rows = vec![
        [
            "DEVICE",
            "MEASURE",
            "VALUE",
            "PEERS' MEDIAN",
            "DISTANCE",
            "GROUP",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for o in answer.as_array().into_iter().flatten() {
        rows.push(vec![
            o["device_name"].as_str().unwrap_or("").into(),
            o["measure"].as_str().unwrap_or("").into(),
            percent(&o["value"]),
            percent(&o["peer_median"]),
            format!("{:.1}", o["distance"].as_f64().unwrap_or(0.0)),
            format!(
                "{} ({})",
                o["group"].as_str().unwrap_or(""),
                o["peers"].as_u64().unwrap_or(0)
            ),
        ]);
    }
    output::table(&rows)
}

pub async fn capacity(remote: &Remote, within: &str, json: bool) -> Result<()> {
    if !["7d", "30d", "90d"].contains(&within) {
        anyhow::bail!("--within {within:?}: 7d, 30d or 90d");
    }
    let client = Client::new(remote)?;
    let answer = client
        .get(&format!("/api/v1/capacity?within={within}"))
        .await?;
    if json {
        return print_json(&answer);
    }
    print_text(capacity_text(&answer))
}

pub async fn outliers(remote: &Remote, json: bool) -> Result<()> {
    let client = Client::new(remote)?;
    let answer = client.get("/api/v1/fleet/outliers").await?;
    if json {
        return print_json(&answer);
    }
    print_text(outliers_text(&answer))
}

/// The aging list as text: flagged devices (every judged one with `all`),
/// worst first, with their reasons.
pub fn aging_text(answer: &Value, all: bool) -> String {
    let mut rows = vec![
        [
            "DEVICE",
            "WORST",
            "RELEASE",
            "SUPPORT ENDS",
            "UPTIME",
            "WHY",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for d in answer.as_array().into_iter().flatten() {
        if !all && d["worst"] == "ok" {
            continue;
        }
        let why: Vec<&str> = d["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["reason"].as_str())
            .collect();
        rows.push(vec![
            d["name"].as_str().unwrap_or("").into(),
            d["worst"].as_str().unwrap_or("").into(),
            d["os"]
                .as_str()
                .filter(|o| !o.is_empty())
                .unwrap_or("unknown")
                .into(),
            d["eol"]
                .as_str()
                .filter(|e| !e.is_empty())
                .unwrap_or("-")
                .into(),
            d["uptime_days"]
                .as_i64()
                .map_or("-".into(), |days| format!("{days} d")),
            why.join("; "),
        ]);
    }
    output::table(&rows)
}

pub async fn aging(remote: &Remote, all: bool, json: bool) -> Result<()> {
    let client = Client::new(remote)?;
    let answer = client.get("/api/v1/aging").await?;
    if json {
        return print_json(&answer);
    }
    print_text(aging_text(&answer, all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aging_shows_flagged_devices_with_their_reasons() {
        let answer = json!([
            { "name": "nas-01", "worst": "critical", "os": "Debian 12 bookworm", "eol": "2028-06-30", "uptime_days": 12,
              "findings": [{ "reason": "/dev/sda: reallocated sectors rose from 8 to 24 on 2026-12-03" }] },
            { "name": "web-01", "worst": "ok", "os": "", "eol": "", "uptime_days": null, "findings": [] },
        ]);
        let text = aging_text(&answer, false);
        assert!(
            text.contains("nas-01") && text.contains("rose from 8 to 24") && text.contains("12 d"),
            "{text}"
        );
        assert!(!text.contains("web-01"), "{text}");
        assert!(aging_text(&answer, true).contains("web-01"));
    }

    #[test]
    fn answers_as_tables() {
        let capacity = json!({ "skipped": 2, "items": [{
            "device_name": "db1", "metric": "system.filesystem.utilization", "labels": { "mountpoint": "/var" },
            "eta_ms": 864_000_000i64, "soonest_ms": 777_600_000i64, "latest_ms": null, "level": 0.8, "rate_per_day": 0.01,
        }] });
        let text = capacity_text(&capacity);
        assert!(
            text.contains("db1") && text.contains("disk /var") && text.contains("10.0 d"),
            "{text}"
        );
        assert!(
            text.contains("80.0 %") && text.contains("2 devices not read"),
            "{text}"
        );
        let outliers = json!([{ "device_name": "web-07", "measure": "cpu", "value": 0.92, "peer_median": 0.3, "distance": 12.34, "group": "tag:web", "peers": 20 }]);
        let text = outliers_text(&outliers);
        assert!(
            text.contains("web-07") && text.contains("12.3") && text.contains("tag:web (20)"),
            "{text}"
        );
    }
}
