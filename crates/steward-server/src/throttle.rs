//! Sign-in throttling: consecutive failures per account and per source
//! address lock further attempts with a growing delay. Pure bookkeeping,
//! in memory (a restart forgets; the delays are minutes, not days).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the first lock, per account / per address.
pub const ACCOUNT_FREE_FAILURES: u32 = 5;
pub const ADDRESS_FREE_FAILURES: u32 = 20;
const FIRST_LOCK: Duration = Duration::from_secs(30);
const MAX_LOCK: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Entry {
    failures: u32,
    locked_until: Option<Instant>,
}

#[derive(Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `key` must still wait, if it is locked.
    pub fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        self.lock()
            .get(key)
            .and_then(|e| e.locked_until)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Records a failure; locks the key once it has used its free failures,
    /// doubling the lock with each further failure.
    pub fn fail(&self, key: &str, free: u32, now: Instant) {
        let mut entries = self.lock();
        let entry = entries.entry(key.to_string()).or_default();
        entry.failures += 1;
        if entry.failures >= free {
            let exponent = (entry.failures - free).min(16);
            let lock = FIRST_LOCK.saturating_mul(1 << exponent).min(MAX_LOCK);
            entry.locked_until = Some(now + lock);
        }
    }

    pub fn succeed(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_free_failures_and_grows() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..4 {
            t.fail("user:a", 5, now);
        }
        assert_eq!(t.wait("user:a", now), None);
        t.fail("user:a", 5, now);
        assert_eq!(t.wait("user:a", now), Some(FIRST_LOCK));
        t.fail("user:a", 5, now);
        assert_eq!(t.wait("user:a", now), Some(FIRST_LOCK * 2));
        assert_eq!(t.wait("user:a", now + FIRST_LOCK * 3), None);
        t.succeed("user:a");
        assert_eq!(t.wait("user:a", now), None);
    }
}
