//! Disk health from SMART (`smartctl`), sent at a slow interval: the
//! counters that tell a disk is wearing out, read by the agent, judged by
//! the server (rising between reports, not merely non-zero).

use serde::{Deserialize, Serialize};

/// Most disks one report carries.
pub const MAX_DISKS: usize = 64;

/// What the agent learned of its disks this pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskHealthReport {
    /// How asking smartctl went as a whole.
    pub state: SmartState,
    /// Why, in smartctl's (or the agent's) words, when not `ok` (bounded).
    pub error: String,
    /// When the pass ran (Unix seconds).
    pub checked_at: i64,
    pub disks: Vec<DiskHealth>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmartState {
    /// smartctl answered (each disk has its own status).
    #[default]
    Ok,
    /// No smartctl on this device (or SMART collection is switched off).
    NotAvailable,
    /// smartctl did not answer in time.
    TimedOut,
    /// It answered with an error or with output the agent cannot read.
    Failed,
    #[serde(other)]
    Unknown,
}

/// One disk's SMART counters. A counter is `None` when the disk does not
/// report it (ATA attributes differ by vendor; NVMe has its own log).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskHealth {
    /// The device path smartctl used (`/dev/sda`, `/dev/nvme0`).
    pub name: String,
    /// `ata`, `nvme`, `scsi` or what smartctl called it.
    pub protocol: String,
    pub model: String,
    pub serial: String,
    /// Empty when the disk was read; else why it could not be (a clear
    /// per-disk status: unreadable or malformed output, no SMART support).
    pub error: String,
    /// SMART's own overall verdict.
    pub passed: Option<bool>,
    /// ATA 5: Reallocated_Sector_Ct.
    pub reallocated_sectors: Option<u64>,
    /// ATA 197: Current_Pending_Sector.
    pub pending_sectors: Option<u64>,
    /// ATA 198: Offline_Uncorrectable.
    pub uncorrectable_sectors: Option<u64>,
    /// NVMe: media and data integrity errors.
    pub media_errors: Option<u64>,
    /// NVMe: percentage of the rated endurance used (may exceed 100).
    pub percentage_used: Option<u64>,
    pub power_on_hours: Option<u64>,
    pub temperature_c: Option<i64>,
}

impl DiskHealth {
    /// What tells this disk apart across reports: its serial number, or
    /// its path when it has none.
    pub fn key(&self) -> &str {
        if self.serial.is_empty() {
            &self.name
        } else {
            &self.serial
        }
    }
}

impl crate::Validate for DiskHealthReport {
    fn validate(&self, _limits: &crate::Limits) -> Result<(), crate::ProtoError> {
        use crate::validate::{list, text};
        text("disk_health.error", &self.error, 512)?;
        list("disk_health.disks", &self.disks, MAX_DISKS)?;
        for disk in &self.disks {
            text("disk_health.disks.name", &disk.name, 256)?;
            text("disk_health.disks.protocol", &disk.protocol, 32)?;
            text("disk_health.disks.model", &disk.model, 128)?;
            text("disk_health.disks.serial", &disk.serial, 128)?;
            text("disk_health.disks.error", &disk.error, 512)?;
            let counters = [
                disk.reallocated_sectors,
                disk.pending_sectors,
                disk.uncorrectable_sectors,
                disk.media_errors,
                disk.percentage_used,
                disk.power_on_hours,
            ];
            if counters.iter().flatten().any(|&v| v > 1 << 53) {
                return Err(crate::validate::invalid(
                    "disk_health.disks",
                    "a counter beyond what a disk can report",
                ));
            }
            if disk
                .temperature_c
                .is_some_and(|t| !(-100..=300).contains(&t))
            {
                return Err(crate::validate::invalid(
                    "disk_health.disks.temperature_c",
                    "outside -100..300",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentMessage, Limits, Validate};

    #[test]
    fn a_report_round_trips_and_bad_ones_are_refused() {
        let report = DiskHealthReport {
            disks: vec![DiskHealth {
                name: "/dev/sda".into(),
                serial: "WD-1".into(),
                reallocated_sectors: Some(8),
                ..DiskHealth::default()
            }],
            ..DiskHealthReport::default()
        };
        let frame = crate::encode(&AgentMessage::DiskHealth(report.clone()));
        let decoded = AgentMessage::decode(&frame, &Limits::default()).unwrap();
        assert_eq!(decoded, AgentMessage::DiskHealth(report.clone()));
        assert_eq!(report.disks[0].key(), "WD-1");
        let mut many = report.clone();
        many.disks = vec![DiskHealth::default(); MAX_DISKS + 1];
        assert!(many.validate(&Limits::default()).is_err());
        let mut huge = report.clone();
        huge.disks[0].media_errors = Some(u64::MAX);
        assert!(huge.validate(&Limits::default()).is_err());
        // An unknown state from a newer agent is no error.
        let newer: DiskHealthReport = serde_json::from_str(r#"{"state":"asleep"}"#).unwrap();
        assert_eq!(newer.state, SmartState::Unknown);
    }
}
