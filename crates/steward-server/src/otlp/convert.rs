//! What OTLP telemetry becomes, pure (tested with plain data): which
//! device a resource names, which series points each data point gives,
//! and the log templates of a device's records.
//!
//! - A resource names its device by `steward.device.id` (a Steward device
//!   id), else `host.id` when it is one, else `host.name` (the device's
//!   host name, ASCII case ignored; two live devices of that name in the
//!   organisation make it ambiguous). Only the token's organisation's
//!   live devices count.
//! - Names: ASCII lower case, other characters than `[a-z0-9_.]` become
//!   `_` (`http.server.request.duration` stays); attributes become labels
//!   the same way, and `service.name` a `service` label.
//! - Gauges and cumulative sums are stored as they are (a cumulative sum
//!   is a counter, like the agent's `system.network.io`); a delta sum
//!   becomes a per-second rate, `NAME.rate`, over its interval.
//!   Histograms (explicit and exponential) give `NAME.count` and
//!   `NAME.sum` (rates `NAME.count.rate`, `NAME.sum.rate` when delta);
//!   summaries `NAME.count`, `NAME.sum` and `NAME{quantile}`.
//! - A point whose name, labels, value or time the store would refuse is
//!   rejected and counted (OTLP's partial success), never stored halfway.

use super::wire::{self, AnyValue, KeyValue, any_value, metric, number_data_point};
use std::collections::BTreeMap;
use steward_proto::Point;
use steward_proto::logs::{
    LogPattern, LogPatternReport, MAX_EXAMPLES, MAX_PATTERN_TEXT, MAX_PATTERNS,
};
use steward_proto::validate::{Limits, MAX_AGE_MS, MAX_AHEAD_MS, Validate};
use steward_store::OtlpDevice;
use uuid::Uuid;

/// The resource attribute naming a Steward device by id.
pub const DEVICE_ID_ATTRIBUTE: &str = "steward.device.id";
/// The rule name OTLP log records are mined under (`log_pattern`
/// monitors may name it).
pub const LOG_RULE: &str = "otlp";

/// How a resource names its device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub id: Option<Uuid>,
    pub host_name: Option<String>,
    /// The `steward.device.id` attribute was there but is not an id.
    pub bad_id: Option<String>,
}

fn text_of(value: &Option<AnyValue>) -> Option<String> {
    match value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text_of(&kv.value))
}

/// The selector of a resource's attributes.
pub fn selector(resource: Option<&wire::Resource>) -> Selector {
    let attributes = resource.map(|r| r.attributes.as_slice()).unwrap_or(&[]);
    let mut selector = Selector::default();
    match attribute(attributes, DEVICE_ID_ATTRIBUTE) {
        Some(text) => match Uuid::parse_str(text.trim()) {
            Ok(id) => selector.id = Some(id),
            Err(_) => selector.bad_id = Some(text.chars().take(64).collect()),
        },
        None => {
            selector.id = attribute(attributes, "host.id").and_then(|t| Uuid::parse_str(&t).ok())
        }
    }
    selector.host_name = attribute(attributes, "host.name")
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.len() <= 253);
    selector
}

/// The device a selector names among the organisation's live devices
/// found for it, or why none.
pub fn resolve(selector: &Selector, devices: &[OtlpDevice]) -> Result<Uuid, String> {
    if let Some(bad) = &selector.bad_id {
        return Err(format!("{DEVICE_ID_ATTRIBUTE} {bad:?} is not a device id"));
    }
    if let Some(id) = selector.id {
        if devices.iter().any(|d| d.id == id) {
            return Ok(id);
        }
        if selector.host_name.is_none() {
            return Err(format!(
                "no device {id} in this token's organisation (unknown, revoked or another organisation's)"
            ));
        }
    }
    let Some(host) = &selector.host_name else {
        return Err(format!(
            "the resource names no device: set {DEVICE_ID_ATTRIBUTE}, host.id or host.name"
        ));
    };
    let named: Vec<&OtlpDevice> = devices
        .iter()
        .filter(|d| d.hostname.eq_ignore_ascii_case(host))
        .collect();
    match named[..] {
        [one] => Ok(one.id),
        [] => Err(format!(
            "no device with host.name {host:?} in this token's organisation"
        )),
        _ => Err(format!(
            "{} devices have host.name {host:?}: set {DEVICE_ID_ATTRIBUTE} to say which",
            named.len()
        )),
    }
}

/// `[a-z0-9_.]`, starting with a letter (else `otel_` before it).
pub fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '.') => c,
            _ => '_',
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "otel_");
    }
    out
}

/// Data points read, and those refused with the first reason.
#[derive(Debug, Default, PartialEq)]
pub struct Converted {
    /// (time in ms, point), in the order they came.
    pub points: Vec<(i64, Point)>,
    pub rejected: u64,
    pub first_error: Option<String>,
}

impl Converted {
    pub fn reject(&mut self, count: u64, why: impl FnOnce() -> String) {
        self.rejected += count;
        if self.first_error.is_none() {
            self.first_error = Some(why());
        }
    }
}

/// One data point's common parts.
struct At<'a> {
    attributes: &'a [KeyValue],
    start_ns: u64,
    time_ns: u64,
}

fn at_of(attributes: &[KeyValue], start_ns: u64, time_ns: u64) -> At<'_> {
    At {
        attributes,
        start_ns,
        time_ns,
    }
}

/// A series point to be: its name, an extra label, its value.
type Part = (String, Option<(&'static str, String)>, f64);

/// What every point of one metric shares.
struct Metric<'a> {
    /// As sent (for messages).
    given: &'a str,
    name: String,
    service: Option<&'a str>,
    now_ms: i64,
    limits: &'a Limits,
}

impl Metric<'_> {
    /// A cumulative value as it is; a delta as a rate over its interval
    /// (None without one).
    fn counter(&self, suffix: &str, delta: bool, at: &At, value: f64) -> Option<Part> {
        if !delta {
            return Some((format!("{}{suffix}", self.name), None, value));
        }
        let secs = at.time_ns.checked_sub(at.start_ns)? as f64 / 1e9;
        (at.start_ns > 0 && secs > 0.0)
            .then(|| (format!("{}{suffix}.rate", self.name), None, value / secs))
    }

    fn no_interval(&self, out: &mut Converted) {
        out.reject(1, || {
            format!(
                "{}: a delta needs a start time before its time (it becomes a rate)",
                self.given
            )
        });
    }

    fn emit(&self, out: &mut Converted, at: &At, parts: Vec<Part>) {
        let time_ms = if at.time_ns == 0 {
            self.now_ms
        } else {
            (at.time_ns / 1_000_000) as i64
        };
        if time_ms > self.now_ms + MAX_AHEAD_MS || time_ms < self.now_ms - MAX_AGE_MS {
            out.reject(parts.len() as u64, || {
                format!(
                    "{}: the point's time is not within 400 days before to 10 minutes after the server's clock",
                    self.given
                )
            });
            return;
        }
        let mut labels: BTreeMap<String, String> = at
            .attributes
            .iter()
            .filter_map(|kv| Some((sanitize(&kv.key), text_of(&kv.value)?)))
            .collect();
        if let Some(service) = self.service {
            labels.insert("service".into(), service.to_string());
        }
        for (name, extra, value) in parts {
            let mut labels = labels.clone();
            if let Some((k, v)) = extra {
                labels.insert(k.to_string(), v);
            }
            let point = Point {
                name,
                labels,
                value,
            };
            match point.validate(self.limits) {
                Ok(()) => out.points.push((time_ms, point)),
                Err(e) => out.reject(1, || format!("{}: {e}", self.given)),
            }
        }
    }

    fn histogram(&self, out: &mut Converted, at: &At, delta: bool, count: u64, sum: Option<f64>) {
        let mut parts = Vec::new();
        parts.extend(self.counter(".count", delta, at, count as f64));
        if let Some(sum) = sum {
            parts.extend(self.counter(".sum", delta, at, sum));
        }
        if parts.is_empty() {
            self.no_interval(out);
        } else {
            self.emit(out, at, parts);
        }
    }
}

/// The points of one resource's metrics.
pub fn metric_points(rm: &wire::ResourceMetrics, now_ms: i64, out: &mut Converted) {
    let service = rm
        .resource
        .as_ref()
        .and_then(|r| attribute(&r.attributes, "service.name"));
    let limits = Limits::default();
    for m in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
        let metric = Metric {
            given: &m.name,
            name: sanitize(&m.name),
            service: service.as_deref(),
            now_ms,
            limits: &limits,
        };
        let no_value = |out: &mut Converted| {
            out.reject(1, || format!("{}: a data point without a value", m.name))
        };
        match &m.data {
            None => out.reject(0, || format!("{}: a metric without data", m.name)),
            Some(metric::Data::Gauge(g)) => {
                for p in &g.data_points {
                    let at = at_of(&p.attributes, p.start_time_unix_nano, p.time_unix_nano);
                    match number(p) {
                        Some(v) => metric.emit(out, &at, vec![(metric.name.clone(), None, v)]),
                        None => no_value(out),
                    }
                }
            }
            Some(metric::Data::Sum(s)) => {
                let delta = s.aggregation_temporality == wire::DELTA;
                for p in &s.data_points {
                    let at = at_of(&p.attributes, p.start_time_unix_nano, p.time_unix_nano);
                    let Some(v) = number(p) else {
                        no_value(out);
                        continue;
                    };
                    match metric.counter("", delta, &at, v) {
                        Some(part) => metric.emit(out, &at, vec![part]),
                        None => metric.no_interval(out),
                    }
                }
            }
            Some(metric::Data::Histogram(h)) => {
                let delta = h.aggregation_temporality == wire::DELTA;
                for p in &h.data_points {
                    let at = at_of(&p.attributes, p.start_time_unix_nano, p.time_unix_nano);
                    metric.histogram(out, &at, delta, p.count, p.sum);
                }
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                let delta = h.aggregation_temporality == wire::DELTA;
                for p in &h.data_points {
                    let at = at_of(&p.attributes, p.start_time_unix_nano, p.time_unix_nano);
                    metric.histogram(out, &at, delta, p.count, p.sum);
                }
            }
            Some(metric::Data::Summary(s)) => {
                for p in &s.data_points {
                    let at = at_of(&p.attributes, p.start_time_unix_nano, p.time_unix_nano);
                    let mut parts = vec![
                        (format!("{}.count", metric.name), None, p.count as f64),
                        (format!("{}.sum", metric.name), None, p.sum),
                    ];
                    for q in &p.quantile_values {
                        parts.push((
                            metric.name.clone(),
                            Some(("quantile", q.quantile.to_string())),
                            q.value,
                        ));
                    }
                    metric.emit(out, &at, parts);
                }
            }
        }
    }
}

fn number(p: &wire::NumberDataPoint) -> Option<f64> {
    match p.value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

/// A log record's text: its body (a string as it is, other values as
/// text), else its severity text.
pub fn log_line(record: &wire::LogRecord) -> Option<String> {
    let body = match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BytesValue(_)) | None => String::new(),
        Some(_) => text_of(&record.body).unwrap_or_default(),
    };
    let line = if body.trim().is_empty() {
        record.severity_text.clone()
    } else {
        body
    };
    (!line.trim().is_empty()).then_some(line)
}

/// Cut to [`MAX_PATTERN_TEXT`] bytes, control characters as spaces.
fn printable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() + c.len_utf8() > MAX_PATTERN_TEXT {
            break;
        }
        out.push(if c.is_control() && c != '\t' { ' ' } else { c });
    }
    out
}

/// The templates of a device's log lines (times in ms), as the agent
/// reports its `--log-match` rules', under [`LOG_RULE`]: at most
/// [`MAX_PATTERNS`] templates, the lines beyond counted as dropped.
pub fn log_report(lines: &[(i64, String)]) -> Option<LogPatternReport> {
    let mut miner = steward_intel::logs::Miner::new(MAX_PATTERNS);
    for (at, line) in lines {
        miner.add(line, *at);
    }
    let patterns: Vec<LogPattern> = miner
        .templates()
        .iter()
        .map(|t| LogPattern {
            template: printable(&t.text()),
            count: t.count,
            examples: t
                .examples
                .iter()
                .take(MAX_EXAMPLES)
                .map(|e| printable(e))
                .collect(),
        })
        .filter(|p| !p.template.trim().is_empty())
        .collect();
    (!patterns.is_empty()).then(|| LogPatternReport {
        rule: LOG_RULE.into(),
        patterns,
        dropped: miner.dropped(),
    })
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
