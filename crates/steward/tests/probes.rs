//! Probes end to end: an agent probes an HTTPS server on loopback whose
//! certificate expires in 5 days (an expiry alert, from the check and from
//! the days-left metric) and a TCP port that closes (an alert) and reopens
//! (it resolves). Probe results are checks and metrics like any other:
//! the monitors are the ordinary check and threshold monitors.

mod common;

use common::api::Api;
use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A TLS server on 127.0.0.1 whose certificate (from a fresh CA, PEM
/// returned) expires in `days` days.
async fn https_server(days: i64) -> (u16, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_cert.pem(), &ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
    let cert = params.signed_by(&key, &issuer).unwrap();
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    (port, ca_cert.pem())
}

fn alert_of(api: &Api, monitor: &str) -> Option<Value> {
    let rt = tokio::runtime::Handle::current();
    let (_, alerts) = rt.block_on(api.get("/api/v1/alerts"));
    alerts
        .as_array()?
        .iter()
        .find(|a| a["monitor_name"] == monitor && a["state"] != "resolved")
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_certificate_and_a_closed_port_raise_alerts() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let (https, ca) = https_server(5).await;
    let ca_path = root.path().join("probe-ca.pem");
    std::fs::write(&ca_path, ca).unwrap();
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp = port.local_addr().unwrap().port();

    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    for monitor in [
        json!({ "name": "certificate expiring", "spec": { "kind": "check", "check": "probe.web" } }),
        json!({ "name": "ssh down", "spec": { "kind": "check", "check": "probe.ssh" } }),
        json!({ "name": "certificate days left", "spec": { "kind": "threshold", "metric": "probe.tls.cert.days_left",
            "threshold": { "direction": "below", "critical": { "trigger": 7 } } } }),
    ] {
        let (status, body) = api.post("/api/v1/monitors", monitor).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    }
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "prober", &token));
    agent.start_with(
        "1s",
        &[
            "--check-interval",
            "1s",
            "--probe",
            &format!(
                "web=https://127.0.0.1:{https}/?match=ok&ca={}",
                ca_path.display()
            ),
            "--probe",
            &format!("ssh=tcp://127.0.0.1:{tcp}?timeout=2s"),
        ],
    );

    // The certificate: a critical check alert naming the days left ...
    let alert = tokio::task::block_in_place(|| {
        wait_for("the expiry alert", Duration::from_secs(30), || {
            alert_of(&api, "certificate expiring")
        })
    });
    assert_eq!(alert["severity"], "critical", "{alert}");
    let summary = alert["summary"].as_str().unwrap();
    assert!(summary.contains("certificate expires in"), "{alert}");
    // ... and from the metric, with a threshold monitor.
    let alert = tokio::task::block_in_place(|| {
        wait_for("the days-left alert", Duration::from_secs(30), || {
            alert_of(&api, "certificate days left")
        })
    });
    assert_eq!(alert["severity"], "critical", "{alert}");
    // Alerts are evaluated as a batch arrives, before it is stored: the
    // series may show a moment later.
    let path = format!(
        "/api/v1/devices/{}/metrics/probe.tls.cert.days_left?since=1h",
        agent.device_id
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let series = loop {
        let (_, series) = api.get(&path).await;
        if series[0]["samples"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
        {
            break series;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no stored series: {series}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let samples = series[0]["samples"].as_array().unwrap();
    let days = samples.last().unwrap()[1].as_f64().unwrap();
    assert!((4.9..=5.0).contains(&days), "{series}");
    assert_eq!(series[0]["labels"]["probe"], "web", "{series}");
    let (_, phases) = api
        .get(&format!(
            "/api/v1/devices/{}/metrics/probe.duration?since=1h",
            agent.device_id
        ))
        .await;
    let mut seen: Vec<String> = phases
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["labels"]["probe"] == "web")
        .map(|s| s["labels"]["phase"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    assert_eq!(seen, ["connect", "dns", "first_byte", "tls"], "{phases}");

    // The port is open: no alert. It closes: an alert; it reopens: resolved.
    assert!(tokio::task::block_in_place(|| alert_of(&api, "ssh down")).is_none());
    drop(port);
    let alert = tokio::task::block_in_place(|| {
        wait_for("the port alert", Duration::from_secs(30), || {
            alert_of(&api, "ssh down")
        })
    });
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{alert}"
    );
    let _reopened = tokio::net::TcpListener::bind(("127.0.0.1", tcp))
        .await
        .unwrap();
    tokio::task::block_in_place(|| {
        wait_for("the port alert to resolve", Duration::from_secs(30), || {
            alert_of(&api, "ssh down").is_none().then_some(())
        })
    });
}

/// Debian's snmpd on 127.0.0.1:`port`, answering community "public".
fn snmpd(dir: &std::path::Path, port: u16) -> Proc {
    let conf = dir.join("snmpd.conf");
    std::fs::write(
        &conf,
        format!("agentaddress udp:127.0.0.1:{port}\nrocommunity public 127.0.0.1\n"),
    )
    .unwrap();
    Proc(
        std::process::Command::new("/usr/sbin/snmpd")
            .args(["-f", "-C", "-c"])
            .arg(&conf)
            .args(["-Ln", "-M", "/nonexistent"])
            .env("SNMP_PERSISTENT_DIR", dir)
            .env("MIBS", "")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("Debian's snmpd is needed (apt-get install snmpd)"),
    )
}

/// The newest samples of a device's series `name` whose labels include
/// `labels`, once there are at least `n`.
fn samples_of(api: &Api, device: &str, name: &str, labels: &[(&str, &str)], n: usize) -> Vec<f64> {
    let rt = tokio::runtime::Handle::current();
    wait_for(
        &format!("{n} samples of {name}"),
        Duration::from_secs(60),
        || {
            let (_, series) =
                rt.block_on(api.get(&format!("/api/v1/devices/{device}/metrics/{name}?since=1h")));
            let one = series
                .as_array()?
                .iter()
                .find(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))?;
            let values: Vec<f64> = one["samples"]
                .as_array()?
                .iter()
                .filter_map(|s| s[1].as_f64())
                .collect();
            (values.len() >= n).then_some(values)
        },
    )
}

/// Debian's snmpd polled by an agent: its interface counters are stored as
/// rates (bytes per second, never the raw counter); the machine's
/// PostgreSQL answers a query whose latency is stored by phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snmp_counters_are_stored_as_rates_and_a_database_query_is_timed() {
    let root = tempfile::tempdir().unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let snmp_port = udp.local_addr().unwrap().port();
    drop(udp);
    let _snmpd = snmpd(root.path(), snmp_port);
    let postgres = std::env::var("STEWARD_TEST_POSTGRES").ok();
    if postgres.is_none() && std::env::var("CI").is_ok() {
        panic!("STEWARD_TEST_POSTGRES is needed in CI");
    }
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "prober", &token));
    let mut args = vec![
        "--check-interval".to_string(),
        "1s".into(),
        "--probe".into(),
        format!("sw=snmp://127.0.0.1:{snmp_port}?timeout=2s"),
    ];
    if let Some(url) = &postgres {
        // postgres://user@host:port/db → the probe's URL, with a query.
        let base = url.split('?').next().unwrap();
        args.push("--probe".into());
        args.push(format!(
            "pg={base}?query=select+count(*)+from+pg_stat_activity"
        ));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    agent.start_with("1s", &args);

    // snmpd refreshes its counters every few seconds: the rates are a few
    // samples in; each is bytes per second, far below the counter itself.
    let rates = tokio::task::block_in_place(|| {
        samples_of(
            &api,
            &agent.device_id,
            "snmp.if.in.bytes_rate",
            &[("probe", "sw"), ("interface", "lo")],
            3,
        )
    });
    assert!(rates.iter().all(|r| *r >= 0.0 && *r < 1e9), "{rates:?}");
    // SNMP's own packets cross lo: the rate moves.
    let moving = tokio::task::block_in_place(|| {
        wait_for("a rate above zero", Duration::from_secs(60), || {
            let values = samples_of(
                &api,
                &agent.device_id,
                "snmp.if.in.bytes_rate",
                &[("interface", "lo")],
                1,
            );
            values.iter().any(|r| *r > 0.0).then_some(values)
        })
    });
    assert!(moving.iter().all(|r| *r < 1e9), "{moving:?}");
    let status = tokio::task::block_in_place(|| {
        samples_of(
            &api,
            &agent.device_id,
            "snmp.if.oper_status",
            &[("interface", "lo")],
            1,
        )
    });
    assert_eq!(status.last(), Some(&1.0));
    // The raw counters are not series of their own.
    let (_, raw) = api
        .get(&format!(
            "/api/v1/devices/{}/metrics/snmp.if.in.octets?since=1h",
            agent.device_id
        ))
        .await;
    assert!(raw.as_array().is_none_or(|s| s.is_empty()), "{raw}");

    if postgres.is_some() {
        let query = tokio::task::block_in_place(|| {
            samples_of(
                &api,
                &agent.device_id,
                "probe.duration",
                &[("probe", "pg"), ("phase", "query")],
                2,
            )
        });
        assert!(query.iter().all(|s| *s > 0.0 && *s < 5.0), "{query:?}");
        let value = tokio::task::block_in_place(|| {
            samples_of(
                &api,
                &agent.device_id,
                "probe.db.value",
                &[("probe", "pg")],
                1,
            )
        });
        assert!(value[0] >= 1.0, "{value:?}");
        let (_, checks) = api
            .get(&format!("/api/v1/devices/{}/checks", agent.device_id))
            .await;
        let pg = checks
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == "probe.pg"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(pg["state"], "ok", "{checks}");
    }
}
