//! An API answer given without reading the request body (an unknown path,
//! a refused permission, a wrong method) keeps the connection usable: what
//! the handler leaves of the body is read before the answer goes, so a
//! client still sending is not cut off mid-request ("EOF occurred in
//! violation of protocol", seen in CI's schemathesis run).

mod common;

use common::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect(server: &Server) -> Tls {
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let config = Arc::new(steward_pki::client_config(&ca, None).unwrap());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(
            rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap(),
            tcp,
        )
        .await
        .unwrap()
}

/// Reads one response: its status, lower-cased head and body.
async fn response(tls: &mut Tls) -> Result<(u16, String, String), String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tls.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed before a response".into());
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
    let status = head[9..12]
        .parse()
        .map_err(|_| format!("bad head {head}"))?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no content-length in {head}"))?;
    while data.len() < head_end + length {
        let n = tls.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed within the body".into());
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]).to_string();
    Ok((status, head, body))
}

async fn send(tls: &mut Tls, method: &str, path: &str, body: &[u8]) -> Result<(), String> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(body).await.map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_without_reading_the_body_keep_the_connection() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let body = vec![b'x'; 200_000];

    let mut tls = connect(&server).await;
    for (method, path, expect) in [
        ("POST", "/api/v1/nowhere", 404),
        ("PUT", "/api/v1/devices/0/rotate", 405),
        ("POST", "/api/v1/devices/0/rotate", 401),
    ] {
        send(&mut tls, method, path, &body).await.unwrap();
        let (status, head, text) = response(&mut tls).await.unwrap();
        assert_eq!(status, expect, "{method} {path}: {text}");
        assert!(text.contains("\"error\""), "{text}");
        assert!(!head.contains("connection: close"), "{head}");
        if status == 405 {
            assert!(head.contains("allow: post"), "{head}");
        }
    }
    // The same connection still serves.
    send(&mut tls, "GET", "/api/v1/health", b"").await.unwrap();
    let (status, _, text) = response(&mut tls).await.unwrap();
    assert_eq!(status, 200, "{text}");

    // Over the API's limit: a clear 413, without reading a byte of it.
    let mut tls = connect(&server).await;
    let head =
        "POST /api/v1/nowhere HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 50000000\r\n\r\n";
    tls.write_all(head.as_bytes()).await.unwrap();
    let (status, _, text) = response(&mut tls).await.unwrap();
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("larger than the API takes"), "{text}");
}
