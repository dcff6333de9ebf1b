//! Open chunks held in memory by one store's writer while another store on
//! the same database writes the same series (a replica that took the device
//! over) or retention folds the chunk away: nothing is lost or stored twice.
//! A store opened afresh (a restart: no series ids cached) finds the
//! series the database has and creates only new ones.
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

async fn new_device(store: &SqlStore, org: Uuid) -> Uuid {
    let device = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id: device,
            org_id: org,
            site: "s".into(),
            name: "d".into(),
            hostname: "d".into(),
            tags: Vec::new(),
            cert_fingerprint: format!("f-{device}"),
            enrolled_at: 0,
        })
        .await
        .unwrap();
    device
}

async fn check(a: SqlStore, b: SqlStore) {
    let org = a.default_org().await.unwrap().id;
    let device = new_device(&a, org).await;
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

/// Store `a` creates three series (one with labels); `b`, opened afresh on
/// the same database, ingests them again with a fourth: four series, each
/// with both samples.
async fn check_cold_series(a: SqlStore, b: SqlStore) {
    let org = a.default_org().await.unwrap().id;
    let device = new_device(&a, org).await;
    let point = |name: &str, disk: Option<&str>, value: f64| Point {
        name: name.into(),
        labels: disk
            .map(|d| [("disk".to_string(), d.to_string())].into())
            .unwrap_or_default(),
        value,
    };
    let first = IngestBatch {
        device_id: device,
        org_id: org,
        seq: 1,
        ts_ms: 1000,
        points: vec![
            point("x", None, 1.0),
            point("y", Some("sda"), 1.0),
            point("y", Some("sdb"), 1.0),
        ],
    };
    assert_eq!(
        a.ingest(&[first]).await.unwrap(),
        vec![IngestOutcome::Stored]
    );
    let second = IngestBatch {
        device_id: device,
        org_id: org,
        seq: 2,
        ts_ms: 2000,
        points: vec![
            point("y", Some("sdb"), 2.0),
            point("x", None, 2.0),
            point("z", None, 2.0),
            point("y", Some("sda"), 2.0),
        ],
    };
    assert_eq!(
        b.ingest(&[second]).await.unwrap(),
        vec![IngestOutcome::Stored]
    );
    let series = |name: &str| {
        let query = MetricQuery {
            device_id: device,
            name: name.into(),
            from_ms: 0,
            to_ms: 10_000,
        };
        let store = &a;
        async move { store.query_metric(&Scope::all(), &query).await.unwrap() }
    };
    let x = series("x").await;
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].samples, vec![(1000, 1.0), (2000, 2.0)]);
    let y = series("y").await;
    assert_eq!(y.len(), 2, "one series per disk, none twice");
    for s in &y {
        assert_eq!(s.samples, vec![(1000, 1.0), (2000, 2.0)], "{s:?}");
    }
    assert_eq!(series("z").await[0].samples, vec![(2000, 2.0)]);
}

#[tokio::test]
async fn a_restarted_store_finds_its_series_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steward.db");
    let a = SqlStore::open_sqlite(&path).await.unwrap();
    let b = SqlStore::open_sqlite(&path).await.unwrap();
    check_cold_series(a, b).await;
}

#[tokio::test]
async fn a_restarted_store_finds_its_series_on_postgres() {
    let Some((db, a)) = steward_store_sql::testdb::store().await else {
        eprintln!("STEWARD_TEST_POSTGRES not set: skipped");
        return;
    };
    let b = SqlStore::connect_postgres(&db.url).await.unwrap();
    check_cold_series(a, b).await;
}
