//! A device's credential rotates while it runs: the agent gets a new
//! certificate for a new key, reconnects with it, keeps reporting, and the
//! old certificate is refused from then on.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_retires_the_old_certificate() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "rotating", &token));
    let old = steward_agent::state::AgentState::load(&agent.dir()).unwrap();
    agent.start("1s");
    let seq = |s: &Server| {
        s.device(&agent.device_id)["stored_seq"]
            .as_u64()
            .unwrap_or(0)
    };
    tokio::task::block_in_place(|| {
        wait_for("first reports", Duration::from_secs(30), || {
            (seq(&server) > 0).then_some(())
        })
    });

    let out = tokio::task::block_in_place(|| server.cli(&["device", "rotate", &agent.device_id]));
    assert!(out.status.success());
    let rotated = tokio::task::block_in_place(|| {
        wait_for("a new certificate on disk", Duration::from_secs(15), || {
            let now = steward_agent::state::AgentState::load(&agent.dir()).ok()?;
            (now.identity.cert_pem != old.identity.cert_pem).then_some(now)
        })
    });
    assert_ne!(
        rotated.identity.key_pem, old.identity.key_pem,
        "a rotation must use a new key"
    );
    // The agent reconnects with it and keeps reporting.
    let before = tokio::task::block_in_place(|| seq(&server));
    tokio::task::block_in_place(|| {
        wait_for("reports after rotation", Duration::from_secs(15), || {
            (seq(&server) >= before + 2).then_some(())
        })
    });
    assert_eq!(
        tokio::task::block_in_place(|| server.status_of(&agent.device_id)),
        "online"
    );
    // The old certificate no longer gets in.
    let old_identity =
        Arc::new(steward_pki::client_config(&old.ca_pem, Some(&old.identity)).unwrap());
    let refused =
        steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, old_identity)
            .await;
    assert!(format!("{:#}", refused.err().unwrap()).contains("403"));
    // Both steps are in the audit trail.
    let audit = tokio::task::block_in_place(|| {
        String::from_utf8_lossy(&server.cli(&["audit", "export"]).stdout).to_string()
    });
    assert!(
        audit.contains("device.credential.issued") && audit.contains("device.credential.activated"),
        "{audit}"
    );
}
