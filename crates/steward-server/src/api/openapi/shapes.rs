//! The building blocks of the schemas: scalar kinds, objects (open, closed,
//! extended), optional and nullable forms.

use serde_json::{Value, json};

pub fn string() -> Value {
    json!({ "type": "string" })
}
pub fn integer() -> Value {
    json!({ "type": "integer" })
}
pub fn count() -> Value {
    json!({ "type": "integer", "minimum": 0 })
}
pub fn number() -> Value {
    json!({ "type": "number" })
}
pub fn boolean() -> Value {
    json!({ "type": "boolean" })
}
pub fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
}
/// Any JSON value (an opaque definition the server keeps as given).
pub fn any() -> Value {
    json!({ "description": "Any JSON value." })
}
pub fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}
pub fn strings() -> Value {
    array(string())
}
/// A `{"name": "value"}` map of strings.
pub fn string_map() -> Value {
    json!({ "type": "object", "additionalProperties": { "type": "string" } })
}
pub fn one_of(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}
pub fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}
/// `schema` or `null` (an `Option` the server writes as null).
pub fn nullable(schema: Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some(kind) if schema.get("enum").is_none() => {
            let mut schema = schema.clone();
            schema["type"] = json!([kind, "null"]);
            schema
        }
        _ => json!({ "anyOf": [schema, { "type": "null" }] }),
    }
}

/// An object with these properties, of which `required` are always there.
pub fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}
/// An object the server refuses with any other field
/// (`#[serde(deny_unknown_fields)]`).
pub fn closed(properties: Value, required: &[&str]) -> Value {
    let mut schema = object(properties, required);
    schema["additionalProperties"] = json!(false);
    schema
}
/// `base` with more properties (serde's `flatten`, or fields a handler
/// adds to a record).
pub fn extend(base: Value, properties: Value, required: &[&str]) -> Value {
    let mut schema = base;
    if let (Some(into), Some(from)) = (schema["properties"].as_object_mut(), properties.as_object())
    {
        into.extend(from.clone());
    }
    if let Some(into) = schema["required"].as_array_mut() {
        into.extend(required.iter().map(|r| json!(r)));
    }
    schema
}
/// The same properties, none required (a PATCH body: the fields to change).
pub fn optional(schema: &Value) -> Value {
    let mut schema = schema.clone();
    schema["required"] = json!([]);
    schema
}
/// A record with its `fields`: the part one edits, in the shape POST takes
/// (`lifecycle::with_fields`).
pub fn with_fields(record: Value, fields: Value) -> Value {
    extend(record, json!({ "fields": fields }), &["fields"])
}
