//! Opening a WebSocket to the server over rustls (the agent dials out; the
//! server never dials the agent).

use anyhow::{Context, Result, anyhow};
use rustls_pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Socket = WebSocketStream<TlsStream<TcpStream>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// `host` and `port` of an `https://host:port` URL.
pub fn host_port(url: &str) -> Result<(String, u16)> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("bad server URL {url:?}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(anyhow!("server URL must start with https:// (got {url:?})"));
    }
    let host = uri
        .host()
        .ok_or_else(|| anyhow!("server URL {url:?} has no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((host, uri.port_u16().unwrap_or(443)))
}

pub async fn open(url: &str, path: &str, config: Arc<rustls::ClientConfig>) -> Result<Socket> {
    open_with_headers(url, path, config, &[]).await
}

/// [`open`] with extra request headers (the CLI's bearer token).
pub async fn open_with_headers(
    url: &str,
    path: &str,
    config: Arc<rustls::ClientConfig>,
    headers: &[(&'static str, String)],
) -> Result<Socket> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (host, port) = host_port(url)?;
    let name =
        ServerName::try_from(host.clone()).with_context(|| format!("bad server name {host:?}"))?;
    let connect = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("cannot reach {host}:{port}"))?;
        tcp.set_nodelay(true)?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .context("TLS handshake with the server failed")?;
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut ws_config = WebSocketConfig::default();
        ws_config.max_message_size = Some(steward_proto::MAX_FRAME_BYTES);
        ws_config.max_frame_size = Some(steward_proto::MAX_FRAME_BYTES);
        // The default 128 KiB buffers are most of an idle agent's heap.
        ws_config.read_buffer_size = 8 * 1024;
        ws_config.write_buffer_size = 0;
        let mut request = format!("wss://{authority}{path}").into_client_request()?;
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse()?);
        }
        let (socket, _) =
            tokio_tungstenite::client_async_with_config(request, tls, Some(ws_config))
                .await
                .context("WebSocket handshake failed")?;
        Ok(socket)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| anyhow!("timed out connecting to {url}"))?
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_server_urls() {
        assert_eq!(
            super::host_port("https://127.0.0.1:8443").unwrap(),
            ("127.0.0.1".into(), 8443)
        );
        assert_eq!(
            super::host_port("https://[::1]:9").unwrap(),
            ("::1".into(), 9)
        );
        assert_eq!(
            super::host_port("https://rmm.example").unwrap(),
            ("rmm.example".into(), 443)
        );
        assert!(super::host_port("http://x:1").is_err());
        assert!(super::host_port("::::").is_err());
    }
}
