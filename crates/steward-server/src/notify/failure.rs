//! Why a delivery failed, in one line a technician can act on (DNS, a
//! refused connection, TLS, a timeout, the HTTP status), and when a failing
//! notification is tried again or given up.

use crate::egress::EgressError;
use std::time::Duration;

/// A failed request in one line, never with the URL (a webhook URL is a
/// secret, and delivery errors are shown and stored); `host` is the
/// target's host and port, which is not.
pub fn describe(error: &reqwest::Error, host: &str) -> String {
    let chain = || {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
        std::iter::from_fn(move || {
            let e = next?;
            next = e.source();
            Some(e)
        })
    };
    for e in chain() {
        if let Some(refused) = e.downcast_ref::<EgressError>() {
            return match refused {
                EgressError::Resolve { .. } | EgressError::NoAddress { .. } => {
                    format!("DNS: {refused}")
                }
                _ => refused.to_string(),
            };
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return format!("TLS: the handshake with {host} failed: {}", tls_reason(tls));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // io::Error's source() skips the error it wraps: unwrap by hand.
            let mut inner = io.get_ref();
            while let Some(wrapped) = inner {
                if let Some(tls) = wrapped.downcast_ref::<rustls::Error>() {
                    return format!("TLS: the handshake with {host} failed: {}", tls_reason(tls));
                }
                inner = wrapped
                    .downcast_ref::<std::io::Error>()
                    .and_then(|i| i.get_ref());
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return format!("connection refused by {host}: nothing listens there");
                }
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof => {
                    return format!("{host} closed the connection without an answer");
                }
                _ => {}
            }
        }
    }
    if error.is_timeout() {
        return format!("timed out: {host} did not answer within 10 s");
    }
    // The URL exactly as the client quotes it, whatever it holds (a ")"
    // would end the generic cut early), then the generic cut.
    let quoted = error.url().map(|url| format!(" for url ({url})"));
    let parts: Vec<String> = chain()
        .map(|e| {
            let text = e.to_string();
            let text = match &quoted {
                Some(quoted) => text.replace(quoted.as_str(), ""),
                None => text,
            };
            without_url(&text)
        })
        .collect();
    parts.join(": ")
}

/// A rustls error in the words an administrator searches for.
fn tls_reason(error: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "its certificate is not signed by a trusted authority".into()
        }
        Error::InvalidCertificate(CertificateError::Expired)
        | Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "its certificate has expired".into()
        }
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "its certificate is for another name".into(),
        Error::InvalidMessage(_) => {
            "it does not speak TLS (is the URL http:// on a plain port?)".into()
        }
        other => other.to_string(),
    }
}

/// An HTTP client error's text without the URL it names ("... for url
/// (https://hooks.slack.com/services/SECRET)").
pub fn without_url(text: &str) -> String {
    match text.find(" for url (") {
        Some(start) => {
            let rest = &text[start + " for url (".len()..];
            let end = rest.find(')').map_or(rest.len(), |i| i + 1);
            format!("{}{}", &text[..start], &rest[end..])
        }
        None => text.to_string(),
    }
}

/// Longest pause between delivery attempts of one notification.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// When a notification that failed its `attempts`-th time (counting this
/// one) is tried again: 5 s, 10 s, 20 s … at most an hour apart, until
/// `give_up` after it was queued; None once that has passed (it is kept,
/// marked undelivered, and its channel shows it).
pub fn next_attempt(attempts: u32, queued_at: i64, now: i64, give_up: Duration) -> Option<i64> {
    let delay = Duration::from_secs(5)
        .saturating_mul(1 << attempts.saturating_sub(1).min(12))
        .min(MAX_RETRY);
    let next = now.saturating_add(delay.as_millis() as i64);
    let deadline = queued_at.saturating_add(give_up.as_millis().min(i64::MAX as u128) as i64);
    (now < deadline).then(|| next.min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_errors_do_not_carry_the_webhook_url() {
        assert_eq!(
            without_url(
                "error sending request for url (https://hooks.slack.com/services/T0/B0/SECRET)"
            ),
            "error sending request"
        );
        assert_eq!(
            without_url(
                "HTTP status server error (500 Internal Server Error) for url (https://x/y?token=1) now"
            ),
            "HTTP status server error (500 Internal Server Error) now"
        );
        assert_eq!(without_url("connection refused"), "connection refused");
    }

    #[test]
    fn retries_back_off_and_stop_at_the_bound() {
        let day = Duration::from_secs(86_400);
        let check = |attempts: u32, queued: i64, now: i64, expected: Option<i64>| {
            assert_eq!(
                next_attempt(attempts, queued, now, day),
                expected,
                "attempt {attempts}"
            );
        };
        check(1, 0, 0, Some(5_000));
        check(2, 0, 1_000, Some(11_000));
        check(3, 0, 0, Some(20_000));
        // At most an hour apart.
        check(20, 0, 0, Some(3_600_000));
        // Never past the bound, and none once it has passed.
        check(20, 0, 86_000_000, Some(86_400_000));
        check(20, 0, 86_400_000, None);
        check(1, 0, 90_000_000, None);
    }
}

/// Real sockets on loopback: each failure names its cause.
#[cfg(test)]
mod causes {
    use crate::egress::{EgressPolicy, parse_network};
    use crate::notify::Outbound;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn outbound() -> Outbound {
        Outbound::new(EgressPolicy::new(vec![
            parse_network("127.0.0.0/8").expect("a network"),
        ]))
    }

    async fn post(url: &str) -> String {
        let out = outbound();
        let request = out.http.post(url).body("{}");
        out.post(url, request)
            .await
            .expect_err("the delivery fails")
    }

    /// A listener answering every connection with `answer`.
    async fn answering(answer: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn a_closed_port_is_a_refused_connection() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("address").port()
        };
        let error = post(&format!("http://127.0.0.1:{port}/hook/SECRET")).await;
        assert_eq!(
            error,
            format!("connection refused by 127.0.0.1:{port}: nothing listens there")
        );
    }

    #[tokio::test]
    async fn an_http_error_names_the_status_and_host_not_the_url() {
        let port =
            answering(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
        let error = post(&format!("http://127.0.0.1:{port}/hook/SECRET")).await;
        assert_eq!(
            error,
            format!("HTTP 503 Service Unavailable from 127.0.0.1:{port}")
        );
    }

    #[tokio::test]
    async fn https_to_a_plain_port_is_a_tls_failure() {
        let port = answering(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
        let error = post(&format!("https://127.0.0.1:{port}/hook/SECRET")).await;
        assert!(
            error.starts_with(&format!("TLS: the handshake with 127.0.0.1:{port} failed")),
            "{error}"
        );
        assert!(!error.contains("SECRET"), "{error}");
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_a_dns_failure() {
        let error = post("https://steward-test.invalid/hook/SECRET").await;
        assert!(
            error.starts_with("DNS: cannot resolve steward-test.invalid"),
            "{error}"
        );
    }
}
