//! Migrations kept honest: every file is listed and applied, both
//! databases count the same versions, and PostgreSQL's 0012 (hot chunks)
//! and SQLite's 0032 are in effect: appends to a series' open chunk write
//! no index entry.

use std::collections::BTreeSet;
use std::path::Path;
use steward_store::*;
use steward_store_sql::db::{Db, q};
use steward_store_sql::migrate::{self, Migration};
use steward_store_sql::{SqlStore, testdb};
use uuid::Uuid;

/// The migration files in `migrations/<dir>`, by name.
fn files(dir: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// What is wrong with one database's list against its directory: files
/// not listed (never applied), listed names without a file, and names
/// whose number is not their place in the list.
fn list_problems(listed: &[Migration], on_disk: &BTreeSet<String>) -> Vec<String> {
    let names: BTreeSet<String> = listed.iter().map(|m| m.file.to_string()).collect();
    let mut problems: Vec<String> = on_disk
        .difference(&names)
        .map(|f| format!("{f} is not in the list, so it is never applied"))
        .collect();
    problems.extend(
        names
            .difference(on_disk)
            .map(|f| format!("{f} is listed but has no file")),
    );
    for (index, migration) in listed.iter().enumerate() {
        let number: Option<usize> = migration.file.get(..4).and_then(|n| n.parse().ok());
        if number != Some(index + 1) {
            problems.push(format!(
                "{} is version {} in the list",
                migration.file,
                index + 1
            ));
        }
    }
    problems
}

fn numbers(listed: &[Migration]) -> Vec<String> {
    listed.iter().map(|m| m.file[..4].to_string()).collect()
}

#[test]
fn every_migration_file_is_listed_in_order_and_both_count_the_same_versions() {
    for (dir, listed) in [("sqlite", migrate::SQLITE), ("postgres", migrate::POSTGRES)] {
        let problems = list_problems(listed, &files(dir));
        assert!(problems.is_empty(), "{dir}: {problems:#?}");
    }
    assert_eq!(
        numbers(migrate::SQLITE),
        numbers(migrate::POSTGRES),
        "a version exists for one database and not the other"
    );
}

#[test]
fn the_list_check_catches_a_file_left_out() {
    let on_disk = files("postgres");
    let short = &migrate::POSTGRES[..migrate::POSTGRES.len() - 1];
    let problems = list_problems(short, &on_disk);
    assert_eq!(
        problems,
        [format!(
            "{} is not in the list, so it is never applied",
            migrate::POSTGRES.last().unwrap().file
        )]
    );
}

async fn versions(db: &Db) -> Vec<i64> {
    q("SELECT version FROM schema_migrations WHERE version > 0 ORDER BY version")
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn sqlite_applies_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("s.db"))
        .await
        .unwrap();
    let all: Vec<i64> = (1..=migrate::SQLITE.len() as i64).collect();
    assert_eq!(versions(store.db()).await, all);
    assert_eq!(store.migrate().await.unwrap(), all.len());
}

/// SQLite's 0032 is in effect: no index of `chunks` holds a column an
/// append rewrites (its end, count or data), so an append writes the row
/// and no index entry; and retention still finds aged chunks through an
/// index, not a scan of every chunk.
#[tokio::test]
async fn sqlite_chunk_appends_write_no_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("s.db"))
        .await
        .unwrap();
    let rewritten: Vec<String> = q("SELECT il.name || '(' || ii.name || ')'
         FROM pragma_index_list('chunks') il, pragma_index_info(il.name) ii
         WHERE ii.name IN ('end_ts', 'count', 'data')")
    .fetch_all(store.db())
    .await
    .unwrap()
    .iter()
    .map(|row| row.get(0))
    .collect();
    assert!(
        rewritten.is_empty(),
        "indexes an append must update: {rewritten:?}"
    );
    let plan: Vec<String> = q("EXPLAIN QUERY PLAN SELECT id FROM chunks
         WHERE resolution = 0 AND start_ts < 5 AND end_ts < 5")
    .fetch_all(store.db())
    .await
    .unwrap()
    .iter()
    .map(|row| row.get("detail"))
    .collect();
    assert!(
        plan.iter()
            .any(|step| step.contains("chunks_resolution_start")),
        "retention's plan: {plan:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_applies_every_version() {
    let Some((_db, store)) = testdb::store().await else {
        return;
    };
    let all: Vec<i64> = (1..=migrate::POSTGRES.len() as i64).collect();
    assert_eq!(versions(store.db()).await, all);
    // 0012 is in effect: the chunk table keeps room for HOT updates.
    let fill = q("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'chunks'")
        .fetch_one(store.db())
        .await
        .unwrap()
        .get::<Option<String>, _>(0);
    assert_eq!(fill.as_deref(), Some("fillfactor=70"));
}

/// Ingests `rounds` batches of one point each for one series (every batch
/// after the first appends to the open chunk: an UPDATE of its row), then
/// returns (updates, HOT updates) of the chunks table once PostgreSQL's
/// statistics show them all.
async fn chunk_updates(store: &SqlStore, rounds: u64) -> (i64, i64) {
    let org = store.default_org().await.unwrap();
    let device = Uuid::now_v7();
    store
        .create_device(&NewDevice {
            id: device,
            org_id: org.id,
            site: "hq".into(),
            name: "d".into(),
            hostname: "h".into(),
            tags: vec![],
            cert_fingerprint: "fp".into(),
            enrolled_at: 1,
        })
        .await
        .unwrap();
    for seq in 1..=rounds {
        store
            .ingest(&[IngestBatch {
                device_id: device,
                org_id: org.id,
                seq,
                ts_ms: 1_000 * seq as i64,
                points: vec![steward_proto::Point {
                    name: "cpu.utilization".into(),
                    labels: Default::default(),
                    value: 0.5,
                }],
            }])
            .await
            .unwrap();
    }
    // Backends report their statistics when idle (within ~10 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row = q("SELECT CAST(n_tup_upd AS BIGINT), CAST(n_tup_hot_upd AS BIGINT) FROM pg_stat_user_tables WHERE relname = 'chunks'")
            .fetch_one(store.db())
            .await
            .unwrap();
        let (updates, hot): (i64, i64) = (row.get(0), row.get(1));
        if updates >= rounds as i64 - 1 || std::time::Instant::now() > deadline {
            return (updates, hot);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// With 0012 the appends are HOT (no index entry per append); without it
/// (the indexes on `end_ts` it drops) they are not: the test that the
/// migration is in effect, and that it is what makes the difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_chunk_appends_are_hot_updates() {
    let Some((_db, store)) = testdb::store().await else {
        return;
    };
    let (updates, hot) = chunk_updates(&store, 100).await;
    eprintln!("with 0012: {hot} of {updates} chunk updates HOT");
    assert!(updates >= 99, "only {updates} chunk updates seen");
    assert!(
        hot * 10 >= updates * 9,
        "{hot} of {updates} chunk updates were HOT with 0012 applied"
    );

    let Some(without) = testdb::create().await else {
        return;
    };
    let pool = sqlx::postgres::PgPool::connect(&without.url).await.unwrap();
    let before = SqlStore::on_postgres(pool);
    // Every migration, then 0012 undone (the store's queries need the
    // later columns): the indexes it dropped back, the default fill.
    migrate::run(before.db()).await.unwrap();
    for undo in [
        "CREATE INDEX chunks_end ON chunks(end_ts)",
        "CREATE INDEX chunks_resolution_end ON chunks(resolution, end_ts)",
        "CREATE INDEX chunks_series ON chunks(series_id, start_ts)",
        "DROP INDEX chunks_resolution_start",
        "ALTER TABLE chunks RESET (fillfactor)",
    ] {
        q(undo).execute(before.db()).await.unwrap();
    }
    let (updates, hot) = chunk_updates(&before, 100).await;
    eprintln!("without 0012: {hot} of {updates} chunk updates HOT");
    assert!(updates >= 99, "only {updates} chunk updates seen");
    assert!(
        hot * 10 < updates,
        "{hot} of {updates} chunk updates were HOT without 0012"
    );
}

/// A PostgreSQL database of 0.1 before its last fix (versions 1 and 2 in
/// 0.1's own numbering: the schema and rollups, never the hot chunks)
/// migrates on to today's numbering and gets 0011 and 0012 applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_0_1_postgres_database_is_renumbered_and_migrated() {
    let Some(db) = testdb::create().await else {
        return;
    };
    let pool = sqlx::postgres::PgPool::connect(&db.url).await.unwrap();
    let store = SqlStore::on_postgres(pool);
    // Today's 1–10 are what 0.1's 1–2 created; then its records, as 0.1
    // wrote them.
    migrate::run_upto(store.db(), 10).await.unwrap();
    q("DELETE FROM schema_migrations")
        .execute(store.db())
        .await
        .unwrap();
    for version in [1i64, 2] {
        q("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 1)")
            .bind(version)
            .execute(store.db())
            .await
            .unwrap();
    }
    assert_eq!(store.migrate().await.unwrap(), migrate::POSTGRES.len());
    let all: Vec<i64> = (1..=migrate::POSTGRES.len() as i64).collect();
    assert_eq!(versions(store.db()).await, all);
    // 0011 and 0012 ran: the sign-in column and the chunk fill factor.
    q("SELECT totp_last_step FROM users")
        .fetch_all(store.db())
        .await
        .unwrap();
    let fill = q("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'chunks'")
        .fetch_one(store.db())
        .await
        .unwrap()
        .get::<Option<String>, _>(0);
    assert_eq!(fill.as_deref(), Some("fillfactor=70"));
    // A second start changes nothing.
    assert_eq!(store.migrate().await.unwrap(), migrate::POSTGRES.len());
    assert_eq!(versions(store.db()).await, all);
}
