//! The document describes every operation exactly: no route answers or
//! takes an undescribed body, and every reference resolves.

use super::document;
use crate::api::route_table;
use serde_json::{Value, json};

fn operations() -> Vec<(String, String, Value)> {
    let doc = document(&route_table());
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            found.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    found
}

/// An object schema that says nothing of its properties.
fn vague(schema: &Value) -> bool {
    *schema == json!({}) || *schema == json!({ "type": "object" })
}

#[test]
fn every_operation_answers_a_described_shape() {
    let mut missing = Vec::new();
    for (method, path, operation) in operations() {
        let responses = &operation["responses"];
        if responses.get("101").is_some() {
            continue; // a WebSocket
        }
        // JSON, or what else the route serves (a download).
        let schema = responses["200"]["content"]
            .as_object()
            .and_then(|content| content.values().next())
            .map_or(&Value::Null, |media| &media["schema"]);
        if schema.is_null() || vague(schema) {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "answers without a schema (add them to openapi/operations.rs): {missing:?}"
    );
}

#[test]
fn every_post_and_patch_body_is_described() {
    let mut missing = Vec::new();
    for (method, path, operation) in operations() {
        let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
        let takes_body =
            method == "PATCH" || (method == "POST" && !super::operations::takes_no_body(&path));
        // A file or a foreign wire format as the body (an agent release,
        // an email message, OTLP protobuf) is described as binary.
        let binary = operation["requestBody"]["content"]
            .as_object()
            .is_some_and(|content| {
                content
                    .values()
                    .any(|media| media["schema"]["format"] == "binary")
            });
        if takes_body && !binary && (schema.is_null() || vague(schema)) {
            missing.push(format!("{method} {path}"));
        }
        if method == "PATCH" && schema["required"].as_array().is_some_and(|r| !r.is_empty()) {
            missing.push(format!("{method} {path} (a PATCH requires nothing)"));
        }
    }
    assert!(
        missing.is_empty(),
        "bodies without a schema (add them to openapi/operations.rs): {missing:?}"
    );
}

#[test]
fn every_route_of_the_api_is_an_operation() {
    let described: Vec<(String, String)> = operations()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    for route in route_table()
        .iter()
        .filter(|r| r.path.starts_with("/api/") && r.path != "/api/v1/events")
    {
        let key = (route.method.as_str().to_string(), route.path.to_string());
        assert!(described.contains(&key), "{key:?} is not described");
    }
}

fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document(&route_table());
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} is not a component"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{target} does not resolve"
        );
    }
}

#[test]
fn closed_bodies_stay_closed() {
    // Types with deny_unknown_fields: the document refuses what the server refuses.
    let doc = document(&route_table());
    let schemas = &doc["components"]["schemas"];
    for name in [
        "NewMonitor",
        "NewChannel",
        "NewMaintenance",
        "NewSilence",
        "NewSchedule",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            json!(false),
            "{name}"
        );
    }
    let patch = &doc["paths"]["/api/v1/monitors/{id}"]["patch"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(patch["additionalProperties"], json!(false));
    assert_eq!(patch["required"], json!([]));
    assert!(patch["properties"]["spec"].is_object());
}
