//! The conventions every editable object follows. `GET …/{id}` answers
//! the object with an `ETag` of its version. `PATCH …/{id}` takes a partial
//! body in the shape `POST` creates from: each field given replaces the
//! stored one, `null` clears an optional one, what is left out stays. With
//! `If-Match: "N"` the change applies only while the stored version is
//! still N (else 412: someone changed it since it was read); without it,
//! only while it is still the version the server read to lay the patch
//! over (so a concurrent edit is refused, never overwritten). `DELETE
//! …/{id}` removes it. The old `POST …/{id}/delete` routes remain as
//! deprecated aliases.

use super::ApiError;
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The version an edit was based on, from `If-Match` (`"3"`, `W/"3"`);
/// None when absent or `*` (any version).
pub fn expected_version(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let tag = text.strip_prefix("W/").unwrap_or(text);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "If-Match must be the ETag a read answered (\"3\", say), not {text:?}"
            ))
        })
}

/// A duplicate name as people say it ("a monitor named \"disk\" already
/// exists in this organisation"), never the database's message.
pub fn named_conflict(error: steward_store::StoreError, what: &str, name: &str) -> ApiError {
    match error {
        steward_store::StoreError::Conflict(_) => ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!("a {what} named {name:?} already exists in this organisation"),
        ),
        other => other.into(),
    }
}

/// `#[serde(default = "…")]` for `enabled` fields: on unless said.
pub fn yes() -> bool {
    true
}

/// `body` as JSON with the `ETag` of `version`.
pub fn tagged<T: Serialize>(version: i64, body: T) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// `record` as JSON with `fields`: its editable fields in the shape `POST`
/// creates from and `PATCH` takes.
pub fn with_fields<T: Serialize>(record: &T, fields: Value) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or_default();
    if value.is_object() {
        value["fields"] = fields;
    }
    value
}

/// The stored object's fields (`current`, an object) with the patch's laid
/// over them: a field given replaces, `null` removes.
pub fn overlay(current: Value, patch: Value) -> Result<Value, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request(
            "a PATCH body is a JSON object of the fields to change",
        ));
    };
    let mut merged = match current {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    Ok(Value::Object(merged))
}

/// Reads the merged fields as the kind's input (`what` names it in the
/// error: "invalid monitor: unknown field `for`, expected …").
pub fn read_as<T: DeserializeOwned>(merged: Value, what: &str) -> Result<T, ApiError> {
    serde_json::from_value(merged)
        .map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn if_match(value: &str) -> Result<Option<i64>, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        expected_version(&headers)
    }

    #[test]
    fn if_match_takes_the_etag_a_read_answered() {
        assert_eq!(expected_version(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match("\"3\"").unwrap(), Some(3));
        assert_eq!(if_match("W/\"12\"").unwrap(), Some(12));
        assert_eq!(if_match("*").unwrap(), None);
        for bad in ["3", "\"three\"", "\"0\"", "\"-1\"", ""] {
            let error = if_match(bad).unwrap_err();
            assert!(
                error.message.contains("If-Match"),
                "{bad}: {}",
                error.message
            );
        }
    }

    #[test]
    fn a_patch_replaces_given_fields_and_clears_nulls() {
        let current =
            json!({ "name": "disk", "spec": { "a": 1 }, "remediation": { "script": "x" } });
        let merged = overlay(
            current,
            json!({ "spec": { "b": 2 }, "remediation": null, "enabled": false }),
        )
        .unwrap();
        assert_eq!(
            merged,
            json!({ "name": "disk", "spec": { "b": 2 }, "enabled": false })
        );
        assert!(overlay(json!({}), json!([1])).is_err());
    }
}
