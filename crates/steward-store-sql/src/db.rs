//! The seam between the data layer and the two databases: a query is
//! written once (`$N` placeholders, which both drivers take), its arguments
//! are collected as plain values, and it runs on whichever native sqlx
//! driver the store was opened with. Rows come back as [`Row`], read by the
//! same mapping code on both.
//!
//! Nothing here knows a table. What differs in spelling lives in
//! [`crate::dialect`]; what differs in plan (ingest, locking, connection
//! set-up, backup) in the files named for it.

use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Postgres, Row as _, Sqlite};

/// One connection pool, of either database.
#[derive(Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One write transaction, of either database.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// One result row, of either database.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn kind(&self) -> Kind {
        match self {
            Db::Sqlite(_) => Kind::Sqlite,
            Db::Postgres(_) => Kind::Postgres,
        }
    }

    /// A write transaction. SQLite takes its write lock up front
    /// (`BEGIN IMMEDIATE`: a deferred one that reads first fails with
    /// "database is locked" when another writer commits in between, and the
    /// busy timeout does not help it). PostgreSQL takes row locks as it
    /// goes; the places that read and then write take theirs explicitly
    /// ([`crate::dialect::for_update`], [`Tx::lock`]).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Serialises the transactions that take the same `key` until they
    /// end, across every replica: a PostgreSQL advisory lock. SQLite's
    /// write transaction already holds the one write lock.
    pub async fn lock(&mut self, key: i64) -> Result<(), sqlx::Error> {
        if let Tx::Postgres(tx) = self {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// Where a query runs: on the pool or inside a transaction.
pub enum On<'e> {
    Db(&'e Db),
    Tx(&'e mut Tx),
}

impl<'e> From<&'e Db> for On<'e> {
    fn from(db: &'e Db) -> Self {
        On::Db(db)
    }
}

impl<'e> From<&'e mut Tx> for On<'e> {
    fn from(tx: &'e mut Tx) -> Self {
        On::Tx(tx)
    }
}

/// A bound value. Every column Steward keeps is one of these (ids and JSON
/// are TEXT on both databases); `None` binds a typed NULL.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
}

impl Bind for Arg {
    fn arg(self) -> Arg {
        self
    }
}

/// What [`Q::bind`] takes.
pub trait Bind {
    fn arg(self) -> Arg;
}

macro_rules! bind_as {
    ($variant:ident: $($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(
            impl Bind for $t {
                fn arg(self) -> Arg {
                    let $v = self;
                    Arg::$variant($e)
                }
            }
        )*
    };
}

bind_as!(Text:
    String => |v| Some(v),
    &String => |v| Some(v.clone()),
    &str => |v| Some(v.to_string()),
    &&str => |v| Some(v.to_string()),
    Option<String> => |v| v,
    &Option<String> => |v| v.clone(),
    Option<&String> => |v| v.cloned(),
    Option<&str> => |v| v.map(str::to_string),
);
bind_as!(Int:
    i64 => |v| Some(v),
    &i64 => |v| Some(*v),
    i32 => |v| Some(i64::from(v)),
    u32 => |v| Some(i64::from(v)),
    Option<i64> => |v| v,
    Option<i32> => |v| v.map(i64::from),
);
bind_as!(Real:
    f64 => |v| Some(v),
    Option<f64> => |v| v,
);
bind_as!(Bool:
    bool => |v| Some(v),
    Option<bool> => |v| v,
);
bind_as!(Bytes:
    Vec<u8> => |v| Some(v),
    &[u8] => |v| Some(v.to_vec()),
    &Vec<u8> => |v| Some(v.clone()),
    Option<Vec<u8>> => |v| v,
);

/// A query: its SQL, written once, and its arguments.
#[must_use]
pub struct Q {
    sql: String,
    args: Vec<Arg>,
}

/// A query to run on either database. `$1`, `$2`, … are its parameters,
/// in [`Q::bind`] order.
pub fn q(sql: impl Into<String>) -> Q {
    Q {
        sql: sql.into(),
        args: Vec::new(),
    }
}

/// What a change did.
pub struct Done {
    rows: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows
    }
}

/// The native query of one driver with `args` bound in order.
macro_rules! native_query {
    ($name:ident, $db:ty, $arguments:ty) => {
        fn $name(sql: String, args: Vec<Arg>) -> sqlx::query::Query<'static, $db, $arguments> {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for arg in args {
                query = match arg {
                    Arg::Text(v) => query.bind(v),
                    Arg::Int(v) => query.bind(v),
                    Arg::Real(v) => query.bind(v),
                    Arg::Bool(v) => query.bind(v),
                    Arg::Bytes(v) => query.bind(v),
                };
            }
            query
        }
    };
}

native_query!(sqlite_query, Sqlite, sqlx::sqlite::SqliteArguments);
native_query!(pg_query, Postgres, sqlx::postgres::PgArguments);

/// Runs `$query.$method(executor)` on whichever database `$on` is, and
/// turns the native result into ours with `$wrap`.
macro_rules! dispatch {
    ($self:ident, $on:expr, $method:ident, $wrap:expr) => {{
        let Q { sql, args } = $self;
        match $on.into() {
            On::Db(Db::Sqlite(pool)) => {
                $wrap(sqlite_query(sql, args).$method(pool).await, Row::Sqlite)
            }
            On::Db(Db::Postgres(pool)) => {
                $wrap(pg_query(sql, args).$method(pool).await, Row::Postgres)
            }
            On::Tx(Tx::Sqlite(tx)) => $wrap(
                sqlite_query(sql, args).$method(&mut **tx).await,
                Row::Sqlite,
            ),
            On::Tx(Tx::Postgres(tx)) => {
                $wrap(pg_query(sql, args).$method(&mut **tx).await, Row::Postgres)
            }
        }
    }};
}

impl Q {
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.args.push(value.arg());
        self
    }

    pub async fn execute<'e>(self, on: impl Into<On<'e>>) -> Result<Done, sqlx::Error> {
        fn wrap<R, X>(result: Result<R, sqlx::Error>, _: X) -> Result<Done, sqlx::Error>
        where
            R: Affected,
        {
            result.map(|r| Done { rows: r.affected() })
        }
        dispatch!(self, on, execute, wrap)
    }

    pub async fn fetch_all<'e>(self, on: impl Into<On<'e>>) -> Result<Vec<Row>, sqlx::Error> {
        fn wrap<R>(
            result: Result<Vec<R>, sqlx::Error>,
            row: fn(R) -> Row,
        ) -> Result<Vec<Row>, sqlx::Error> {
            result.map(|rows| rows.into_iter().map(row).collect())
        }
        dispatch!(self, on, fetch_all, wrap)
    }

    pub async fn fetch_one<'e>(self, on: impl Into<On<'e>>) -> Result<Row, sqlx::Error> {
        fn wrap<R>(result: Result<R, sqlx::Error>, row: fn(R) -> Row) -> Result<Row, sqlx::Error> {
            result.map(row)
        }
        dispatch!(self, on, fetch_one, wrap)
    }

    pub async fn fetch_optional<'e>(
        self,
        on: impl Into<On<'e>>,
    ) -> Result<Option<Row>, sqlx::Error> {
        fn wrap<R>(
            result: Result<Option<R>, sqlx::Error>,
            row: fn(R) -> Row,
        ) -> Result<Option<Row>, sqlx::Error> {
            result.map(|r| r.map(row))
        }
        dispatch!(self, on, fetch_optional, wrap)
    }
}

/// The rows a change touched, on either driver.
trait Affected {
    fn affected(&self) -> u64;
}

impl Affected for sqlx::sqlite::SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl Affected for sqlx::postgres::PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// A column index: a position or a name.
pub trait Idx: Copy + std::fmt::Debug {
    fn sqlite<'r, T: Col<'r>>(self, row: &'r SqliteRow) -> Result<T, sqlx::Error>;
    fn pg<'r, T: Col<'r>>(self, row: &'r PgRow) -> Result<T, sqlx::Error>;
}

impl Idx for usize {
    fn sqlite<'r, T: Col<'r>>(self, row: &'r SqliteRow) -> Result<T, sqlx::Error> {
        row.try_get(self)
    }
    fn pg<'r, T: Col<'r>>(self, row: &'r PgRow) -> Result<T, sqlx::Error> {
        row.try_get(self)
    }
}

impl Idx for &str {
    fn sqlite<'r, T: Col<'r>>(self, row: &'r SqliteRow) -> Result<T, sqlx::Error> {
        row.try_get(self)
    }
    fn pg<'r, T: Col<'r>>(self, row: &'r PgRow) -> Result<T, sqlx::Error> {
        row.try_get(self)
    }
}

/// A value both drivers decode from a row that lives for `'r`: `String`
/// and `&str`, `i64`, `i32`, `f64`, `bool`, `Vec<u8>` and their `Option`s.
pub trait Col<'r>:
    sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite> + sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

impl<'r, T> Col<'r> for T where
    T: sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
{
}

impl Row {
    /// The value at `idx`; a column of another type is a bug in the query
    /// beside it (as with sqlx's own `get`), so it panics saying which.
    pub fn get<'r, T: Col<'r>, I: Idx>(&'r self, idx: I) -> T {
        self.try_get(idx)
            .unwrap_or_else(|e| panic!("column {idx:?} does not decode: {e}"))
    }

    pub fn try_get<'r, T: Col<'r>, I: Idx>(&'r self, idx: I) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(row) => idx.sqlite(row),
            Row::Postgres(row) => idx.pg(row),
        }
    }
}
