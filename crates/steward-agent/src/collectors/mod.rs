//! Collectors: one module per concept, all with the same shape
//! `fn collect(host: &mut Host, out: &mut Vec<Point>)`. Add a collector by
//! adding a module and a line to [`METRIC_COLLECTORS`]. Metric names follow
//! the OpenTelemetry system semantic conventions.

pub mod backup;
mod cpu;
mod filesystem;
pub mod inventory;
pub mod logs;
mod memory;
mod network;
pub mod patching;
pub mod posture;
mod processes;
pub mod smart;
pub mod timezone;

use std::collections::BTreeMap;
use steward_proto::Point;
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};

/// The sysinfo handles reused across cycles (CPU usage is a delta between
/// two refreshes).
pub struct Host {
    pub system: System,
    pub disks: Disks,
    pub networks: Networks,
    /// Mountpoints always reported, whatever their filesystem type.
    pub extra_mounts: Vec<String>,
    /// Log files watched for a pattern.
    pub log_rules: Vec<logs::LogRule>,
    /// The system whose packages are listed (`/` but in tests).
    pub package_root: std::path::PathBuf,
    /// Windows: CPU usage from the system's times, not sysinfo's PDH
    /// counters (whose reload crashes under Wine).
    #[cfg(windows)]
    pub cpu_times: crate::os::CpuTimes,
}

impl Host {
    pub fn new() -> Result<Self, sysinfo::Error> {
        // The CPU list (model, cores) everywhere; usage from sysinfo but
        // on Windows (`cpu_times`).
        let cpu = CpuRefreshKind::nothing();
        #[cfg(not(windows))]
        let cpu = cpu.with_usage();
        #[cfg_attr(windows, allow(unused_mut))]
        let mut system = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(cpu)
                .with_memory(MemoryRefreshKind::everything()),
        )?;
        #[cfg(not(windows))]
        system.refresh_cpu_usage();
        Ok(Self {
            system,
            disks: Disks::new_with_refreshed_list()?,
            networks: Networks::new_with_refreshed_list()?,
            extra_mounts: Vec::new(),
            log_rules: Vec::new(),
            package_root: std::path::PathBuf::from("/"),
            #[cfg(windows)]
            cpu_times: crate::os::CpuTimes::new(),
        })
    }
}

type Collect = fn(&mut Host, &mut Vec<Point>);

/// Every metric collector, run in order each cycle.
pub const METRIC_COLLECTORS: &[(&str, Collect)] = &[
    ("cpu", cpu::collect),
    ("memory", memory::collect),
    ("filesystem", filesystem::collect),
    ("network", network::collect),
    ("processes", processes::collect),
];

/// Runs every metric collector once.
pub fn collect_metrics(host: &mut Host) -> Vec<Point> {
    let mut out = Vec::with_capacity(32);
    for (_, collect) in METRIC_COLLECTORS {
        collect(host, &mut out);
    }
    let now = std::time::Instant::now();
    for rule in &mut host.log_rules {
        rule.collect(now, &mut out);
    }
    out
}

/// The log templates each rule mined since the last call.
pub fn take_log_patterns(host: &mut Host) -> Vec<steward_proto::logs::LogPatternReport> {
    host.log_rules
        .iter_mut()
        .filter_map(logs::LogRule::take_patterns)
        .collect()
}

pub(crate) fn point(name: &str, value: f64) -> Point {
    Point {
        name: name.into(),
        labels: BTreeMap::new(),
        value,
    }
}

pub(crate) fn labelled(name: &str, labels: &[(&str, &str)], value: f64) -> Point {
    Point {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
    }
}

/// Ratios are sent with four decimals (0.01 %): plenty for monitoring, and
/// it lets the server store them as small integers.
pub(crate) fn ratio(value: f64) -> f64 {
    if value.is_finite() {
        (value.clamp(0.0, 1.0) * 1e4).round() / 1e4
    } else {
        0.0
    }
}

/// Bounded, control-free text, as the server will accept it.
pub(crate) fn clean(text: &str, max: usize) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).collect();
    if out.len() > max {
        let mut cut = max;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_proto::Validate;

    #[test]
    fn one_cycle_yields_valid_conventional_metrics() {
        let mut host = Host::new().unwrap();
        let points = collect_metrics(&mut host);
        let names: Vec<&str> = points.iter().map(|p| p.name.as_str()).collect();
        // Monitors are checked against the catalogue: report nothing else.
        for name in &names {
            assert!(
                steward_proto::METRIC_NAMES.contains(name),
                "{name} is not in steward_proto::METRIC_NAMES"
            );
        }
        for expected in [
            "system.cpu.utilization",
            "system.memory.utilization",
            "system.cpu.load_average.1m",
            "system.processes.count",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let batch = steward_proto::MetricBatch {
            seq: 1,
            ts_ms: 1,
            points,
        };
        batch.validate(&steward_proto::Limits::default()).unwrap();
    }
}
