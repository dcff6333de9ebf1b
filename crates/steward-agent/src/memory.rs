//! Keeping the agent's resident memory small. Measured (BENCHMARKS.md) on
//! an idle agent, most of its PSS is its own code pages, then the
//! allocator's heap:
//!
//! - glibc gives every thread that allocates (tokio's blocking pool runs
//!   the inventory and file scans) its own malloc arena: one arena only.
//! - Memory freed after a heavy pass (a package list, a posture view)
//!   stays resident until the allocator is asked to give it back: `trim`
//!   after each heavy pass.
//! - Code run only at start (argument parsing, the YAML of the built-in
//!   posture checks, the TLS handshake) or in a rare heavy pass stays
//!   mapped: `trim` also drops the agent's own code pages from its page
//!   tables (`MADV_DONTNEED` on its read-only executable mapping). They
//!   stay in the page cache, so the code a cycle needs comes back by a
//!   minor fault, never from disk; only what the agent really keeps
//!   running stays counted.
//!
//! `STEWARD_AGENT_MEMORY=keep-arenas,no-trim,keep-code` switches each part
//! off, to measure it (bench/agent_footprint.py). Elsewhere than Linux with
//! glibc these do nothing.

use std::sync::OnceLock;

/// Which parts are on (all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tuning {
    one_arena: bool,
    trim_heap: bool,
    drop_code: bool,
}

fn tuning() -> Tuning {
    static TUNING: OnceLock<Tuning> = OnceLock::new();
    *TUNING.get_or_init(|| parse(&std::env::var("STEWARD_AGENT_MEMORY").unwrap_or_default()))
}

fn parse(text: &str) -> Tuning {
    let off: Vec<&str> = text.split(',').map(str::trim).collect();
    Tuning {
        one_arena: !off.contains(&"keep-arenas"),
        trim_heap: !off.contains(&"no-trim"),
        drop_code: !off.contains(&"keep-code"),
    }
}

/// One malloc arena for the whole process (the agent allocates little and
/// never from many threads at once). Call before any thread starts.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if tuning().one_arena {
        // SAFETY: mallopt only sets an allocator parameter; called at
        // start, before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Gives back what a heavy pass left: the allocator's free pages, and the
/// code pages only that pass needed. Called once its buffers are dropped.
pub fn trim() {
    let tuning = tuning();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if tuning.trim_heap {
        // SAFETY: malloc_trim is thread-safe and only releases free memory.
        unsafe {
            libc::malloc_trim(0);
        }
    }
    #[cfg(target_os = "linux")]
    if tuning.drop_code {
        drop_code_pages();
    }
    let _ = tuning;
}

/// `MADV_DONTNEED` on this binary's read-only executable mappings (text
/// never written, so nothing is lost: a page needed again is mapped back
/// from the page cache).
#[cfg(target_os = "linux")]
fn drop_code_pages() {
    let (Ok(exe), Ok(maps)) = (
        std::fs::read_link("/proc/self/exe"),
        std::fs::read_to_string("/proc/self/maps"),
    ) else {
        return;
    };
    for (start, len) in code_mappings(&maps, &exe.to_string_lossy()) {
        // SAFETY: the range is a whole mapping of this process's own
        // executable, read-only and executable (never written), so
        // dropping its pages loses nothing; they are faulted back in from
        // the file when run again.
        unsafe {
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
        }
    }
}

/// Start and length of each `r-xp` mapping of `exe` in a `/proc/PID/maps`
/// text.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn code_mappings(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3)?;
            if perms != "r-xp" || path != exe || fields.next().is_some() {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then(|| (start, end - start))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_own_code_mappings_are_dropped() {
        let maps = "\
5555c000-5555d000 r--p 00000000 fe:01 42 /usr/bin/steward-agent
5555d000-55560000 r-xp 00001000 fe:01 42 /usr/bin/steward-agent
55560000-55561000 r--p 00004000 fe:01 42 /usr/bin/steward-agent
55561000-55562000 rw-p 00005000 fe:01 42 /usr/bin/steward-agent
55562000-55563000 r-xp 00000000 fe:01 43 /usr/lib/libc.so.6
55563000-55564000 r-xp 00000000 fe:01 44 /usr/bin/steward-agent (deleted)
7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]
garbage line
";
        assert_eq!(
            code_mappings(maps, "/usr/bin/steward-agent"),
            vec![(0x5555d000, 0x3000)]
        );
    }

    #[test]
    fn each_part_can_be_switched_off() {
        let all = parse("");
        assert!(all.one_arena && all.trim_heap && all.drop_code);
        let none = parse("keep-arenas, no-trim,keep-code");
        assert!(!none.one_arena && !none.trim_heap && !none.drop_code);
    }

    /// Resident kB of this executable's code mappings.
    fn code_rss_kb() -> u64 {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let exe = exe.to_string_lossy();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut ours = false;
        let mut total = 0;
        for line in smaps.lines() {
            let mut fields = line.split_whitespace();
            let first = fields.next().unwrap_or("");
            if first.contains('-') && !first.ends_with(':') {
                let perms = fields.next().unwrap_or("");
                ours = perms == "r-xp" && line.ends_with(exe.as_ref());
            } else if ours && first == "Rss:" {
                total += fields.next().unwrap().parse::<u64>().unwrap();
            }
        }
        total
    }

    #[test]
    fn dropping_code_pages_shrinks_the_resident_code_and_the_process_runs_on() {
        let before = code_rss_kb();
        drop_code_pages();
        let after = code_rss_kb();
        assert!(
            after < before,
            "code resident {before} kB before, {after} kB after"
        );
        // The test goes on running code from the same mapping.
        trim();
        assert!(code_rss_kb() > 0);
    }
}
