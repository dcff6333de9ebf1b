//! Sign-in throttling. Pure bookkeeping, in memory (a restart forgets; the
//! delays are seconds to minutes, not days).
//!
//! An attempt is *reserved* before its password is hashed, under one lock,
//! so parallel guesses cannot all slip past a limit: a key admits a new
//! attempt only while its failures plus the attempts still in flight are
//! below its free failures (or, once it has used them and its back-off has
//! run out, one probe at a time). A failure locks the key with an
//! exponential back-off from [`FIRST_LOCK`]; a success releases the
//! reservation and clears the (address, account) pair.
//!
//! Three counters take part, so that a stranger's burst costs the stranger
//! rather than the account's owner:
//! - **(address, account)**: [`PAIR`], 5 free failures. A stranger locks
//!   themselves out of the victim's account, not the victim.
//! - **address**: [`ADDRESS`], 20 free failures whatever the account names
//!   (password spraying from one place). IPv6 addresses count per /64.
//! - **account**, from anywhere: [`ACCOUNT`], a ceiling on guessing one
//!   password from many addresses. It does not apply to addresses the
//!   account has signed in from before (the last [`KNOWN_ADDRESSES`]), so a
//!   distributed attack does not lock the owner out of their usual places,
//!   and its back-off stays short ([`ACCOUNT`]'s `max_lock`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures a counter forgives and how it backs off after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub free: u32,
    pub max_lock: Duration,
}

pub const FIRST_LOCK: Duration = Duration::from_secs(2);
pub const PAIR: Limits = Limits {
    free: 5,
    max_lock: Duration::from_secs(15 * 60),
};
pub const ADDRESS: Limits = Limits {
    free: 20,
    max_lock: Duration::from_secs(15 * 60),
};
pub const ACCOUNT: Limits = Limits {
    free: 100,
    max_lock: Duration::from_secs(5 * 60),
};
/// Addresses per account exempt from the account ceiling.
pub const KNOWN_ADDRESSES: usize = 8;
/// A counter without a failure for this long starts again from nothing.
const FORGET: Duration = Duration::from_secs(3600);
/// What to wait while other attempts of a key are still being checked.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, String),
    Address(String),
    Account(String),
}

impl Key {
    fn limits(&self) -> Limits {
        match self {
            Key::Pair(..) => PAIR,
            Key::Address(_) => ADDRESS,
            Key::Account(_) => ACCOUNT,
        }
    }
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    in_flight: u32,
    locked_until: Option<Instant>,
    last_failure: Instant,
}

impl Entry {
    fn new(now: Instant) -> Self {
        Self {
            failures: 0,
            in_flight: 0,
            locked_until: None,
            last_failure: now,
        }
    }

    /// None when a new attempt may start now; else how long to wait.
    fn refusal(&self, limits: Limits, now: Instant) -> Option<Duration> {
        if let Some(wait) = self
            .locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
        {
            return Some(wait);
        }
        let free = self.failures + self.in_flight < limits.free;
        let probe = self.failures >= limits.free && self.in_flight == 0;
        (!free && !probe).then_some(IN_FLIGHT_WAIT)
    }

    fn forgotten(&self, now: Instant) -> bool {
        self.in_flight == 0 && now.saturating_duration_since(self.last_failure) >= FORGET
    }
}

/// The back-off after the `failures`-th failure of a counter.
pub fn lock_after(limits: Limits, failures: u32) -> Option<Duration> {
    let beyond = failures.checked_sub(limits.free)?;
    Some(
        FIRST_LOCK
            .saturating_mul(1u32 << beyond.min(20))
            .min(limits.max_lock),
    )
}

/// The address a counter is kept for: IPv4 as is, IPv6 per /64 (one
/// customer's network), IPv4-mapped IPv6 as IPv4.
pub fn source_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    /// Account → addresses it signed in from, most recent last.
    known: HashMap<String, Vec<String>>,
    pruned: Option<Instant>,
}

impl Inner {
    fn prune(&mut self, now: Instant) {
        if self
            .pruned
            .is_some_and(|at| now.saturating_duration_since(at) < PRUNE_EVERY)
        {
            return;
        }
        self.pruned = Some(now);
        self.entries.retain(|_, e| !e.forgotten(now));
    }

    fn release(&mut self, keys: &[Key]) {
        for key in keys {
            if let Some(entry) = self.entries.get_mut(key) {
                entry.in_flight = entry.in_flight.saturating_sub(1);
            }
        }
    }
}

#[derive(Default)]
pub struct Throttle {
    inner: Mutex<Inner>,
}

/// A reserved sign-in attempt. Say how it went with [`Attempt::failed`] or
/// [`Attempt::succeeded`]; dropped without either (the password was never
/// checked: the server was busy, the store failed) it counts for nothing.
#[must_use]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    keys: Vec<Key>,
    account: String,
    source: String,
    settled: bool,
}

impl Throttle {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves an attempt to sign in to `account` from `ip`, or says how
    /// long to wait first (the longest wait of the counters refusing).
    pub fn begin(&self, ip: IpAddr, account: &str, now: Instant) -> Result<Attempt<'_>, Duration> {
        let source = source_of(ip);
        // Usernames are at most 64 bytes; longer names cannot grow the map.
        let mut cut = account.len().min(64);
        while !account.is_char_boundary(cut) {
            cut -= 1;
        }
        let account = &account[..cut];
        let mut inner = self.lock();
        inner.prune(now);
        let mut keys = vec![
            Key::Pair(source.clone(), account.to_string()),
            Key::Address(source.clone()),
        ];
        let known = inner
            .known
            .get(account)
            .is_some_and(|addresses| addresses.contains(&source));
        if !known {
            keys.push(Key::Account(account.to_string()));
        }
        let wait = keys
            .iter()
            .filter_map(|key| inner.entries.get(key)?.refusal(key.limits(), now))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in &keys {
            inner
                .entries
                .entry(key.clone())
                .or_insert_with(|| Entry::new(now))
                .in_flight += 1;
        }
        Ok(Attempt {
            throttle: self,
            keys,
            account: account.to_string(),
            source,
            settled: false,
        })
    }
}

impl Attempt<'_> {
    /// A wrong password or code: counts against every counter.
    pub fn failed(mut self, now: Instant) {
        self.settled = true;
        let mut inner = self.throttle.lock();
        inner.release(&self.keys);
        for key in &self.keys {
            let entry = inner
                .entries
                .entry(key.clone())
                .or_insert_with(|| Entry::new(now));
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            if let Some(lock) = lock_after(key.limits(), entry.failures) {
                entry.locked_until = Some(now + lock);
            }
        }
    }

    /// Signed in: the pair starts afresh and the address becomes one of the
    /// account's known ones. The address and account counters keep their
    /// failures (an attacker's own account must not reset them).
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut inner = self.throttle.lock();
        inner.release(&self.keys);
        if let Some(pair) = inner.entries.get_mut(&self.keys[0]) {
            pair.failures = 0;
            pair.locked_until = None;
        }
        let known = inner.known.entry(self.account.clone()).or_default();
        known.retain(|a| *a != self.source);
        known.push(self.source.clone());
        if known.len() > KNOWN_ADDRESSES {
            known.remove(0);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.lock().release(&self.keys);
        }
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
