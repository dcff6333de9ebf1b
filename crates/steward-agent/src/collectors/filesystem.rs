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
        let used = total.saturating_sub(disk.available_space());
        out.push(labelled(
            "system.filesystem.utilization",
            &[("mountpoint", &mount)],
            ratio(used as f64 / total as f64),
        ));
        out.push(labelled(
            "system.filesystem.usage",
            &[("mountpoint", &mount)],
            used as f64,
        ));
    }
}
