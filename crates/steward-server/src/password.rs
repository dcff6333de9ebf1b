//! Checking passwords with bounded memory. One Argon2id check (the default
//! parameters: m = 19 MiB, t = 2) needs 19 MiB of working memory; letting
//! every unauthenticated sign-in allocate its own made 40 parallel ones
//! cost ~800 MB, and glibc kept much of it afterwards (a freed block of
//! that size raises its mmap threshold, so later ones come from per-thread
//! arenas that are not given back). So at most [`CONCURRENT`] checks run at
//! once, each on one of as many working buffers allocated once and reused:
//! the resident cost is `CONCURRENT × 19 MiB`, however many sign-ins come.
//! A caller that would wait longer than [`MAX_WAIT`], or find
//! [`MAX_WAITING`] others already queued, is told the server is busy.

use argon2::password_hash::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub const CONCURRENT: usize = 2;
pub const MAX_WAITING: usize = 16;
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// Too many checks queued: try again shortly.
#[derive(Debug, thiserror::Error)]
#[error("the server is busy checking other sign-ins")]
pub struct Busy;

pub struct Passwords {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// Working memory of the checks not running (one per permit at most).
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    max_wait: Duration,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new(CONCURRENT, MAX_WAIT)
    }
}

/// Decrements the queue length however the wait ends (also when the
/// request is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Passwords {
    pub fn new(concurrent: usize, max_wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            buffers: Arc::default(),
            max_wait,
        }
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        let _queued = Waiting(&self.waiting);
        match tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy),
        }
    }

    /// Whether `password` matches the PHC string `hash` (false for a hash
    /// that does not parse). The permit and the buffer go with the check,
    /// so a request dropped mid-check cannot start another one early.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, Busy> {
        let permit = self.permit().await?;
        let buffers = self.buffers.clone();
        tokio::task::spawn_blocking(move || {
            let mut memory = lock(&buffers).pop().unwrap_or_default();
            let ok = verify_with(&mut memory, &password, &hash);
            lock(&buffers).push(memory);
            drop(permit);
            ok
        })
        .await
        .map_err(|_| Busy)
    }

    /// A new PHC hash of `password`, under the same bound as checks: at
    /// most [`CONCURRENT`] Argon2 computations hold memory at once, however
    /// many users are created or passwords reset together.
    pub async fn hash(&self, password: String) -> Result<anyhow::Result<String>, Busy> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let hashed = crate::auth::hash_password(&password);
            drop(permit);
            hashed
        })
        .await
        .map_err(|_| Busy)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Verifies with `memory` as Argon2's working memory (grown as needed,
/// kept for the next check). The comparison is constant-time (`Output`).
pub fn verify_with(memory: &mut Vec<Block>, password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    argon2
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_hashes_of_the_default_parameters_with_reused_memory() {
        let hash = crate::auth::hash_password("a-long-test-password").unwrap();
        let mut memory = Vec::new();
        assert!(verify_with(&mut memory, "a-long-test-password", &hash));
        let size = memory.len();
        assert_eq!(size, Params::DEFAULT_M_COST as usize);
        assert!(!verify_with(&mut memory, "a-long-test-passwore", &hash));
        assert!(!verify_with(&mut memory, "x", "not a hash"));
        assert_eq!(memory.len(), size, "the working memory is reused");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_beyond_the_queue_are_refused_not_queued() {
        let passwords = Arc::new(Passwords::new(1, Duration::from_millis(50)));
        let hash = crate::auth::hash_password("pw").unwrap();
        // One check holds the only permit; the next waits 50 ms and gives up.
        let held = passwords.permit().await.unwrap();
        let busy = passwords.verify("pw".into(), hash.clone()).await;
        assert!(busy.is_err());
        assert_eq!(passwords.waiting.load(Ordering::Acquire), 0);
        drop(held);
        assert_eq!(passwords.verify("pw".into(), hash).await.ok(), Some(true));
    }
}
