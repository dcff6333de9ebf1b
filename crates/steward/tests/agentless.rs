//! Agentless devices end to end: a "website" device whose probes the
//! server assigns to an agent (no `--probe` flag on the agent). The probe
//! results land on the agentless device (its metrics, checks, alerts), not
//! on the agent; a TCP port that closes raises an alert on the agentless
//! device that resolves when it reopens; killing the probing agent turns
//! the device "unknown" with no alert of its own (dependency suppression),
//! and it is known again when the agent is back.

mod common;

use common::api::Api;
use common::*;
use rcgen::{CertificateParams, KeyPair, SanType};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// An HTTPS server on 127.0.0.2 (self-signed: the probe says verify=false)
/// answering "ok".
async fn https_server() -> u16 {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::IpAddress("127.0.0.2".parse().unwrap())];
    let cert = params.self_signed(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(steward_pki::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nshop ok")
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    port
}

fn open_alerts_of(api: &Api, device: &str) -> Vec<Value> {
    let rt = tokio::runtime::Handle::current();
    let (_, alerts) = rt.block_on(api.get("/api/v1/alerts"));
    alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["device_id"] == device && a["state"] != "resolved")
        .cloned()
        .collect()
}

fn alert_on(api: &Api, device: &str, monitor: &str) -> Option<Value> {
    open_alerts_of(api, device)
        .into_iter()
        .find(|a| a["monitor_name"] == monitor)
}

fn checks_of(api: &Api, device: &str) -> Vec<Value> {
    let rt = tokio::runtime::Handle::current();
    let (_, checks) = rt.block_on(api.get(&format!("/api/v1/devices/{device}/checks")));
    checks.as_array().cloned().unwrap_or_default()
}

fn check_state(api: &Api, device: &str, name: &str) -> Option<String> {
    checks_of(api, device)
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| c["state"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agentless_website_is_probed_by_its_agent_and_unknown_without_it() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let https = https_server().await;
    let port = tokio::net::TcpListener::bind("127.0.0.3:0").await.unwrap();
    let tcp = port.local_addr().unwrap().port();

    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "shop port", "spec": { "kind": "check", "check": "probe.port" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "prober", &token));
    agent.start_with("1s", &["--check-interval", "1s"]);
    tokio::task::block_in_place(|| {
        wait_for("the agent online", Duration::from_secs(20), || {
            (server.status_of(&agent.device_id) == "online").then_some(())
        })
    });

    // Refused: a probing agent that does not exist, a bad category.
    let (status, body) = api
        .post(
            "/api/v1/agentless-devices",
            json!({ "name": "shop", "category": "website", "address": "127.0.0.2", "probe_agent": uuid::Uuid::now_v7() }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/agentless-devices",
            json!({ "name": "shop", "category": "toaster", "address": "127.0.0.2", "probe_agent": agent.device_id }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, device) = api
        .post(
            "/api/v1/agentless-devices",
            json!({ "name": "shop", "category": "website", "address": "127.0.0.2", "probe_agent": agent.device_id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{device}");
    let id = device["id"].as_str().unwrap().to_string();
    assert_eq!(device["status"], "unknown", "{device}");
    // A probe naming a file on the agent is refused.
    let (status, body) = api
        .post(
            &format!("/api/v1/agentless-devices/{id}/probes"),
            json!({ "name": "web", "url": "https://127.0.0.2/?ca=/etc/shadow" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    for (name, url) in [
        (
            "web",
            format!("https://127.0.0.2:{https}/?match=shop+ok&verify=false&timeout=3s"),
        ),
        ("port", format!("tcp://127.0.0.3:{tcp}?timeout=2s")),
    ] {
        let (status, body) = api
            .post(
                &format!("/api/v1/agentless-devices/{id}/probes"),
                json!({ "name": name, "url": url }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["created_by"], "admin", "{body}");
    }

    // The results are the agentless device's, with no agent restart.
    tokio::task::block_in_place(|| {
        wait_for("the website's check", Duration::from_secs(30), || {
            (check_state(&api, &id, "probe.web").as_deref() == Some("ok")).then_some(())
        })
    });
    let path = format!("/api/v1/devices/{id}/metrics/probe.success?since=1h");
    let series = tokio::task::block_in_place(|| {
        wait_for(
            "the website's stored series",
            Duration::from_secs(30),
            || {
                let (_, series) = tokio::runtime::Handle::current().block_on(api.get(&path));
                series
                    .as_array()?
                    .iter()
                    .find(|s| {
                        s["labels"]["probe"] == "web"
                            && s["samples"].as_array().is_some_and(|s| !s.is_empty())
                    })
                    .cloned()
            },
        )
    });
    assert_eq!(
        series["samples"].as_array().unwrap().last().unwrap()[1],
        1.0,
        "{series}"
    );
    assert!(series["labels"].get("steward.device").is_none(), "{series}");
    let (_, own) = api
        .get(&format!(
            "/api/v1/devices/{}/metrics/probe.success?since=1h",
            agent.device_id
        ))
        .await;
    assert_eq!(own, json!([]), "the agent itself has no probe series");
    assert!(
        tokio::task::block_in_place(|| check_state(&api, &agent.device_id, "probe.web")).is_none()
    );
    // In the device list as an agentless device, online (results come).
    let listed = tokio::task::block_in_place(|| {
        wait_for("the device listed online", Duration::from_secs(20), || {
            server
                .devices()
                .into_iter()
                .find(|d| d["id"] == id.as_str() && d["status"] == "online")
        })
    });
    assert_eq!(listed["kind"], "agentless", "{listed}");
    assert_eq!(listed["category"], "website", "{listed}");
    assert_eq!(listed["probe_agent"], agent.device_id.as_str(), "{listed}");

    // The port closes: an alert on the agentless device; it reopens: resolved.
    assert!(tokio::task::block_in_place(|| alert_on(&api, &id, "shop port")).is_none());
    drop(port);
    let alert = tokio::task::block_in_place(|| {
        wait_for("the port alert", Duration::from_secs(30), || {
            alert_on(&api, &id, "shop port")
        })
    });
    assert_eq!(alert["device_name"], "shop", "{alert}");
    let reopened = tokio::net::TcpListener::bind(("127.0.0.3", tcp))
        .await
        .unwrap();
    tokio::task::block_in_place(|| {
        wait_for("the port alert to resolve", Duration::from_secs(30), || {
            alert_on(&api, &id, "shop port").is_none().then_some(())
        })
    });

    // The probing agent dies: the agent is offline (its own alert), the
    // website is unknown, not down, and has no alert.
    agent.proc.as_mut().unwrap().kill9();
    tokio::task::block_in_place(|| {
        wait_for("the agent offline", Duration::from_secs(30), || {
            (server.status_of(&agent.device_id) == "offline").then_some(())
        })
    });
    tokio::task::block_in_place(|| {
        wait_for("the website unknown", Duration::from_secs(20), || {
            (server.status_of(&id) == "unknown").then_some(())
        })
    });
    let alerts = tokio::task::block_in_place(|| open_alerts_of(&api, &id));
    assert!(
        alerts.is_empty(),
        "no alert on the agentless device: {alerts:?}"
    );
    let (_, history) = api
        .get(&format!("/api/v1/devices/{id}/status-history"))
        .await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["to"] != "offline"),
        "{history}"
    );

    // Back: known again.
    agent.start_with("1s", &["--check-interval", "1s"]);
    tokio::task::block_in_place(|| {
        wait_for("the website known again", Duration::from_secs(30), || {
            (server.status_of(&id) == "online").then_some(())
        })
    });
    drop(reopened);

    // Deleted: gone from the list, its probes no longer run.
    let (status, body) = api.delete(&format!("/api/v1/agentless-devices/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = api.get("/api/v1/agentless-devices").await;
    assert_eq!(listed, json!([]), "{listed}");
}

/// Debian's dnsmasq answering `shop.test` (A 10.1.2.3) on 127.0.0.4.
struct Dnsmasq(std::process::Child);

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dnsmasq(port: u16) -> Option<Dnsmasq> {
    let binary = "/usr/sbin/dnsmasq";
    if !std::path::Path::new(binary).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "dnsmasq is missing (Debian's dnsmasq-base)"
        );
        eprintln!("\n!!! SKIPPED the DNS probe: /usr/sbin/dnsmasq is missing (dnsmasq-base)\n");
        return None;
    }
    let child = std::process::Command::new(binary)
        .args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.4",
            "--pid-file=",
            "--user=root",
            "--address=/shop.test/10.1.2.3",
            &format!("--port={port}"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Some(Dnsmasq(child))
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.4:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether this kernel lets the agent (its user) send ICMP echoes.
fn icmp_allowed() -> Result<(), String> {
    if rustix_is_root() {
        return Ok(());
    }
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    let bounds: Vec<u64> = range
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    match bounds.as_slice() {
        [low, high] if low <= high => Ok(()),
        _ => Err(format!(
            "net.ipv4.ping_group_range is {:?} and the agent is not root",
            range.trim()
        )),
    }
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icmp_and_dns_probes_run_for_an_agentless_router() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let dns_port = free_udp_port();
    let dns = dnsmasq(dns_port);
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let mut agent =
        tokio::task::block_in_place(|| server.online_agent(root.path(), "prober", "1s"));
    let (status, device) = api
        .post(
            "/api/v1/agentless-devices",
            json!({ "name": "router", "category": "router", "address": "127.0.0.1", "probe_agent": agent.device_id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{device}");
    let id = device["id"].as_str().unwrap().to_string();
    let mut probes = vec![("ping", "icmp://127.0.0.1?count=3&timeout=3s".to_string())];
    if dns.is_some() {
        probes.push((
            "dns",
            format!("dns://127.0.0.4:{dns_port}?name=shop.test&type=A&expect=10.1.2.3&timeout=2s"),
        ));
        probes.push((
            "dns.wrong",
            format!("dns://127.0.0.4:{dns_port}?name=shop.test&type=A&expect=10.9.9.9&timeout=2s"),
        ));
    }
    for (name, url) in &probes {
        let (status, body) = api
            .post(
                &format!("/api/v1/agentless-devices/{id}/probes"),
                json!({ "name": name, "url": url }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let result = |name: &str| {
        let name = format!("probe.{name}");
        tokio::task::block_in_place(|| {
            wait_for(
                &format!("the {name} result"),
                Duration::from_secs(30),
                || {
                    checks_of(&api, &id)
                        .into_iter()
                        .find(|c| c["name"] == name.as_str())
                },
            )
        })
    };
    let ping = result("ping");
    match icmp_allowed() {
        Ok(()) => {
            assert_eq!(ping["state"], "ok", "{ping}");
            assert!(
                ping["message"].as_str().unwrap().contains("3/3 replies"),
                "{ping}"
            );
            let path = format!("/api/v1/devices/{id}/metrics/probe.icmp.loss_ratio?since=1h");
            let loss = tokio::task::block_in_place(|| {
                wait_for("the stored loss", Duration::from_secs(30), || {
                    let (_, series) = tokio::runtime::Handle::current().block_on(api.get(&path));
                    series[0]["samples"]
                        .as_array()?
                        .last()
                        .map(|s| s[1].clone())
                })
            });
            assert_eq!(loss, 0.0, "no loss to 127.0.0.1");
        }
        Err(why) => {
            // The agent says which setting refuses it.
            assert!(
                ping["message"]
                    .as_str()
                    .unwrap()
                    .contains("ping_group_range"),
                "{ping}"
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "ICMP cannot be tested in CI: {why}"
            );
            eprintln!("\n!!! SKIPPED the ICMP success check: {why}\n");
        }
    }
    if dns.is_some() {
        let answered = result("dns");
        assert_eq!(answered["state"], "ok", "{answered}");
        assert!(
            answered["message"].as_str().unwrap().contains("10.1.2.3"),
            "{answered}"
        );
        let wrong = result("dns.wrong");
        assert_eq!(wrong["state"], "critical", "{wrong}");
        assert!(
            wrong["message"]
                .as_str()
                .unwrap()
                .contains("expected 10.9.9.9"),
            "{wrong}"
        );
    }
    agent.proc.as_mut().unwrap().terminate();
}
