//! A database written by release 0.1 (`fixtures/v0.1/steward.db` of the
//! store suite) opens with today's code, migrates forward and reads back
//! unchanged. `generate_fixture` (ignored) is how that file was made: run
//! it only on a checkout of the release the fixture stands for (see the
//! fixture directory's README).

use std::path::PathBuf;
use steward_store::Store;
use steward_store_sql::SqlStore;
use steward_store_suite::fixture;

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../steward-store-suite/fixtures/v0.1/steward.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v0_1_database_migrates_forward_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("steward.db");
    std::fs::copy(fixture_path(), &copy).expect("the v0.1 fixture (fixtures/v0.1/steward.db)");
    let store = SqlStore::open_sqlite(&copy)
        .await
        .expect("opens and migrates");
    fixture::verify(&store).await;
    store.close().await;
}

/// Writes `fixtures/v0.1/steward.db`: the fixture populated into a fresh
/// database, copied out with `VACUUM INTO` (one compact file, no WAL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the fixture; run on purpose only (see fixtures/v0.1/README.md)"]
async fn generate_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("steward.db"))
        .await
        .unwrap();
    fixture::populate(&store).await;
    let dest = fixture_path();
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    if dest.exists() {
        std::fs::remove_file(&dest).unwrap();
    }
    store.backup_to(&dest).await.unwrap();
    store.close().await;
    eprintln!("wrote {}", dest.display());
}
