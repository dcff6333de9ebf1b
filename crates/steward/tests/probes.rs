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
