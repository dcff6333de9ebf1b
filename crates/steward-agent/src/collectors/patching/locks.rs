//! Whether another process holds dpkg's lock, read from `/proc/locks`
//! (dpkg and apt take `fcntl` locks on `lock-frontend` and `lock`), without
//! taking it: trying the lock could delay the very install holding it.

use std::path::Path;

/// `process PID (COMMAND)` holding a dpkg lock under `root`, if any.
#[cfg(target_os = "linux")]
pub fn dpkg_lock_holder(root: &Path) -> Option<String> {
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    for name in ["lock-frontend", "lock"] {
        let Ok(meta) = std::fs::metadata(root.join("var/lib/dpkg").join(name)) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        let dev = meta.dev();
        let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
        if let Some(pid) = holder(&table, major, minor, meta.ino()) {
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            return Some(format!(
                "process {pid} ({})",
                super::clean(command.trim(), 64)
            ));
        }
    }
    None
}

/// No dpkg here.
#[cfg(not(target_os = "linux"))]
pub fn dpkg_lock_holder(_root: &Path) -> Option<String> {
    None
}

/// The process holding a lock on the file `major:minor:inode` in a
/// `/proc/locks` table (`1: POSIX  ADVISORY  WRITE 1234 08:01:131090 0 EOF`,
/// device numbers in hex; `->` lines are waiters).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn holder(table: &str, major: u32, minor: u32, inode: u64) -> Option<u32> {
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) == Some(&"->") {
            return None;
        }
        // The pid is followed by MAJ:MIN:INODE; find that field.
        let at = fields.iter().position(|f| f.matches(':').count() == 2)?;
        let mut parts = fields[at].split(':');
        let (maj, min, ino) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = u32::from_str_radix(maj, 16).ok()? == major
            && u32::from_str_radix(min, 16).ok()? == minor
            && ino.parse::<u64>().ok()? == inode;
        if !matches {
            return None;
        }
        fields.get(at.checked_sub(1)?)?.parse().ok()
    })
}
