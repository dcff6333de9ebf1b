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
//!   mapped: `trim` also drops the agent's own code and constant pages
//!   from its page tables (`MADV_DONTNEED` on its read-only mappings that
//!   were never written: code, rodata, the relocation tables). They
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
/// never from many threads at once), and no backtraces in errors. Call
/// before any thread starts.
pub fn configure() {
    no_error_backtraces();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if tuning().one_arena {
        // SAFETY: mallopt only sets an allocator parameter; called at
        // start, before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// The agent reports errors as text (`{error:#}`), never their backtraces,
/// yet with `RUST_BACKTRACE=1` in its environment every `anyhow` error
/// would capture one: an unwind through the stack, reading the binary's
/// unwind tables into memory, for each failed probe or backup status read.
/// `RUST_LIB_BACKTRACE=0` turns that capture off (panics, which abort,
/// still honour `RUST_BACKTRACE`); an explicit `RUST_LIB_BACKTRACE` wins.
fn no_error_backtraces() {
    if lib_backtrace_override(std::env::var_os("RUST_LIB_BACKTRACE").as_deref()).is_some() {
        // SAFETY: called from `configure`, at start, before any other
        // thread exists, so nothing reads the environment concurrently
        // (on Windows, where the service dispatcher has threads already,
        // setting a variable is always safe).
        unsafe {
            std::env::set_var("RUST_LIB_BACKTRACE", "0");
        }
    }
}

/// What `RUST_LIB_BACKTRACE` becomes, given what it is: off unless set.
fn lib_backtrace_override(current: Option<&std::ffi::OsStr>) -> Option<&'static str> {
    current.is_none().then_some("0")
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

/// When the collection loop gives memory back on its own, heavy pass or
/// not: a few cycles after start (the start-up passes, inventory,
/// patching, posture, SMART, each touched its own code), then every ten
/// minutes (rare paths add up). What an idle cycle needs comes back at the
/// next cycle; what it does not stays out.
#[derive(Debug, Clone)]
pub struct Settle {
    cycle: u64,
    every: u64,
}

impl Settle {
    /// The cycles after start that trim.
    const AFTER_START: [u64; 2] = [2, 6];

    pub fn new(interval: std::time::Duration) -> Self {
        let every = (600 / interval.as_secs().max(1)).max(1);
        Settle { cycle: 0, every }
    }

    /// Called once per cycle: whether this one trims.
    pub fn tick(&mut self) -> bool {
        self.cycle += 1;
        Self::AFTER_START.contains(&self.cycle) || self.cycle.is_multiple_of(self.every)
    }
}

/// `MADV_DONTNEED` on this binary's read-only mappings, its code and its
/// constant data (text and rodata are never written, so nothing is lost: a
/// page needed again is mapped back from the page cache).
#[cfg(target_os = "linux")]
fn drop_code_pages() {
    let (Ok(exe), Ok(smaps)) = (
        std::fs::read_link("/proc/self/exe"),
        std::fs::read_to_string("/proc/self/smaps"),
    ) else {
        return;
    };
    for (start, len) in read_only_mappings(&smaps, &exe.to_string_lossy()) {
        // SAFETY: the range is a whole mapping of this process's own
        // executable, read-only and without a private (written) page, so
        // dropping its pages loses nothing; they are faulted back in from
        // the file when read again.
        unsafe {
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
        }
    }
}

/// Start and length of each read-only mapping (`r-xp` code, `r--p`
/// constants) of `exe` in a `/proc/PID/smaps` text that holds no private
/// page. The relocated part of the data (RELRO) is read-only too once the
/// loader is done, but it was written: its pages are anonymous, and
/// dropping them would bring back the file's unrelocated bytes, so a
/// mapping with any anonymous page (or none said) is left alone.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn read_only_mappings(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    // The mapping being read, until its `Anonymous:` line says it is clean.
    let mut candidate: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(range) = mapping_header(line, exe) {
            candidate = range;
        } else if let Some(rest) = line.strip_prefix("Anonymous:")
            && let Some(range) = candidate.take()
            && rest.split_whitespace().next() == Some("0")
        {
            found.push(range);
        }
    }
    found
}

/// For a mapping's header line: `Some(Some(range))` when it is a read-only
/// mapping of `exe`, `Some(None)` for any other mapping; `None` for a field
/// line.
fn mapping_header(line: &str, exe: &str) -> Option<Option<(usize, usize)>> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let (Ok(start), Ok(end)) = (
        usize::from_str_radix(start, 16),
        usize::from_str_radix(end, 16),
    ) else {
        return None;
    };
    let perms = fields.next()?;
    let path = fields.nth(3);
    let ours = matches!(perms, "r-xp" | "r--p") && path == Some(exe) && fields.next().is_none();
    Some((ours && end > start).then(|| (start, end - start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_own_clean_read_only_mappings_are_dropped() {
        let smaps = "\
5555c000-5555d000 r--p 00000000 fe:01 42 /usr/bin/steward-agent
Rss:                   4 kB
Anonymous:             0 kB
5555d000-55560000 r-xp 00001000 fe:01 42 /usr/bin/steward-agent
Anonymous:             0 kB
55560000-55561000 r--p 00004000 fe:01 42 /usr/bin/steward-agent
Anonymous:             4 kB
55561000-55562000 rw-p 00005000 fe:01 42 /usr/bin/steward-agent
Anonymous:             0 kB
55562000-55563000 r-xp 00000000 fe:01 43 /usr/lib/libc.so.6
Anonymous:             0 kB
55563000-55564000 r-xp 00000000 fe:01 44 /usr/bin/steward-agent (deleted)
Anonymous:             0 kB
55564000-55565000 r--p 00000000 fe:01 42 /usr/bin/steward-agent
Rss:                   4 kB
7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]
Anonymous:             0 kB
garbage line
";
        // The relocated constants (anonymous pages), the writable data,
        // others' code, a replaced binary and a mapping whose anonymous
        // count is not said are all kept.
        assert_eq!(
            read_only_mappings(smaps, "/usr/bin/steward-agent"),
            vec![(0x5555c000, 0x1000), (0x5555d000, 0x3000)]
        );
    }

    #[test]
    fn the_loop_trims_after_start_then_every_ten_minutes() {
        let trims = |interval: u64, cycles: u64| -> Vec<u64> {
            let mut settle = Settle::new(std::time::Duration::from_secs(interval));
            (1..=cycles).filter(|_| settle.tick()).collect()
        };
        assert_eq!(trims(5, 250), vec![2, 6, 120, 240]);
        assert_eq!(trims(60, 25), vec![2, 6, 10, 20]);
        // Intervals longer than ten minutes trim every cycle; a zero one
        // counts as a second (no division by zero).
        assert_eq!(trims(3600, 3), vec![1, 2, 3]);
        assert_eq!(trims(0, 700), vec![2, 6, 600]);
    }

    #[test]
    fn errors_capture_no_backtrace_unless_the_admin_asks() {
        assert_eq!(lib_backtrace_override(None), Some("0"));
        assert_eq!(lib_backtrace_override(Some("1".as_ref())), None);
        assert_eq!(lib_backtrace_override(Some("0".as_ref())), None);
    }

    #[test]
    fn each_part_can_be_switched_off() {
        let all = parse("");
        assert!(all.one_arena && all.trim_heap && all.drop_code);
        let none = parse("keep-arenas, no-trim,keep-code");
        assert!(!none.one_arena && !none.trim_heap && !none.drop_code);
    }

    /// Resident kB of this executable's read-only mappings.
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
                ours = matches!(perms, "r-xp" | "r--p") && line.ends_with(exe.as_ref());
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
