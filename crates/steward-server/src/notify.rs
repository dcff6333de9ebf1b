//! Delivering one notification to one channel: a webhook (JSON, signed
//! with an HMAC header) or an email over SMTP (STARTTLS by default), to
//! targets the installation's [`EgressPolicy`] allows.

pub mod failure;
pub mod names;

use crate::egress::{EgressPolicy, Resolver};
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use steward_store::ChannelRecord;

/// `sha256=<hex>` HMAC of the body with the channel's secret.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Where notifications go out from: an HTTP client that resolves names
/// through the installation's [`EgressPolicy`] (so it connects only to
/// checked addresses), follows no redirect and uses no proxy (the policy
/// could not hold through one), and the same policy for SMTP relays.
#[derive(Clone)]
pub struct Outbound {
    http: reqwest::Client,
    policy: Arc<EgressPolicy>,
}

impl Outbound {
    pub fn new(policy: EgressPolicy) -> Self {
        let policy = Arc::new(policy);
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(steward_pki::provider())
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(Resolver(policy.clone())));
        let http = match tls {
            Ok(tls) => builder.tls_backend_preconfigured(tls),
            Err(_) => builder,
        }
        .build()
        .unwrap_or_default();
        Self { http, policy }
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// Sends `payload` (the JSON notification) through `channel`.
    pub async fn deliver(
        &self,
        channel: &ChannelRecord,
        payload: &str,
        delivery: i64,
    ) -> Result<(), String> {
        let url = channel.config["url"].as_str().unwrap_or_default();
        match channel.kind.as_str() {
            "webhook" => {
                let secret = channel.config["secret"].as_str().unwrap_or_default();
                let request = self
                    .http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-steward-signature", signature(secret, payload))
                    .header("x-steward-delivery", delivery.to_string())
                    .body(payload.to_string());
                self.post(url, request).await
            }
            "email" => email(&self.policy, &channel.config, payload).await,
            // Incoming webhooks of Slack and Microsoft Teams take a `text`.
            "slack" | "teams" => {
                let payload: Value = serde_json::from_str(payload).map_err(|e| e.to_string())?;
                let body = serde_json::json!({ "text": chat_text(&payload) });
                self.post(url, self.http.post(url).json(&body)).await
            }
            other => Err(format!("unsupported channel kind {other}")),
        }
    }

    async fn post(&self, url: &str, request: reqwest::RequestBuilder) -> Result<(), String> {
        // Literal addresses never reach the resolver.
        self.policy.check_url(url).map_err(|e| e.to_string())?;
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_else(|| "the target".into());
        let response = request
            .send()
            .await
            .map_err(|e| failure::describe(&e, &host))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| format!(" to {l}"))
                .unwrap_or_default();
            return Err(format!(
                "refused to follow a redirect (HTTP {status}{to}); give the channel the final URL"
            ));
        }
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status} from {host}"))
        }
    }
}

/// "1 device", "3 devices".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One line for chat: what happened, where.
pub fn chat_text(payload: &Value) -> String {
    let (subject, _) = email_text(payload);
    subject.trim_start_matches("[Steward] ").to_string()
}

/// The subject and plain-text body of a notification email.
pub fn email_text(payload: &Value) -> (String, String) {
    let field = |k: &str| payload[k].as_str().unwrap_or("").to_string();
    let state = field("state");
    let severity = field("severity");
    let subject = format!(
        "[Steward] {} {}: {}",
        if state == "resolved" {
            "RESOLVED".to_string()
        } else {
            severity.to_uppercase()
        },
        field("monitor"),
        field("summary")
    );
    // Names where the payload has them (see `names.rs`), else the id.
    let device = match (field("device"), field("site")) {
        (name, site) if !name.is_empty() && !site.is_empty() => format!("{name} (site {site})"),
        (name, _) if !name.is_empty() => name,
        _ => field("device_id"),
    };
    let mut body = format!(
        "Monitor:  {}\nState:    {state}\nSeverity: {severity}\nDevice:   {device}\nSubject:  {}\n\n{}\n",
        field("monitor"),
        field("subject"),
        field("summary")
    );
    if !field("org").is_empty() {
        body.push_str(&format!("Organisation: {}\n", field("org")));
    }
    if !field("link").is_empty() {
        body.push_str(&format!("In the console: {}\n", field("link")));
    }
    if let Some(devices) = payload["device_names"]
        .as_array()
        .or(payload["devices"].as_array())
    {
        body.push_str("\nDevices:\n");
        for d in devices {
            body.push_str(&format!("  {}\n", d.as_str().unwrap_or("")));
        }
    }
    // The runbooks attached to this alert (`names.rs`), as text.
    for runbook in payload["runbooks"].as_array().into_iter().flatten() {
        let text = |k: &str| runbook[k].as_str().unwrap_or("").to_string();
        body.push_str(&format!("\nRunbook: {}\n", text("title")));
        for line in text("excerpt").lines() {
            body.push_str(&format!("  {line}\n"));
        }
        body.push_str(&format!("  {}\n", text("link")));
    }
    // An incident's reference, kept whole: a reply naming it becomes a
    // note on the incident (inbound email).
    let reference = payload["incident_id"]
        .as_str()
        .map(|id| format!(" [incident {id}]"))
        .unwrap_or_default();
    let mut subject: String = subject
        .chars()
        .filter(|c| !c.is_control())
        .take(200 - reference.chars().count())
        .collect();
    subject.push_str(&reference);
    (subject, body)
}

/// An SMTP transport to an email channel's relay (a checked address; TLS
/// still verifies the relay's name) and its sender address.
async fn relay(
    policy: &EgressPolicy,
    config: &Value,
) -> Result<(AsyncSmtpTransport<Tokio1Executor>, lettre::message::Mailbox), String> {
    let text = |k: &str| config[k].as_str().unwrap_or_default().to_string();
    let host = text("smtp_host");
    let port = config["smtp_port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(587);
    let address = policy
        .resolve(&host, port)
        .await
        .map_err(|e| e.to_string())?[0]
        .ip();
    policy
        .check_smtp_port(Some(address), port)
        .map_err(|e| e.to_string())?;
    let tls = |host: &str| TlsParameters::new(host.to_string()).map_err(|e| e.to_string());
    let tls = match text("tls").as_str() {
        "none" => Tls::None,
        "tls" => Tls::Wrapper(tls(&host)?),
        _ => Tls::Required(tls(&host)?),
    };
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.to_string())
        .tls(tls)
        .port(port)
        .timeout(Some(Duration::from_secs(20)));
    let builder = match (config["username"].as_str(), config["password"].as_str()) {
        (Some(user), Some(password)) => {
            builder.credentials(Credentials::new(user.into(), password.into()))
        }
        _ => builder,
    };
    let from = text("from").parse().map_err(|e| format!("from: {e}"))?;
    Ok((builder.build(), from))
}

async fn email(policy: &EgressPolicy, config: &Value, payload: &str) -> Result<(), String> {
    let (relay, from) = relay(policy, config).await?;
    let payload: Value = serde_json::from_str(payload).map_err(|e| e.to_string())?;
    let (subject, body) = email_text(&payload);
    let mut message = Message::builder()
        .from(from)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for to in config["to"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        message = message.to(to.parse().map_err(|e| format!("to {to}: {e}"))?);
    }
    let message = message.body(body).map_err(|e| e.to_string())?;
    relay
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A file attached to an email: name, content type, bytes.
pub struct Attached {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Sends a text email with files attached to `to` through an email
/// channel's relay and sender (scheduled reports).
pub async fn email_files(
    policy: &EgressPolicy,
    config: &Value,
    to: &[String],
    subject: &str,
    body: String,
    files: Vec<Attached>,
) -> Result<(), String> {
    use lettre::message::{Attachment, MultiPart, SinglePart};
    let (relay, from) = relay(policy, config).await?;
    let mut message = Message::builder().from(from).subject(subject);
    for to in to {
        message = message.to(to.parse().map_err(|e| format!("to {to}: {e}"))?);
    }
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(body));
    for file in files {
        let kind = ContentType::parse(file.content_type).map_err(|e| e.to_string())?;
        parts = parts.singlepart(Attachment::new(file.name).body(file.bytes, kind));
    }
    let message = message.multipart(parts).map_err(|e| e.to_string())?;
    relay
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(super::count(1, "device", "devices"), "1 device");
        assert_eq!(super::count(0, "device", "devices"), "0 devices");
        assert_eq!(super::count(3, "device", "devices"), "3 devices");
    }

    #[test]
    fn signs_like_openssl() {
        // echo -n '{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            super::signature("secret", r#"{"a":1}"#),
            "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
        );
    }

    #[test]
    fn email_subjects_say_what_happened() {
        let (subject, body) = super::email_text(
            &serde_json::json!({"monitor": "disk full", "state": "open", "severity": "critical", "summary": "/ = 95%\\r\\nBcc: x"}),
        );
        assert_eq!(subject, "[Steward] CRITICAL disk full: / = 95%\\r\\nBcc: x");
        assert!(body.contains("State:    open"));
        let (subject, _) = super::email_text(
            &serde_json::json!({"monitor": "m", "state": "resolved", "summary": "s\nBcc: evil@x"}),
        );
        assert!(!subject.contains('\n'), "{subject}");
    }
}

#[cfg(test)]
mod chat_tests {
    #[test]
    fn chat_lines_name_state_monitor_and_summary() {
        let text = super::chat_text(
            &serde_json::json!({"monitor": "offline", "state": "open", "severity": "critical", "summary": "50 devices offline at site hq"}),
        );
        assert_eq!(text, "CRITICAL offline: 50 devices offline at site hq");
    }
}
