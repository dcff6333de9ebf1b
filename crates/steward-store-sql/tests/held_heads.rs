//! Open chunks held in memory by one store's writer while another store on
//! the same database writes the same series (a replica that took the device
//! over) or retention folds the chunk away: nothing is lost or stored twice.
//! On SQLite (two stores on one file) and on PostgreSQL (needs
//! STEWARD_TEST_POSTGRES; skipped without it).

use steward_proto::Point;
use steward_store::*;
use steward_store_sql::SqlStore;
use uuid::Uuid;

fn batch(device: Uuid, org: Uuid, seq: u64, ts_ms: i64) -> IngestBatch {
    IngestBatch {
        device_id: device,
        org_id: org,
        seq,
        ts_ms,
        points: vec![Point {
            name: "x".into(),
            labels: Default::default(),
            value: seq as f64,
        }],
    }
}

async fn samples(store: &SqlStore, device: Uuid, to_ms: i64) -> Vec<(i64, f64)> {
    let query = MetricQuery {
        device_id: device,
        name: "x".into(),
        from_ms: 0,
        to_ms,
    };
    let series = store.query_metric(&Scope::all(), &query).await.unwrap();
    series.into_iter().flat_map(|s| s.samples).collect()
}

/// Stores batch `seq` (at `seq` seconds, value `seq`) through `store`.
async fn ingest_on(store: &SqlStore, device: Uuid, org: Uuid, seq: u64) -> Vec<IngestOutcome> {
    let batch = batch(device, org, seq, seq as i64 * 1000);
    store.ingest(&[batch]).await.unwrap()
}

async fn check(a: SqlStore, b: SqlStore) {
    let org = a.default_org().await.unwrap().id;
    let device = Uuid::now_v7();
    a.create_device(&NewDevice {
        id: device,
        org_id: org,
        site: "s".into(),
        name: "d".into(),
        hostname: "d".into(),
        tags: Vec::new(),
        cert_fingerprint: "f".into(),
        enrolled_at: 0,
    })
    .await
    .unwrap();
    // A holds the head after its groups; B (the device moved to it) grows
    // the same chunk; A (the device back) must not write over B's samples.
    for seq in 1..=2 {
        assert_eq!(
            ingest_on(&a, device, org, seq).await,
            vec![IngestOutcome::Stored]
        );
    }
    for seq in 3..=4 {
        assert_eq!(
            ingest_on(&b, device, org, seq).await,
            vec![IngestOutcome::Stored]
        );
    }
    assert_eq!(
        ingest_on(&a, device, org, 5).await,
        vec![IngestOutcome::Stored]
    );
    // A duplicate is still one.
    assert_eq!(
        ingest_on(&b, device, org, 5).await,
        vec![IngestOutcome::Duplicate]
    );
    let expect: Vec<(i64, f64)> = (1..=5).map(|s| (s * 1000, s as f64)).collect();
    assert_eq!(samples(&a, device, 100_000).await, expect);
    let stats = a.storage_stats().await.unwrap();
    assert_eq!((stats.chunks, stats.samples), (1, 5), "one chunk grown");

    // Retention folds the held chunk away; A's next sample is not lost
    // with it.
    let policy = Retention {
        raw_ms: 1,
        five_minute_ms: 1_000_000_000,
        hourly_ms: 1_000_000_000,
    };
    a.apply_retention(10_000, &policy).await.unwrap();
    assert_eq!(
        ingest_on(&a, device, org, 20).await,
        vec![IngestOutcome::Stored]
    );
    let after = samples(&a, device, 100_000).await;
    assert!(after.contains(&(20_000, 20.0)), "{after:?}");
    assert_eq!(
        ingest_on(&a, device, org, 21).await,
        vec![IngestOutcome::Stored]
    );
    let after = samples(&b, device, 100_000).await;
    assert!(
        after.ends_with(&[(20_000, 20.0), (21_000, 21.0)]),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_stale_held_head_is_read_again_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steward.db");
    let a = SqlStore::open_sqlite(&path).await.unwrap();
    let b = SqlStore::open_sqlite(&path).await.unwrap();
    check(a, b).await;
}

#[tokio::test]
async fn a_stale_held_head_is_read_again_on_postgres() {
    let Some((db, a)) = steward_store_sql::testdb::store().await else {
        eprintln!("STEWARD_TEST_POSTGRES not set: skipped");
        return;
    };
    let b = SqlStore::connect_postgres(&db.url).await.unwrap();
    check(a, b).await;
}
