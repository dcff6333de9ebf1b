use super::*;

/// Decodes `frame` as an agent message and compares the outcome's summary.
fn check(frame: &str, expect: &str) {
    let got = match AgentMessage::decode(frame, &Limits::default()) {
        Ok(AgentMessage::Hello(_)) => "hello".to_string(),
        Ok(AgentMessage::Heartbeat(_)) => "heartbeat".to_string(),
        Ok(AgentMessage::Inventory(_)) => "inventory".to_string(),
        Ok(AgentMessage::Metrics(batch)) => format!("metrics seq={}", batch.seq),
        Ok(AgentMessage::Unknown) => "unknown".to_string(),
        Ok(AgentMessage::Renew { .. }) => "renew".to_string(),
        Ok(AgentMessage::Checks(c)) => format!("checks {}", c.runs.len()),
        Ok(AgentMessage::Backups(b)) => format!("backups {}", b.jobs.len()),
        Ok(AgentMessage::LogPatterns(r)) => format!("log patterns {}", r.patterns.len()),
        Ok(AgentMessage::Posture(p)) => format!("posture {}", p.checks.len()),
        Ok(AgentMessage::DiskHealth(d)) => format!("disk health {}", d.disks.len()),
        Ok(AgentMessage::RunStarted { .. }) => "run started".to_string(),
        Ok(AgentMessage::RunOutput { .. }) => "run output".to_string(),
        Ok(AgentMessage::RunResult(r)) => format!("run result {}", r.status.as_str()),
        Ok(AgentMessage::ShellOutput { .. }) => "shell output".to_string(),
        Ok(AgentMessage::ShellClosed { .. }) => "shell closed".to_string(),
        Ok(AgentMessage::UpdateFetch { offset, .. }) => format!("update fetch {offset}"),
        Ok(AgentMessage::UpdateReport(r)) => format!("update report {}", r.outcome.as_str()),
        Err(ProtoError::TooLarge { .. }) => "too large".to_string(),
        Err(ProtoError::Malformed(_)) => "malformed".to_string(),
        Err(ProtoError::Invalid { field, .. }) => format!("invalid {field}"),
    };
    assert_eq!(got, expect, "frame: {frame:.200}");
}

#[test]
fn decodes_and_validates_agent_frames() {
    check(r#"{"type":"heartbeat","ts_ms":1}"#, "heartbeat");
    check(
        r#"{"type":"hello","protocol_version":1,"agent_version":"0.1.0"}"#,
        "hello",
    );
    check(
        r#"{"type":"metrics","seq":7,"ts_ms":1000,"points":[{"name":"system.cpu.utilization","value":0.5}]}"#,
        "metrics seq=7",
    );
    check(
        r#"{"type":"metrics","seq":0,"ts_ms":1000,"points":[]}"#,
        "invalid seq",
    );
    check(
        r#"{"type":"metrics","seq":1,"ts_ms":1000,"points":[{"name":"Bad Name","value":1}]}"#,
        "invalid point.name",
    );
    check(
        r#"{"type":"metrics","seq":1,"ts_ms":1000,"points":[{"name":"a","labels":{"k":"v\u0000"},"value":1}]}"#,
        "invalid point.labels",
    );
    check(r#"{"type":"inventory","hostname":"web-1"}"#, "inventory");
    check(
        r#"{"type":"inventory","hostname":"<script>\n"}"#,
        "invalid hostname",
    );
    check(
        r#"{"type":"disk_health","disks":[{"name":"/dev/sda","reallocated_sectors":8}]}"#,
        "disk health 1",
    );
    check(
        r#"{"type":"disk_health","disks":[{"name":"/dev/sda\u001b[2J"}]}"#,
        "invalid disk_health.disks.name",
    );
    check(
        r#"{"type":"disk_health","disks":[{"name":"/dev/sda","media_errors":-1}]}"#,
        "malformed",
    );
    // A newer agent's message type and extra fields are tolerated.
    check(r#"{"type":"from_the_future","x":1}"#, "unknown");
    check(
        r#"{"type":"heartbeat","ts_ms":1,"extra":true}"#,
        "heartbeat",
    );
    check(r#"{"type":"heartbeat""#, "malformed");
    check("not json", "malformed");
    check(r#"{"type":"renew","csr_pem":"x"}"#, "renew");
    check(
        &format!(r#"{{"type":"renew","csr_pem":"{}"}}"#, "x".repeat(9000)),
        "invalid csr_pem",
    );
    check(r#"[1,2,3]"#, "malformed");
    check(
        &format!(
            r#"{{"type":"hello","agent_version":"{}"}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        ),
        "too large",
    );
}

#[test]
fn implausible_agent_values_are_refused() {
    // Values far out of range, ratios outside [0, 1], a sequence number
    // the store cannot hold (all seen from a hostile agent in review).
    for (frame, expect) in [
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"a","value":1e308}]}"#,
            "invalid point.value",
        ),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"a","value":-1e308}]}"#,
            "invalid point.value",
        ),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"a","value":1e18}]}"#,
            "metrics seq=1",
        ),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"system.cpu.utilization","value":-5}]}"#,
            "invalid point.value",
        ),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"system.filesystem.utilization","value":1.0001}]}"#,
            "invalid point.value",
        ),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"system.filesystem.utilization","value":1}]}"#,
            "metrics seq=1",
        ),
        (
            r#"{"type":"metrics","seq":18446744073709551615,"ts_ms":1,"points":[]}"#,
            "invalid seq",
        ),
        (
            r#"{"type":"metrics","seq":9223372036854775807,"ts_ms":1,"points":[]}"#,
            "metrics seq=9223372036854775807",
        ),
    ] {
        check(frame, expect);
    }
}

#[test]
fn batch_times_must_be_near_the_servers_clock() {
    let now = 1_800_000_000_000;
    let at = |ts_ms| MetricBatch {
        seq: 1,
        ts_ms,
        points: vec![],
    };
    assert!(at(now).check_clock(now).is_ok());
    assert!(at(now + validate::MAX_AHEAD_MS).check_clock(now).is_ok());
    let ahead = at(i64::MAX).check_clock(now).unwrap_err().to_string();
    assert!(ahead.contains("ahead of the server's clock"), "{ahead}");
    assert!(at(now - validate::MAX_AGE_MS - 1).check_clock(now).is_err());
    assert!(at(now - 86_400_000).check_clock(now).is_ok());
}

#[test]
fn rejects_too_many_points() {
    let points = vec![r#"{"name":"a","value":1}"#; 2_001].join(",");
    check(
        &format!(r#"{{"type":"metrics","seq":1,"ts_ms":1,"points":[{points}]}}"#),
        "invalid points",
    );
}

#[test]
fn enroll_token_round_trips_and_rejects_garbage() {
    let token = EnrollToken {
        url: "https://127.0.0.1:8443".into(),
        ca_sha256: "ab".repeat(32),
        secret: "s3cret".into(),
    };
    let text = token.encode();
    assert!(text.starts_with("STW1."));
    assert_eq!(EnrollToken::decode(&text).unwrap(), token);
    assert!(EnrollToken::decode("STW1.!!!").is_err());
    assert!(EnrollToken::decode("nope").is_err());
    assert!(EnrollToken::decode("STW1.e30").is_err()); // "{}": fields missing
}

#[test]
fn server_messages_round_trip() {
    let message = ServerMessage::Ack { seq: 42 };
    assert_eq!(ServerMessage::decode(&encode(&message)).unwrap(), message);
    assert_eq!(
        ServerMessage::decode(r#"{"type":"later"}"#).unwrap(),
        ServerMessage::Unknown
    );
}

#[test]
fn check_runs_are_bounded() {
    check(
        r#"{"type":"checks","runs":[{"name":"disk","ts_ms":1,"exit_code":0,"output":"DISK OK"}]}"#,
        "checks 1",
    );
    check(
        r#"{"type":"checks","runs":[{"name":"Bad Name","ts_ms":1,"exit_code":0,"output":""}]}"#,
        "invalid checks.name",
    );
    check(
        &format!(
            r#"{{"type":"checks","runs":[{{"name":"a","ts_ms":1,"exit_code":0,"output":"{}"}}]}}"#,
            "x".repeat(20_000)
        ),
        "invalid checks.output",
    );
}

#[test]
fn decodes_and_bounds_job_frames() {
    let run = "0190aaaa-0000-7000-8000-000000000001";
    check(
        &format!(
            r#"{{"type":"run_result","run_id":"{run}","status":"succeeded","exit_code":0,"stdout":"hi"}}"#
        ),
        "run result succeeded",
    );
    check(
        &format!(r#"{{"type":"run_started","run_id":"{run}","started_at":1}}"#),
        "run started",
    );
    // Run ids are ids, not paths or SQL.
    check(
        r#"{"type":"run_result","run_id":"../../etc","status":"failed"}"#,
        "invalid run_id",
    );
    // An agent cannot invent a status.
    check(
        &format!(r#"{{"type":"run_result","run_id":"{run}","status":"hacked"}}"#),
        "malformed",
    );
    let big = "x".repeat(MAX_CHUNK_BYTES + 1);
    check(
        &format!(r#"{{"type":"run_output","run_id":"{run}","stream":"stdout","data":"{big}"}}"#),
        "invalid data",
    );
    let huge = "x".repeat(MAX_OUTPUT_BYTES + 1);
    check(
        &format!(r#"{{"type":"run_result","run_id":"{run}","status":"failed","stderr":"{huge}"}}"#),
        "invalid stdout",
    );
    check(
        &format!(r#"{{"type":"shell_output","session":"{run}","data_b64":"aGk="}}"#),
        "shell output",
    );
}

#[test]
fn errors_quote_at_most_a_prefix_of_agent_input() {
    // Found by fuzz/agent_frame: `{:.64?}` does not cut a str, so a long
    // bad name came back (and into the log) whole.
    let long = "Ä".repeat(100_000);
    for (frame, field) in [
        (
            format!(
                r#"{{"type":"checks","runs":[{{"name":"{long}","ts_ms":1,"exit_code":0,"output":""}}]}}"#
            ),
            "checks.name",
        ),
        (
            format!(
                r#"{{"type":"metrics","seq":1,"ts_ms":1,"points":[{{"name":"{long}","value":1}}]}}"#
            ),
            "point.name",
        ),
        (
            format!(
                r#"{{"type":"metrics","seq":1,"ts_ms":1,"points":[{{"name":"a","labels":{{"{long}":"v"}},"value":1}}]}}"#
            ),
            "point.labels",
        ),
        (
            format!(r#"{{"type":"run_started","run_id":"{long}","started_at":1}}"#),
            "run_id",
        ),
    ] {
        match AgentMessage::decode(&frame, &Limits::default()) {
            Err(ProtoError::Invalid { field: got, reason }) => {
                assert_eq!(got, field);
                assert!(reason.len() < 200, "{field}: {} bytes", reason.len());
                assert!(
                    reason.starts_with(&format!("\"{}", "Ä".repeat(40))),
                    "{reason}"
                );
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// Found by the agent-frame fuzzer: an unknown message type of 270 DEL
/// characters made a 1,710-byte refusal for a 280-byte frame (serde quotes
/// the name it did not expect). Refusals stay bounded whatever is quoted.
#[test]
fn a_refusal_quoting_the_sender_stays_bounded() {
    let frame = format!("\"run_result{}\"+-", "\u{7f}".repeat(262));
    let error = AgentMessage::decode(&frame, &Limits::default()).unwrap_err();
    assert!(matches!(error, ProtoError::Malformed(_)));
    let message = error.to_string();
    assert!(
        message.len() <= "malformed message: ".len() + MAX_MALFORMED_BYTES + '…'.len_utf8(),
        "{} bytes: {message}",
        message.len()
    );
    let long = format!("\"run_result{}\"+-", "é".repeat(5000));
    let message = AgentMessage::decode(&long, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(message.len() < 512, "{} bytes", message.len());
}

#[test]
fn patching_reports_are_bounded_and_old_ones_still_read() {
    // An agent from before patching status: no `patching`, bare updates.
    check(
        r#"{"type":"inventory","updates":[{"name":"a","current":"1","available":"2","security":true}]}"#,
        "inventory",
    );
    // A full report, unknown states read as `unknown`.
    let frame = r#"{"type":"inventory","updates":[{"name":"a","current":"1","available":"2","security":true,"rule":"label Debian-Security","origin":{"label":"Debian-Security"}}],
        "patching":{"manager":"apt","state":"sleeping","security_source":"origins","reboot":{"required":true,"reasons":[{"source":"kernel","detail":"x"}]}}}"#;
    match AgentMessage::decode(frame, &Limits::default()) {
        Ok(AgentMessage::Inventory(inventory)) => {
            let patching = inventory.patching.unwrap();
            assert_eq!(patching.state, DetectionState::Unknown);
            assert_eq!(patching.reboot.required, Some(true));
            assert_eq!(
                inventory.updates.unwrap()[0].origin.as_ref().unwrap().label,
                "Debian-Security"
            );
        }
        other => panic!("{other:?}"),
    }
    // Hostile ones are refused.
    let reasons = format!(
        r#"{{"type":"inventory","patching":{{"reboot":{{"reasons":[{}]}}}}}}"#,
        vec![r#"{"source":"kernel","detail":"x"}"#; 17].join(",")
    );
    for (frame, field) in [
        (
            r#"{"type":"inventory","updates":[{"name":"a","rule":"\u001b[31m"}]}"#.to_string(),
            "updates.rule",
        ),
        (
            format!(
                r#"{{"type":"inventory","updates":[{{"name":"a","origin":{{"site":"{}"}}}}]}}"#,
                "x".repeat(200)
            ),
            "updates.origin",
        ),
        (reasons, "patching.reboot.reasons"),
        (
            r#"{"type":"inventory","patching":{"last_upgrade":-5}}"#.to_string(),
            "patching.last_upgrade",
        ),
        (
            format!(
                r#"{{"type":"inventory","patching":{{"error":"{}"}}}}"#,
                "e".repeat(5000)
            ),
            "patching.error",
        ),
    ] {
        match AgentMessage::decode(&frame, &Limits::default()) {
            Err(ProtoError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// A metric value survives encode and decode exactly (fuzzing found
/// 9.589934592e-49 coming back as 9.589934592000001e-49 before serde_json's
/// `float_roundtrip` was on: stored values must be what the agent sent).
#[test]
fn metric_values_round_trip_exactly() {
    for value in [9.589934592e-49, 0.1, 0.3, 5e-324, 0.123456789012345] {
        let message = AgentMessage::Metrics(MetricBatch {
            seq: 42,
            ts_ms: 17_672_200_000,
            points: vec![Point {
                name: "system.memory.utilization".into(),
                labels: Default::default(),
                value,
            }],
        });
        let again = AgentMessage::decode(&encode(&message), &Limits::default()).unwrap();
        assert_eq!(again, message, "{value:e}");
    }
}

#[test]
fn log_pattern_reports_are_bounded() {
    let report = |rule: &str, template: &str, examples: usize| {
        let examples: Vec<String> = (0..examples).map(|i| format!("line {i}")).collect();
        serde_json::json!({ "type": "log_patterns", "rule": rule, "patterns": [{ "template": template, "count": 2, "examples": examples }] }).to_string()
    };
    check(&report("errors", "disk <*> failed", 3), "log patterns 1");
    check(&report("Errors!", "x", 0), "invalid log_patterns.rule");
    check(&report("errors", " ", 0), "invalid log_patterns.template");
    check(
        &report("errors", &"x".repeat(513), 0),
        "invalid log_patterns.template",
    );
    check(
        &report("errors", "bell \u{7}", 0),
        "invalid log_patterns.template",
    );
    check(&report("errors", "x", 4), "invalid log_patterns.examples");
    let many: Vec<serde_json::Value> = (0..101)
        .map(|i| serde_json::json!({ "template": format!("t{i}"), "count": 1 }))
        .collect();
    check(
        &serde_json::json!({ "type": "log_patterns", "rule": "errors", "patterns": many })
            .to_string(),
        "invalid log_patterns.patterns",
    );
}

#[test]
fn update_messages_round_trip_and_are_bounded() {
    let report = AgentMessage::UpdateReport(UpdateReport {
        rollout_id: "r1".into(),
        version: "0.2.0".into(),
        from_version: "0.1.0".into(),
        outcome: UpdateOutcome::RolledBack,
        detail: "the new version did not connect within 60 s".into(),
    });
    let text = encode(&report);
    assert_eq!(
        AgentMessage::decode(&text, &Limits::default()).unwrap(),
        report
    );
    // An outcome a newer agent knows and this server does not still decodes.
    let newer = text.replace("rolled_back", "quarantined");
    match AgentMessage::decode(&newer, &Limits::default()).unwrap() {
        AgentMessage::UpdateReport(r) => assert_eq!(r.outcome, UpdateOutcome::Unknown),
        other => panic!("{other:?}"),
    }
    let far = encode(&AgentMessage::UpdateFetch {
        version: "0.2.0".into(),
        offset: update::MAX_RELEASE_BYTES + 1,
    });
    assert!(AgentMessage::decode(&far, &Limits::default()).is_err());
    let long = encode(&AgentMessage::UpdateFetch {
        version: "9".repeat(65),
        offset: 0,
    });
    assert!(AgentMessage::decode(&long, &Limits::default()).is_err());
    let chunk = ServerMessage::UpdateChunk {
        version: "0.2.0".into(),
        offset: 0,
        total: 3,
        data_b64: "AAAA".into(),
    };
    assert_eq!(ServerMessage::decode(&encode(&chunk)).unwrap(), chunk);
}
