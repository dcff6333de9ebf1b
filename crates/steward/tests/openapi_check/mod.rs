//! The schema check of `openapi.rs`: a small JSON Schema check of the
//! keywords the document uses, and the caller that checks each answer.

use super::common::api::Api;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Errors of `value` against `schema` (a small JSON Schema check: the
/// keywords the document uses). `strict`: an object's fields must all be
/// described when its schema lists properties.
pub fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.trim_start_matches("#/components/schemas/");
        let resolved = &doc["components"]["schemas"][name];
        assert!(!resolved.is_null(), "{target} does not resolve");
        return check(doc, resolved, value, at, errors);
    }
    for (keyword, exactly_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(branches) = schema[keyword].as_array() {
            let mut failures = Vec::new();
            let passing = branches
                .iter()
                .filter(|branch| {
                    let mut e = Vec::new();
                    check(doc, branch, value, at, &mut e);
                    let ok = e.is_empty();
                    failures.extend(e);
                    ok
                })
                .count();
            if passing == 0 || (exactly_one && passing > 1) {
                errors.push(format!(
                    "{at}: {passing} of the {keyword} branches match {value} ({failures:?})"
                ));
            }
        }
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        errors.push(format!("{at}: {value} is not {expected}"));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if !schema["type"].is_null() {
        let types: Vec<&str> = match &schema["type"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let is = |kind: &str| match kind {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other}"),
        };
        if !types.iter().any(|t| is(t)) {
            errors.push(format!("{at}: {value} is not of type {types:?}"));
            return;
        }
    }
    if schema["format"] == "uuid"
        && let Some(text) = value.as_str()
        && uuid::Uuid::parse_str(text).is_err()
    {
        errors.push(format!("{at}: {text:?} is not a UUID"));
    }
    if let Some(map) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !map.contains_key(name) {
                errors.push(format!("{at}: the required field {name} is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, field) in map {
            let here = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                &schema["additionalProperties"],
            ) {
                (Some(described), _) => check(doc, described, field, &here, errors),
                (None, Value::Bool(false)) => errors.push(format!("{here} is not allowed")),
                (None, Value::Object(_)) => {
                    check(doc, &schema["additionalProperties"], field, &here, errors)
                }
                // Strict: a field the schema does not describe.
                (None, _) if properties.is_some() => {
                    errors.push(format!("{here} is not described ({field})"))
                }
                (None, _) => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        let prefix = schema["prefixItems"].as_array();
        for (i, item) in items.iter().enumerate() {
            let here = format!("{at}[{i}]");
            match prefix.and_then(|p| p.get(i)) {
                Some(described) => check(doc, described, item, &here, errors),
                None if schema["items"] == json!(false) => {
                    errors.push(format!("{here} is one item too many"))
                }
                None if schema["items"].is_object() => {
                    check(doc, &schema["items"], item, &here, errors)
                }
                None => {}
            }
        }
    }
}

pub struct Checked {
    pub api: Api,
    pub doc: Value,
    pub checked: usize,
}

impl Checked {
    /// Calls `route` (its template) at `path` and checks the 200 answer.
    pub async fn call(
        &mut self,
        method: Method,
        route: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, answer) = self.api.call(method.clone(), path, body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {answer}");
        let operation = &self.doc["paths"][route][method.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {route} is not in the document"
        );
        let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        let mut errors = Vec::new();
        check(&self.doc, schema, &answer, "answer", &mut errors);
        assert!(
            errors.is_empty(),
            "{method} {route} answered outside its schema: {errors:#?}\n{answer:#}"
        );
        self.checked += 1;
        answer
    }
    pub async fn get(&mut self, route: &str, path: &str) -> Value {
        self.call(Method::GET, route, path, None).await
    }
    pub async fn post(&mut self, route: &str, path: &str, body: Value) -> Value {
        self.call(Method::POST, route, path, Some(body)).await
    }
    pub async fn patch(&mut self, route: &str, path: &str, body: Value) -> Value {
        self.call(Method::PATCH, route, path, Some(body)).await
    }
    pub async fn delete(&mut self, route: &str, path: &str) -> Value {
        self.call(Method::DELETE, route, path, None).await
    }
}

pub fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}
