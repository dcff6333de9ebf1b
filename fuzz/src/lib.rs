//! The invariants the fuzz targets assert, shared by both targets: the
//! agent-frame target runs the plugin-output checks on every check run a
//! decoded frame carries, as the server parses each one.
//!
//! Every `assert!` here states something that must hold for any input;
//! libFuzzer reports a failed one as a crash, with the input that did it.

use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;
use steward_alert::plugin::{self, CheckResult, Perf, PluginState};
use steward_proto::{
    AgentMessage, EnrollRequest, ErrorCode, Limits, Order, ProtoError, ServerMessage, Validate,
    decode_json, encode,
};

/// Longest reason an `Invalid` error may carry: the server logs it and sends
/// it back to the agent, so it must not grow with the offending field. It
/// quotes at most 64 characters, each escaped to at most 10 bytes.
pub const MAX_REASON_BYTES: usize = 1024;

/// One frame as the server handles it from an agent (default limits), then
/// as the other decoders that read untrusted text would: the enrollment
/// socket's request, and the agent's own decoders of server frames and
/// signed orders.
pub fn check_frame(frame: &str) {
    let limits = Limits::default();
    match AgentMessage::decode(frame, &limits) {
        Ok(message) => accepted(frame, &message, &limits),
        Err(error) => refused(frame, error, &limits),
    }
    round_trip::<EnrollRequest>(frame);
    round_trip::<ServerMessage>(frame);
    round_trip::<Order>(frame);
}

fn accepted(frame: &str, message: &AgentMessage, limits: &Limits) {
    let unchecked: AgentMessage =
        decode_json(frame).expect("decode accepted a frame decode_json refuses");
    assert_eq!(&unchecked, message, "decode and decode_json disagree");
    within_limits(message, limits);
    // What the server stores or forwards re-encodes to a frame it accepts
    // again, as the same message, and not much larger than what came in
    // (serde fills in defaulted fields; the list limits bound how many).
    let text = encode(message);
    assert!(
        text.len() <= 32 * frame.len() + 4096,
        "{} bytes re-encode to {}",
        frame.len(),
        text.len()
    );
    let again = AgentMessage::decode(&text, limits)
        .unwrap_or_else(|error| panic!("re-encoded frame refused: {error}: {text}"));
    assert_eq!(&again, message, "decode(encode(message)) differs");
    if let AgentMessage::Checks(checks) = message {
        for run in &checks.runs {
            check_plugin_output(run.exit_code, &run.output);
        }
    }
}

fn refused(frame: &str, error: ProtoError, limits: &Limits) {
    // A frame that is valid JSON for the type fails validation, and only then.
    match decode_json::<AgentMessage>(frame) {
        Err(malformed) => {
            assert!(matches!(malformed, ProtoError::Malformed(_)));
            assert_eq!(error, malformed);
        }
        Ok(unchecked) => {
            assert!(matches!(error, ProtoError::Invalid { .. }), "{error:?}");
            assert_eq!(unchecked.validate(limits).err().as_ref(), Some(&error));
        }
    }
    if let ProtoError::Invalid { reason, .. } = &error {
        assert!(
            reason.len() <= MAX_REASON_BYTES,
            "a {}-byte reason for a {}-byte frame",
            reason.len(),
            frame.len()
        );
    }
    // The server's reply: bounded, and one the agent decodes back.
    let code = match error {
        ProtoError::TooLarge { .. } => ErrorCode::TooLarge,
        ProtoError::Malformed(_) => ErrorCode::Malformed,
        ProtoError::Invalid { .. } => ErrorCode::Invalid,
    };
    let message = error.to_string();
    assert!(
        message.len() <= 4 * frame.len() + 512,
        "a {}-byte error for a {}-byte frame",
        message.len(),
        frame.len()
    );
    let reply = ServerMessage::Error { code, message };
    let decoded = ServerMessage::decode(&encode(&reply)).expect("the agent refuses an error reply");
    assert_eq!(decoded, reply);
}

/// The limits, restated independently of `validate.rs`.
fn within_limits(message: &AgentMessage, limits: &Limits) {
    let name_ok = |name: &str, max: usize| {
        let b = name.as_bytes();
        !b.is_empty()
            && b.len() <= max
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'.')
    };
    let id_ok = |id: &str| id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    match message {
        AgentMessage::Hello(hello) => {
            assert!(hello.refuses.len() <= 8);
            assert!(hello.agent_version.len() <= 64);
            assert!(
                !hello
                    .agent_version
                    .chars()
                    .any(|c| c.is_control() && c != '\t')
            );
        }
        AgentMessage::Metrics(batch) => {
            assert!(batch.seq >= 1 && batch.ts_ms > 0);
            assert!(batch.points.len() <= limits.max_points_per_batch);
            for point in &batch.points {
                assert!(point.value.is_finite(), "{point:?}");
                assert!(name_ok(&point.name, limits.max_name_len), "{point:?}");
                assert!(point.labels.len() <= limits.max_labels_per_point);
                assert!(point.labels.keys().all(|k| name_ok(k, limits.max_name_len)));
            }
        }
        AgentMessage::Checks(checks) => {
            // The agent's own checks and those the server assigned it.
            assert!(checks.runs.len() <= 256);
            for run in &checks.runs {
                assert!(name_ok(&run.name, 64) && run.output.len() <= 16 * 1024);
                assert!(run.device.as_deref().is_none_or(id_ok));
            }
        }
        AgentMessage::RunStarted { run_id, .. } | AgentMessage::RunOutput { run_id, .. } => {
            assert!(id_ok(run_id));
        }
        AgentMessage::RunResult(result) => assert!(id_ok(&result.run_id)),
        AgentMessage::ShellOutput { session, .. } | AgentMessage::ShellClosed { session, .. } => {
            assert!(id_ok(session));
        }
        AgentMessage::Renew { csr_pem } => assert!(csr_pem.len() <= 8 * 1024),
        AgentMessage::Backups(report) => {
            assert!(report.jobs.len() <= 64);
            for (index, job) in report.jobs.iter().enumerate() {
                assert!(!job.name.trim().is_empty() && job.name.len() <= 64);
                assert!(report.jobs[..index].iter().all(|other| other.name != job.name));
                assert!(job.reason.len() <= 512);
                assert!(job.last_run_ms.is_none_or(|t| t >= 0));
            }
        }
        AgentMessage::LogPatterns(report) => {
            assert!(name_ok(&report.rule, 64));
            assert!(report.patterns.len() <= 100);
            for p in &report.patterns {
                assert!(!p.template.trim().is_empty() && p.template.len() <= 512);
                assert!(p.examples.len() <= 3 && p.examples.iter().all(|e| e.len() <= 512));
                assert!(!p.template.chars().any(|c| c.is_control() && c != '\t'));
            }
        }
        AgentMessage::Posture(report) => {
            assert!(report.checks.len() <= 256 && report.logins.len() <= 1000);
            assert!(report.ports.len() <= 1024 && report.files.len() <= 1024);
            for check in &report.checks {
                assert!(name_ok(&check.id, 64) && (1..=10).contains(&check.weight));
                assert!(check.reason.len() <= 512 && check.fix.len() <= 512);
            }
            assert!(report.logins.iter().all(|l| l.at_ms >= 0 && l.user.len() <= 64));
            assert!(report.files.iter().all(|f| f.path.starts_with('/')));
        }
        AgentMessage::UpdateFetch { version, offset } => {
            assert!(version.len() <= 64);
            assert!(*offset <= steward_proto::update::MAX_RELEASE_BYTES);
        }
        AgentMessage::UpdateReport(report) => {
            assert!(report.rollout_id.len() <= 64 && report.version.len() <= 64);
            assert!(report.from_version.len() <= 64);
            assert!(report.detail.len() <= limits.max_text_len);
        }
        AgentMessage::DiskHealth(report) => {
            assert!(report.error.len() <= 512 && report.disks.len() <= 64);
            for disk in &report.disks {
                assert!(disk.name.len() <= 256 && disk.serial.len() <= 128);
                assert!(disk.reallocated_sectors.is_none_or(|v| v <= 1 << 53));
                assert!(disk.temperature_c.is_none_or(|t| (-100..=300).contains(&t)));
            }
        }
        AgentMessage::Heartbeat(_) | AgentMessage::Inventory(_) | AgentMessage::Unknown => {}
    }
}

/// Whatever decodes re-encodes to text that decodes to the same value.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(frame: &str) {
    if let Ok(value) = decode_json::<T>(frame) {
        let text = encode(&value);
        let again: T = decode_json(&text)
            .unwrap_or_else(|error| panic!("re-encoded value refused: {error}: {text}"));
        assert_eq!(again, value);
    }
}

/// Parses one plugin run as the server does and checks the result.
pub fn check_plugin_output(exit_code: i32, stdout: &str) -> CheckResult {
    let result = plugin::parse(exit_code, stdout);
    let state = match exit_code {
        0 => PluginState::Ok,
        1 => PluginState::Warning,
        2 => PluginState::Critical,
        _ => PluginState::Unknown,
    };
    assert_eq!(result.state, state, "exit code {exit_code}");
    // The message is the first line's text before any perfdata, trimmed.
    assert!(
        !result.message.contains(['\n', '|']),
        "{:?}",
        result.message
    );
    assert_eq!(result.message, result.message.trim());
    assert!(!result.long_output.contains('|'));
    let alone = plugin::parse(exit_code, &result.message);
    assert_eq!(alone.message, result.message);
    assert!(alone.long_output.is_empty() && alone.perfdata.is_empty());

    assert!(result.perfdata.len() <= plugin::MAX_PERF);
    // Every byte kept comes from a distinct byte of the output.
    let mut kept = result.message.len() + result.long_output.len();
    for perf in &result.perfdata {
        assert!(!perf.label.is_empty());
        assert!(perf.value.is_finite(), "{perf:?}");
        assert!(perf.min.is_none_or(f64::is_finite) && perf.max.is_none_or(f64::is_finite));
        let thresholds = [&perf.warn, &perf.crit].map(|t| t.as_deref().unwrap_or(""));
        kept +=
            perf.label.len() + perf.uom.len() + thresholds.iter().map(|t| t.len()).sum::<usize>();
        perf_round_trip(exit_code, perf, thresholds);
    }
    assert!(
        kept <= stdout.len(),
        "{kept} bytes kept of {}",
        stdout.len()
    );
    result
}

/// An item rendered back to perfdata parses to itself. Only where the unit
/// and thresholds carry no quote or space: those only survive inside a
/// quoted run of the original text, which one item alone cannot restate.
fn perf_round_trip(exit_code: i32, perf: &Perf, [warn, crit]: [&str; 2]) {
    let plain = |s: &str| !s.contains(|c: char| c == '\'' || c.is_whitespace());
    if !(plain(&perf.uom) && plain(warn) && plain(crit)) {
        return;
    }
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let item = format!(
        "'{}'={}{};{warn};{crit};{};{}",
        perf.label.replace('\'', "''"),
        perf.value,
        perf.uom,
        number(perf.min),
        number(perf.max)
    );
    let again = plugin::parse(exit_code, &format!("OK | {item}"));
    assert_eq!(
        again.perfdata,
        std::slice::from_ref(perf),
        "rendered as {item:?}"
    );
}
