//! Lists of objects filter, sort and page alike: `?q=TEXT` keeps the
//! objects whose name contains TEXT (any case), `?FIELD=VALUE` those whose
//! top-level FIELD is VALUE (`enabled=false`, `org_id=…`; a list FIELD
//! holding VALUE), `?sort=FIELD`
//! or `?sort=-FIELD` orders them (ties by id), and `?limit=N` answers the
//! first N with a `Link: <…&cursor=…>; rel="next"` header to the rest. The
//! cursor is opaque: the sort and the last object's place in it, so a page
//! does not shift when objects before it are added or deleted. Without any
//! of these parameters a list answers as it always did, whole.
//!
//! [`page`] decides, from plain data; [`layer`] applies it to a list
//! route's JSON answer.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;

/// The most one page answers.
pub const MAX_LIMIT: usize = 1000;
/// A list answer larger than this is not paged (it is no object list).
const MAX_LIST_BYTES: usize = 64 << 20;

/// What a list request asked for.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PageQuery {
    pub q: Option<String>,
    /// The field to sort by and whether descending.
    pub sort: Option<(String, bool)>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    pub filters: Vec<(String, String)>,
}

/// Where the previous page ended.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Cursor {
    /// The sort it belongs to (`name`, `-updated_at`).
    sort: String,
    key: Value,
    id: String,
}

impl PageQuery {
    /// Reads the query string; Err names what is wrong.
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut out = PageQuery::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let (key, value) = (key.into_owned(), value.into_owned());
            match key.as_str() {
                "q" => out.q = Some(value.to_lowercase()),
                "sort" => {
                    let (field, descending) = match value.strip_prefix('-') {
                        Some(field) => (field.to_string(), true),
                        None => (value.clone(), false),
                    };
                    if field.is_empty() {
                        return Err("sort takes a field name, or -FIELD for descending".into());
                    }
                    out.sort = Some((field, descending));
                }
                "limit" => {
                    let limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            format!("limit is a number from 1 to {MAX_LIMIT}, not {value:?}")
                        })?;
                    out.limit = Some(limit);
                }
                "cursor" => out.cursor = Some(value),
                _ => out.filters.push((key, value)),
            }
        }
        Ok(out)
    }

    /// Whether the request asked for anything but the whole list.
    pub fn is_plain(&self) -> bool {
        *self == PageQuery::default()
    }

    fn sort_name(&self) -> String {
        match &self.sort {
            Some((field, true)) => format!("-{field}"),
            Some((field, false)) => field.clone(),
            None => String::new(),
        }
    }
}

/// An object's name as lists show it.
fn name_of(item: &Value) -> &str {
    ["name", "username"]
        .iter()
        .find_map(|key| item[*key].as_str())
        .or_else(|| item["fields"]["name"].as_str())
        .unwrap_or_default()
}

fn id_of(item: &Value) -> String {
    match &item["id"] {
        Value::String(id) => id.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A scalar's text for equality filters (`true`, `3`, `hq`).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        Value::Null => Some("null".into()),
        _ => None,
    }
}

/// Orders JSON scalars: null first, then numbers, text (any case), the rest.
fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            _ => 4,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => {
            x.to_lowercase().cmp(&y.to_lowercase()).then(x.cmp(y))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The page of `items` the query asks for, and the cursor of the next one
/// (None on the last page). Err says what the caller got wrong.
pub fn page(
    mut items: Vec<Value>,
    query: &PageQuery,
) -> Result<(Vec<Value>, Option<String>), String> {
    for (field, _) in &query.filters {
        if !items.is_empty() && !items.iter().any(|i| i.get(field).is_some()) {
            return Err(format!(
                "unknown parameter {field:?}: filter by a field of these objects ({}), or use q, sort, limit, cursor",
                fields_of(&items)
            ));
        }
    }
    if let Some((field, _)) = &query.sort
        && !items.is_empty()
        && field != "name"
        && !items.iter().any(|i| i.get(field).is_some())
    {
        return Err(format!(
            "cannot sort by {field:?}: the fields are {}",
            fields_of(&items)
        ));
    }
    if let Some(q) = &query.q {
        items.retain(|i| name_of(i).to_lowercase().contains(q.as_str()));
    }
    for (field, value) in &query.filters {
        // A list field matches when one of its elements is the value
        // (`?devices=ID`: the incidents linking that device).
        items.retain(|i| match &i[field.as_str()] {
            Value::Array(elements) => elements
                .iter()
                .any(|e| text_of(e).is_some_and(|t| &t == value)),
            scalar => text_of(scalar).is_some_and(|t| &t == value),
        });
    }
    let key = |item: &Value| -> Value {
        match &query.sort {
            Some((field, _)) if field == "name" => Value::String(name_of(item).to_string()),
            Some((field, _)) => item[field.as_str()].clone(),
            None => Value::Null,
        }
    };
    let descending = query.sort.as_ref().is_some_and(|(_, d)| *d);
    let order = |a: &(Value, String), b: &(Value, String)| {
        let by_key = compare(&a.0, &b.0).then_with(|| a.1.cmp(&b.1));
        if descending { by_key.reverse() } else { by_key }
    };
    let mut keyed: Vec<((Value, String), Value)> = items
        .into_iter()
        .map(|item| ((key(&item), id_of(&item)), item))
        .collect();
    if query.sort.is_some() {
        keyed.sort_by(|a, b| order(&a.0, &b.0));
    }
    if let Some(text) = &query.cursor {
        let cursor = decode(text)?;
        if cursor.sort != query.sort_name() {
            return Err("this cursor belongs to another sort: start again without it".into());
        }
        let after = (cursor.key, cursor.id);
        if query.sort.is_some() {
            keyed.retain(|(k, _)| order(k, &after) == Ordering::Greater);
        } else {
            // The list's own order: resume after the object it ended on.
            match keyed.iter().position(|(k, _)| k.1 == after.1) {
                Some(at) => {
                    keyed.drain(..=at);
                }
                None => {
                    return Err(
                        "the object this cursor ended on is gone: start again, or page with a sort"
                            .into(),
                    );
                }
            }
        }
    }
    let limit = query.limit.unwrap_or(usize::MAX);
    let next = if keyed.len() > limit {
        keyed.truncate(limit);
        keyed.last().map(|((key, id), _)| {
            encode(&Cursor {
                sort: query.sort_name(),
                key: key.clone(),
                id: id.clone(),
            })
        })
    } else {
        None
    };
    Ok((keyed.into_iter().map(|(_, item)| item).collect(), next))
}

fn fields_of(items: &[Value]) -> String {
    let mut fields: Vec<&str> = items
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    fields.sort_unstable();
    fields.dedup();
    fields.join(", ")
}

fn encode(cursor: &Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(cursor).unwrap_or_default())
}

fn decode(text: &str) -> Result<Cursor, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| "this cursor is not one a list answered: start again without it".into())
}

/// The middleware of list routes: pages the handler's JSON list.
pub async fn layer(request: Request, next: Next) -> Response {
    let query = match PageQuery::parse(request.uri().query().unwrap_or_default()) {
        Ok(query) => query,
        Err(message) => return super::ApiError::bad_request(message).into_response(),
    };
    if query.is_plain() {
        return next.run(request).await;
    }
    let path = request.uri().path().to_string();
    let raw_query = request.uri().query().unwrap_or_default().to_string();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_LIST_BYTES).await else {
        return super::ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the list was too large to page",
        )
        .into_response();
    };
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    match page(items, &query) {
        Ok((items, next)) => {
            if let Some(cursor) = next {
                let mut params: Vec<(String, String)> =
                    form_urlencoded::parse(raw_query.as_bytes())
                        .into_owned()
                        .filter(|(k, _)| k != "cursor")
                        .collect();
                params.push(("cursor".into(), cursor));
                let query = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params)
                    .finish();
                if let Ok(link) = HeaderValue::from_str(&format!("<{path}?{query}>; rel=\"next\""))
                {
                    parts.headers.insert(header::LINK, link);
                }
            }
            parts.headers.remove(header::CONTENT_LENGTH);
            let body = serde_json::to_vec(&items).unwrap_or_default();
            Response::from_parts(parts, Body::from(body))
        }
        Err(message) => super::ApiError::bad_request(message).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items() -> Vec<Value> {
        vec![
            json!({ "id": "1", "name": "disk", "enabled": true, "version": 3 }),
            json!({ "id": "2", "name": "CPU", "enabled": false, "version": 1 }),
            json!({ "id": "3", "name": "backup", "enabled": true, "version": 2 }),
            json!({ "id": "4", "name": "Disk temp", "enabled": true, "version": 1 }),
        ]
    }

    /// The ids `query` answers, page by page, following each cursor.
    fn check(query: &str, expect: &[&[&str]]) {
        let mut query = PageQuery::parse(query).unwrap();
        let mut pages = Vec::new();
        loop {
            let (page, next) = page(items(), &query).unwrap();
            pages.push(page.iter().map(id_of).collect::<Vec<_>>());
            match next {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
            assert!(pages.len() < 10, "no end: {pages:?}");
        }
        assert_eq!(pages, expect, "{query:?}");
    }

    #[test]
    fn lists_filter_sort_and_page() {
        check("", &[&["1", "2", "3", "4"]]);
        check("q=DISK", &[&["1", "4"]]);
        check("enabled=false", &[&["2"]]);
        check("sort=name", &[&["3", "2", "1", "4"]]);
        check("sort=-name&limit=3", &[&["4", "1", "2"], &["3"]]);
        check("sort=version&limit=2", &[&["2", "4"], &["3", "1"]]);
        check("limit=1", &[&["1"], &["2"], &["3"], &["4"]]);
        check("q=disk&sort=-version&limit=1", &[&["1"], &["4"]]);
    }

    #[test]
    fn a_list_field_matches_when_it_holds_the_value() {
        let incidents = vec![
            serde_json::json!({ "id": "a", "devices": ["d1", "d2"] }),
            serde_json::json!({ "id": "b", "devices": ["d2"] }),
            serde_json::json!({ "id": "c", "devices": [] }),
        ];
        let ids = |query: &str| -> Vec<String> {
            let (items, _) = page(incidents.clone(), &PageQuery::parse(query).unwrap()).unwrap();
            items
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(ids("devices=d2"), ["a", "b"]);
        assert_eq!(ids("devices=d1"), ["a"]);
        assert!(ids("devices=d9").is_empty());
    }

    #[test]
    fn a_page_does_not_shift_when_earlier_objects_go() {
        let query = PageQuery::parse("sort=name&limit=2").unwrap();
        let (_, next) = page(items(), &query).unwrap();
        // "backup" (on the first page) is deleted before the next read.
        let fewer: Vec<Value> = items().into_iter().filter(|i| i["id"] != "3").collect();
        let second = PageQuery {
            cursor: next,
            ..query
        };
        let (page, next) = page(fewer, &second).unwrap();
        assert_eq!(page.iter().map(id_of).collect::<Vec<_>>(), ["1", "4"]);
        assert_eq!(next, None);
    }

    #[test]
    fn bad_parameters_are_refused_with_the_reason() {
        for (query, says) in [
            ("limit=0", "limit is a number from 1 to 1000"),
            ("limit=x", "limit is a number"),
            ("sort=-", "sort takes a field name"),
            (
                "sort=colour",
                "cannot sort by \"colour\": the fields are enabled, id, name, version",
            ),
            ("colour=red", "unknown parameter \"colour\""),
            ("cursor=%%%", "not one a list answered"),
            (
                "sort=name&cursor=eyJzb3J0IjoiIiwia2V5IjpudWxsLCJpZCI6IjEifQ",
                "another sort",
            ),
        ] {
            let error = PageQuery::parse(query)
                .and_then(|q| page(items(), &q))
                .unwrap_err();
            assert!(error.contains(says), "{query}: {error}");
        }
    }
}
