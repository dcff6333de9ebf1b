//! SQLite has one write lock, and the metric ingest writer takes it again
//! the moment it lets it go. A write that waits for it meanwhile (an alert
//! opening, its notification queued) sits in SQLite's busy handler, which
//! sleeps and retries; against a busy ingest writer it kept losing, and
//! alerts waited seconds behind ingest (`steward-bench alert-latency`).
//!
//! So those writes say that they wait ([`WriteGate::begin`]), and the
//! ingest writer lets them go first ([`WriteGate::yield_to_waiting`]),
//! for at most [`YIELD_AT_MOST`] per group so that ingest always moves on.
//! PostgreSQL locks rows, not the database: there the gate never waits.

use crate::db::{Db, Tx};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest the ingest writer holds back one group for other writes.
pub(crate) const YIELD_AT_MOST: Duration = Duration::from_millis(150);

#[derive(Default)]
pub(crate) struct WriteGate {
    /// Writes waiting for their transaction to begin.
    waiting: AtomicUsize,
    /// Told when none waits any more.
    none_waiting: Notify,
}

/// Counts a waiting write while it lives (also when its future is dropped).
struct Waiting<'a>(&'a WriteGate);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none_waiting.notify_waiters();
        }
    }
}

impl WriteGate {
    /// Begins a write transaction that goes ahead of the ingest writer's
    /// next group.
    pub(crate) async fn begin(&self, db: &Db) -> Result<Tx, sqlx::Error> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(self);
        db.begin().await
    }

    /// Waits until no write waits to begin, or for [`YIELD_AT_MOST`].
    pub(crate) async fn yield_to_waiting(&self) {
        let deadline = tokio::time::Instant::now() + YIELD_AT_MOST;
        loop {
            let mut cleared = std::pin::pin!(self.none_waiting.notified());
            cleared.as_mut().enable();
            if self.waiting.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, cleared).await.is_err() {
                return;
            }
        }
    }

    /// Writes waiting now (for tests).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn ingest_waits_for_a_waiting_write_and_no_longer() {
        let gate = Arc::new(WriteGate::default());
        // Nobody waits: no wait.
        let start = tokio::time::Instant::now();
        gate.yield_to_waiting().await;
        assert!(start.elapsed() < YIELD_AT_MOST);

        // One waits: the writer goes on once it stops waiting.
        gate.waiting.fetch_add(1, Ordering::AcqRel);
        let waiter = Waiting(&gate);
        let yielding = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.yield_to_waiting().await })
        };
        tokio::task::yield_now().await;
        assert!(!yielding.is_finished());
        drop(waiter);
        tokio::time::timeout(YIELD_AT_MOST * 10, yielding)
            .await
            .expect("the writer went on when the write stopped waiting")
            .unwrap();
        assert_eq!(gate.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_never_begins_holds_ingest_back_only_so_long() {
        let gate = WriteGate::default();
        gate.waiting.fetch_add(1, Ordering::AcqRel);
        let start = tokio::time::Instant::now();
        gate.yield_to_waiting().await;
        assert_eq!(start.elapsed(), YIELD_AT_MOST);
    }
}
