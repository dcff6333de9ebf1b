//! Metric reads and bookkeeping: what a query's range, name and labels
//! select, sequence numbers of unknown devices, what a store reports of its
//! writers and refusals, retention on an empty store, and closing.

use crate::{batch, device};
use std::sync::Arc;
use steward_proto::Point;
use steward_store::*;
use uuid::Uuid;

const MINUTE: i64 = 60_000;

fn query(device_id: Uuid, name: &str, from_ms: i64, to_ms: i64) -> MetricQuery {
    MetricQuery {
        device_id,
        name: name.into(),
        from_ms,
        to_ms,
    }
}

pub async fn metric_queries_select_by_range_name_and_labels(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    let other = device(&*store, org, "fp-2").await;
    assert_eq!(store.stored_seq(dev).await.unwrap(), 0);
    assert!(matches!(
        store.stored_seq(Uuid::now_v7()).await,
        Err(StoreError::NotFound)
    ));
    let net = |seq: u64, value: f64| IngestBatch {
        device_id: dev,
        org_id: org,
        seq,
        ts_ms: seq as i64 * MINUTE,
        points: ["eth0", "wlan0"]
            .iter()
            .map(|nic| Point {
                name: "system.network.io".into(),
                labels: [
                    ("interface".to_string(), nic.to_string()),
                    ("direction".to_string(), "receive".to_string()),
                ]
                .into(),
                value,
            })
            .collect(),
    };
    let outcomes = store
        .ingest(&(1..=10).map(|s| net(s, s as f64)).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(outcomes, vec![IngestOutcome::Stored; 10]);
    store
        .ingest(&[batch(other, org, 1, MINUTE, 0.3)])
        .await
        .unwrap();
    assert_eq!(store.stored_seq(dev).await.unwrap(), 10);
    assert_eq!(
        store
            .get_device(&Scope::all(), dev)
            .await
            .unwrap()
            .stored_seq,
        10
    );

    let mut series = store
        .query_metric(
            &Scope::org(org),
            &query(dev, "system.network.io", 3 * MINUTE, 5 * MINUTE),
        )
        .await
        .unwrap();
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    assert_eq!(series.len(), 2, "one series per label set");
    assert_eq!(series[0].name, "system.network.io");
    assert_eq!(series[0].labels["interface"], "eth0");
    assert_eq!(series[0].labels["direction"], "receive");
    assert_eq!(series[1].labels["interface"], "wlan0");
    for s in &series {
        assert_eq!(
            s.samples,
            [(3 * MINUTE, 3.0), (4 * MINUTE, 4.0), (5 * MINUTE, 5.0)],
            "inclusive range"
        );
    }
    // Another name, another device, a range with nothing in it: nothing.
    let nothing = [
        query(dev, "system.cpu.utilization", 0, i64::MAX),
        query(other, "system.network.io", 0, i64::MAX),
        query(dev, "system.network.io", 11 * MINUTE, 20 * MINUTE),
        query(Uuid::now_v7(), "system.network.io", 0, i64::MAX),
    ];
    for q in &nothing {
        let found = store.query_metric(&Scope::all(), q).await.unwrap();
        assert!(
            found.iter().all(|s| s.samples.is_empty()),
            "{:?}: {found:?}",
            q.name
        );
    }
    // Out of scope: nothing either, for a site the device is not at.
    let branch = Scope {
        allow: vec![Place {
            org: Some(org),
            site: Some("branch".into()),
        }],
        deny: Vec::new(),
    };
    assert!(
        store
            .query_metric(&branch, &query(dev, "system.network.io", 0, i64::MAX))
            .await
            .unwrap()
            .is_empty()
    );
    let stats = store.storage_stats().await.unwrap();
    assert_eq!((stats.series, stats.samples), (4, 22), "{stats:?}");
    assert!(stats.chunks >= 4 && stats.chunk_bytes > 0, "{stats:?}");
}

/// What a store says of itself: at least one ingest writer, and no points
/// refused before any device went over its series cap.
pub async fn writers_and_refusals_are_reported(store: Arc<dyn Store>) {
    let writers = store.ingest_writers();
    assert!((1..=64).contains(&writers), "{writers} ingest writers");
    assert_eq!(store.points_refused(), 0);
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    // One writer per device keeps a device's batches in order: concurrent
    // groups of different devices are all stored.
    let devices: Vec<Uuid> = {
        let mut list = vec![dev];
        for i in 0..writers.min(4) {
            list.push(device(&*store, org, &format!("fp-w{i}")).await);
        }
        list
    };
    let tasks: Vec<_> = devices
        .iter()
        .map(|&d| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .ingest(
                        &(1..=20)
                            .map(|s| batch(d, org, s, s as i64 * MINUTE, 0.5))
                            .collect::<Vec<_>>(),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert!(
            task.await
                .unwrap()
                .iter()
                .all(|o| *o == IngestOutcome::Stored)
        );
    }
    for d in devices {
        assert_eq!(store.stored_seq(d).await.unwrap(), 20);
    }
    assert_eq!(store.points_refused(), 0);
}

pub async fn an_empty_store_has_nothing_to_retain(store: Arc<dyn Store>) {
    let stats = store.storage_stats().await.unwrap();
    assert_eq!(
        (stats.series, stats.chunks, stats.samples, stats.chunk_bytes),
        (0, 0, 0, 0)
    );
    let outcome = store
        .apply_retention(1_700_000_000_000, &Retention::default())
        .await
        .unwrap();
    assert_eq!(outcome, RetentionOutcome::default());
    // Recent raw samples are kept as they are.
    let org = store.default_org().await.unwrap().id;
    let dev = device(&*store, org, "fp-1").await;
    let now = 1_700_000_000_000;
    store
        .ingest(&[batch(dev, org, 1, now - MINUTE, 0.25)])
        .await
        .unwrap();
    let outcome = store
        .apply_retention(now, &Retention::default())
        .await
        .unwrap();
    assert_eq!(outcome, RetentionOutcome::default());
    assert_eq!(store.storage_stats().await.unwrap().samples, 2);
}

/// After `close`, calls fail instead of hanging or succeeding.
pub async fn a_closed_store_refuses_calls(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap();
    store.close().await;
    let after = store.org_by_name(&Scope::all(), &org.name).await;
    assert!(matches!(after, Err(StoreError::Backend(_))), "{after:?}");
    assert!(store.user_count().await.is_err());
}
