//! The agent's gate for orders: tampered, unsigned, foreign-signed,
//! expired, replayed, misaddressed and hash-mismatched orders are refused
//! and nothing runs; a good order runs exactly once.

use std::path::Path;
use std::time::{Duration, Instant};
use steward_agent::jobs::{Runner, save_keys};
use steward_proto::{Action, AgentMessage, Interpreter, Order, RunStatus, SignedOrder};
use steward_sign::{LocalKey, OrderSigner, sha256_hex};
use tokio::sync::mpsc::UnboundedReceiver;

const DEVICE: &str = "0190aaaa-0000-7000-8000-00000000000d";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn run_id(n: u32) -> String {
    format!("0190aaaa-0000-7000-8000-{n:012}")
}

/// An order that appends its run id to `marker`.
fn order(n: u32, marker: &Path) -> Order {
    let body = format!("echo \"$STEWARD_RUN_ID\" >> '{}'\n", marker.display());
    Order {
        run_id: run_id(n),
        job_id: run_id(999),
        device_id: DEVICE.into(),
        issued_at: now_ms(),
        expires_at: now_ms() + 60_000,
        action: Action::Script {
            name: "marker".into(),
            interpreter: Interpreter::Sh,
            sha256: sha256_hex(body.as_bytes()),
            body,
            params: Default::default(),
            timeout_secs: 10,
            run_as: None,
        },
    }
}

/// Feeds one order and returns the run result the agent reports (None when
/// it reports none within a second).
async fn feed(
    runner: &std::sync::Arc<Runner>,
    rx: &mut UnboundedReceiver<AgentMessage>,
    signed: SignedOrder,
) -> Option<steward_proto::RunResult> {
    runner.on_order(signed);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(1000), rx.recv()).await {
            Ok(Some(AgentMessage::RunResult(result))) => return Some(result),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
    None
}

fn marker_lines(marker: &Path) -> Vec<String> {
    std::fs::read_to_string(marker)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn runner(
    dir: &Path,
    refuses: Vec<steward_proto::Capability>,
) -> (std::sync::Arc<Runner>, UnboundedReceiver<AgentMessage>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (
        std::sync::Arc::new(Runner::open(dir, DEVICE, refuses, tx).unwrap()),
        rx,
    )
}

#[tokio::test]
async fn bad_orders_are_refused_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran.log");
    let key = LocalKey::generate().unwrap();
    let stranger = LocalKey::generate().unwrap();
    save_keys(dir.path(), &[key.public_key_b64().to_string()]).unwrap();
    let (agent, mut rx) = runner(dir.path(), Vec::new());

    let mut tampered = key.sign(&order(1, &marker));
    tampered.payload = tampered.payload.replace("echo", "rm -rf /tmp/x; echo");
    let mut unsigned = key.sign(&order(2, &marker));
    unsigned.signature.clear();
    let foreign = stranger.sign(&order(3, &marker));
    let mut expired = order(4, &marker);
    expired.issued_at -= 120_000;
    expired.expires_at = now_ms() - 1_000;
    let mut elsewhere = order(5, &marker);
    elsewhere.device_id = "0190aaaa-0000-7000-8000-0000000000ee".into();
    let mut mismatch = order(6, &marker);
    if let Action::Script { body, .. } = &mut mismatch.action {
        body.push_str("echo extra\n");
    }
    let mut forever = order(7, &marker);
    forever.expires_at = now_ms() + 400 * 24 * 3600 * 1000;
    // Each hostile order with the status the agent reports (None: not its
    // run, it reports nothing).
    let battery = [
        ("tampered", tampered, Some(RunStatus::Refused)),
        ("unsigned", unsigned, Some(RunStatus::Refused)),
        ("foreign key", foreign, Some(RunStatus::Refused)),
        ("expired", key.sign(&expired), Some(RunStatus::Expired)),
        ("misaddressed", key.sign(&elsewhere), None),
        (
            "hash mismatch",
            key.sign(&mismatch),
            Some(RunStatus::Refused),
        ),
        (
            "valid for a year",
            key.sign(&forever),
            Some(RunStatus::Refused),
        ),
    ];
    for (what, signed, expect) in battery {
        let reported = feed(&agent, &mut rx, signed).await;
        assert_eq!(
            reported.as_ref().map(|r| r.status),
            expect,
            "{what}: {reported:?}"
        );
        if let Some(result) = reported {
            assert!(!result.message.is_empty(), "{what}: the refusal says why");
        }
    }
    assert!(marker_lines(&marker).is_empty(), "a refused order ran");

    // A good order runs once; its replay (same run id, even re-signed) does not.
    let good = key.sign(&order(8, &marker));
    let result = feed(&agent, &mut rx, good.clone()).await.unwrap();
    assert_eq!(result.status, RunStatus::Succeeded, "{result:?}");
    let _ = feed(&agent, &mut rx, good).await;
    let _ = feed(&agent, &mut rx, key.sign(&order(8, &marker))).await;
    assert_eq!(marker_lines(&marker), vec![run_id(8)]);

    // Also after a restart of the agent (the journal is on disk).
    drop(agent);
    let (agent, mut rx) = runner(dir.path(), Vec::new());
    let _ = feed(&agent, &mut rx, key.sign(&order(8, &marker))).await;
    assert_eq!(
        marker_lines(&marker),
        vec![run_id(8)],
        "replayed after a restart"
    );
}

#[tokio::test]
async fn an_agent_with_scripts_switched_off_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran.log");
    let key = LocalKey::generate().unwrap();
    save_keys(dir.path(), &[key.public_key_b64().to_string()]).unwrap();
    let (agent, mut rx) = runner(dir.path(), vec![steward_proto::Capability::Scripts]);
    let result = feed(&agent, &mut rx, key.sign(&order(1, &marker)))
        .await
        .unwrap();
    assert_eq!(result.status, RunStatus::Refused);
    assert!(result.message.contains("refuses scripts"), "{result:?}");
    assert!(marker_lines(&marker).is_empty());
}
