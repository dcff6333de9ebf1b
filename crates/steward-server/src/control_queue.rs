//! The queue of what the server asks of one live agent connection (orders,
//! acks from elsewhere, a close). Nearly always empty: unlike a tokio
//! channel, which allocates a block of 32 slots when it is made (1.8 KiB a
//! connection with its header), an empty queue here allocates nothing but
//! its small shared state.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

struct Shared<T> {
    queue: Mutex<VecDeque<T>>,
    wake: Notify,
    /// The sender is gone: `recv` returns `None` once the queue is empty.
    closed: AtomicBool,
}

/// The sending side (one per connection, held by `Connections`).
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
    capacity: usize,
}

/// The receiving side, held by the connection's session.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A queue holding at most `capacity` items.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        wake: Notify::new(),
        closed: AtomicBool::new(false),
    });
    (
        Sender {
            shared: shared.clone(),
            capacity,
        },
        Receiver { shared },
    )
}

fn lock<T>(shared: &Shared<T>) -> std::sync::MutexGuard<'_, VecDeque<T>> {
    shared.queue.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back when the queue is full or the receiver
    /// is gone.
    pub fn try_send(&self, item: T) -> Result<(), T> {
        if Arc::strong_count(&self.shared) < 2 {
            return Err(item);
        }
        {
            let mut queue = lock(&self.shared);
            if queue.len() >= self.capacity {
                return Err(item);
            }
            queue.push_back(item);
        }
        self.shared.wake.notify_one();
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

impl<T> Receiver<T> {
    /// The next item, or `None` once the sender is gone and nothing is left.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(item) = lock(&self.shared).pop_front() {
                return Some(item);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                // An item queued just before the close is still delivered.
                return lock(&self.shared).pop_front();
            }
            // `notify_one` leaves a permit when nobody waits, so an item
            // queued between the check above and this wait is not missed.
            self.shared.wake.notified().await;
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Items queued for a session that ended are dropped with it.
        lock(&self.shared).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_in_order_then_ends_when_the_sender_is_gone() {
        let (tx, mut rx) = channel(2);
        assert!(tx.try_send(1).is_ok());
        assert!(tx.try_send(2).is_ok());
        assert_eq!(tx.try_send(3), Err(3), "full");
        assert_eq!(rx.recv().await, Some(1));
        assert!(tx.try_send(4).is_ok());
        drop(tx);
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(4));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn wakes_a_waiting_receiver() {
        let (tx, mut rx) = channel(4);
        let waiter = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        assert!(tx.try_send("close").is_ok());
        assert_eq!(waiter.await.ok().flatten(), Some("close"));
    }

    #[tokio::test]
    async fn refuses_when_the_receiver_is_gone() {
        let (tx, rx) = channel(4);
        drop(rx);
        assert_eq!(tx.try_send(1), Err(1));
    }
}
