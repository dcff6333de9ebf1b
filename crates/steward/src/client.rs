//! The CLI's HTTP client: HTTPS to the server, trusting only the Steward CA.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct Remote {
    /// Server URL, e.g. https://127.0.0.1:8443.
    #[arg(long, env = "STEWARD_URL", global = true)]
    pub server: Option<String>,
    /// API token (create one with `steward token create`).
    #[arg(long, env = "STEWARD_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The server's CA certificate (DATA_DIR/ca.pem).
    #[arg(long, env = "STEWARD_CA", global = true)]
    pub ca: Option<PathBuf>,
}

pub struct Client {
    http: reqwest::Client,
    tls: std::sync::Arc<rustls::ClientConfig>,
    base: String,
    token: String,
}

impl Client {
    pub fn new(remote: &Remote) -> Result<Self> {
        let base = remote
            .server
            .clone()
            .ok_or_else(|| anyhow!("no server: pass --server or set STEWARD_URL"))?;
        let token = remote
            .token
            .clone()
            .ok_or_else(|| anyhow!("no API token: pass --token or set STEWARD_TOKEN"))?;
        let ca = remote.ca.clone().ok_or_else(|| {
            anyhow!("no CA certificate: pass --ca or set STEWARD_CA (the server's DATA_DIR/ca.pem)")
        })?;
        let ca_pem = std::fs::read_to_string(&ca)
            .with_context(|| format!("cannot read {}", ca.display()))?;
        let tls = steward_pki::client_config(&ca_pem, None)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            tls: std::sync::Arc::new(tls),
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// A read whose answer is text (a CSV export).
    pub async fn get_text(&self, path: &str) -> Result<String> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Steward server at {}", self.base))?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            bail!("server answered {status}: {}", error_of(&body));
        }
        Ok(response.text().await?)
    }

    /// A read the caller may not be allowed: None when the server answers
    /// 403 (the caller's roles do not reach it).
    pub async fn get_if_allowed(&self, path: &str) -> Result<Option<Value>> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Steward server at {}", self.base))?;
        if response.status() == reqwest::StatusCode::FORBIDDEN {
            return Ok(None);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("server answered {status}: {}", error_of(&body));
        }
        Ok(Some(body))
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// A POST whose body is a file (an agent release), described by `query`.
    pub async fn post_bytes(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Value> {
        let encoded: Vec<String> = query
            .iter()
            .map(|(name, value)| format!("{name}={}", percent(value)))
            .collect();
        let request = self
            .http
            .post(format!("{}{path}?{}", self.base, encoded.join("&")))
            .header("content-type", "application/octet-stream")
            .timeout(std::time::Duration::from_secs(600))
            .body(body);
        self.send(request).await
    }

    /// A partial update; with `version`, only of that version (`If-Match`).
    pub async fn patch(&self, path: &str, body: &Value, version: Option<i64>) -> Result<Value> {
        let mut request = self.http.patch(format!("{}{path}", self.base)).json(body);
        if let Some(version) = version {
            request = request.header("if-match", format!("\"{version}\""));
        }
        self.send(request).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    /// A WebSocket to an API path, authenticated with the token.
    pub async fn websocket(&self, path: &str) -> Result<steward_agent::transport::Socket> {
        steward_agent::transport::open_with_headers(
            &self.base,
            path,
            self.tls.clone(),
            &[("authorization", format!("Bearer {}", self.token))],
        )
        .await
        .map_err(|e| anyhow!("cannot open {path}: {e:#}"))
    }

    /// A download: the answer's bytes (a report's CSV or PDF).
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Steward server at {}", self.base))?;
        let status = response.status();
        let bytes = response.bytes().await?.to_vec();
        if !status.is_success() {
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            bail!("server answered {status}: {}", error_of(&body));
        }
        Ok(bytes)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Steward server at {}", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("server answered {status}: {}", error_of(&body));
        }
        Ok(body)
    }
}

/// `text` as a query value: unreserved characters as they are, the rest
/// percent-encoded.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The sentence of an error answer.
fn error_of(body: &Value) -> &str {
    body.get("error")
        .and_then(Value::as_str)
        .unwrap_or("no details")
}
