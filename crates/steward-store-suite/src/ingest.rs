//! Metric ingest as the server's group commit uses it: many batches of
//! several devices in one call.

use crate::{batch, device};
use std::sync::Arc;
use steward_store::*;

const MINUTE: i64 = 60_000;

pub async fn a_group_of_batches_is_stored_as_one(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let a = device(store.as_ref(), org, "fp-a").await;
    let b = device(store.as_ref(), org, "fp-b").await;
    let mut group = Vec::new();
    for seq in 1..=150u64 {
        group.push(batch(a, org, seq, seq as i64 * MINUTE, 0.1));
        group.push(batch(b, org, seq, seq as i64 * MINUTE, 0.2));
    }
    // Resent within the group; then a late sample (older than the open
    // chunk's end) and one more in order.
    group.push(batch(a, org, 150, 150 * MINUTE, 0.9));
    group.push(batch(a, org, 151, MINUTE / 2, 0.3));
    group.push(batch(a, org, 152, 152 * MINUTE, 0.4));
    let outcomes = store.ingest(&group).await.unwrap();
    let stored = |o: &&IngestOutcome| **o == IngestOutcome::Stored;
    assert_eq!(outcomes.len(), group.len());
    assert_eq!(outcomes.iter().filter(stored).count(), 302);
    assert_eq!(outcomes[300], IngestOutcome::Duplicate);
    assert_eq!(store.stored_seq(a).await.unwrap(), 152);
    assert_eq!(store.stored_seq(b).await.unwrap(), 150);

    // One more batch later goes on in the open chunk, not the late one.
    let more = store
        .ingest(&[batch(a, org, 153, 153 * MINUTE, 0.5)])
        .await
        .unwrap();
    assert_eq!(more, [IngestOutcome::Stored]);
    let query = |device_id| MetricQuery {
        device_id,
        name: "system.cpu.utilization".into(),
        from_ms: 0,
        to_ms: i64::MAX,
    };
    let series = store.query_metric(&Scope::all(), &query(a)).await.unwrap();
    let ts: Vec<i64> = series[0].samples.iter().map(|s| s.0).collect();
    let mut expected: Vec<i64> = (1..=150).chain(152..=153).map(|m| m * MINUTE).collect();
    expected.insert(0, MINUTE / 2);
    assert_eq!(ts, expected);
    assert_eq!(
        series[0].samples[150].1, 0.1,
        "the resent batch changed nothing"
    );
    let series = store.query_metric(&Scope::all(), &query(b)).await.unwrap();
    assert_eq!(series[0].samples.len(), 150);

    let stats = store.storage_stats().await.unwrap();
    assert_eq!(stats.series, 4);
    assert_eq!(stats.samples, (153 + 150) * 2);
    // Device a: 120 + 32 in order and 1 late, per series; device b: 120 + 30.
    assert_eq!(stats.chunks, 2 * 3 + 2 * 2, "{stats:?}");
    let listed = store.list_devices(&Scope::all()).await.unwrap();
    let a_row = listed.iter().find(|d| d.id == a).unwrap();
    assert_eq!(a_row.cpu_utilization, Some(0.5));
    // Every device of the group has its row updated (one statement for
    // all of them on SQLite); a figure no batch sent stays unset.
    let b_row = listed.iter().find(|d| d.id == b).unwrap();
    assert_eq!(b_row.cpu_utilization, Some(0.2));
    assert_eq!(b_row.disk_utilization, Some(0.5));
    assert_eq!(b_row.memory_utilization, None);
}

/// A device gets at most [`MAX_SERIES_PER_DEVICE`] series: points of new
/// series beyond it are counted and dropped; its existing series and other
/// devices go on as before (a hostile agent sent 6,000 new series in three
/// batches).
pub async fn series_per_device_are_capped(store: Arc<dyn Store>) {
    let org = store.default_org().await.unwrap().id;
    let greedy = device(store.as_ref(), org, "fp-greedy").await;
    let modest = device(store.as_ref(), org, "fp-modest").await;
    let cap = MAX_SERIES_PER_DEVICE as usize;
    let many = |seq: u64, from: usize, count: usize| IngestBatch {
        device_id: greedy,
        org_id: org,
        seq,
        ts_ms: seq as i64 * MINUTE,
        points: (from..from + count)
            .map(|i| steward_proto::Point {
                name: "invented.series".into(),
                labels: [("n".to_string(), i.to_string())].into(),
                value: 1.0,
            })
            .collect(),
    };
    let before = store.points_refused();
    let stored = vec![IngestOutcome::Stored];
    assert_eq!(store.ingest(&[many(1, 0, cap - 10)]).await.unwrap(), stored);
    // 60 new series, room for 10: the batch is stored, 50 points dropped.
    assert_eq!(store.ingest(&[many(2, cap, 60)]).await.unwrap(), stored);
    assert_eq!(store.points_refused() - before, 50);
    // Five existing series are stored, five new ones are not.
    let mut mixed = many(3, 0, 5);
    mixed.points.extend(many(3, 10 * cap, 5).points);
    store.ingest(&[mixed]).await.unwrap();
    assert_eq!(store.points_refused() - before, 55);
    assert_eq!(store.stored_seq(greedy).await.unwrap(), 3);
    let stats = store.storage_stats().await.unwrap();
    assert_eq!(stats.series, cap as u64, "{stats:?}");
    // Another device is not affected.
    store
        .ingest(&[batch(modest, org, 1, MINUTE, 0.5)])
        .await
        .unwrap();
    assert_eq!(store.storage_stats().await.unwrap().series, cap as u64 + 2);
    let series = store
        .query_metric(
            &Scope::all(),
            &MetricQuery {
                device_id: greedy,
                name: "invented.series".into(),
                from_ms: 0,
                to_ms: i64::MAX,
            },
        )
        .await
        .unwrap();
    assert_eq!(series.len(), cap);
    let samples: usize = series.iter().map(|s| s.samples.len()).sum();
    // cap - 10 of batch 1, 10 of batch 2, the 5 existing of batch 3.
    assert_eq!(samples, cap + 5);
}
