//! Utilisation and usage per mounted filesystem.

use super::{Host, labelled, ratio};
use std::collections::HashSet;
use steward_proto::Point;

/// Pseudo and image filesystems that never fill up in a way a human acts on.
const IGNORED: &[&str] = &[
    "tmpfs", "devtmpfs", "overlay", "squashfs", "ramfs", "proc", "sysfs", "nsfs", "efivarfs",
    "autofs",
];

pub fn collect(host: &mut Host, out: &mut Vec<Point>) {
    host.disks.refresh(true);
    let mut seen = HashSet::new();
    for disk in host.disks.iter() {
        let fs = disk.file_system().to_string_lossy();
        let total = disk.total_space();
        let mount = disk.mount_point().to_string_lossy();
        let wanted = host.extra_mounts.iter().any(|m| *m == mount);
        if total == 0
            || (IGNORED.contains(&fs.as_ref()) && !wanted)
            // The same device mounted twice (bind mounts) counts once.
            || (!wanted && !seen.insert(disk.name().to_os_string()))
        {
            continue;
        }
        let (used, utilization) = df_figures(disk.mount_point()).unwrap_or_else(|| {
            let used = total.saturating_sub(disk.available_space());
            (used, used as f64 / total as f64)
        });
        out.push(labelled(
            "system.filesystem.utilization",
            &[("mountpoint", &mount)],
            ratio(utilization),
        ));
        out.push(labelled(
            "system.filesystem.usage",
            &[("mountpoint", &mount)],
            used as f64,
        ));
    }
}

/// Used bytes and utilisation as `df` counts them: blocks reserved for root
/// are neither used nor available, so a disk `df` shows at 100% reads 1.0
/// here too (not 0.95 with the reserve counted as used).
#[cfg(unix)]
fn df_figures(mount: &std::path::Path) -> Option<(u64, f64)> {
    let stat = rustix::fs::statvfs(mount).ok()?;
    let unit = stat.f_frsize.max(1);
    let used = stat
        .f_blocks
        .saturating_sub(stat.f_bfree)
        .saturating_mul(unit);
    let available = stat.f_bavail.saturating_mul(unit);
    let usable = used.saturating_add(available);
    (usable > 0).then(|| (used, used as f64 / usable as f64))
}

#[cfg(not(unix))]
fn df_figures(_mount: &std::path::Path) -> Option<(u64, f64)> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The root filesystem's utilisation is what coreutils' `df` prints
    /// (it rounds the percentage up).
    #[test]
    fn utilisation_matches_df() {
        let out = std::process::Command::new("df")
            .args(["--output=pcent", "/"])
            .output()
            .expect("df runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let df: f64 = text
            .lines()
            .nth(1)
            .and_then(|l| l.trim().trim_end_matches('%').parse().ok())
            .expect("a percentage");
        let (_, ours) = super::df_figures(std::path::Path::new("/")).expect("statvfs of /");
        let ours = ours * 100.0;
        // df rounds up; half a point of slack for writes between the two reads.
        assert!(
            ours <= df + 0.5 && df - ours < 1.5,
            "df says {df}%, the agent {ours:.3}%"
        );
    }
}
