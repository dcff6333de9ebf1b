//! Human-readable output for CLI commands (`--json` prints the raw API
//! answer instead).

use serde_json::Value;

fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// Unix seconds as an RFC 3339 UTC time.
pub fn when(unix_secs: Option<i64>) -> String {
    match unix_secs.and_then(|s| u64::try_from(s).ok()) {
        Some(s) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
        )
        .to_string(),
        None => "-".into(),
    }
}

/// Unix seconds as a UTC date and time to the minute, e.g.
/// `2026-12-01 14:05 UTC` ("-" when unknown or out of range).
pub fn date_time(unix_secs: Option<i64>) -> String {
    // humantime formats years 1970 to 9999.
    const YEAR_10000: u64 = 253_402_300_800;
    match unix_secs
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| (1..YEAR_10000).contains(s))
    {
        Some(s) => {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
            // 2026-12-01T14:05:09Z
            let rfc3339 = humantime::format_rfc3339_seconds(at).to_string();
            format!("{} {} UTC", &rfc3339[..10], &rfc3339[11..16])
        }
        None => "-".into(),
    }
}

/// A duration in seconds, to the minute: `7 min`, `3 h 12 min`, `12 days 3 h`.
pub fn span(secs: u64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, _) => format!("{hours} h {minutes} min"),
        (1, _) => format!("1 day {hours} h"),
        _ => format!("{days} days {hours} h"),
    }
}

pub fn ago(unix_secs: Option<i64>) -> String {
    let Some(then) = unix_secs else {
        return "never".into();
    };
    let secs = (steward_server::now_secs() - then).max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

pub fn devices_table(devices: &Value) -> String {
    let mut rows = vec![
        [
            "ID",
            "NAME",
            "SITE",
            "HOSTNAME",
            "OS",
            "STATUS",
            "LAST SEEN",
            "CPU",
            "MEM",
            "DISK",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for d in devices.as_array().into_iter().flatten() {
        let status = if d.get("revoked").and_then(Value::as_bool) == Some(true) {
            "revoked".into()
        } else {
            text(d, "status")
        };
        rows.push(vec![
            text(d, "id"),
            text(d, "name"),
            text(d, "site"),
            text(d, "hostname"),
            text(d, "os"),
            status,
            ago(d.get("last_seen").and_then(Value::as_i64)),
            percent(&d["cpu_utilization"]),
            percent(&d["memory_utilization"]),
            percent(&d["disk_utilization"]),
        ]);
    }
    table(&rows)
}

/// Alerts with their device's name, and a short id after a name two
/// devices share (`--json` has the id too).
pub fn alerts_table(alerts: &Value) -> String {
    let mut rows = vec![
        [
            "ID", "STATE", "SEVERITY", "MONITOR", "DEVICE", "SUBJECT", "SUMMARY",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let list: Vec<&Value> = alerts.as_array().into_iter().flatten().collect();
    let devices: Vec<(&str, &str)> = list
        .iter()
        .map(|a| {
            let field = |k: &str| a[k].as_str().unwrap_or("");
            (field("device_id"), field("device_name"))
        })
        .collect();
    for (a, device) in list.iter().zip(crate::names::labels(&devices)) {
        let field = |k: &str| a[k].as_str().unwrap_or("").to_string();
        rows.push(vec![
            field("id"),
            field("state"),
            field("severity"),
            field("monitor_name"),
            device,
            field("subject"),
            field("summary"),
        ]);
    }
    table(&rows)
}

/// Notification channels: name, kind, where they go from, enabled.
pub fn channels_table(channels: &Value) -> String {
    let mut rows = vec![
        [
            "ID",
            "NAME",
            "KIND",
            "FROM SEVERITY",
            "ENABLED",
            "WAITING",
            "GIVEN UP",
            "LAST ERROR",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for c in channels.as_array().into_iter().flatten() {
        rows.push(vec![
            text(c, "id"),
            text(c, "name"),
            text(c, "kind"),
            text(c, "min_severity"),
            if c["enabled"] == false { "no" } else { "yes" }.to_string(),
            c["pending"].as_u64().unwrap_or(0).to_string(),
            c["undelivered"].as_u64().unwrap_or(0).to_string(),
            c["last_error"].as_str().unwrap_or("-").to_string(),
        ]);
    }
    table(&rows)
}

/// An alert's history, one event a line: when (UTC), what, and who or why.
pub fn alert_history(events: &Value) -> String {
    let mut lines = Vec::new();
    for e in events.as_array().into_iter().flatten() {
        let at = e["at"].as_i64().map(|ms| ms / 1000);
        let event = &e["event"];
        let what = event["event"].as_str().unwrap_or("change");
        let detail: Vec<String> = event
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| k.as_str() != "event" && !v.is_null())
            .map(|(k, v)| match v.as_str() {
                Some(text) => format!("{k}={text}"),
                None => format!("{k}={v}"),
            })
            .collect();
        lines.push(format!("{}  {what}  {}", date_time(at), detail.join(" ")));
    }
    if lines.is_empty() {
        "No history.".into()
    } else {
        lines.join("\n")
    }
}

pub fn enroll_tokens_table(tokens: &Value) -> String {
    let mut rows = vec![
        ["ID", "SITE", "EXPIRES", "USES LEFT", "REVOKED"]
            .map(String::from)
            .to_vec(),
    ];
    for t in tokens.as_array().into_iter().flatten() {
        rows.push(vec![
            text(t, "id"),
            text(t, "site"),
            date_time(t["expires_at"].as_i64()),
            match t["uses_left"].as_u64() {
                Some(n) => n.to_string(),
                None => "unlimited".into(),
            },
            t["revoked"].to_string(),
        ]);
    }
    table(&rows)
}

pub fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn device_detail(d: &Value) -> String {
    let inv = &d["inventory"];
    let mut out = vec![
        format!("Device      {}", text(d, "id")),
        format!("Name        {}", text(d, "name")),
        format!(
            "Status      {} (last seen {})",
            text(d, "status"),
            ago(d["last_seen"].as_i64())
        ),
        format!("Site        {}   tags: {}", text(d, "site"), d["tags"]),
        format!("Hostname    {}", text(inv, "hostname")),
        format!(
            "OS          {} {}  kernel {}  {}",
            text(inv, "os_name"),
            text(inv, "os_version"),
            text(inv, "kernel_version"),
            text(inv, "arch")
        ),
        format!(
            "CPU         {} ({} cores)",
            text(inv, "cpu_model"),
            text(inv, "cpu_cores")
        ),
        format!(
            "Memory      {} MiB, swap {} MiB",
            inv["memory_total_bytes"].as_u64().unwrap_or(0) >> 20,
            inv["swap_total_bytes"].as_u64().unwrap_or(0) >> 20
        ),
        format!(
            "Booted      {} (up {})",
            date_time(inv["boot_time"].as_i64()),
            span(inv["uptime_secs"].as_u64().unwrap_or(0))
        ),
        format!("Agent       {}", text(inv, "agent_version")),
        "Filesystems".into(),
    ];
    for fs in inv["filesystems"].as_array().into_iter().flatten() {
        let total = fs["total_bytes"].as_u64().unwrap_or(0);
        let free = fs["available_bytes"].as_u64().unwrap_or(0);
        out.push(format!(
            "  {:<24} {:<8} {:>8} GiB, {:>5.1}% used",
            text(fs, "mountpoint"),
            text(fs, "fs_type"),
            total >> 30,
            if total > 0 {
                100.0 * (total - free.min(total)) as f64 / total as f64
            } else {
                0.0
            }
        ));
    }
    out.push("Interfaces".into());
    for iface in inv["interfaces"].as_array().into_iter().flatten() {
        out.push(format!(
            "  {:<16} {}  {}",
            text(iface, "name"),
            text(iface, "mac"),
            iface["addresses"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "))
                .unwrap_or_default()
        ));
    }
    out.push("Logged in".into());
    for user in inv["users"].as_array().into_iter().flatten() {
        out.push(format!(
            "  {} on {} since {} {}",
            text(user, "name"),
            text(user, "terminal"),
            text(user, "since"),
            text(user, "host")
        ));
    }
    out.push(format!(
        "Packages    {} installed (--json lists them)",
        inv["packages"].as_array().map_or(0, Vec::len)
    ));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn epoch_seconds_print_as_a_utc_date_and_time() {
        assert_eq!(date_time(Some(1_796_134_721)), "2026-12-01 14:18 UTC");
        assert_eq!(date_time(Some(1)), "1970-01-01 00:00 UTC");
        assert_eq!(date_time(Some(253_402_300_799)), "9999-12-31 23:59 UTC");
        // Unknown or out of range: no panic, no number.
        for odd in [
            None,
            Some(0),
            Some(-5),
            Some(253_402_300_800),
            Some(i64::MAX),
        ] {
            assert_eq!(date_time(odd), "-", "{odd:?}");
        }
    }

    #[test]
    fn uptimes_print_in_days_hours_and_minutes() {
        assert_eq!(span(0), "0 min");
        assert_eq!(span(7 * 60 + 59), "7 min");
        assert_eq!(span(3 * 3600 + 12 * 60 + 5), "3 h 12 min");
        assert_eq!(span(86_400 + 3600), "1 day 1 h");
        assert_eq!(span(12 * 86_400 + 3 * 3600 + 59 * 60), "12 days 3 h");
    }

    #[test]
    fn device_detail_shows_when_it_booted() {
        let device = json!({ "id": "d", "name": "n", "inventory": {
            "boot_time": 1_796_134_721, "uptime_secs": 3 * 3600 + 12 * 60 } });
        let detail = device_detail(&device);
        assert!(
            detail.contains("Booted      2026-12-01 14:18 UTC (up 3 h 12 min)"),
            "{detail}"
        );
        assert!(!detail.contains("1796134721"), "{detail}");
    }

    #[test]
    fn alerts_name_their_device() {
        let alerts = json!([
            { "id": "a1", "state": "open", "severity": "critical", "monitor_name": "Device offline",
              "device_id": "0190aaaa-0000-7000-8000-00000000000d", "device_name": "web-1",
              "subject": "", "summary": "device is offline" },
            { "id": "a2", "device_id": "0190aaaa-0000-7000-8000-00000000000e", "device_name": "" }
        ]);
        let table = alerts_table(&alerts);
        let rows: Vec<&str> = table.lines().collect();
        assert!(rows[1].contains("  web-1  "), "{table}");
        assert!(!rows[1].contains("0190aaaa"), "{table}");
        // No name (an older server): the id, rather than nothing.
        assert!(
            rows[2].contains("0190aaaa-0000-7000-8000-00000000000e"),
            "{table}"
        );
    }

    #[test]
    fn alerts_of_two_devices_of_one_name_tell_them_apart() {
        let alert =
            |device: &str| json!({ "id": "a", "device_id": device, "device_name": "web-1" });
        let alerts = json!([
            alert("0190aaaa-1000-7000-8000-00000000000d"),
            alert("0190aaaa-2000-7000-8000-00000000000e"),
        ]);
        let table = alerts_table(&alerts);
        let rows: Vec<&str> = table.lines().collect();
        assert!(rows[1].contains("  web-1 (0190aaaa-1…)"), "{table}");
        assert!(rows[2].contains("  web-1 (0190aaaa-2…)"), "{table}");
    }

    #[test]
    fn enroll_tokens_show_their_expiry_as_a_date() {
        let tokens = json!([{ "id": "t", "site": "hq", "expires_at": 1_796_134_721,
            "uses_left": null, "revoked": false }]);
        let table = enroll_tokens_table(&tokens);
        assert!(table.contains("2026-12-01 14:18 UTC"), "{table}");
        assert!(table.contains("unlimited"), "{table}");
        assert!(!table.contains("1796134721"), "{table}");
    }
}
