//! The TLS accept loop. `axum::serve` takes only plain listeners, so this
//! loop terminates TLS itself and hands each request the identity of the
//! client certificate the peer presented, if any.

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// SHA-256 fingerprint of the verified client certificate (agents only).
#[derive(Debug, Clone)]
pub struct PeerCert {
    pub fingerprint: Option<String>,
    /// The certificate's expiry (Unix seconds), told to the agent so it can
    /// renew in time without parsing certificates itself.
    pub not_after: Option<i64>,
}

/// The TCP peer address.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(%error, "Accept failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(Duration::from_secs(15), acceptor.accept(tcp)).await;
            let tls = match handshake {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%remote, %error, "TLS handshake failed.");
                    return;
                }
                Err(_) => return,
            };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first());
            let peer = PeerCert {
                fingerprint: cert.map(|c| steward_pki::fingerprint(c)),
                not_after: cert.and_then(|c| steward_pki::not_after_der(c).ok()),
            };
            let service =
                router.map_request(move |request: hyper::Request<hyper::body::Incoming>| {
                    let mut request = request.map(axum::body::Body::new);
                    request.extensions_mut().insert(peer.clone());
                    request.extensions_mut().insert(RemoteAddr(remote));
                    request
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                // Bounds both a slow request head and the idle wait between
                // keep-alive requests (hyper uses one timer for both). At
                // 30 s, clients that reuse a connection just as it closes
                // saw "EOF in violation of protocol" (seen in CI's
                // schemathesis run); 75 s is nginx's keep-alive default.
                .header_read_timeout(Duration::from_secs(75))
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%remote, %error, "Connection ended with an error.");
                    }
                }
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}
