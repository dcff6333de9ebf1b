//! In a real browser (Debian's chromium via playwright-core), text an agent
//! reports is shown as text: a hostile device name with markup creates no
//! element and runs no script. Skips loudly when chromium or the npm
//! packages are missing, unless CI=true.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

const HOSTILE: &str = r#"<img src=x onerror="window.__pwned=true"><b>bold</b>"#;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/browser")
}

fn ready() -> Result<(), String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Err(format!("{chromium} is missing (apt-get install chromium)"));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Err("e2e/browser/node_modules is missing (npm ci --prefix e2e/browser)".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_text_with_markup_is_shown_as_text() {
    if let Err(why) = ready() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "browser test cannot run in CI: {why}"
        );
        eprintln!("\n!!! SKIPPED browser test: {why}\n");
        return;
    }
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    // A compromised agent names itself with markup and reports a hostname
    // with markup in its inventory.
    let dir = root.path().join("agent");
    let device = steward_agent::enroll::enroll(&dir, &token, Some(HOSTILE.into()))
        .await
        .unwrap();
    let state = steward_agent::state::AgentState::load(&dir).unwrap();
    let identity = std::sync::Arc::new(
        steward_pki::client_config(&state.ca_pem, Some(&state.identity)).unwrap(),
    );
    let mut socket =
        steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, identity)
            .await
            .unwrap();
    let hello = steward_proto::AgentMessage::Hello(steward_proto::Hello {
        protocol_version: 1,
        agent_version: "x".into(),
        refuses: Vec::new(),
    });
    let inventory = steward_proto::AgentMessage::Inventory(Box::new(steward_proto::Inventory {
        hostname: HOSTILE.into(),
        ..Default::default()
    }));
    for message in [hello, inventory] {
        futures_util::SinkExt::send(
            &mut socket,
            tokio_tungstenite::tungstenite::Message::text(steward_proto::encode(&message)),
        )
        .await
        .unwrap();
    }
    tokio::task::block_in_place(|| {
        wait_for(
            "the hostile hostname to be stored",
            std::time::Duration::from_secs(10),
            || (server.device(&device)["hostname"] == HOSTILE).then_some(()),
        )
    });
    let out = tokio::task::block_in_place(|| {
        Command::new("node")
            .current_dir(browser_dir())
            .args([
                "markup.mjs",
                &format!("{}/", server.url()),
                "admin",
                ADMIN_PASSWORD,
                HOSTILE,
            ])
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
