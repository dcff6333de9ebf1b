//! Malformed, oversized and unauthenticated input: each gets a clear error,
//! and a well-behaved agent on the same server carries on.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn stored_seq(server: &Server, id: &str) -> u64 {
    server.device(id)["stored_seq"].as_u64().unwrap_or(0)
}

async fn next_text(socket: &mut steward_agent::transport::Socket) -> Result<String, String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            // The server hands every agent its assigned probes (none
            // here) as it connects: not an answer to what was sent.
            Ok(Some(Ok(Message::Text(text)))) if text.starts_with(r#"{"type":"probes""#) => {
                continue;
            }
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(frame
                    .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                    .unwrap_or_default());
            }
            Ok(Some(Ok(_))) => continue,
            other => return Err(format!("{other:?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_others_carry_on() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(5));
    let mut good = tokio::task::block_in_place(|| Agent::enroll(root.path(), "good", &token));
    good.start("1s");
    tokio::task::block_in_place(|| {
        wait_for("the good agent to report", Duration::from_secs(30), || {
            (stored_seq(&server, &good.device_id) > 0).then_some(())
        })
    });

    // A rogue agent with a real identity.
    let rogue_dir = root.path().join("rogue");
    let rogue_id = steward_agent::enroll::enroll(&rogue_dir, &token, Some("rogue".into()))
        .await
        .unwrap();
    let state = steward_agent::state::AgentState::load(&rogue_dir).unwrap();
    let with_cert =
        Arc::new(steward_pki::client_config(&state.ca_pem, Some(&state.identity)).unwrap());
    let mut rogue = steward_agent::transport::open(
        &server.url(),
        steward_proto::AGENT_WS_PATH,
        with_cert.clone(),
    )
    .await
    .unwrap();

    // Before hello, anything else is refused.
    rogue
        .send(Message::text(r#"{"type":"heartbeat","ts_ms":1}"#))
        .await
        .unwrap();
    assert!(
        next_text(&mut rogue)
            .await
            .unwrap()
            .contains("first message must be hello")
    );
    rogue
        .send(Message::text(
            r#"{"type":"hello","protocol_version":1,"agent_version":"x"}"#,
        ))
        .await
        .unwrap();
    assert!(next_text(&mut rogue).await.unwrap().contains("welcome"));
    for (frame, expect) in [
        ("not json at all", "malformed"),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"<script>","value":1}]}"#,
            "invalid",
        ),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"a","value":1e999}]}"#,
            "malformed",
        ),
        (r#"{"type":"inventory","hostname":"evil\u0007"}"#, "invalid"),
        // Implausible figures from a hostile agent (security review).
        (
            r#"{"type":"metrics","seq":1,"ts_ms":9223372036854775807,"points":[]}"#,
            "ahead of the server's clock",
        ),
        (
            r#"{"type":"metrics","seq":18446744073709551615,"ts_ms":1,"points":[]}"#,
            "invalid seq",
        ),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"a","value":-1e308}]}"#,
            "invalid point.value",
        ),
        (
            r#"{"type":"metrics","seq":1,"ts_ms":1,"points":[{"name":"system.cpu.utilization","value":-5}]}"#,
            "is a ratio",
        ),
    ] {
        rogue.send(Message::text(frame)).await.unwrap();
        let reply = next_text(&mut rogue).await.unwrap();
        assert!(
            reply.contains("\"error\"") && reply.contains(expect),
            "{frame} -> {reply}"
        );
    }
    rogue.send(Message::binary(vec![0u8; 16])).await.unwrap();
    assert!(
        next_text(&mut rogue)
            .await
            .unwrap()
            .contains("binary frames")
    );
    // A payload cannot name another device: this batch lands on the rogue.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let spoof = format!(
        r#"{{"type":"metrics","seq":1,"ts_ms":{now},"device_id":"{}","points":[{{"name":"system.cpu.utilization","value":0.5}}]}}"#,
        good.device_id
    );
    rogue.send(Message::text(spoof)).await.unwrap();
    assert!(next_text(&mut rogue).await.unwrap().contains("\"ack\""));
    // A clock running ahead of the server's: its newest sample still shows
    // in "the last hour" (regression: it used to be cut at the server's now).
    let ahead = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 60_000;
    let batch = format!(
        r#"{{"type":"metrics","seq":2,"ts_ms":{ahead},"points":[{{"name":"system.memory.utilization","value":0.25}}]}}"#
    );
    rogue.send(Message::text(batch)).await.unwrap();
    assert!(next_text(&mut rogue).await.unwrap().contains("\"ack\""));
    let series = tokio::task::block_in_place(|| {
        server.cli_json(&[
            "metrics",
            &rogue_id,
            "system.memory.utilization",
            "--since",
            "1h",
        ])
    });
    assert_eq!(series[0]["samples"][0][0].as_i64(), Some(ahead), "{series}");
    // Oversized: the connection is closed with 1009 (message too big).
    let huge = format!(
        r#"{{"type":"inventory","hostname":"{}"}}"#,
        "x".repeat(steward_proto::MAX_FRAME_BYTES + 1)
    );
    let _ = rogue.send(Message::text(huge)).await;
    let closed = next_text(&mut rogue).await.unwrap_err();
    assert!(
        closed.starts_with("1009") || closed.contains("Reset") || closed.contains("Io"),
        "{closed}"
    );

    // No client certificate: refused before any frame.
    let no_cert = Arc::new(steward_pki::client_config(&state.ca_pem, None).unwrap());
    let refused =
        steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, no_cert).await;
    assert!(format!("{:#}", refused.err().unwrap()).contains("401"));

    // A flood of garbage from one connection gets it disconnected.
    let mut flood = steward_agent::transport::open(
        &server.url(),
        steward_proto::AGENT_WS_PATH,
        with_cert.clone(),
    )
    .await
    .unwrap();
    for _ in 0..100 {
        if flood.send(Message::text("garbage")).await.is_err() {
            break;
        }
    }
    let end = loop {
        match next_text(&mut flood).await {
            Ok(reply) => assert!(reply.contains("malformed"), "{reply}"),
            Err(end) => break end,
        }
    };
    assert!(end.contains("too many bad frames"), "{end}");

    // Revoked: the device is refused from now on.
    tokio::task::block_in_place(|| server.cli(&["device", "revoke", &rogue_id]));
    let revoked =
        steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, with_cert)
            .await;
    assert!(format!("{:#}", revoked.err().unwrap()).contains("403"));

    // The API refuses unauthenticated callers.
    let mut no_token = std::process::Command::new(STEWARD);
    no_token
        .args(["devices"])
        .env("STEWARD_URL", server.url())
        .env("STEWARD_TOKEN", "stw_nope")
        .env("STEWARD_CA", server.ca());
    let out = no_token.output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("401"));

    // Meanwhile the good agent carried on, and the server is up.
    let before = tokio::task::block_in_place(|| stored_seq(&server, &good.device_id));
    tokio::task::block_in_place(|| {
        wait_for(
            "the good agent to keep reporting",
            Duration::from_secs(15),
            || (stored_seq(&server, &good.device_id) >= before + 2).then_some(()),
        )
    });
    assert_eq!(
        tokio::task::block_in_place(|| server.status_of(&good.device_id)),
        "online"
    );
    let rogue_seq = tokio::task::block_in_place(|| server.device(&rogue_id)["stored_seq"].as_u64());
    assert_eq!(rogue_seq, Some(2));
}

/// An agent that sends inventory after inventory (each rewriting up to
/// 20,000 software rows), on one connection or reconnecting, gets at most
/// one write per interval: the frames in between are coalesced, counted,
/// and the newest is what is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_flood_is_coalesced_and_the_newest_kept() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let dir = root.path().join("flooder");
    let id = steward_agent::enroll::enroll(&dir, &token, Some("flooder".into()))
        .await
        .unwrap();
    let state = steward_agent::state::AgentState::load(&dir).unwrap();
    let config =
        Arc::new(steward_pki::client_config(&state.ca_pem, Some(&state.identity)).unwrap());
    let mut socket =
        steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, config.clone())
            .await
            .unwrap();
    socket
        .send(Message::text(
            r#"{"type":"hello","protocol_version":1,"agent_version":"x"}"#,
        ))
        .await
        .unwrap();
    assert!(next_text(&mut socket).await.unwrap().contains("welcome"));
    let packages: Vec<_> = (0..2_000)
        .map(|i| serde_json::json!({ "name": format!("pkg{i}"), "version": "1.0", "manager": "dpkg" }))
        .collect();
    for n in 0..30 {
        let frame = serde_json::json!({ "type": "inventory", "hostname": format!("flood-{n}"), "packages": packages });
        socket.send(Message::text(frame.to_string())).await.unwrap();
    }
    let api = server.api();
    let coalesced = || async {
        let text = api.get_text("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix("steward_inventories_coalesced_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    // The first is stored at once, the last is held: the 28 between never are.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if coalesced().await == Some(28.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            coalesced().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The newest is stored when the interval ends, without another frame.
    let hostname = || {
        server.device(&id)["inventory"]["hostname"]
            .as_str()
            .map(String::from)
    };
    tokio::task::block_in_place(|| {
        wait_for(
            "the newest inventory stored",
            Duration::from_secs(30),
            || (hostname().as_deref() == Some("flood-29")).then_some(()),
        )
    });
    // And one sent just before the agent leaves is stored too.
    let last =
        serde_json::json!({ "type": "inventory", "hostname": "parting", "packages": packages });
    socket.send(Message::text(last.to_string())).await.unwrap();
    socket.close(None).await.unwrap();
    tokio::task::block_in_place(|| {
        wait_for(
            "the parting inventory stored",
            Duration::from_secs(30),
            || (hostname().as_deref() == Some("parting")).then_some(()),
        )
    });
    // Reconnecting does not reset the interval (it is the device's, not the
    // connection's): of eight frames over four connections, at most one is
    // stored at once and one held; the others are replaced.
    let before = coalesced().await.unwrap_or(0.0);
    for round in 0..4 {
        let mut socket = steward_agent::transport::open(
            &server.url(),
            steward_proto::AGENT_WS_PATH,
            config.clone(),
        )
        .await
        .unwrap();
        socket
            .send(Message::text(
                r#"{"type":"hello","protocol_version":1,"agent_version":"x"}"#,
            ))
            .await
            .unwrap();
        assert!(next_text(&mut socket).await.unwrap().contains("welcome"));
        for part in ["a", "b"] {
            let frame = serde_json::json!({ "type": "inventory", "hostname": format!("again-{round}-{part}"), "packages": packages });
            socket.send(Message::text(frame.to_string())).await.unwrap();
        }
        // Frames are handled in order: once a malformed one is answered,
        // both inventories were offered.
        socket.send(Message::text("not json")).await.unwrap();
        assert!(next_text(&mut socket).await.unwrap().contains("malformed"));
        socket.close(None).await.unwrap();
    }
    let after = coalesced().await.unwrap_or(0.0);
    assert!(after - before >= 6.0, "{before} -> {after}");
    tokio::task::block_in_place(|| {
        wait_for(
            "the newest inventory stored",
            Duration::from_secs(30),
            || (hostname().as_deref() == Some("again-3-b")).then_some(()),
        )
    });
}
