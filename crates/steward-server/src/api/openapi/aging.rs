//! The answers of the aging routes (`api/aging.rs`).

use super::schemas::*;
use serde_json::{Value, json};

fn severity() -> Value {
    one_of(&["ok", "warning", "critical"])
}

fn finding() -> Value {
    object(
        json!({
            "check": one_of(&["aging.eol", "aging.uptime", "aging.smart"]),
            "severity": severity(),
            "subject": string(),
            "reason": string(),
        }),
        &["check", "severity", "subject", "reason"],
    )
}

fn disk() -> Value {
    let counter = || nullable(count());
    object(
        json!({
            "name": string(), "protocol": string(), "model": string(), "serial": string(),
            "error": string(),
            "passed": nullable(boolean()),
            "reallocated_sectors": counter(), "pending_sectors": counter(),
            "uncorrectable_sectors": counter(), "media_errors": counter(),
            "percentage_used": counter(), "power_on_hours": counter(),
            "temperature_c": nullable(integer()),
            "rises": array(object(
                json!({ "counter": string(), "from": count(), "to": count(), "at_ms": integer() }),
                &["counter", "from", "to", "at_ms"],
            )),
        }),
        &[
            "name", "protocol", "model", "serial", "error", "passed", "rises",
        ],
    )
}

pub fn response(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("GET", "/api/v1/devices/{id}/aging") => object(
            json!({
                "device_id": uuid(),
                "worst": severity(),
                "updated_at": nullable(integer()),
                "findings": array(finding()),
                "os": object(
                    json!({
                        "os_name": string(), "os_version": string(), "label": string(),
                        "ends": string(), "extended_name": string(), "extended_ends": string(),
                    }),
                    &["os_name", "os_version", "label", "ends", "extended_name", "extended_ends"],
                ),
                "boot_time": integer(),
                "uptime_days": nullable(integer()),
                "smart_state": nullable(one_of(&["ok", "not_available", "timed_out", "failed", "unknown"])),
                "smart_error": string(),
                "smart_checked_at": integer(),
                "disks": array(disk()),
            }),
            &[
                "device_id",
                "worst",
                "updated_at",
                "findings",
                "os",
                "boot_time",
                "uptime_days",
                "smart_state",
                "smart_error",
                "smart_checked_at",
                "disks",
            ],
        ),
        ("GET", "/api/v1/aging") => array(object(
            json!({
                "id": uuid(), "name": string(), "site": string(),
                "worst": severity(),
                "findings": array(finding()),
                "os": string(), "eol": string(),
                "uptime_days": nullable(integer()),
                "disks": count(),
                "updated_at": integer(),
            }),
            &[
                "id",
                "name",
                "site",
                "worst",
                "findings",
                "os",
                "eol",
                "uptime_days",
                "disks",
                "updated_at",
            ],
        )),
        _ => return None,
    })
}
