//! Gives the allocator's free pages back to the system now and then.
//!
//! A TLS handshake allocates tens of KiB for a moment (certificate parsing,
//! signature checks, the handshake messages); a reconnect storm of thousands
//! of agents leaves glibc's arenas with that much free but fragmented memory
//! that it keeps resident (it trims only the top of an arena). At 1,000
//! agents that was ~12 KiB of RSS per connection (`steward-bench capacity`:
//! 67.0 MiB before a `malloc_trim(0)`, 54.7 MiB after). `malloc_trim(0)`
//! releases every free page of every arena; it walks the free lists (a few
//! ms at most for this heap), so it runs on a blocking thread, rarely.

use std::time::Duration;
use tokio::sync::watch;

/// How often free memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(20);

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    unsafe extern "C" {
        // glibc: `int malloc_trim(size_t pad)`.
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: glibc's malloc_trim takes the arena locks itself; it has no
    // preconditions and only releases pages that hold no live allocation.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

/// Trims every `TRIM_EVERY` until shutdown.
pub fn spawn_trimmer(mut shutdown: watch::Receiver<bool>) {
    if cfg!(not(all(target_os = "linux", target_env = "gnu"))) {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let _ = tokio::task::spawn_blocking(trim).await;
        }
    });
}
