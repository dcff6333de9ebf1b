//! The console in real browsers: Debian's chromium (playwright-core) walks
//! the whole technician's path over real server and agent processes
//! (e2e/browser/console.mjs); Debian's firefox-esr (puppeteer-core over
//! WebDriver BiDi) walks it again in the other engine
//! (e2e/browser/firefox.mjs). Both leave screenshots in
//! e2e/browser/screenshots/. Text an agent reports is shown as text: a
//! hostile device name with markup creates no element and runs no script.
//! Each skips loudly when its browser or the npm packages are missing,
//! unless CI=true.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

const HOSTILE: &str = r#"<img src=x onerror="window.__pwned=true"><b>bold</b>"#;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/browser")
}

/// A browser engine and the npm package that drives it.
#[derive(Clone, Copy)]
enum Engine {
    Chromium,
    Firefox,
}

impl Engine {
    fn ready(self) -> Result<(), String> {
        let (variable, default, package, install) = match self {
            Engine::Chromium => (
                "CHROMIUM",
                "/usr/bin/chromium",
                "playwright-core",
                "chromium",
            ),
            Engine::Firefox => (
                "FIREFOX",
                "/usr/bin/firefox-esr",
                "puppeteer-core",
                "firefox-esr",
            ),
        };
        let binary = std::env::var(variable).unwrap_or_else(|_| default.into());
        if !std::path::Path::new(&binary).exists() {
            return Err(format!("{binary} is missing (apt-get install {install})"));
        }
        if !browser_dir().join("node_modules").join(package).exists() {
            return Err("e2e/browser/node_modules is missing (npm ci --prefix e2e/browser)".into());
        }
        Ok(())
    }

    /// False (after saying so loudly) when the browser test cannot run
    /// here; in CI that is a failure.
    fn available(self) -> bool {
        match self.ready() {
            Ok(()) => true,
            Err(why) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "browser test cannot run in CI: {why}"
                );
                eprintln!("\n!!! SKIPPED browser test: {why}\n");
                false
            }
        }
    }
}

/// Runs `node SCRIPT ARGS...` in e2e/browser; panics with its output when
/// it fails.
fn node(script: &str, args: &[&str]) -> String {
    let out = Command::new("node")
        .current_dir(browser_dir())
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

/// A server with an alert on every device as soon as it reports (uptime
/// above 1 s), `script` in its library, and two real agents online.
struct Fleet {
    _root: tempfile::TempDir,
    server: Server,
    _agents: Vec<Agent>,
}

async fn fleet_of_two(names: [&str; 2], script: &str) -> Fleet {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = common::api::Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    )
    .with_token(&server.token);
    let monitor = serde_json::json!({
        "name": "uptime",
        "spec": {
            "kind": "threshold",
            "metric": "system.uptime",
            "threshold": { "direction": "above", "critical": { "trigger": 1.0 } }
        }
    });
    let (status, body) = api.post("/api/v1/monitors", monitor).await;
    assert!(status.is_success(), "{body}");
    if !script.is_empty() {
        let (status, body) = api
            .post("/api/v1/scripts", serde_json::json!({ "file": script }))
            .await;
        assert!(status.is_success(), "{body}");
    }
    let agents = tokio::task::block_in_place(|| {
        let token = server.enroll_token(2);
        let mut agents: Vec<Agent> = names
            .iter()
            .map(|name| Agent::enroll(root.path(), name, &token))
            .collect();
        for agent in &mut agents {
            agent.start("1s");
        }
        wait_for(
            "both agents online",
            std::time::Duration::from_secs(20),
            || {
                agents
                    .iter()
                    .all(|a| server.status_of(&a.device_id) == "online")
                    .then_some(())
            },
        );
        agents
    });
    Fleet {
        _root: root,
        server,
        _agents: agents,
    }
}

/// Runs a browser script against the fleet's server; then checks the
/// server's audit log holds `actions` and the screenshots `shots` exist.
fn drive(fleet: &Fleet, script: &str, extra: &[&str], actions: &[&str], shots: &[String]) {
    let server = &fleet.server;
    let dir = browser_dir().join("screenshots");
    let url = format!("{}/", server.url());
    let mut args = vec![url.as_str(), "admin", ADMIN_PASSWORD, dir.to_str().unwrap()];
    args.extend(extra);
    eprintln!("{}", node(script, &args));
    let audit = String::from_utf8_lossy(&server.cli(&["audit", "export"]).stdout).to_string();
    for action in actions {
        assert!(audit.contains(action), "no {action} in the audit log");
    }
    for shot in shots {
        assert!(dir.join(format!("{shot}.png")).exists(), "no {shot}.png");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_works_through_the_console() {
    if !Engine::Chromium.available() {
        return;
    }
    let fleet = fleet_of_two(["e2e-alpha", "e2e-beta"], "").await;
    let tess_password = site_technician(&fleet).await;
    tokio::task::block_in_place(|| {
        let shots = ["dashboard", "device", "alerts", "job", "terminal"].map(String::from);
        let actions = [
            "shell.opened",
            "POST /api/v1/enroll-tokens",
            "POST /api/v1/jobs",
            "PATCH /api/v1/monitors/{id}",
            "DELETE /api/v1/monitors/{id}",
            "login",
        ];
        drive(&fleet, "console.mjs", &[], &actions, &shots);
        // What the browser did is in the server's records.
        let alerts = fleet.server.cli_json(&["alerts", "--all"]);
        assert!(
            alerts
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["acknowledged_by"] == "admin"),
            "no alert acknowledged by admin: {alerts}"
        );
        // The site technician's pages, then the audit log filtered.
        let dir = browser_dir().join("screenshots");
        let url = format!("{}/", fleet.server.url());
        eprintln!(
            "{}",
            node(
                "site.mjs",
                &[
                    &url,
                    "tess",
                    &tess_password,
                    "admin",
                    ADMIN_PASSWORD,
                    dir.to_str().unwrap()
                ],
            )
        );
        for shot in [
            "site-devices",
            "site-monitors",
            "site-channels",
            "site-alerts",
            "site-users",
            "site-audit",
            "audit",
            "audit-shells",
            "audit-upload",
        ] {
            assert!(dir.join(format!("{shot}.png")).exists(), "no {shot}.png");
        }
        let audit =
            String::from_utf8_lossy(&fleet.server.cli(&["audit", "export"]).stdout).to_string();
        assert!(
            audit
                .lines()
                .any(|l| l.contains("\"actor\":\"tess\"") && l.contains("\"action\":\"login\"")),
            "the technician's sign-in is not in the audit log"
        );
    });
}

/// A technician limited to the devices' site (password returned), a
/// notification channel of the whole organisation, and a 12 KiB file
/// uploaded to e2e-alpha (for the audit log's sentences).
async fn site_technician(fleet: &Fleet) -> String {
    let api = fleet.server.api();
    let device = &fleet._agents[0].device_id;
    let site = fleet.server.device(device)["site"]
        .as_str()
        .unwrap()
        .to_string();
    let password = "a-long-site-password".to_string();
    let (status, body) = api
        .post(
            "/api/v1/users",
            serde_json::json!({ "username": "tess", "password": password, "role": "technician", "site": site }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = api
        .post(
            "/api/v1/channels",
            serde_json::json!({ "name": "pager", "kind": "webhook", "url": "https://hooks.example.com/steward/where", "secret": "0123456789abcdef-secret" }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    use base64::Engine;
    let path = fleet._root.path().join("app.conf");
    let content = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 12 * 1024]);
    let (status, body) = api
        .post(
            &format!("/api/v1/devices/{device}/files/put"),
            serde_json::json!({ "path": path, "content_b64": content }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    password
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_text_with_markup_is_shown_as_text() {
    if !Engine::Chromium.available() {
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
    tokio::task::block_in_place(|| {
        node(
            "markup.mjs",
            &[
                &format!("{}/", server.url()),
                "admin",
                ADMIN_PASSWORD,
                HOSTILE,
            ],
        )
    });
}

/// The same path in Firefox: two agents, an alert each (one acknowledged),
/// a monitor made in its form, a script run on both from the bulk bar, the
/// terminal. The server's records then show what the browser did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_firefox() {
    if !Engine::Firefox.available() {
        return;
    }
    let script =
        "#!/bin/sh\n# steward: name = ff-hello\necho start\nsleep 6\necho steward-ff-$((6*7))\n";
    let fleet = fleet_of_two(["ff-alpha", "ff-beta"], script).await;
    tokio::task::block_in_place(|| {
        let shots =
            ["dashboard", "device", "alerts", "job", "terminal"].map(|s| format!("firefox-{s}"));
        let actions = ["shell.opened", "POST /api/v1/jobs", "login"];
        drive(&fleet, "firefox.mjs", &["2"], &actions, &shots);
        let alerts = fleet.server.cli_json(&["alerts", "--all"]);
        assert!(
            alerts
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["acknowledged_by"] == "admin"),
            "no alert acknowledged by admin in Firefox: {alerts}"
        );
        // The monitor made in the form, as the server holds it.
        let monitors = fleet.server.cli_json(&["monitors"]);
        let made = monitors
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "ff memory")
            .unwrap_or_else(|| panic!("no ff memory monitor: {monitors}"));
        assert_eq!(
            made["definition"]["spec"]["threshold"]["critical"]["trigger"], 0.97,
            "{made}"
        );
        let jobs = fleet.server.cli_json(&["jobs"]);
        assert!(
            jobs.as_array().unwrap().iter().any(|j| {
                j["name"].as_str().unwrap_or("").contains("ff-hello")
                    && j["counts"]["succeeded"] == 2
            }),
            "no ff-hello job that succeeded on both devices: {jobs}"
        );
    });
}

/// The security posture in chromium: the fleet summary page, a device's
/// posture tab (score, failing items with their fix) and its backups tab,
/// over two real agents reporting their posture (e2e/browser/posture.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_posture_and_backups() {
    if !Engine::Chromium.available() {
        return;
    }
    let fleet = fleet_of_two(["guard-1", "guard-2"], "").await;
    let api = fleet.server.api();
    tokio::task::block_in_place(|| {
        wait_for("both postures", std::time::Duration::from_secs(60), || {
            let rt = tokio::runtime::Handle::current();
            let (_, answer) = rt.block_on(api.get("/api/v1/posture"));
            (answer["devices"] == 2).then_some(())
        })
    });
    tokio::task::block_in_place(|| {
        drive(
            &fleet,
            "posture.mjs",
            &[],
            &[],
            &[
                "posture-fleet".into(),
                "posture-device".into(),
                "posture-backups".into(),
            ],
        )
    });
}
