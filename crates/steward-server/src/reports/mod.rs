//! Reports per organisation and period (`GET /api/v1/reports`): the KPIs
//! of `api/kpis.rs` over a month or an ISO week and over each of its
//! weeks, as JSON, CSV (`steward_incident::report::csv`) or a PDF with
//! charts ([`pdf::render`]). [`figures`] turns the KPI answers into the
//! report's rows, from plain data.

pub mod pdf;

use serde_json::Value;
use steward_incident::kpi::DEFINITIONS;
use steward_incident::report::{Figures, Period};

fn definition(key: &str) -> String {
    DEFINITIONS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(String::new, |(_, d)| d.to_string())
}

fn minutes(ms: &Value) -> Option<String> {
    ms.as_f64().map(|v| format!("{:.1} min", v / 60_000.0))
}

fn percent(ratio: &Value) -> Option<String> {
    ratio.as_f64().map(|v| format!("{:.3} %", v * 100.0))
}

/// MTTA/MTTR as "median …, p90 …, mean … (n resolved)"; empty when none.
fn summary(s: &Value) -> String {
    match (
        minutes(&s["median"]),
        minutes(&s["p90"]),
        minutes(&s["mean"]),
    ) {
        (Some(median), Some(p90), Some(mean)) => format!(
            "median {median}, p90 {p90}, mean {mean} (n = {})",
            s["count"].as_u64().unwrap_or(0)
        ),
        _ => String::new(),
    }
}

fn figure(v: &Value) -> String {
    if v["collected"] == true {
        match (v["share"].as_f64(), v["open"].as_u64()) {
            (Some(share), _) => format!(
                "{:.1} % ({} of {} devices)",
                share * 100.0,
                v["compliant"].as_u64().unwrap_or(0),
                v["reporting"].as_u64().unwrap_or(0)
            ),
            (None, Some(open)) => open.to_string(),
            _ => String::new(),
        }
    } else {
        v["note"].as_str().unwrap_or("not collected").to_string()
    }
}

/// The report's rows: the KPIs of the whole period (`whole`, as
/// `api::kpis::compute` answers) and of each week (`weeks`: start and
/// answer).
pub fn figures(org: &str, period: &Period, whole: &Value, weeks: &[(i64, Value)]) -> Figures {
    let noise = &whole["noise"];
    let share = |k: &str| percent(&noise[k]).unwrap_or_else(|| "no data".into());
    let noise_text = match noise["per_device"].as_f64() {
        Some(per) => format!(
            "{} alerts, {per:.2} per device; auto-remediated {}, suppressed {}, acknowledged without action {}",
            noise["alerts"].as_u64().unwrap_or(0),
            share("auto_remediated"),
            share("suppressed"),
            share("acknowledged_without_action")
        ),
        None => String::new(),
    };
    let volume = &whole["incident_volume"];
    let kpis = vec![
        (
            "availability",
            "Availability",
            percent(&whole["availability"]["ratio"]).unwrap_or_default(),
        ),
        ("mtta", "MTTA (acknowledge)", summary(&whole["mtta"])),
        ("mttr", "MTTR (resolve)", summary(&whole["mttr"])),
        (
            "incident_volume",
            "Incidents",
            format!(
                "{} opened, {} still open at the end",
                volume["opened"].as_u64().unwrap_or(0),
                volume["open"].as_u64().unwrap_or(0)
            ),
        ),
        (
            "open_problems",
            "Open problems",
            figure(&whole["open_problems"]),
        ),
        ("noise", "Alert noise", noise_text),
        (
            "patch_compliance",
            "Patch compliance",
            figure(&whole["patch_compliance"]),
        ),
        (
            "backup_success",
            "Backup success",
            figure(&whole["backup_success"]),
        ),
    ]
    .into_iter()
    .map(|(key, name, value)| (key.to_string(), name.to_string(), value, definition(key)))
    .collect();
    Figures {
        org: org.to_string(),
        period: period.label.clone(),
        since: period.since,
        until: period.until,
        kpis,
        weeks: weeks
            .iter()
            .map(|(start, k)| {
                (
                    *start,
                    k["incident_volume"]["opened"].as_u64().unwrap_or(0),
                    k["availability"]["ratio"].as_f64(),
                    k["mttr"]["median"].as_f64(),
                )
            })
            .collect(),
        devices: whole["availability"]["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                (
                    d["device_name"].as_str().unwrap_or("").to_string(),
                    d["ratio"].as_f64(),
                    d["downtime_ms"].as_i64().unwrap_or(0),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kpi_answers_become_report_rows() {
        let period = Period::parse("2026-11").unwrap();
        let whole = json!({
            "availability": { "ratio": 0.995, "devices": [
                { "device_name": "web-1", "ratio": 0.995, "downtime_ms": 12_960_000 },
            ] },
            "mtta": { "count": 2, "mean": 90_000.0, "median": 90_000.0, "p90": 120_000.0 },
            "mttr": { "count": 0, "mean": null, "median": null, "p90": null },
            "incident_volume": { "opened": 3, "open": 1 },
            "open_problems": { "collected": true, "open": 2 },
            "noise": { "alerts": 4, "devices": 1, "per_device": 4.0, "auto_remediated": 0.25,
                       "suppressed": 0.0, "acknowledged_without_action": null },
            "patch_compliance": { "collected": false, "note": "not collected: no device has reported" },
            "backup_success": { "collected": false, "note": "not collected: no backups" },
        });
        let weeks = vec![(
            period.since,
            json!({ "incident_volume": { "opened": 2 }, "availability": { "ratio": 1.0 }, "mttr": { "median": null } }),
        )];
        let f = figures("Client B", &period, &whole, &weeks);
        let value = |key: &str| f.kpis.iter().find(|k| k.0 == key).unwrap().2.clone();
        assert_eq!(value("availability"), "99.500 %");
        assert_eq!(
            value("mtta"),
            "median 1.5 min, p90 2.0 min, mean 1.5 min (n = 2)"
        );
        assert_eq!(value("mttr"), "");
        assert_eq!(
            value("incident_volume"),
            "3 opened, 1 still open at the end"
        );
        assert_eq!(value("open_problems"), "2");
        assert!(
            value("noise").contains("auto-remediated 25.000 %"),
            "{}",
            value("noise")
        );
        assert!(value("noise").contains("acknowledged without action no data"));
        assert!(value("patch_compliance").starts_with("not collected"));
        assert!(
            f.kpis.iter().all(|k| !k.3.is_empty()),
            "every KPI has its definition"
        );
        assert_eq!(f.weeks, vec![(period.since, 2, Some(1.0), None)]);
        assert_eq!(
            f.devices,
            vec![("web-1".to_string(), Some(0.995), 12_960_000)]
        );
        assert!(f.has_data());
    }
}
