//! What SQLite and PostgreSQL spell differently, in one table. Everything
//! else (placeholders `$N`, `TRUE`/`FALSE`, `ON CONFLICT … excluded`,
//! `RETURNING`, `COUNT(*) FILTER (…)`, `CAST(… AS BIGINT)`) both take as
//! written. JSON lives in TEXT columns on both; PostgreSQL casts it to
//! `jsonb` where SQL looks inside.

use crate::db::Kind;

/// SQL condition: the row whose organisation is `org_col` (and site
/// `site_col`, for tables that have one) lies in the scope bound as `$n`
/// (`{"a": [places], "d": [places]}`, a place `{"o": org?, "s": site?}`).
/// Rows without a site are reached only by grants without a site.
pub fn in_scope(kind: Kind, n: u8, org_col: &str, site_col: Option<&str>) -> String {
    let (o, s) = place_fields(kind);
    let site = match site_col {
        Some(col) => format!("({s} IS NULL OR {s} = {col})"),
        None => format!("{s} IS NULL"),
    };
    let place = format!("({o} IS NULL OR {o} = {org_col}) AND {site}");
    let (allow, deny) = (places(kind, n, "a"), places(kind, n, "d"));
    format!(
        "(EXISTS (SELECT 1 FROM {allow} WHERE {place}) AND NOT EXISTS (SELECT 1 FROM {deny} WHERE {place}))"
    )
}

/// SQL condition for rows that belong to an organisation as a whole (a
/// job, say): allowed by a place of any site in that organisation, denied
/// only by a whole-organisation deny.
pub fn org_in_scope(kind: Kind, n: u8, org_col: &str) -> String {
    let (o, s) = place_fields(kind);
    let (allow, deny) = (places(kind, n, "a"), places(kind, n, "d"));
    format!(
        "(EXISTS (SELECT 1 FROM {allow} WHERE {o} IS NULL OR {o} = {org_col})
          AND NOT EXISTS (SELECT 1 FROM {deny} WHERE {s} IS NULL AND ({o} IS NULL OR {o} = {org_col})))"
    )
}

/// A row source `sp` of the places in list `key` of the JSON bound as `$n`.
fn places(kind: Kind, n: u8, key: &str) -> String {
    match kind {
        Kind::Sqlite => format!("json_each(${n}, '$.{key}') sp"),
        Kind::Postgres => format!("jsonb_array_elements(${n}::jsonb->'{key}') sp"),
    }
}

/// The organisation and site of a place row `sp`, as text.
fn place_fields(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Sqlite => (
            "json_extract(sp.value, '$.o')",
            "json_extract(sp.value, '$.s')",
        ),
        Kind::Postgres => ("(sp->>'o')", "(sp->>'s')"),
    }
}

/// The text at `path` (keys) inside the JSON text `expr`.
pub fn json_text(kind: Kind, expr: &str, path: &[&str]) -> String {
    match kind {
        Kind::Sqlite => format!("json_extract({expr}, '$.{}')", path.join(".")),
        Kind::Postgres => format!("(({expr})::jsonb #>> '{{{}}}')", path.join(",")),
    }
}

/// A row source `alias(value)` of the elements of the JSON array at
/// `key` of the JSON text `expr` (the whole of `expr` when `key` is None);
/// nothing when that is not an array. `alias.value` is the element as
/// JSON.
pub fn json_elements(kind: Kind, expr: &str, key: Option<&str>, alias: &str) -> String {
    match (kind, key) {
        (Kind::Sqlite, key) => {
            let path = key.map(|k| format!("$.{k}")).unwrap_or_else(|| "$".into());
            format!(
                "json_each(CASE WHEN json_type({expr}, '{path}') = 'array' THEN json_extract({expr}, '{path}') ELSE '[]' END) {alias}"
            )
        }
        (Kind::Postgres, key) => {
            let value = match key {
                Some(key) => format!("({expr})::jsonb->'{key}'"),
                None => format!("({expr})::jsonb"),
            };
            format!(
                "jsonb_array_elements(CASE WHEN jsonb_typeof({value}) = 'array' THEN {value} ELSE '[]'::jsonb END) {alias}(value)"
            )
        }
    }
}

/// An element of [`json_elements`] as text (strings unquoted).
pub fn element_text(kind: Kind, alias: &str) -> String {
    match kind {
        Kind::Sqlite => format!("{alias}.value"),
        Kind::Postgres => format!("({alias}.value #>> '{{}}')"),
    }
}

/// Whether field `key` of an element of [`json_elements`] is JSON `true`.
pub fn element_flag(kind: Kind, alias: &str, key: &str) -> String {
    match kind {
        Kind::Sqlite => format!("(json_extract({alias}.value, '$.{key}') = 1)"),
        Kind::Postgres => format!("(({alias}.value->'{key}') = 'true'::jsonb)"),
    }
}

/// A JSON object text `{key: value, …}` aggregated over a group.
pub fn json_object_agg(kind: Kind, key: &str, value: &str) -> String {
    match kind {
        Kind::Sqlite => format!("json_group_object({key}, {value})"),
        Kind::Postgres => format!("json_object_agg({key}, {value})::TEXT"),
    }
}

/// `expr` contains the text bound at `placeholder` (made by
/// [`contains_pattern`]), ignoring case beyond ASCII on both: PostgreSQL's
/// `ILIKE`; on SQLite, whose `LIKE` and `lower` fold ASCII only, a
/// case-insensitive regular expression (sqlx's `REGEXP`, the `regex`
/// crate's Unicode case folding).
pub fn contains(kind: Kind, expr: &str, placeholder: &str) -> String {
    match kind {
        Kind::Sqlite => format!("{expr} REGEXP {placeholder}"),
        Kind::Postgres => format!("{expr} ILIKE {placeholder} ESCAPE '\\'"),
    }
}

/// The bound value for [`contains`]: `text` matched literally.
pub fn contains_pattern(kind: Kind, text: &str) -> String {
    match kind {
        Kind::Sqlite => format!("(?i){}", regex::escape(text)),
        Kind::Postgres => {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        }
    }
}

/// The collation SQLite sorts [`nocase`] text with: Unicode lowercase,
/// then code point (registered on every connection by `sqlite.rs`).
pub const SQLITE_NOCASE: &str = "steward_nocase";

/// Compares as [`SQLITE_NOCASE`] does: Unicode lowercase, then code
/// point. SQLite calls it for every comparison of a sort, so ASCII (most
/// names) is compared byte by byte; the first non-ASCII byte hands the
/// rest to the full comparison.
pub fn nocase_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    for (i, (&p, &q)) in x.iter().zip(y).enumerate() {
        if !p.is_ascii() || !q.is_ascii() {
            // Every byte before `i` is ASCII: `i` is a character boundary
            // of both.
            return a[i..]
                .chars()
                .flat_map(char::to_lowercase)
                .cmp(b[i..].chars().flat_map(char::to_lowercase));
        }
        let (p, q) = (p.to_ascii_lowercase(), q.to_ascii_lowercase());
        if p != q {
            return p.cmp(&q);
        }
    }
    x.len().cmp(&y.len())
}

/// The suffix that locks the rows a `SELECT` in a write transaction reads
/// until it ends: PostgreSQL's `FOR NO KEY UPDATE` (which foreign-key
/// checks do not wait for); nothing on SQLite, whose write transaction
/// holds the one write lock from its start.
pub fn for_update(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "",
        Kind::Postgres => " FOR NO KEY UPDATE",
    }
}

/// Text sorted without regard to case, alike on both: lowercase (Unicode),
/// then code point. (PostgreSQL's `lower` folds by the database's
/// LC_CTYPE: beyond ASCII under C.UTF-8 or any UTF-8 locale, ASCII only in
/// a database created with LC_CTYPE=C; so does its `ILIKE` in
/// [`contains`].)
pub fn nocase(kind: Kind, expr: &str) -> String {
    match kind {
        Kind::Sqlite => format!("{expr} COLLATE {SQLITE_NOCASE}"),
        Kind::Postgres => format!("lower({expr}) COLLATE \"C\""),
    }
}

#[cfg(test)]
mod tests {
    use super::nocase_cmp;

    /// The fast path orders as the full comparison does.
    #[test]
    fn nocase_compares_as_unicode_lowercase_then_code_point() {
        let names = [
            "",
            "a",
            "A",
            "ab",
            "aB",
            "Ab",
            "b",
            "B",
            "zeta",
            "Zeta",
            "Ängelholm",
            "ängel",
            "ärla",
            "Örebro",
            "web-01",
            "Web-02",
            "web_1",
            "İstanbul",
            "ß",
            "SS",
            "ss",
        ];
        let full = |a: &str, b: &str| {
            a.chars()
                .flat_map(char::to_lowercase)
                .cmp(b.chars().flat_map(char::to_lowercase))
        };
        for a in names {
            for b in names {
                assert_eq!(nocase_cmp(a, b), full(a, b), "{a:?} vs {b:?}");
            }
        }
    }
}
