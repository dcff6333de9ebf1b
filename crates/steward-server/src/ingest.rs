//! Group commit: metric batches from all connections go through a writer
//! task that stores whatever has queued up in one transaction, then answers
//! each sender. A batch is acked only after its transaction committed. One
//! writer on SQLite (one write lock); several on PostgreSQL, each device's
//! batches always on the same one.

use crate::ServerCounters;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use steward_store::{IngestBatch, IngestOutcome, Store};
use tokio::sync::{mpsc, oneshot};

/// Most batches stored in one transaction. Small on purpose: SQLite has one
/// write lock, and alert changes wait for it; 16 batches of 100 points keep
/// each hold near 100 ms (steward-bench alert-latency: p99 1.5 s at 512,
/// 0.66 s at 16, at 10,000 series/s).
const MAX_GROUP: usize = 16;
const QUEUE_DEPTH: usize = 8192;
/// How long a writer waits for more batches when fewer than `MAX_GROUP`
/// are queued. A transaction costs a fixed handful of statements (begin,
/// the devices' sequence numbers, commit with its WAL write) and a thread
/// hand-off for each; at 1,000 agents (17 batches/s) nearly every batch was
/// a transaction of its own. Acks wait at most this much longer; alerts do
/// not wait at all (they are evaluated on receipt).
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);

type Reply = oneshot::Sender<Result<IngestOutcome, String>>;

#[derive(Clone)]
pub struct IngestQueue {
    /// One queue per writer task; a device's batches always take the same
    /// one, so they are stored in the order they came.
    writers: Arc<[mpsc::Sender<(IngestBatch, Reply)>]>,
}

impl IngestQueue {
    /// Batches waiting for the store writers.
    pub fn depth(&self) -> usize {
        self.writers
            .iter()
            .map(|tx| tx.max_capacity() - tx.capacity())
            .sum()
    }

    /// Starts as many writers as the store usefully runs at once
    /// ([`Store::ingest_writers`]).
    pub fn start(store: Arc<dyn Store>, counters: Arc<ServerCounters>) -> Self {
        let count = store.ingest_writers().clamp(1, 16);
        let writers = (0..count)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH / count);
                tokio::spawn(writer(store.clone(), counters.clone(), rx));
                tx
            })
            .collect();
        Self { writers }
    }

    /// Queues a batch at once, in the order of calls, waiting only for room
    /// in its writer's queue; the returned future resolves once the batch
    /// is durable (or known duplicate).
    ///
    /// Callers queue a device's batches one after the other and await the
    /// results later (the gateway keeps up to 32 in flight). Queuing inside
    /// those result futures instead would leave the order to whichever is
    /// polled first, and a later batch stored first makes the earlier ones
    /// "duplicates": acknowledged, never stored (`tests/ingest_order.rs`).
    pub async fn enqueue(&self, batch: IngestBatch) -> Result<Stored, String> {
        let index = (batch.device_id.as_u128() % self.writers.len() as u128) as usize;
        let permit = self.writers[index]
            .reserve()
            .await
            .map_err(|_| "ingest stopped".to_string())?;
        let (reply, wait) = oneshot::channel();
        permit.send((batch, reply));
        Ok(Box::pin(async move {
            wait.await.map_err(|_| "ingest stopped".to_string())?
        }))
    }
}

/// A queued batch's outcome, once its transaction committed.
pub type Stored = Pin<Box<dyn Future<Output = Result<IngestOutcome, String>> + Send>>;

async fn writer(
    store: Arc<dyn Store>,
    counters: Arc<ServerCounters>,
    mut rx: mpsc::Receiver<(IngestBatch, Reply)>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        if group.len() < MAX_GROUP {
            let deadline = tokio::time::Instant::now() + LINGER;
            while group.len() < MAX_GROUP {
                let room = MAX_GROUP - group.len();
                match tokio::time::timeout_at(deadline, rx.recv_many(&mut group, room)).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        let (batches, replies): (Vec<_>, Vec<_>) = group.drain(..).unzip();
        match store.ingest(&batches).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let counter = match outcome {
                        IngestOutcome::Stored => &counters.batches_stored,
                        _ => &counters.batches_duplicate,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::error!(%error, batches = batches.len(), "Storing metric batches failed; agents will resend.");
                for reply in replies {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
        }
    }
}
