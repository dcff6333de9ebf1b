//! A throwaway database for tests: created on the server named by
//! `STEWARD_TEST_POSTGRES` (a URL of a database to connect to for
//! administration, e.g. `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped again when the guard goes. Without the variable, tests skip with
//! a loud message, unless `CI=true`, where that is a failure.

use crate::SqlStore;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

pub const ENV: &str = "STEWARD_TEST_POSTGRES";

/// Drops its database when dropped.
pub struct TestDb {
    admin_url: String,
    name: String,
    pub url: String,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async; a small runtime of its own does the work.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping the test database");
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The admin URL, or `None` after saying loudly why tests skip.
pub fn admin_url() -> Option<String> {
    match std::env::var(ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{ENV} is not set: PostgreSQL tests cannot run in CI without it"
            );
            eprintln!(
                "\n!!! SKIPPED PostgreSQL test: set {ENV}=postgres://postgres@127.0.0.1:5432/postgres to run it\n"
            );
            None
        }
    }
}

/// A new empty database (name `steward_test_<random>`).
pub async fn create() -> Option<TestDb> {
    Some(create_on(&admin_url()?).await)
}

/// A new empty database on the server of `admin_url`.
pub async fn create_on(admin_url: &str) -> TestDb {
    let admin_url = admin_url.to_string();
    let name = format!("steward_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {ENV} ({admin_url}): {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) if base.contains("://") && base.len() > "postgres://".len() => {
            format!("{base}/{name}")
        }
        _ => format!("{admin_url}/{name}"),
    };
    TestDb {
        admin_url,
        name,
        url,
    }
}

/// A migrated store on a new database.
pub async fn store() -> Option<(TestDb, SqlStore)> {
    let db = create().await?;
    let store = SqlStore::connect_postgres(&db.url)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test database: {e}"));
    Some((db, store))
}
