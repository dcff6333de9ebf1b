//! Disk health from SMART: `smartctl --scan-open -j` lists the disks, then
//! `smartctl -j --all -d TYPE NAME` reads each, through the agent's one
//! bounded runner (`crate::command`), at a slow interval (default 6 h),
//! only where smartctl exists. The parsers (`parse`) are pure and tested on
//! recorded outputs; the server decides what is worrying (counters rising
//! between reports). Where smartctl is missing the report says so
//! (`not_available`), so the server still re-judges the device's age.

pub mod parse;

use crate::command::{self, Cmd};
use std::path::PathBuf;
use std::time::Duration;
use steward_proto::{DiskHealth, DiskHealthReport, MAX_DISKS, SmartState};

/// How and how often.
#[derive(Debug, Clone)]
pub struct Config {
    /// Time between passes (zero switches SMART collection off).
    pub interval: Duration,
    /// The smartctl to run (`smartctl` on the PATH; tests give a stand-in
    /// that prints recorded outputs).
    pub smartctl: PathBuf,
    /// Longest one smartctl call may take.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(6 * 3600),
            smartctl: PathBuf::from("smartctl"),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Most bytes of one smartctl answer read (a disk's `--all` is ~20 KiB).
const MAX_OUTPUT: usize = 1024 * 1024;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One pass: the disks smartctl sees and each one's counters.
pub async fn scan(config: &Config) -> DiskHealthReport {
    let program = config.smartctl.to_string_lossy().into_owned();
    let mut report = DiskHealthReport {
        checked_at: now_secs(),
        ..DiskHealthReport::default()
    };
    let listed = command::run(
        &Cmd::new(&program).arg("--scan-open").arg("-j"),
        config.timeout,
        MAX_OUTPUT,
    )
    .await;
    if listed.start_error == Some(std::io::ErrorKind::NotFound) {
        report.state = SmartState::NotAvailable;
        report.error = "smartctl is not installed".into();
        return report;
    }
    if listed.timed_out {
        report.state = SmartState::TimedOut;
        report.error = format!("smartctl --scan-open took longer than {:?}", config.timeout);
        return report;
    }
    if listed.start_error.is_some() {
        report.state = SmartState::Failed;
        report.error = command::last_line(&listed.stderr, 500);
        return report;
    }
    let entries = match parse::scan(&listed.stdout) {
        Ok(entries) => entries,
        Err(error) => {
            report.state = SmartState::Failed;
            report.error = command::clean(&error, 500);
            return report;
        }
    };
    for entry in entries.into_iter().take(MAX_DISKS) {
        let out = command::run(
            &Cmd::new(&program)
                .arg("-j")
                .arg("--all")
                .arg("-d")
                .arg(&entry.device_type)
                .arg(&entry.name),
            config.timeout,
            MAX_OUTPUT,
        )
        .await;
        let disk = if out.timed_out {
            DiskHealth {
                name: entry.name.clone(),
                protocol: entry.protocol.clone(),
                error: format!("smartctl took longer than {:?}", config.timeout),
                ..DiskHealth::default()
            }
        } else if out.truncated {
            DiskHealth {
                name: entry.name.clone(),
                protocol: entry.protocol.clone(),
                error: format!("smartctl's answer is larger than {MAX_OUTPUT} bytes"),
                ..DiskHealth::default()
            }
        } else {
            parse::disk(&entry, &out.stdout)
        };
        report.disks.push(disk);
    }
    report
}

/// Scans every `config.interval` and wakes `ready` after each pass (the
/// report goes out each time: the server re-judges the device's age then).
pub async fn run_loop(
    config: Config,
    latest: std::sync::Arc<std::sync::Mutex<Option<DiskHealthReport>>>,
    ready: std::sync::Arc<tokio::sync::Notify>,
) {
    if config.interval.is_zero() {
        return;
    }
    loop {
        let report = scan(&config).await;
        tracing::debug!(state = ?report.state, disks = report.disks.len(), "SMART pass done.");
        *latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        ready.notify_one();
        tokio::time::sleep(config.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn a_missing_smartctl_is_not_available_and_a_stand_in_is_read() {
        let missing = scan(&Config {
            smartctl: "/nonexistent/smartctl".into(),
            ..Config::default()
        })
        .await;
        assert_eq!(missing.state, SmartState::NotAvailable);
        assert!(missing.disks.is_empty());

        // A stand-in printing the recorded outputs, as the e2e test does.
        let dir = tempfile::tempdir().unwrap();
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/src/collectors/smart/testdata");
        let script = dir.path().join("smartctl");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncase \"$*\" in\n*--scan-open*) cat {data}/scan.json ;;\n*/dev/sda) cat {data}/ata_rising_2.json ;;\n*) cat {data}/nvme.json ;;\nesac\n"
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let report = scan(&Config {
            smartctl: script,
            ..Config::default()
        })
        .await;
        assert_eq!(report.state, SmartState::Ok, "{}", report.error);
        assert_eq!(report.disks.len(), 2);
        assert_eq!(report.disks[0].reallocated_sectors, Some(24));
        assert_eq!(report.disks[1].media_errors, Some(0));
        assert_eq!(report.disks[1].percentage_used, Some(7));
    }
}
