//! Probes: the pure parts with plain data, the I/O against real servers
//! on loopback (a TLS server whose certificate expires in 5 days, SMTP and
//! IMAP STARTTLS responders, hostile peers).

use super::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const DAY: i64 = 86_400_000;

fn probe(spec: &str) -> Probe {
    parse(spec).unwrap()
}

#[test]
fn specs_parse_with_defaults_and_options() {
    let p = probe("web=https://example.com/health?timeout=2s&warn_days=30&crit_days=10");
    assert_eq!(
        (p.kind, p.host.as_str(), p.port, p.timeout),
        (Kind::Https, "example.com", 443, Duration::from_secs(2))
    );
    assert_eq!(p.path, "/health");
    assert_eq!((p.warn_days, p.crit_days), (30.0, 10.0));
    let p = probe("api=http://10.0.0.9:8080/v1/ping?status=204&match=pong%21+ok&redirects=2");
    assert_eq!(
        (p.kind, p.port, p.path.as_str()),
        (Kind::Http, 8080, "/v1/ping")
    );
    assert_eq!(p.expect_status, Some(204));
    assert_eq!(p.body_match.as_deref(), Some("pong! ok"));
    assert_eq!(p.redirects, 2);
    assert_eq!(
        probe("x=http://h/?match=%zz%4").body_match.as_deref(),
        Some("%zz%4")
    );
    assert_eq!(
        probe("x=http://h/?match=%C3%A9").body_match.as_deref(),
        Some("é")
    );
    assert_eq!((p.warn_days, p.crit_days), (21.0, 7.0));
    let p = probe("mx=smtp://mail.example.com");
    assert_eq!((p.kind, p.port), (Kind::Smtp, 25));
    let p = probe("v6=tcp://[::1]:22");
    assert_eq!((p.host.as_str(), p.port), ("::1", 22));
    let p = probe("db=tls://10.0.0.5:5433?verify=false&servername=db.lan&ca=/etc/ca.pem");
    assert!(!p.verify);
    assert_eq!(p.server_name.as_deref(), Some("db.lan"));
    assert_eq!(p.ca, Some(PathBuf::from("/etc/ca.pem")));
    for bad in [
        "noequals",
        "Bad=tcp://h:1",
        "x=ftp://h:21",
        "x=tcp://h",
        "x=tcp://h:0",
        "x=tcp://h:99999",
        "x=tcp://h h:1",
        "x=tcp://h:1?timeout=5m",
        "x=tcp://h:1?crit_days=-1",
        "x=tcp://h:1?what=1",
        "x=tcp://:1",
        "x=http://h/?status=99",
        "x=http://h/?redirects=11",
    ] {
        assert!(parse(bad).is_err(), "{bad} parsed");
    }
}

fn outcome(error: Option<&str>, cert: Option<Cert>) -> Outcome {
    Outcome {
        error: error.map(String::from),
        phases: vec![("dns", 0.001), ("connect", 0.002), ("tls", 0.010)],
        cert,
        http_status: None,
        ..Outcome::default()
    }
}

fn expiring(now: i64, days: i64, trusted: Result<(), String>) -> Option<Cert> {
    Some(Cert {
        not_after_ms: now + days * DAY,
        trusted,
    })
}

#[test]
fn judging_an_outcome_gives_a_check_and_points() {
    let p = probe("web=tls://127.0.0.1:8443");
    let now = 1_700_000_000_000;
    let state = |o: &Outcome| {
        let (run, _) = judge(&p, o, now);
        (run.exit_code, run.output)
    };
    let (code, output) = state(&outcome(None, expiring(now, 90, Ok(()))));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("expires in 90 days"), "{output}");
    assert!(
        output.contains("|time=0.013000s days_left=90.00;21;7"),
        "{output}"
    );
    let (code, output) = state(&outcome(None, expiring(now, 14, Ok(()))));
    assert_eq!(code, 1, "{output}");
    let (code, output) = state(&outcome(None, expiring(now, 5, Ok(()))));
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("expires in 5.0 days"), "{output}");
    let (code, output) = state(&outcome(None, expiring(now, -1, Ok(()))));
    assert!(code == 2 && output.contains("has expired"), "{output}");
    let (code, output) = state(&outcome(
        None,
        expiring(now, 90, Err("UnknownIssuer".into())),
    ));
    assert!(
        code == 2 && output.contains("not trusted: UnknownIssuer"),
        "{output}"
    );
    let (code, output) = state(&outcome(Some("cannot connect"), None));
    assert!(code == 2 && output.contains("cannot connect"), "{output}");

    // verify=false: an untrusted chain is fine, the expiry still counts.
    let lax = probe("web=tls://127.0.0.1:8443?verify=false");
    let (run, _) = judge(
        &lax,
        &outcome(None, expiring(now, 90, Err("x".into()))),
        now,
    );
    assert_eq!(run.exit_code, 0);

    let (run, points) = judge(&p, &outcome(None, expiring(now, 5, Ok(()))), now);
    assert_eq!(run.name, "probe.web");
    assert_eq!(run.ts_ms, now);
    let find = |name: &str| {
        points
            .iter()
            .filter(|pt| pt.name == name)
            .map(|pt| pt.value)
            .collect::<Vec<_>>()
    };
    assert_eq!(find("probe.success"), [1.0]);
    assert_eq!(find("probe.tls.cert.days_left"), [5.0]);
    assert_eq!(find("probe.duration"), [0.001, 0.002, 0.010]);
    assert!(points.iter().all(|pt| pt.labels["probe"] == "web"));
    let limits = steward_proto::Limits::default();
    for pt in &points {
        use steward_proto::Validate;
        pt.validate(&limits).unwrap();
    }
    let (_, failed) = judge(&p, &outcome(Some("refused"), None), now);
    assert_eq!(failed[0].value, 0.0);
}

/// A CA and a certificate for 127.0.0.1 expiring in `days` days.
fn certificate(days: i64) -> (String, rustls::ServerConfig) {
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
    (ca_cert.pem(), config)
}

/// A TLS server; with `greeting`, a STARTTLS dialogue first (SMTP or IMAP).
async fn tls_server(config: rustls::ServerConfig, dialogue: Option<Kind>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                match dialogue {
                    Some(Kind::Smtp) => {
                        let _ = stream.write_all(b"220 test ESMTP\r\n").await;
                        let _ = stream.read(&mut buf).await; // EHLO
                        let _ = stream
                            .write_all(b"250-test\r\n250-SIZE 1000\r\n250 STARTTLS\r\n")
                            .await;
                        let _ = stream.read(&mut buf).await; // STARTTLS
                        let _ = stream.write_all(b"220 2.0.0 Ready\r\n").await;
                    }
                    Some(Kind::Imap) => {
                        let _ = stream.write_all(b"* OK IMAP4rev1 ready\r\n").await;
                        let _ = stream.read(&mut buf).await;
                        let _ = stream.write_all(b"s1 OK Begin TLS\r\n").await;
                    }
                    _ => {}
                }
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    port
}

fn ca_file(pem: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pem).unwrap();
    file
}

#[tokio::test]
async fn a_certificate_expiring_in_5_days_is_critical_on_tls_and_starttls() {
    steward_pki::install_default_provider();
    let (ca, config) = certificate(5);
    let ca = ca_file(&ca);
    for (scheme, dialogue) in [
        ("tls", None),
        ("smtp", Some(Kind::Smtp)),
        ("imap", Some(Kind::Imap)),
    ] {
        let port = tls_server(config.clone(), dialogue).await;
        let p = probe(&format!(
            "web=tls://127.0.0.1:{port}?ca={}",
            ca.path().display()
        ));
        let p = Probe {
            kind: dialogue.unwrap_or(Kind::Tls),
            ..p
        };
        let outcome = run_one(&p).await;
        assert_eq!(outcome.error, None, "{scheme}: {outcome:?}");
        let cert = outcome.cert.clone().unwrap();
        assert_eq!(cert.trusted, Ok(()), "{scheme}");
        let days = (cert.not_after_ms - now_ms()) as f64 / DAY as f64;
        assert!((4.9..=5.0).contains(&days), "{scheme}: {days}");
        let phases: Vec<&str> = outcome.phases.iter().map(|(p, _)| *p).collect();
        if dialogue.is_some() {
            assert_eq!(phases, ["dns", "connect", "starttls", "tls"], "{scheme}");
        } else {
            assert_eq!(phases, ["dns", "connect", "tls"], "{scheme}");
        }
        let (run, _) = judge(&p, &outcome, now_ms());
        assert_eq!(run.exit_code, 2, "{scheme}: {}", run.output);
        assert!(
            run.output.contains("expires in 4.9 days")
                || run.output.contains("expires in 5.0 days"),
            "{}",
            run.output
        );
    }
    // Without the CA: seen, but not trusted.
    let port = tls_server(config, None).await;
    let outcome = run_one(&probe(&format!("web=tls://127.0.0.1:{port}"))).await;
    let cert = outcome.cert.unwrap();
    assert!(cert.trusted.is_err(), "{cert:?}");
}

#[tokio::test]
async fn tcp_probes_tell_open_from_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let open = run_one(&probe(&format!("ssh=tcp://127.0.0.1:{port}"))).await;
    assert_eq!(open.error, None);
    drop(listener);
    let closed = run_one(&probe(&format!("ssh=tcp://127.0.0.1:{port}"))).await;
    assert!(
        closed.error.as_deref().unwrap().contains("cannot connect"),
        "{closed:?}"
    );
}

/// A server that does `behave` with each connection.
async fn hostile<F, Fut>(behave: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            behave(stream).await;
        }
    });
    port
}

#[tokio::test]
async fn hostile_peers_end_within_the_timeout_with_a_reason() {
    steward_pki::install_default_provider();
    // Says nothing, keeps the connection open.
    let silent = hostile(|stream| async move {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(stream);
        });
    })
    .await;
    let started = std::time::Instant::now();
    let o = run_one(&probe(&format!("x=tls://127.0.0.1:{silent}?timeout=500ms"))).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(o.error.as_deref(), Some("no answer within 500 ms"));
    // Garbage instead of TLS.
    let garbage = hostile(|mut stream| async move {
        let _ = stream.write_all(&[0x42; 4096]).await;
    })
    .await;
    let o = run_one(&probe(&format!("x=tls://127.0.0.1:{garbage}"))).await;
    assert!(
        o.error
            .as_deref()
            .unwrap()
            .starts_with("TLS handshake failed"),
        "{o:?}"
    );
    // An endless SMTP line: refused at 4 KiB, not read forever.
    let endless = hostile(|mut stream| async move {
        tokio::spawn(async move {
            let chunk = [b'2'; 1024];
            while stream.write_all(&chunk).await.is_ok() {}
        });
    })
    .await;
    let o = run_one(&probe(&format!("x=smtp://127.0.0.1:{endless}"))).await;
    assert!(o.error.as_deref().unwrap().contains("a line over"), "{o:?}");
    // An endless multi-line reply.
    let many = hostile(|mut stream| async move {
        tokio::spawn(async move { while stream.write_all(b"220-again\r\n").await.is_ok() {} });
    })
    .await;
    let o = run_one(&probe(&format!("x=smtp://127.0.0.1:{many}"))).await;
    assert!(
        o.error.as_deref().unwrap().contains("over 64 lines"),
        "{o:?}"
    );
    // No STARTTLS offered; data injected after STARTTLS.
    let plain = hostile(|mut stream| async move {
        let mut buf = [0u8; 256];
        let _ = stream.write_all(b"220 hi\r\n").await;
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"250-hi\r\n250 SIZE 10\r\n").await;
    })
    .await;
    let o = run_one(&probe(&format!("x=smtp://127.0.0.1:{plain}"))).await;
    assert_eq!(
        o.error.as_deref(),
        Some("the SMTP server does not offer STARTTLS")
    );
    let injected = hostile(|mut stream| async move {
        let mut buf = [0u8; 256];
        let _ = stream.write_all(b"220 hi\r\n").await;
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"250 STARTTLS\r\n").await;
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"220 go\r\n250 injected\r\n").await;
    })
    .await;
    let o = run_one(&probe(&format!("x=smtp://127.0.0.1:{injected}"))).await;
    assert_eq!(
        o.error.as_deref(),
        Some("the server sent data after agreeing to STARTTLS")
    );
}

#[tokio::test]
async fn many_probes_run_at_once_within_one_timeout() {
    // 40 silent targets with a 300 ms timeout: 16 at a time, so about
    // three rounds, not forty.
    let silent = hostile(|stream| async move {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(stream);
        });
    })
    .await;
    let probes: Vec<Probe> = (0..40)
        .map(|i| probe(&format!("p{i}=tls://127.0.0.1:{silent}?timeout=300ms")))
        .collect();
    let started = std::time::Instant::now();
    let (runs, points) = run_all(&probes, &mut Default::default()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(runs.len(), 40);
    assert_eq!(runs[7].name, "probe.p7");
    assert!(runs.iter().all(|r| r.exit_code == 2));
    assert_eq!(
        points.iter().filter(|p| p.name == "probe.success").count(),
        40
    );
}

#[test]
fn redirects_are_resolved_against_the_current_target() {
    let from = http::Target {
        tls: false,
        host: "a.lan".into(),
        port: 8080,
        path: "/x/y".into(),
    };
    let to = |l: &str| http::follow(&from, l).unwrap();
    assert_eq!(to("/z").path, "/z");
    assert_eq!((to("z").path.as_str(), to("z").port), ("/x/z", 8080));
    let away = to("https://b.lan/p?q=1");
    assert_eq!(
        (away.tls, away.host.as_str(), away.port, away.path.as_str()),
        (true, "b.lan", 443, "/p?q=1")
    );
    assert_eq!(to("http://[::1]:81").path, "/");
    assert!(http::follow(&from, "ftp://c.lan/").is_err());
    assert!(http::follow(&from, "/a\rX-Injected: 1").is_err());
    assert!(http::follow(&from, "http://c.lan/a b").is_err());
}

/// An HTTP server answering by path.
async fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                let reply: &[u8] = match path.as_str() {
                    "/ok" => b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nall good",
                    "/redir" => b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n",
                    "/loop" => b"HTTP/1.1 302 Found\r\nLocation: loop\r\n\r\n",
                    "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
                    "/500" => b"HTTP/1.1 500 Oops\r\n\r\n",
                    "/huge" => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
                            .await;
                        let chunk = [b'a'; 8192];
                        while stream.write_all(&chunk).await.is_ok() {}
                        return;
                    }
                    "/headers" => {
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
                        while stream.write_all(b"X-A: b\r\n").await.is_ok() {}
                        return;
                    }
                    _ => b"HTTP/1.1 404 Not Found\r\n\r\n",
                };
                let _ = stream.write_all(reply).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn http_probes_check_status_body_and_redirects() {
    let port = http_server().await;
    let run = |path: &str| {
        let p = probe(&format!("api=http://127.0.0.1:{port}{path}"));
        async move { run_one(&p).await }
    };
    let ok = run("/ok?match=good").await;
    assert_eq!(ok.error, None, "{ok:?}");
    assert_eq!(ok.http_status, Some(200));
    let phases: Vec<&str> = ok.phases.iter().map(|(p, _)| *p).collect();
    assert_eq!(phases, ["dns", "connect", "first_byte"]);
    let (_, points) = judge(&probe("api=http://h/"), &ok, 0);
    assert!(
        points
            .iter()
            .any(|p| p.name == "probe.http.status_code" && p.value == 200.0)
    );
    let e = |o: Outcome| o.error.unwrap_or_default();
    assert!(e(run("/ok?match=bad").await).contains("does not contain \"bad\""));
    assert_eq!(e(run("/redir").await), "HTTP status 302");
    let followed = run("/redir?redirects=1&match=all+good").await;
    assert_eq!(followed.error, None, "{followed:?}");
    assert_eq!(e(run("/loop?redirects=3").await), "HTTP status 302");
    assert_eq!(run("/chunked?match=hello+world").await.error, None);
    assert_eq!(e(run("/500").await), "HTTP status 500");
    assert_eq!(run("/500?status=500").await.error, None);
    // A body without end: 64 KiB read, then judged, well within the timeout.
    let started = std::time::Instant::now();
    let huge = e(run("/huge?match=never").await);
    assert!(huge.contains("first 65536 bytes"), "{huge}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(e(run("/headers").await), "over 100 header lines");
}
