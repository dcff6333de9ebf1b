//! OTLP/JSON (the protobuf JSON mapping with OTLP's rules) read into the
//! same messages as the protobuf encoding: field names in lowerCamelCase
//! (the proto names are accepted too), 64-bit integers as strings or
//! numbers, doubles as numbers or "NaN"/"Infinity", enums as integers (or
//! their names), unknown fields ignored. A field of the wrong type is an
//! error naming where it is, never a panic.

use super::wire::*;
use base64::Engine;
use serde_json::{Map, Value};

type Obj = Map<String, Value>;
pub type Result<T> = std::result::Result<T, String>;

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Obj> {
    value
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object"))
}

/// The field `camel` (or its proto name `snake`), absent when null.
fn get<'a>(obj: &'a Obj, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !v.is_null())
}

fn list<'a>(obj: &'a Obj, camel: &str, snake: &str, at: &str) -> Result<&'a [Value]> {
    match get(obj, camel, snake) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("{at}.{camel}: expected an array")),
    }
}

fn string(obj: &Obj, camel: &str, snake: &str, at: &str) -> Result<String> {
    match get(obj, camel, snake) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("{at}.{camel}: expected a string")),
    }
}

fn u64_field(obj: &Obj, camel: &str, snake: &str, at: &str) -> Result<u64> {
    match get(obj, camel, snake) {
        None => Ok(0),
        Some(v) => {
            let n = match v {
                Value::String(s) => s.parse::<u64>().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            };
            n.ok_or_else(|| format!("{at}.{camel}: expected an unsigned 64-bit integer"))
        }
    }
}

fn i64_value(v: &Value, at: &str) -> Result<i64> {
    let n = match v {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    n.ok_or_else(|| format!("{at}: expected a 64-bit integer"))
}

fn f64_value(v: &Value, at: &str) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        _ => None,
    }
    .ok_or_else(|| format!("{at}: expected a number"))
}

fn f64_field(obj: &Obj, camel: &str, snake: &str, at: &str) -> Result<Option<f64>> {
    get(obj, camel, snake)
        .map(|v| f64_value(v, &format!("{at}.{camel}")))
        .transpose()
}

/// An enum: its number, or its name among `names` (index = number).
fn enum_field(obj: &Obj, camel: &str, snake: &str, names: &[&str], at: &str) -> Result<i32> {
    match get(obj, camel, snake) {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| format!("{at}.{camel}: expected an enum number")),
        Some(Value::String(s)) => names
            .iter()
            .position(|n| n == s)
            .map(|i| i as i32)
            .ok_or_else(|| format!("{at}.{camel}: unknown value {s:?}")),
        Some(_) => Err(format!("{at}.{camel}: expected an enum")),
    }
}

fn any_value(v: &Value, at: &str) -> Result<AnyValue> {
    use any_value::Value as V;
    let obj = object(v, at)?;
    let value = if let Some(s) = get(obj, "stringValue", "string_value") {
        Some(V::StringValue(
            s.as_str()
                .ok_or_else(|| format!("{at}.stringValue: expected a string"))?
                .to_string(),
        ))
    } else if let Some(b) = get(obj, "boolValue", "bool_value") {
        Some(V::BoolValue(b.as_bool().ok_or_else(|| {
            format!("{at}.boolValue: expected a boolean")
        })?))
    } else if let Some(i) = get(obj, "intValue", "int_value") {
        Some(V::IntValue(i64_value(i, &format!("{at}.intValue"))?))
    } else if let Some(d) = get(obj, "doubleValue", "double_value") {
        Some(V::DoubleValue(f64_value(d, &format!("{at}.doubleValue"))?))
    } else if let Some(a) = get(obj, "arrayValue", "array_value") {
        let at = format!("{at}.arrayValue");
        let values = list(object(a, &at)?, "values", "values", &at)?
            .iter()
            .map(|v| any_value(v, &at))
            .collect::<Result<_>>()?;
        Some(V::ArrayValue(ArrayValue { values }))
    } else if let Some(kv) = get(obj, "kvlistValue", "kvlist_value") {
        let at = format!("{at}.kvlistValue");
        let values = attributes(object(kv, &at)?, "values", "values", &at)?;
        Some(V::KvlistValue(KeyValueList { values }))
    } else if let Some(b) = get(obj, "bytesValue", "bytes_value") {
        let text = b
            .as_str()
            .ok_or_else(|| format!("{at}.bytesValue: expected base64 text"))?;
        Some(V::BytesValue(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| format!("{at}.bytesValue: {e}"))?,
        ))
    } else {
        None
    };
    Ok(AnyValue { value })
}

fn attributes(obj: &Obj, camel: &str, snake: &str, at: &str) -> Result<Vec<KeyValue>> {
    list(obj, camel, snake, at)?
        .iter()
        .enumerate()
        .map(|(i, kv)| {
            let at = format!("{at}.{camel}[{i}]");
            let kv = object(kv, &at)?;
            Ok(KeyValue {
                key: string(kv, "key", "key", &at)?,
                value: get(kv, "value", "value")
                    .map(|v| any_value(v, &format!("{at}.value")))
                    .transpose()?,
            })
        })
        .collect()
}

fn resource(obj: &Obj, at: &str) -> Result<Option<Resource>> {
    get(obj, "resource", "resource")
        .map(|r| {
            let at = format!("{at}.resource");
            Ok(Resource {
                attributes: attributes(object(r, &at)?, "attributes", "attributes", &at)?,
            })
        })
        .transpose()
}

fn scope(obj: &Obj, at: &str) -> Result<Option<InstrumentationScope>> {
    get(obj, "scope", "scope")
        .map(|s| {
            let at = format!("{at}.scope");
            Ok(InstrumentationScope {
                name: string(object(s, &at)?, "name", "name", &at)?,
            })
        })
        .transpose()
}

/// Each element of an array field, read by `read`.
fn each<T>(
    obj: &Obj,
    camel: &str,
    snake: &str,
    at: &str,
    read: impl Fn(&Obj, &str) -> Result<T>,
) -> Result<Vec<T>> {
    list(obj, camel, snake, at)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let at = format!("{at}.{camel}[{i}]");
            read(object(v, &at)?, &at)
        })
        .collect()
}

const TEMPORALITY: &[&str] = &[
    "AGGREGATION_TEMPORALITY_UNSPECIFIED",
    "AGGREGATION_TEMPORALITY_DELTA",
    "AGGREGATION_TEMPORALITY_CUMULATIVE",
];

fn times(p: &Obj, at: &str) -> Result<(u64, u64)> {
    Ok((
        u64_field(p, "startTimeUnixNano", "start_time_unix_nano", at)?,
        u64_field(p, "timeUnixNano", "time_unix_nano", at)?,
    ))
}

fn number_point(p: &Obj, at: &str) -> Result<NumberDataPoint> {
    use number_data_point::Value as V;
    let (start_time_unix_nano, time_unix_nano) = times(p, at)?;
    let value = if let Some(d) = get(p, "asDouble", "as_double") {
        Some(V::AsDouble(f64_value(d, &format!("{at}.asDouble"))?))
    } else if let Some(i) = get(p, "asInt", "as_int") {
        Some(V::AsInt(i64_value(i, &format!("{at}.asInt"))?))
    } else {
        None
    };
    Ok(NumberDataPoint {
        attributes: attributes(p, "attributes", "attributes", at)?,
        start_time_unix_nano,
        time_unix_nano,
        value,
    })
}

fn histogram_point(p: &Obj, at: &str) -> Result<HistogramDataPoint> {
    let (start_time_unix_nano, time_unix_nano) = times(p, at)?;
    Ok(HistogramDataPoint {
        attributes: attributes(p, "attributes", "attributes", at)?,
        start_time_unix_nano,
        time_unix_nano,
        count: u64_field(p, "count", "count", at)?,
        sum: f64_field(p, "sum", "sum", at)?,
    })
}

fn exponential_point(p: &Obj, at: &str) -> Result<ExponentialHistogramDataPoint> {
    let h = histogram_point(p, at)?;
    Ok(ExponentialHistogramDataPoint {
        attributes: h.attributes,
        start_time_unix_nano: h.start_time_unix_nano,
        time_unix_nano: h.time_unix_nano,
        count: h.count,
        sum: h.sum,
    })
}

fn summary_point(p: &Obj, at: &str) -> Result<SummaryDataPoint> {
    let (start_time_unix_nano, time_unix_nano) = times(p, at)?;
    Ok(SummaryDataPoint {
        attributes: attributes(p, "attributes", "attributes", at)?,
        start_time_unix_nano,
        time_unix_nano,
        count: u64_field(p, "count", "count", at)?,
        sum: f64_field(p, "sum", "sum", at)?.unwrap_or(0.0),
        quantile_values: each(p, "quantileValues", "quantile_values", at, |q, at| {
            Ok(ValueAtQuantile {
                quantile: f64_field(q, "quantile", "quantile", at)?.unwrap_or(0.0),
                value: f64_field(q, "value", "value", at)?.unwrap_or(0.0),
            })
        })?,
    })
}

/// The object at field `camel` and where it is.
fn sub<'a>(m: &'a Obj, camel: &str, snake: &str, at: &str) -> Result<Option<(&'a Obj, String)>> {
    get(m, camel, snake)
        .map(|v| {
            let at = format!("{at}.{camel}");
            Ok((object(v, &at)?, at))
        })
        .transpose()
}

fn metric(m: &Obj, at: &str) -> Result<Metric> {
    use metric::Data;
    let sub = |camel, snake| sub(m, camel, snake, at);
    let data = if let Some((g, at)) = sub("gauge", "gauge")? {
        Some(Data::Gauge(Gauge {
            data_points: each(g, "dataPoints", "data_points", &at, number_point)?,
        }))
    } else if let Some((s, at)) = sub("sum", "sum")? {
        Some(Data::Sum(Sum {
            data_points: each(s, "dataPoints", "data_points", &at, number_point)?,
            aggregation_temporality: enum_field(
                s,
                "aggregationTemporality",
                "aggregation_temporality",
                TEMPORALITY,
                &at,
            )?,
            is_monotonic: match get(s, "isMonotonic", "is_monotonic") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(format!("{at}.isMonotonic: expected a boolean")),
            },
        }))
    } else if let Some((h, at)) = sub("histogram", "histogram")? {
        Some(Data::Histogram(Histogram {
            data_points: each(h, "dataPoints", "data_points", &at, histogram_point)?,
            aggregation_temporality: enum_field(
                h,
                "aggregationTemporality",
                "aggregation_temporality",
                TEMPORALITY,
                &at,
            )?,
        }))
    } else if let Some((h, at)) = sub("exponentialHistogram", "exponential_histogram")? {
        Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: each(h, "dataPoints", "data_points", &at, exponential_point)?,
            aggregation_temporality: enum_field(
                h,
                "aggregationTemporality",
                "aggregation_temporality",
                TEMPORALITY,
                &at,
            )?,
        }))
    } else if let Some((s, at)) = sub("summary", "summary")? {
        Some(Data::Summary(Summary {
            data_points: each(s, "dataPoints", "data_points", &at, summary_point)?,
        }))
    } else {
        None
    };
    Ok(Metric {
        name: string(m, "name", "name", at)?,
        unit: string(m, "unit", "unit", at)?,
        data,
    })
}

/// An `ExportMetricsServiceRequest` in OTLP/JSON.
pub fn metrics_request(body: &[u8]) -> Result<ExportMetricsServiceRequest> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let root = object(&value, "request")?;
    Ok(ExportMetricsServiceRequest {
        resource_metrics: each(
            root,
            "resourceMetrics",
            "resource_metrics",
            "request",
            |r, at| {
                Ok(ResourceMetrics {
                    resource: resource(r, at)?,
                    scope_metrics: each(r, "scopeMetrics", "scope_metrics", at, |s, at| {
                        Ok(ScopeMetrics {
                            scope: scope(s, at)?,
                            metrics: each(s, "metrics", "metrics", at, metric)?,
                        })
                    })?,
                })
            },
        )?,
    })
}

fn log_record(l: &Obj, at: &str) -> Result<LogRecord> {
    Ok(LogRecord {
        time_unix_nano: u64_field(l, "timeUnixNano", "time_unix_nano", at)?,
        observed_time_unix_nano: u64_field(
            l,
            "observedTimeUnixNano",
            "observed_time_unix_nano",
            at,
        )?,
        severity_number: match get(l, "severityNumber", "severity_number") {
            None => 0,
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| format!("{at}.severityNumber: expected a number"))?,
            // Names (SEVERITY_NUMBER_ERROR) carry no number we need.
            Some(Value::String(_)) => 0,
            Some(_) => return Err(format!("{at}.severityNumber: expected a number")),
        },
        severity_text: string(l, "severityText", "severity_text", at)?,
        body: get(l, "body", "body")
            .map(|b| any_value(b, &format!("{at}.body")))
            .transpose()?,
        attributes: attributes(l, "attributes", "attributes", at)?,
    })
}

/// An `ExportLogsServiceRequest` in OTLP/JSON.
pub fn logs_request(body: &[u8]) -> Result<ExportLogsServiceRequest> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let root = object(&value, "request")?;
    Ok(ExportLogsServiceRequest {
        resource_logs: each(root, "resourceLogs", "resource_logs", "request", |r, at| {
            Ok(ResourceLogs {
                resource: resource(r, at)?,
                scope_logs: each(r, "scopeLogs", "scope_logs", at, |s, at| {
                    Ok(ScopeLogs {
                        scope: scope(s, at)?,
                        log_records: each(s, "logRecords", "log_records", at, log_record)?,
                    })
                })?,
            })
        })?,
    })
}
