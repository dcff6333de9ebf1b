//! Pure readers of smartctl's JSON (`-j`, format version 1): the scan's
//! device list and one disk's counters. Any shape is read defensively: a
//! field of the wrong type is a counter not reported, output that is no
//! JSON at all is the disk's `error`, never a panic.

use serde_json::Value;
use steward_proto::DiskHealth;

/// One disk `--scan-open` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    /// What `-d` takes (`sat`, `nvme`, `scsi`).
    pub device_type: String,
    /// `ata`, `nvme`, `scsi` (lower case).
    pub protocol: String,
}

fn text(value: &Value, max: usize) -> String {
    crate::command::clean(value.as_str().unwrap_or_default().trim(), max)
}

/// smartctl's own complaint: the first error message it printed.
fn messages(json: &Value) -> String {
    json["smartctl"]["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| text(&m["string"], 200))
        .find(|m| !m.is_empty())
        .unwrap_or_default()
}

/// The disks of `smartctl --scan-open -j` (none is an empty list: a VM or
/// a container has no SMART disk). Err when the output is no JSON object.
pub fn scan(stdout: &[u8]) -> Result<Vec<Entry>, String> {
    let json: Value = serde_json::from_slice(stdout)
        .map_err(|e| format!("smartctl --scan-open answered no JSON: {e}"))?;
    if !json.is_object() {
        return Err("smartctl --scan-open answered no JSON object".into());
    }
    let exit = json["smartctl"]["exit_status"].as_u64().unwrap_or(0);
    // Bit 0: smartctl did not understand its command line.
    if exit & 1 != 0 {
        return Err(format!("smartctl --scan-open failed: {}", messages(&json)));
    }
    Ok(json["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let name = text(&d["name"], 256);
            // Never an option to smartctl, never a path with a newline.
            if name.is_empty() || name.starts_with('-') {
                return None;
            }
            let device_type = text(&d["type"], 32);
            let device_type = if device_type.is_empty() || device_type.starts_with('-') {
                "auto".into()
            } else {
                device_type
            };
            Some(Entry {
                name,
                device_type,
                protocol: text(&d["protocol"], 32).to_lowercase(),
            })
        })
        .collect())
}

fn counter(value: &Value) -> Option<u64> {
    value.as_u64()
}

/// The raw value of the ATA attribute `id`.
fn ata_raw(json: &Value, id: u64) -> Option<u64> {
    json["ata_smart_attributes"]["table"]
        .as_array()?
        .iter()
        .find(|a| a["id"].as_u64() == Some(id))
        .and_then(|a| counter(&a["raw"]["value"]))
}

/// One disk's counters from `smartctl -j --all`. A disk smartctl could not
/// open, or output that is not smartctl's JSON, gets `error` set.
pub fn disk(entry: &Entry, stdout: &[u8]) -> DiskHealth {
    let mut disk = DiskHealth {
        name: entry.name.clone(),
        protocol: entry.protocol.clone(),
        ..DiskHealth::default()
    };
    let json: Value = match serde_json::from_slice(stdout) {
        Ok(json @ Value::Object(_)) => json,
        Ok(_) => {
            disk.error = "smartctl answered no JSON object".into();
            return disk;
        }
        Err(error) => {
            disk.error = crate::command::clean(
                &format!("smartctl answered something that is not JSON: {error}"),
                300,
            );
            return disk;
        }
    };
    let exit = json["smartctl"]["exit_status"].as_u64().unwrap_or(0);
    // Bits 0 and 1: bad command line, or the device could not be opened:
    // nothing below is about the disk.
    if exit & 0b11 != 0 {
        let why = messages(&json);
        disk.error = if why.is_empty() {
            format!("smartctl could not read the disk (exit status {exit})")
        } else {
            why
        };
        return disk;
    }
    if let Some(protocol) = json["device"]["protocol"].as_str() {
        disk.protocol = crate::command::clean(&protocol.to_lowercase(), 32);
    }
    disk.model = text(&json["model_name"], 128);
    disk.serial = text(&json["serial_number"], 128);
    disk.passed = json["smart_status"]["passed"].as_bool();
    disk.power_on_hours = counter(&json["power_on_time"]["hours"]);
    disk.temperature_c = json["temperature"]["current"]
        .as_i64()
        .filter(|t| (-100..=300).contains(t));
    let nvme = &json["nvme_smart_health_information_log"];
    if nvme.is_object() {
        disk.media_errors = counter(&nvme["media_errors"]);
        disk.percentage_used = counter(&nvme["percentage_used"]);
        if disk.power_on_hours.is_none() {
            disk.power_on_hours = counter(&nvme["power_on_hours"]);
        }
    }
    if json["ata_smart_attributes"].is_object() {
        disk.reallocated_sectors = ata_raw(&json, 5);
        disk.pending_sectors = ata_raw(&json, 197);
        disk.uncorrectable_sectors = ata_raw(&json, 198);
    }
    // Counters past what a disk can hold are noise, not data (the wire
    // refuses them).
    for value in [
        &mut disk.reallocated_sectors,
        &mut disk.pending_sectors,
        &mut disk.uncorrectable_sectors,
        &mut disk.media_errors,
        &mut disk.percentage_used,
        &mut disk.power_on_hours,
    ] {
        if value.is_some_and(|v| v > 1 << 48) {
            *value = None;
        }
    }
    let nothing = disk.passed.is_none()
        && disk.reallocated_sectors.is_none()
        && disk.media_errors.is_none()
        && disk.percentage_used.is_none();
    if nothing {
        let why = messages(&json);
        disk.error = if why.is_empty() {
            "smartctl reported no SMART data for this disk".into()
        } else {
            why
        };
    }
    disk
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/src/collectors/smart/testdata/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn entry(name: &str, device_type: &str) -> Entry {
        Entry {
            name: name.into(),
            device_type: device_type.into(),
            protocol: String::new(),
        }
    }

    #[test]
    fn the_scan_lists_disks_and_an_empty_machine_has_none() {
        let disks = scan(&fixture("scan.json")).unwrap();
        assert_eq!(
            disks,
            vec![
                Entry {
                    name: "/dev/sda".into(),
                    device_type: "sat".into(),
                    protocol: "ata".into()
                },
                Entry {
                    name: "/dev/nvme0".into(),
                    device_type: "nvme".into(),
                    protocol: "nvme".into()
                },
            ]
        );
        // smartctl 7.3 in a container: no `devices` at all.
        assert_eq!(scan(&fixture("scan_empty.json")).unwrap(), vec![]);
        assert!(scan(b"Segmentation fault").is_err());
        assert!(scan(b"[1,2]").is_err());
        // Names that would be options are skipped.
        let hostile = br#"{"devices":[{"name":"--set=standby,now","type":"sat"},{"name":"/dev/sdb","type":"-x"}]}"#;
        assert_eq!(
            scan(hostile).unwrap(),
            vec![Entry {
                name: "/dev/sdb".into(),
                device_type: "auto".into(),
                protocol: String::new()
            }]
        );
    }

    #[test]
    fn an_ata_disk_reads_its_sector_counters() {
        let before = disk(&entry("/dev/sda", "sat"), &fixture("ata_rising_1.json"));
        let after = disk(&entry("/dev/sda", "sat"), &fixture("ata_rising_2.json"));
        assert_eq!(before.error, "");
        assert_eq!(before.protocol, "ata");
        assert_eq!(before.model, "WDC WD40EFRX-68N32N0");
        assert_eq!(before.serial, "WD-WCC7K3PLX4JE");
        assert_eq!(before.passed, Some(true));
        assert_eq!(
            (
                before.reallocated_sectors,
                before.pending_sectors,
                before.uncorrectable_sectors
            ),
            (Some(8), Some(0), Some(0))
        );
        assert_eq!(
            (
                after.reallocated_sectors,
                after.pending_sectors,
                after.uncorrectable_sectors
            ),
            (Some(24), Some(3), Some(1))
        );
        assert_eq!(after.power_on_hours, Some(31269));
        assert_eq!(after.temperature_c, Some(37));
        assert_eq!((after.media_errors, after.percentage_used), (None, None));
    }

    #[test]
    fn an_nvme_disk_reads_media_errors_and_wear() {
        let nvme = disk(&entry("/dev/nvme0", "nvme"), &fixture("nvme.json"));
        assert_eq!(nvme.error, "");
        assert_eq!(nvme.protocol, "nvme");
        assert_eq!(nvme.model, "Samsung SSD 970 EVO Plus 1TB");
        assert_eq!(nvme.serial, "S4EWNX0N912345A");
        assert_eq!(
            (nvme.media_errors, nvme.percentage_used, nvme.power_on_hours),
            (Some(0), Some(7), Some(8123))
        );
        assert_eq!(nvme.reallocated_sectors, None);
    }

    #[test]
    fn hostile_or_failed_output_is_a_clear_per_disk_error() {
        let sda = entry("/dev/sda", "sat");
        let open_failed = disk(&sda, &fixture("open_failed.json"));
        assert!(
            open_failed.error.contains("No such device"),
            "{}",
            open_failed.error
        );
        for junk in [
            &b""[..],
            b"not json",
            b"{\"ata_smart_attributes\": ",
            b"42",
            b"{\"ata_smart_attributes\":{\"table\":\"x\"},\"smart_status\":7}",
            b"{\"ata_smart_attributes\":{\"table\":[{\"id\":5,\"raw\":{\"value\":-3}},{\"id\":\"5\"}]}}",
            b"{\"nvme_smart_health_information_log\":{\"media_errors\":1e300,\"percentage_used\":\"lots\"}}",
            b"{\"temperature\":{\"current\":99999999}}",
        ] {
            let read = disk(&sda, junk);
            assert!(!read.error.is_empty(), "{:?}", String::from_utf8_lossy(junk));
            assert_eq!(read.reallocated_sectors, None);
            assert_eq!(read.media_errors, None);
            assert_eq!(read.temperature_c, None);
        }
        // Control characters in what the disk says about itself go.
        let odd = disk(
            &sda,
            b"{\"model_name\":\"evil\\u001b[31m\",\"smart_status\":{\"passed\":false}}",
        );
        assert_eq!(odd.model, "evil [31m");
        assert_eq!(odd.passed, Some(false));
        assert_eq!(odd.error, "");
    }
}
