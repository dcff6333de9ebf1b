//! The server's ingest queue runs several writers on PostgreSQL; each
//! device's batches must still be stored in the order they came, or a
//! batch committed after a later one of its device would count as a
//! duplicate and be lost. Batches of eight devices are queued the way the
//! gateway does (one after the other per device, results awaited together):
//! every one is stored. Queuing inside the awaited futures instead (as the
//! gateway did) loses batches here: from the 130th on, tokio's cooperative
//! budget makes a send wait, and the futures polled next overtake it.
//! Needs STEWARD_TEST_POSTGRES.

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use std::sync::Arc;
use steward_server::ServerCounters;
use steward_server::ingest::IngestQueue;
use steward_store::{IngestOutcome, Store};

const DEVICES: usize = 8;
const BATCHES: u64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_writers_keep_each_devices_order() {
    let Some((_db, store)) = steward_store_sql::testdb::store().await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(store);
    assert!(store.ingest_writers() > 1, "PostgreSQL ingests in parallel");
    let org = store.default_org().await.unwrap().id;
    let mut devices = Vec::new();
    for i in 0..DEVICES {
        devices.push(steward_store_suite::device(store.as_ref(), org, &format!("fp{i}")).await);
    }
    let queue = IngestQueue::start(store.clone(), Arc::new(ServerCounters::default()));
    let mut per_device = Vec::new();
    for &device in &devices {
        let queue = queue.clone();
        per_device.push(tokio::spawn(async move {
            let mut pending = FuturesOrdered::new();
            for seq in 1..=BATCHES {
                let batch = steward_store_suite::batch(device, org, seq, seq as i64 * 1000, 0.5);
                pending.push_back(queue.enqueue(batch).await.unwrap());
            }
            pending.collect::<Vec<_>>().await
        }));
    }
    for (device, outcomes) in devices.iter().zip(per_device) {
        let outcomes = outcomes.await.unwrap();
        let stored = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(IngestOutcome::Stored)))
            .count();
        assert_eq!(stored, BATCHES as usize, "device {device}: {outcomes:?}");
        assert_eq!(store.stored_seq(*device).await.unwrap(), BATCHES);
    }
}
