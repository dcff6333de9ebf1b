//! Aging infrastructure end to end: a real agent whose smartctl is a
//! stand-in printing recorded outputs (an ATA disk, an NVMe disk) reports
//! to a real server. A disk with reallocated sectors is not flagged for
//! having them; once they (and pending sectors) rise between two reports,
//! the device is flagged with the numbers, an ordinary check monitor on
//! `aging.smart` raises one critical alert naming the disk, and the fleet
//! list (paged like the other lists) shows it worst first. Hostile output
//! for one disk gives that disk a clear error and leaves the other read.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    tokio::task::block_in_place(|| wait_for(what, Duration::from_secs(60), &mut check))
}

fn disk<'a>(aging: &'a Value, name: &str) -> Option<&'a Value> {
    aging["disks"]
        .as_array()?
        .iter()
        .find(|d| d["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rising_smart_counters_flag_the_device_and_alert_once() {
    let root = tempfile::tempdir().unwrap();
    let stand_in = root.path().join("smartctl-stand-in");
    let smartctl = smartctl::install(&stand_in);
    // The NVMe disk answers garbage first.
    smartctl::answer_with(
        &stand_in,
        "nvme0",
        b"{\"nvme_smart_health_information_log\": [oops",
    );
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "aging.smart failing", "spec": { "kind": "check", "check": "aging.smart" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "nas-01", &token));
    agent.start_with(
        "5s",
        &[
            "--patch-interval",
            "0s",
            "--posture-interval",
            "0s",
            "--smart-interval",
            "1s",
            "--smartctl",
            smartctl.to_str().unwrap(),
        ],
    );
    let device = agent.device_id.clone();
    let path = format!("/api/v1/devices/{device}/aging");
    let rt = tokio::runtime::Handle::current();
    let get = |path: &str| tokio::task::block_in_place(|| rt.block_on(api.get(path)).1);

    // The first reports: both disks listed, the NVMe one with its error,
    // the ATA one read and not flagged for the 8 sectors it has.
    let first = poll("the first aging view", || {
        let answer = get(&path);
        let named = answer["os"]["os_name"]
            .as_str()
            .is_some_and(|s| !s.is_empty());
        (answer["disks"].as_array()?.len() == 2 && named).then_some(answer)
    });
    assert_eq!(first["smart_state"], "ok", "{first}");
    let nvme = disk(&first, "/dev/nvme0").unwrap();
    assert!(
        nvme["error"].as_str().unwrap().contains("not JSON"),
        "{nvme}"
    );
    let sda = disk(&first, "/dev/sda").unwrap();
    assert_eq!(sda["reallocated_sectors"], 8, "{sda}");
    assert_eq!(sda["serial"], "WD-WCC7K3PLX4JE");
    assert!(sda["rises"].as_array().unwrap().is_empty(), "{sda}");
    let smart_findings = |aging: &Value| -> Vec<Value> {
        aging["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == "aging.smart")
            .cloned()
            .collect()
    };
    assert!(smart_findings(&first).is_empty(), "{first}");
    // The check's message names the unreadable disk.
    // Check results go through the ingest writers (batched), so the check
    // may land a moment after the aging view.
    let check = poll("the aging.smart check", || {
        get(&format!("/api/v1/devices/{device}/checks"))
            .as_array()?
            .iter()
            .find(|c| c["name"] == "aging.smart")
            .cloned()
    });
    assert_eq!(check["state"], "ok", "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("unreadable: /dev/nvme0"),
        "{check}"
    );

    // The NVMe disk reads again; then the ATA disk's counters rise.
    smartctl::answer(&stand_in, "nvme0", "nvme.json");
    poll("the NVMe disk read", || {
        let answer = get(&path);
        (disk(&answer, "/dev/nvme0")?["error"] == "").then_some(())
    });
    smartctl::answer(&stand_in, "sda", "ata_rising_2.json");
    let flagged = poll("the rising counters flagged", || {
        let answer = get(&path);
        (answer["worst"] == "critical" && !smart_findings(&answer).is_empty()).then_some(answer)
    });
    let finding = &smart_findings(&flagged)[0];
    assert_eq!(finding["severity"], "critical", "{finding}");
    assert_eq!(finding["subject"], "/dev/sda");
    let reason = finding["reason"].as_str().unwrap();
    for part in [
        "/dev/sda (WDC WD40EFRX-68N32N0)",
        "reallocated sectors rose from 8 to 24",
        "pending sectors rose from 0 to 3",
        "uncorrectable sectors rose from 0 to 1",
    ] {
        assert!(reason.contains(part), "{part:?} not in {reason:?}");
    }
    let nvme = disk(&flagged, "/dev/nvme0").unwrap();
    assert_eq!(
        (
            nvme["media_errors"].clone(),
            nvme["percentage_used"].clone()
        ),
        (json!(0), json!(7))
    );

    // One alert through the ordinary check monitor, naming the disk.
    let alert = poll("the aging.smart alert", || {
        get("/api/v1/alerts")
            .as_array()?
            .iter()
            .find(|a| a["monitor_name"] == "aging.smart failing" && a["state"] != "resolved")
            .cloned()
    });
    assert_eq!(alert["severity"], "critical", "{alert}");
    assert!(
        alert["summary"].as_str().unwrap().contains("/dev/sda"),
        "{alert}"
    );
    // Further reports with the same counters keep it one alert.
    let judged = flagged["updated_at"].as_i64().unwrap();
    poll("a later report", || {
        (get(&path)["updated_at"].as_i64()? > judged + 1000).then_some(())
    });
    let open: Vec<Value> = get("/api/v1/alerts")
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["monitor_name"] == "aging.smart failing" && a["state"] != "resolved")
        .cloned()
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");

    // The fleet list: the device with its reasons; filtered and paged.
    let fleet = get("/api/v1/aging");
    let item = &fleet[0];
    assert_eq!(item["id"], device.as_str(), "{fleet}");
    assert_eq!(item["name"], "nas-01");
    assert_eq!(item["worst"], "critical");
    assert_eq!(item["disks"], 2);
    assert!(
        item["findings"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("rose from 8 to 24"),
        "{item}"
    );
    let critical = get("/api/v1/aging?worst=critical&limit=1");
    assert_eq!(critical.as_array().unwrap().len(), 1, "{critical}");
    let none = get("/api/v1/aging?worst=ok");
    assert!(none.as_array().unwrap().is_empty(), "{none}");
    let (status, _) = api.get("/api/v1/aging?sort=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.get("/api/v1/devices/not-a-device/aging").await;
    assert!(status.is_client_error(), "{status}");
}
