//! The pure core with plain data: device selection, names, temporality,
//! histograms, rejected points, log templates; and OTLP/JSON's rules.

use super::*;
use crate::otlp::json;

const NOW: i64 = 1_800_000_000_000;

fn device(id: u128, host: &str) -> OtlpDevice {
    OtlpDevice {
        id: Uuid::from_u128(id),
        org_id: Uuid::from_u128(1),
        hostname: host.into(),
    }
}

fn resource(attrs: &[(&str, &str)]) -> wire::Resource {
    wire::Resource {
        attributes: attrs
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(v.to_string())),
                }),
            })
            .collect(),
    }
}

#[test]
fn resources_name_one_live_device_of_the_organisation() {
    let id = Uuid::from_u128(7);
    let devices = [device(7, "web-1"), device(8, "DB-1"), device(9, "db-1")];
    let by_id = selector(Some(&resource(&[(DEVICE_ID_ATTRIBUTE, &id.to_string())])));
    assert_eq!(resolve(&by_id, &devices), Ok(id));
    // host.id when it is a device id; host.name otherwise (case ignored).
    let host_id = selector(Some(&resource(&[("host.id", &id.to_string())])));
    assert_eq!(resolve(&host_id, &devices), Ok(id));
    let by_name = selector(Some(&resource(&[("host.name", "WEB-1")])));
    assert_eq!(resolve(&by_name, &devices), Ok(id));
    let ambiguous = selector(Some(&resource(&[("host.name", "db-1")])));
    assert!(
        resolve(&ambiguous, &devices)
            .unwrap_err()
            .contains("2 devices")
    );
    // An id not among the organisation's live devices is refused.
    let foreign = selector(Some(&resource(&[(
        DEVICE_ID_ATTRIBUTE,
        &Uuid::from_u128(99).to_string(),
    )])));
    assert!(
        resolve(&foreign, &devices)
            .unwrap_err()
            .contains("no device")
    );
    let bad = selector(Some(&resource(&[(DEVICE_ID_ATTRIBUTE, "web-1")])));
    assert!(
        resolve(&bad, &devices)
            .unwrap_err()
            .contains("not a device id")
    );
    let nothing = selector(None);
    assert!(
        resolve(&nothing, &devices)
            .unwrap_err()
            .contains("names no device")
    );
}

#[test]
fn names_become_metric_names() {
    assert_eq!(
        sanitize("http.server.request.duration"),
        "http.server.request.duration"
    );
    assert_eq!(sanitize("Queue-Depth/Max"), "queue_depth_max");
    assert_eq!(sanitize("9lives"), "otel_9lives");
    assert_eq!(sanitize(""), "otel_");
}

fn converted(body: &str) -> Converted {
    let request = json::metrics_request(body.as_bytes()).unwrap();
    let mut out = Converted::default();
    for rm in &request.resource_metrics {
        metric_points(rm, NOW, &mut out);
    }
    out
}

fn names(out: &Converted) -> Vec<(String, f64)> {
    out.points
        .iter()
        .map(|(_, p)| (p.name.clone(), p.value))
        .collect()
}

#[test]
fn gauges_sums_histograms_and_summaries_become_series() {
    let t = (NOW * 1_000_000).to_string();
    let start = ((NOW - 10_000) * 1_000_000).to_string();
    let body = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"shop"}}}}]}},
        "scopeMetrics":[{{"scope":{{"name":"s"}},"metrics":[
          {{"name":"queue.depth","gauge":{{"dataPoints":[{{"timeUnixNano":"{t}","asInt":"42","attributes":[{{"key":"Queue","value":{{"stringValue":"mail"}}}}]}}]}}}},
          {{"name":"requests","sum":{{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{{"startTimeUnixNano":"{start}","timeUnixNano":"{t}","asDouble":120}}]}}}},
          {{"name":"errors","sum":{{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{{"startTimeUnixNano":"{start}","timeUnixNano":"{t}","asInt":30}}]}}}},
          {{"name":"latency","histogram":{{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","dataPoints":[{{"timeUnixNano":"{t}","count":"4","sum":2.5,"bucketCounts":["1","3"],"explicitBounds":[0.5]}}]}}}},
          {{"name":"rpc","summary":{{"dataPoints":[{{"timeUnixNano":{t},"count":2,"sum":3,"quantileValues":[{{"quantile":0.5,"value":1.5}}]}}]}}}}
        ]}}]}}]}}"#
    );
    let out = converted(&body);
    assert_eq!(out.rejected, 0, "{:?}", out.first_error);
    assert_eq!(
        names(&out),
        [
            ("queue.depth".to_string(), 42.0),
            ("requests".into(), 120.0),
            ("errors.rate".into(), 3.0),
            ("latency.count".into(), 4.0),
            ("latency.sum".into(), 2.5),
            ("rpc.count".into(), 2.0),
            ("rpc.sum".into(), 3.0),
            ("rpc".into(), 1.5),
        ]
    );
    let (at, gauge) = &out.points[0];
    assert_eq!(*at, NOW);
    assert_eq!(gauge.labels["queue"], "mail");
    assert_eq!(gauge.labels["service"], "shop");
    assert_eq!(out.points[7].1.labels["quantile"], "0.5");
}

#[test]
fn points_the_store_would_refuse_are_rejected_and_counted() {
    let t = (NOW * 1_000_000).to_string();
    let future = ((NOW + 3_600_000) * 1_000_000).to_string();
    let labels: String = (0..9)
        .map(|i| format!(r#"{{"key":"k{i}","value":{{"intValue":"{i}"}}}}"#))
        .collect::<Vec<_>>()
        .join(",");
    let body = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[
          {{"name":"ok","gauge":{{"dataPoints":[{{"timeUnixNano":"{t}","asDouble":1}}]}}}},
          {{"name":"nan","gauge":{{"dataPoints":[{{"timeUnixNano":"{t}","asDouble":"NaN"}}]}}}},
          {{"name":"cpu.utilization","gauge":{{"dataPoints":[{{"timeUnixNano":"{t}","asDouble":7}}]}}}},
          {{"name":"late","gauge":{{"dataPoints":[{{"timeUnixNano":"{future}","asDouble":1}}]}}}},
          {{"name":"wide","gauge":{{"dataPoints":[{{"timeUnixNano":"{t}","asDouble":1,"attributes":[{labels}]}}]}}}},
          {{"name":"empty","gauge":{{"dataPoints":[{{"timeUnixNano":"{t}"}}]}}}},
          {{"name":"delta","sum":{{"aggregationTemporality":1,"dataPoints":[{{"timeUnixNano":"{t}","asInt":"5"}}]}}}}
        ]}}]}}]}}"#
    );
    let out = converted(&body);
    assert_eq!(names(&out), [("ok".to_string(), 1.0)]);
    assert_eq!(out.rejected, 6);
    assert!(out.first_error.unwrap().starts_with("nan:"));
}

#[test]
fn malformed_json_is_an_error_naming_where() {
    for (body, says) in [
        ("[]", "expected an object"),
        (r#"{"resourceMetrics":{}}"#, "expected an array"),
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"timeUnixNano":"soon"}]}}]}]}]}"#,
            "timeUnixNano",
        ),
        (
            r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"a","value":{"intValue":true}}]}}]}"#,
            "intValue",
        ),
        ("{", "not JSON"),
    ] {
        let error = json::metrics_request(body.as_bytes()).unwrap_err();
        assert!(error.contains(says), "{body}: {error}");
    }
    // Snake-case proto names are read too.
    let request = json::metrics_request(
        br#"{"resource_metrics":[{"scope_metrics":[{"metrics":[{"name":"x","gauge":{"data_points":[{"as_double":2}]}}]}]}]}"#,
    )
    .unwrap();
    let mut out = Converted::default();
    metric_points(&request.resource_metrics[0], NOW, &mut out);
    assert_eq!(names(&out), [("x".to_string(), 2.0)]);
    assert_eq!(out.points[0].0, NOW, "no time: the server's");
}

#[test]
fn log_records_become_templates_of_the_otlp_rule() {
    let request = json::logs_request(
        br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
          {"timeUnixNano":"1800000000000000000","severityText":"ERROR","body":{"stringValue":"payment 17 failed for card 4242"}},
          {"body":{"stringValue":"payment 18 failed for card 1111"}},
          {"severityText":"WARN"},
          {"body":{"bytesValue":"AAEC"}},
          {"body":{"intValue":"5"}}
        ]}]}]}"#,
    )
    .unwrap();
    let records = &request.resource_logs[0].scope_logs[0].log_records;
    let lines: Vec<(i64, String)> = records
        .iter()
        .filter_map(|r| Some((NOW, log_line(r)?)))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let report = log_report(&lines).unwrap();
    assert_eq!(report.rule, LOG_RULE);
    let payment = report
        .patterns
        .iter()
        .find(|p| p.template.starts_with("payment"))
        .unwrap();
    assert_eq!(payment.count, 2);
    assert_eq!(payment.template, "payment <*> failed for card <*>");
    assert!(log_report(&[]).is_none());
}
