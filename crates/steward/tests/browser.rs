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

#[path = "../../steward-agent/tests/fixture/apt.rs"]
mod apt_fixture;
#[path = "browser/kpi_seed.rs"]
mod kpi_seed;
use kpi_seed::seed_kpi_history;

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
    // The script the walk's runbook offers on the incident.
    let fix = "#!/bin/sh\n# steward: name = e2e-fix\necho fixed by the runbook\n";
    let fleet = fleet_of_two(["e2e-alpha", "e2e-beta"], fix).await;
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
            "POST /api/v1/runbooks",
            "POST /api/v1/incidents/{id}/runs",
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
        target: String::new(),
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

/// The device's health charts show the anomaly band and the forecast's
/// projection (e2e/browser/intel.mjs, chromium): a device speaking the
/// agent protocol sends eight hours of minute samples (back-dated): CPU
/// around 20 % with a jump to 85 % an hour ago, and a filesystem filling
/// at 2 points an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_show_anomaly_bands_and_forecast_projections() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    if !Engine::Chromium.available() {
        return;
    }
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let dir = root.path().join("agent");
    let device = steward_agent::enroll::enroll(&dir, &token, Some("charted".into()))
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
        protocol_version: steward_proto::PROTOCOL_VERSION,
        agent_version: "x".into(),
        refuses: Vec::new(),
        target: String::new(),
    });
    socket
        .send(Message::text(steward_proto::encode(&hello)))
        .await
        .unwrap();
    let minute = 60_000i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let noise = |i: i64| {
        let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
    for m in 0..480i64 {
        let cpu = if m >= 420 { 0.85 } else { 0.20 } + 0.02 * noise(m);
        let disk = 0.50 + 0.02 * m as f64 / 60.0 + 0.002 * noise(m + 1000);
        let point = |name: &str, labels: &[(&str, &str)], value: f64| steward_proto::Point {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: round(value),
        };
        let batch = steward_proto::AgentMessage::Metrics(steward_proto::MetricBatch {
            seq: m as u64 + 1,
            ts_ms: now - (479 - m) * minute,
            points: vec![
                point("system.cpu.utilization", &[], cpu),
                point(
                    "system.filesystem.utilization",
                    &[("mountpoint", "/")],
                    disk,
                ),
            ],
        });
        socket
            .send(Message::text(steward_proto::encode(&batch)))
            .await
            .unwrap();
        // Each batch acknowledged before the next (the agent's window).
        loop {
            let Some(Ok(Message::Text(text))) = socket.next().await else {
                panic!("the server closed the socket");
            };
            if text.contains("\"ack\"") && text.contains(&format!("\"seq\":{}", m + 1)) {
                break;
            }
            assert!(!text.contains("\"error\""), "{text}");
        }
    }
    tokio::task::block_in_place(|| {
        let dir = browser_dir().join("screenshots");
        let url = format!("{}/", server.url());
        eprintln!(
            "{}",
            node(
                "intel.mjs",
                &[
                    &url,
                    "admin",
                    ADMIN_PASSWORD,
                    dir.to_str().unwrap(),
                    &device
                ],
            )
        );
        assert!(dir.join("intel-charts.png").exists(), "no intel-charts.png");
    });
    drop(socket);
}

/// Patching in chromium over a real agent detecting against an isolated
/// apt root (stwd-demo 1.0-1 installed, 2.0-1 published as
/// Debian-Security, a reboot flag): the device's pending updates with
/// their rule and reboot reason, the compliance page and its software
/// search, a hold and a policy made in their forms; the server then holds
/// both, set by the person signed in, and the device's plan waits on the
/// hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patching_is_seen_and_held_in_the_console() {
    if !Engine::Chromium.available() {
        return;
    }
    steward_pki::install_default_provider();
    let apt = apt_fixture::AptRoot::new();
    let v1 = apt.package("stwd-demo", "1.0-1");
    let v2 = apt.package("stwd-demo", "2.0-1");
    apt.install(&v1);
    apt.publish("security", &[&v2], &apt_fixture::SECURITY);
    apt.update();
    std::fs::write(apt.root.join("run/reboot-required"), "").unwrap();
    std::fs::write(apt.root.join("run/reboot-required.pkgs"), "stwd-demo\n").unwrap();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "patch-web", &token));
    let apt_config = apt.apt_config.display().to_string();
    let patch_root = apt.root.display().to_string();
    agent.start_with(
        "1s",
        &[
            "--apt-config",
            &apt_config,
            "--patch-root",
            &patch_root,
            "--patch-interval",
            "1h",
        ],
    );
    let device = agent.device_id.clone();
    let api = server.api();
    let path = format!("/api/v1/devices/{device}/updates");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, body) = api.get(&path).await;
        if body["security"] == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not reported: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let dir = browser_dir().join("screenshots");
    let url = format!("{}/", server.url());
    tokio::task::block_in_place(|| {
        eprintln!(
            "{}",
            node(
                "patching.mjs",
                &[
                    &url,
                    "admin",
                    ADMIN_PASSWORD,
                    dir.to_str().unwrap(),
                    &device
                ],
            )
        )
    });
    for shot in [
        "patching-device",
        "patching",
        "patching-hold",
        "patching-plan",
    ] {
        assert!(dir.join(format!("{shot}.png")).exists(), "no {shot}.png");
    }
    // What the browser made is what the server holds.
    let (_, holds) = api.get("/api/v1/patching/holds").await;
    let hold = &holds[0];
    assert_eq!(
        (
            &hold["fields"]["package"],
            &hold["fields"]["version"],
            &hold["fields"]["reason"],
            &hold["definition"]["set_by"],
        ),
        (
            &serde_json::json!("stwd-demo"),
            &serde_json::json!("2.0-1"),
            &serde_json::json!("breaks the demo app"),
            &serde_json::json!("admin"),
        ),
        "{holds}"
    );
    let (_, policies) = api.get("/api/v1/patching/policies").await;
    assert_eq!(
        policies[0]["fields"]["name"], "nightly security",
        "{policies}"
    );
    assert_eq!(policies[0]["fields"]["window"]["start_minute"], 120);
    let (_, plan) = api
        .get(&format!("/api/v1/devices/{device}/patch-plan"))
        .await;
    assert_eq!(plan["waiting"][0]["kind"], "held", "{plan}");
    assert_eq!(apt.installed_version("stwd-demo"), "1.0-1");
}

/// The security posture in chromium: the fleet summary page, a device's
/// posture tab (score, failing items with their fix) and its backups tab,
/// over two real agents reporting their posture; then the aging page and
/// a device's aging tab, one agent's disks (a smartctl stand-in) with
/// rising counters (e2e/browser/posture.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_posture_and_backups() {
    if !Engine::Chromium.available() {
        return;
    }
    let mut fleet = fleet_of_two(["guard-1", "guard-2"], "").await;
    let api = fleet.server.api();
    // guard-1's disks through a smartctl stand-in (restarted with it), its
    // counters rising.
    let stand_in = fleet._root.path().join("smartctl-stand-in");
    let smartctl = common::smartctl::install(&stand_in);
    let guard = &mut fleet._agents[0];
    guard.proc = None;
    let smart = [
        "--smart-interval",
        "1s",
        "--smartctl",
        smartctl.to_str().unwrap(),
    ];
    tokio::task::block_in_place(|| guard.start_with("1s", &smart));
    let aging = format!("/api/v1/devices/{}/aging", guard.device_id);
    tokio::task::block_in_place(|| {
        let rt = tokio::runtime::Handle::current();
        let view = || rt.block_on(api.get(&aging)).1;
        let minute = std::time::Duration::from_secs(60);
        wait_for("both postures", minute, || {
            (rt.block_on(api.get("/api/v1/posture")).1["devices"] == 2).then_some(())
        });
        let sda = |v: serde_json::Value| v["disks"][0]["reallocated_sectors"].clone();
        wait_for("guard-1's disks", minute, || {
            (sda(view()) == 8).then_some(())
        });
        common::smartctl::answer(&stand_in, "sda", "ata_rising_2.json");
        wait_for("guard-1 flagged", minute, || {
            (view()["worst"] == "critical").then_some(())
        });
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
                "aging-fleet".into(),
                "aging-device".into(),
            ],
        )
    });
}

/// Agentless devices in chromium: an agentless website added in the
/// console with one of the agents as its prober, a TCP probe added to it,
/// and its result (run by the agent on a port opened here) shown on the
/// device's page (e2e/browser/agentless.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_adds_an_agentless_device_and_shows_its_probe() {
    if !Engine::Chromium.available() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let fleet = fleet_of_two(["probe-1", "probe-2"], "").await;
    tokio::task::block_in_place(|| {
        drive(
            &fleet,
            "agentless.mjs",
            &[&port],
            &[
                "POST /api/v1/agentless-devices",
                "POST /api/v1/agentless-devices/{id}/probes",
            ],
            &["agentless".into()],
        )
    });
    drop(listener);
}

/// The KPI page in chromium over a seeded history (e2e/browser/kpis.mjs):
/// the month's figures as the report states them, each with its
/// definition and weekly trend, "not collected" for what has no data,
/// and one site's figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kpi_page_shows_a_seeded_history() {
    if !Engine::Chromium.available() {
        return;
    }
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let period = seed_kpi_history(&server).await;
    let fleet = Fleet {
        _root: root,
        server,
        _agents: Vec::new(),
    };
    tokio::task::block_in_place(|| {
        drive(
            &fleet,
            "kpis.mjs",
            &[&period],
            &[],
            &["kpis".into(), "kpis-site".into()],
        )
    });
}
