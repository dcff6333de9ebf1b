//! A database written by release 0.1 (`fixtures/v0.1/postgres.sql` of the
//! store suite, a plain-SQL pg_dump) restores, opens with today's code,
//! migrates forward and reads back unchanged. Needs STEWARD_TEST_POSTGRES
//! (and fails without it when CI=true). `generate_fixture` (ignored) is how
//! the dump was made: run it only on a checkout of the release the fixture
//! stands for (see the fixture directory's README); it needs `pg_dump`.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::path::PathBuf;
use steward_store::Store;
use steward_store_sql::db::q;
use steward_store_sql::{SqlStore, migrate, testdb};
use steward_store_suite::fixture;

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../steward-store-suite/fixtures/v0.1/postgres.sql")
}

/// The dump as one script for the simple query protocol: without psql's
/// meta-commands (`\restrict` and `\unrestrict`, which recent pg_dump
/// writes around the dump). The dump has no COPY blocks (it was made with
/// `--column-inserts`), so nothing else needs psql.
fn restorable(dump: &str) -> String {
    dump.lines()
        .filter(|line| !line.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v0_1_database_migrates_forward_and_reads_back() {
    let dump = std::fs::read_to_string(fixture_path())
        .expect("the v0.1 fixture (fixtures/v0.1/postgres.sql)");
    let Some(db) = testdb::create().await else {
        return;
    };
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(restorable(&dump)))
        .execute(&mut conn)
        .await
        .expect("the dump restores");
    conn.close().await.unwrap();
    let store = SqlStore::connect_postgres(&db.url)
        .await
        .expect("opens and migrates");
    // 0.1 numbered PostgreSQL's migrations 1-4; they are 1-12 now.
    let versions: Vec<i64> =
        q("SELECT version FROM schema_migrations WHERE version > 0 ORDER BY version")
            .fetch_all(store.db())
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
    assert_eq!(
        versions,
        (1..=migrate::POSTGRES.len() as i64).collect::<Vec<_>>()
    );
    fixture::verify(&store).await;
    store.close().await;
}

/// Writes `fixtures/v0.1/postgres.sql`: the fixture populated into a fresh
/// database, dumped with `pg_dump --no-owner --no-privileges
/// --column-inserts`; the database is dropped afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the fixture; run on purpose only (see fixtures/v0.1/README.md)"]
async fn generate_fixture() {
    let db = testdb::create().await.expect("STEWARD_TEST_POSTGRES");
    let store = SqlStore::connect_postgres(&db.url).await.unwrap();
    fixture::populate(&store).await;
    store.close().await;
    let dest = fixture_path();
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let status = std::process::Command::new("pg_dump")
        .args([
            "--no-owner",
            "--no-privileges",
            "--column-inserts",
            "--file",
        ])
        .arg(&dest)
        .arg(&db.url)
        .status()
        .expect("pg_dump runs");
    assert!(status.success(), "pg_dump failed: {status}");
    eprintln!("wrote {}", dest.display());
}
