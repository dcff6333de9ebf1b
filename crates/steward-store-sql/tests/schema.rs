//! The two back ends' schemas, compared: a fresh SQLite database and a
//! fresh PostgreSQL one, each migrated by its store, must have the same
//! tables, each with the same columns, of the same kind of type, with the
//! same nullability. Needs STEWARD_TEST_POSTGRES (and fails without it when
//! CI=true).
//!
//! Types are compared by class: integer (INTEGER, BIGINT, INT, SMALLINT),
//! text (TEXT), boolean (BOOLEAN; an INTEGER on SQLite stands for one where
//! PostgreSQL has a BOOLEAN), real (REAL, DOUBLE PRECISION), blob (BLOB,
//! BYTEA). Primary-key columns count as NOT NULL on both sides (SQLite's
//! `pragma_table_info` reports a key column declared without NOT NULL as
//! nullable). `schema_migrations` and SQLite's own tables are left out.

use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use std::collections::BTreeMap;
use steward_store::Store;
use steward_store_sql::{SqlStore, testdb};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    Integer,
    Text,
    Boolean,
    Real,
    Blob,
    /// A type of no class above, as declared.
    Other(String),
}

impl Class {
    fn of(declared: &str) -> Self {
        match declared.trim().to_ascii_uppercase().as_str() {
            "INTEGER" | "INT" | "BIGINT" | "SMALLINT" | "INT2" | "INT4" | "INT8" => Class::Integer,
            "TEXT" => Class::Text,
            "BOOLEAN" | "BOOL" => Class::Boolean,
            "REAL" | "DOUBLE PRECISION" | "FLOAT4" | "FLOAT8" | "DOUBLE" => Class::Real,
            "BLOB" | "BYTEA" => Class::Blob,
            other => Class::Other(other.to_string()),
        }
    }

    /// Whether a SQLite column of class `self` matches a PostgreSQL column
    /// of class `pg`.
    fn matches(&self, pg: &Class) -> bool {
        self == pg || (*self == Class::Integer && *pg == Class::Boolean)
    }

    fn name(&self) -> String {
        match self {
            Class::Integer => "integer".into(),
            Class::Text => "text".into(),
            Class::Boolean => "boolean".into(),
            Class::Real => "real".into(),
            Class::Blob => "blob".into(),
            Class::Other(declared) => format!("other ({declared})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    class: Class,
    not_null: bool,
}

/// Table → column → what it is.
type Schema = BTreeMap<String, BTreeMap<String, Column>>;

fn nullability(not_null: bool) -> &'static str {
    if not_null { "NOT NULL" } else { "nullable" }
}

/// Every difference between the SQLite and the PostgreSQL schema, one line
/// each, in table and column order.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    let tables: std::collections::BTreeSet<&String> =
        sqlite.keys().chain(postgres.keys()).collect();
    for table in tables {
        let (lite, pg) = match (sqlite.get(table), postgres.get(table)) {
            (Some(lite), Some(pg)) => (lite, pg),
            (Some(_), None) => {
                found.push(format!("table {table}: only on SQLite"));
                continue;
            }
            (None, _) => {
                found.push(format!("table {table}: only on PostgreSQL"));
                continue;
            }
        };
        let columns: std::collections::BTreeSet<&String> = lite.keys().chain(pg.keys()).collect();
        for column in columns {
            match (lite.get(column), pg.get(column)) {
                (Some(_), None) => found.push(format!("{table}.{column}: only on SQLite")),
                (None, Some(_)) => found.push(format!("{table}.{column}: only on PostgreSQL")),
                (Some(l), Some(p)) => {
                    if !l.class.matches(&p.class) {
                        found.push(format!(
                            "{table}.{column}: {} on SQLite, {} on PostgreSQL",
                            l.class.name(),
                            p.class.name()
                        ));
                    }
                    if l.not_null != p.not_null {
                        found.push(format!(
                            "{table}.{column}: {} on SQLite, {} on PostgreSQL",
                            nullability(l.not_null),
                            nullability(p.not_null)
                        ));
                    }
                }
                (None, None) => unreachable!("a column of one side"),
            }
        }
    }
    found
}

const IGNORED: &[&str] = &["schema_migrations"];

async fn sqlite_schema() -> Schema {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steward.db");
    let store = SqlStore::open_sqlite(&path)
        .await
        .expect("a migrated SQLite store");
    store.close().await;
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS declared, p.\"notnull\" AS not_null, p.pk AS pk
         FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY m.name, p.cid",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let mut schema = Schema::new();
    for row in rows {
        let table: String = row.get("table_name");
        if IGNORED.contains(&table.as_str()) {
            continue;
        }
        let not_null = row.get::<i64, _>("not_null") != 0 || row.get::<i64, _>("pk") > 0;
        schema.entry(table).or_default().insert(
            row.get("column_name"),
            Column {
                class: Class::of(row.get("declared")),
                not_null,
            },
        );
    }
    schema
}

/// PostgreSQL's schema after migrations 1..=`upto`.
async fn postgres_schema(url: &str, upto: usize) -> Schema {
    let pool = sqlx::postgres::PgPool::connect(url).await.unwrap();
    let db = steward_store_sql::db::Db::Postgres(pool);
    steward_store_sql::migrate::run_upto(&db, upto)
        .await
        .expect("migrations apply");
    db.close().await;
    let mut conn = PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name,
                c.data_type::text AS declared, c.is_nullable::text = 'NO' AS not_null
         FROM information_schema.columns c JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
         ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let mut schema = Schema::new();
    for row in rows {
        let table: String = row.get("table_name");
        if IGNORED.contains(&table.as_str()) {
            continue;
        }
        schema.entry(table).or_default().insert(
            row.get("column_name"),
            Column {
                class: Class::of(row.get("declared")),
                not_null: row.get("not_null"),
            },
        );
    }
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_agree() {
    let Some(db) = testdb::create().await else {
        return;
    };
    let sqlite = sqlite_schema().await;
    let postgres = postgres_schema(&db.url, usize::MAX).await;
    assert!(sqlite.len() > 20, "SQLite tables: {:?}", sqlite.keys());
    let found = differences(&sqlite, &postgres);
    assert!(
        found.is_empty(),
        "{} differences:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The comparison sees a migration left out: PostgreSQL without its 0011
/// (sign-in) lacks the columns SQLite's 0011 adds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_left_out_shows_as_a_difference() {
    let Some(db) = testdb::create().await else {
        return;
    };
    let sqlite = sqlite_schema().await;
    let postgres = postgres_schema(&db.url, 10).await;
    let found = differences(&sqlite, &postgres);
    assert!(
        found.iter().any(|d| d.contains("totp_last_step")),
        "differences without 0011: {found:#?}"
    );
}

#[test]
fn differences_are_found() {
    let column = |class: Class, not_null| Column { class, not_null };
    let table = |columns: &[(&str, Column)]| {
        columns
            .iter()
            .map(|(name, c)| (name.to_string(), c.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let sqlite: Schema = [
        (
            "devices".to_string(),
            table(&[
                ("id", column(Class::Text, true)),
                ("revoked", column(Class::Integer, true)),
                ("cpu", column(Class::Real, false)),
                ("site", column(Class::Text, true)),
                ("seen", column(Class::Integer, false)),
            ]),
        ),
        (
            "only_here".to_string(),
            table(&[("id", column(Class::Integer, true))]),
        ),
    ]
    .into();
    let postgres: Schema = [(
        "devices".to_string(),
        table(&[
            ("id", column(Class::Text, true)),
            // An INTEGER flag on SQLite is a BOOLEAN here: no difference.
            ("revoked", column(Class::Boolean, true)),
            ("cpu", column(Class::Real, true)),
            ("site", column(Class::Integer, true)),
            ("extra", column(Class::Blob, false)),
        ]),
    )]
    .into();
    assert_eq!(
        differences(&sqlite, &postgres),
        [
            "devices.cpu: nullable on SQLite, NOT NULL on PostgreSQL",
            "devices.extra: only on PostgreSQL",
            "devices.seen: only on SQLite",
            "devices.site: text on SQLite, integer on PostgreSQL",
            "table only_here: only on SQLite",
        ]
    );
    assert!(differences(&sqlite, &sqlite).is_empty());
    // A boolean on SQLite's side is not an integer on PostgreSQL's.
    assert!(!Class::Boolean.matches(&Class::Integer));
    assert_eq!(Class::of("double precision"), Class::Real);
    assert_eq!(Class::of("bigint"), Class::Integer);
    assert_eq!(Class::of("bytea"), Class::Blob);
    assert_eq!(Class::of("jsonb"), Class::Other("JSONB".into()));
}
