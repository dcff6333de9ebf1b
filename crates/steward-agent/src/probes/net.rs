//! The I/O of a probe: resolve, connect, STARTTLS, TLS handshake. Every
//! read is bounded (a line at most [`MAX_LINE`] bytes, a reply at most
//! [`MAX_REPLY_LINES`] lines); the caller bounds the time.

use super::{Cert, Kind, Outcome, Probe};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

const MAX_LINE: usize = 4096;
const MAX_REPLY_LINES: usize = 64;

pub(super) fn seconds(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

/// Adds `secs` to the phase's time (phases repeat over redirects).
pub(super) fn add_phase(outcome: &mut Outcome, phase: &'static str, secs: f64) {
    match outcome.phases.iter_mut().find(|(p, _)| *p == phase) {
        Some((_, total)) => *total += secs,
        None => outcome.phases.push((phase, secs)),
    }
}

pub async fn execute(probe: &Probe) -> Outcome {
    let mut outcome = Outcome::default();
    let done = match probe.kind {
        Kind::Http | Kind::Https => super::http::execute(probe, &mut outcome).await,
        Kind::Icmp => {
            let started = Instant::now();
            super::icmp::execute(&probe.host, probe.count, probe.timeout)
                .await
                .and_then(|report| {
                    add_phase(&mut outcome, "icmp", seconds(started));
                    let lost = report.received == 0;
                    let sent = report.sent;
                    outcome.ping = Some(report);
                    if lost {
                        Err(format!("no echo reply ({sent} sent)"))
                    } else {
                        Ok(())
                    }
                })
        }
        Kind::Dns => {
            let started = Instant::now();
            super::dns::execute(&probe.host, probe.port, &probe.dns_name, probe.dns_type)
                .await
                .and_then(|answers| {
                    add_phase(&mut outcome, "resolve", seconds(started));
                    let checked = super::dns::check_expected(&answers, &probe.expect);
                    outcome.dns = Some(answers);
                    checked
                })
        }
        Kind::Snmp => {
            let started = Instant::now();
            super::snmp::execute(probe).await.map(|report| {
                add_phase(&mut outcome, "snmp", seconds(started));
                outcome.snmp = Some(report);
            })
        }
        #[cfg(feature = "db-probes")]
        Kind::Postgres => super::db::postgres(probe, &mut outcome).await,
        #[cfg(feature = "db-probes")]
        Kind::Mysql => super::db::mysql(probe, &mut outcome).await,
        _ => steps(probe, &mut outcome).await,
    };
    if let Err(error) = done {
        outcome.error = Some(error);
    }
    outcome
}

/// Resolves and connects (phases dns and connect).
pub(super) async fn connect(
    host: &str,
    port: u16,
    outcome: &mut Outcome,
) -> Result<TcpStream, String> {
    let started = Instant::now();
    let address = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    add_phase(outcome, "dns", seconds(started));
    let started = Instant::now();
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    add_phase(outcome, "connect", seconds(started));
    Ok(stream)
}

async fn steps(probe: &Probe, outcome: &mut Outcome) -> Result<(), String> {
    let stream = connect(&probe.host, probe.port, outcome).await?;
    let stream = match probe.kind {
        Kind::Smtp | Kind::Imap => {
            let started = Instant::now();
            let stream = starttls(probe.kind, stream).await?;
            add_phase(outcome, "starttls", seconds(started));
            stream
        }
        Kind::Tls => stream,
        _ => return Ok(()),
    };
    let started = Instant::now();
    let (mut tls, cert) = tls_connect(probe, &probe.host, stream).await?;
    add_phase(outcome, "tls", seconds(started));
    let _ = tls.shutdown().await;
    outcome.cert = Some(cert);
    Ok(())
}

/// One line (without its CR LF), at most [`MAX_LINE`] bytes.
pub(super) async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<String, String> {
    let mut line = Vec::new();
    loop {
        let buf = reader
            .fill_buf()
            .await
            .map_err(|e| format!("reading the server's reply: {e}"))?;
        if buf.is_empty() {
            return Err("the server closed the connection".into());
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if line.len() > MAX_LINE {
            return Err(format!("the server sent a line over {MAX_LINE} bytes"));
        }
        if done {
            let text = String::from_utf8_lossy(&line);
            return Ok(text.trim_end_matches(['\r', '\n']).to_string());
        }
    }
}

/// A whole SMTP reply (`250-…` lines up to `250 …`): its code and lines.
async fn smtp_reply(reader: &mut BufReader<TcpStream>) -> Result<(u16, Vec<String>), String> {
    let mut lines = Vec::new();
    loop {
        let line = read_line(reader).await?;
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("not an SMTP reply: {:?}", clip(&line)))?;
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return Ok((code, lines));
        }
        if lines.len() >= MAX_REPLY_LINES {
            return Err(format!("an SMTP reply of over {MAX_REPLY_LINES} lines"));
        }
    }
}

pub(super) fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

async fn send(reader: &mut BufReader<TcpStream>, line: &str) -> Result<(), String> {
    reader
        .get_mut()
        .write_all(line.as_bytes())
        .await
        .map_err(|e| format!("writing to the server: {e}"))
}

/// Speaks SMTP or IMAP up to the point where TLS starts.
async fn starttls(kind: Kind, stream: TcpStream) -> Result<TcpStream, String> {
    let mut reader = BufReader::with_capacity(MAX_LINE, stream);
    if kind == Kind::Smtp {
        let (code, _) = smtp_reply(&mut reader).await?;
        if code != 220 {
            return Err(format!("the SMTP greeting is {code}, not 220"));
        }
        send(&mut reader, "EHLO steward-probe\r\n").await?;
        let (code, lines) = smtp_reply(&mut reader).await?;
        if code != 250 {
            return Err(format!("EHLO answered {code}"));
        }
        if !lines.iter().any(|l| {
            l.get(4..)
                .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
        }) {
            return Err("the SMTP server does not offer STARTTLS".into());
        }
        send(&mut reader, "STARTTLS\r\n").await?;
        let (code, lines) = smtp_reply(&mut reader).await?;
        if code != 220 {
            return Err(format!("STARTTLS answered {:?}", clip(&lines.join(" "))));
        }
    } else {
        let greeting = read_line(&mut reader).await?;
        if !greeting.starts_with("* OK") {
            return Err(format!("not an IMAP greeting: {:?}", clip(&greeting)));
        }
        send(&mut reader, "s1 STARTTLS\r\n").await?;
        let mut lines = 0;
        loop {
            let line = read_line(&mut reader).await?;
            if let Some(status) = line.strip_prefix("s1 ") {
                if !status.starts_with("OK") {
                    return Err(format!("STARTTLS answered {:?}", clip(status)));
                }
                break;
            }
            lines += 1;
            if lines >= MAX_REPLY_LINES {
                return Err("no answer to STARTTLS".into());
            }
        }
    }
    // Bytes sent before the handshake would be read as TLS by a client
    // that trusted them (STARTTLS command injection): refuse.
    if !reader.buffer().is_empty() {
        return Err("the server sent data after agreeing to STARTTLS".into());
    }
    Ok(reader.into_inner())
}

/// Trusts every chain but records what the real verifier said of it and
/// the end-entity certificate: a probe reports an untrusted or expired
/// certificate rather than failing to see it. Signatures are still
/// checked. Nothing secret travels over a probe's connection.
/// The end-entity certificate (DER) and the real verifier's verdict.
type Seen = (Vec<u8>, Result<(), String>);

#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Seen>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ())
            .map_err(|e| e.to_string());
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((end_entity.as_ref().to_vec(), verdict));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The system's roots (`SSL_CERT_FILE`, else Debian's bundle) and the
/// probe's own CA file.
/// The system's roots are read once, at the first TLS probe (an agent
/// without TLS probes never holds them).
fn roots(probe: &Probe) -> Result<RootCertStore, String> {
    static SYSTEM: std::sync::OnceLock<RootCertStore> = std::sync::OnceLock::new();
    let mut roots = SYSTEM
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let system = std::env::var_os("SSL_CERT_FILE")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
            if let Ok(certs) = CertificateDer::pem_file_iter(&system) {
                roots.add_parsable_certificates(certs.flatten());
            }
            roots
        })
        .clone();
    if let Some(ca) = &probe.ca {
        let certs: Vec<_> = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("cannot read the CA file {}: {e}", ca.display()))?
            .flatten()
            .collect();
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!("no certificate in the CA file {}", ca.display()));
        }
    }
    Ok(roots)
}

/// A TLS connection to `host` (or the probe's `servername`), and what its
/// certificate was.
pub(super) async fn tls_connect(
    probe: &Probe,
    host: &str,
    stream: TcpStream,
) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, Cert), String> {
    let roots = roots(probe)?;
    let provider = steward_pki::provider();
    let inner = if roots.is_empty() {
        None
    } else {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .ok()
    };
    let inner = inner.ok_or("no trusted root certificate on this host (set ca=)")?;
    let recording = Arc::new(Recording {
        inner,
        seen: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(recording.clone())
        .with_no_client_auth();
    let name = probe.server_name.as_deref().unwrap_or(host);
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| format!("{name:?} is not a server name"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = connector.connect(server_name, stream).await;
    let seen = recording
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let tls = handshake.map_err(|e| format!("TLS handshake failed: {e}"))?;
    let (der, trusted) = seen.ok_or("the server sent no certificate")?;
    let not_after = steward_pki::not_after_der(&der)
        .map_err(|e| format!("the server's certificate does not parse: {e}"))?;
    Ok((
        tls,
        Cert {
            not_after_ms: not_after.saturating_mul(1000),
            trusted,
        },
    ))
}
