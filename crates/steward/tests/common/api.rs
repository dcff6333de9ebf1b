//! A small HTTPS client for API tests (bearer tokens or a session cookie).
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub bearer: Option<String>,
    pub cookie: Option<String>,
    pub origin: Option<String>,
}

impl Api {
    pub fn new(base: &str, ca_pem: &str) -> Self {
        steward_pki::install_default_provider();
        let tls = steward_pki::client_config(ca_pem, None).unwrap();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .build()
            .unwrap();
        Self {
            http,
            base: base.to_string(),
            bearer: None,
            cookie: None,
            origin: None,
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            bearer: Some(token.to_string()),
            cookie: None,
            ..self.clone()
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(origin) = &self.origin {
            request = request.header("origin", origin);
        }
        if method == Method::POST || method == Method::PATCH {
            request = request.json(&body.unwrap_or(json!({})));
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A `PATCH` with `If-Match: "version"` when given; the answer's
    /// status, ETag (its version) and body.
    pub async fn patch(
        &self,
        path: &str,
        version: Option<i64>,
        body: Value,
    ) -> (StatusCode, Option<i64>, Value) {
        let mut request = self.http.patch(format!("{}{path}", self.base)).json(&body);
        if let Some(version) = version {
            request = request.header("if-match", format!("\"{version}\""));
        }
        self.tagged(request).await
    }

    /// A `GET` of one object: status, ETag (its version) and body.
    pub async fn get_tagged(&self, path: &str) -> (StatusCode, Option<i64>, Value) {
        self.tagged(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn tagged(
        &self,
        mut request: reqwest::RequestBuilder,
    ) -> (StatusCode, Option<i64>, Value) {
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_matches('"').parse().ok());
        let text = response.text().await.unwrap_or_default();
        (
            status,
            etag,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    /// A GET whose answer is text (the Prometheus metrics).
    pub async fn get_text(&self, path: &str) -> String {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().text().await.unwrap()
    }

    /// A GET whose answer is bytes (a download), with its status.
    pub async fn get_bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.bytes().await.unwrap().to_vec())
    }

    /// The events of an alert's history (opened, acknowledged, resolved…),
    /// notifications left out.
    pub async fn alert_events(&self, id: &str) -> Vec<String> {
        let (_, history) = self.get(&format!("/api/v1/alerts/{id}/history")).await;
        history
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| e["event"]["event"].as_str())
                    .filter(|e| *e != "notification")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Signs in with a password (and code); returns the session cookie.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        code: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/login", self.base))
            .json(&json!({ "username": username, "password": password, "code": code }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(String::from);
        (status, cookie, response.json().await.unwrap_or(Value::Null))
    }

    /// A bearer token for `username`: sign in, then create a token.
    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let (status, cookie, body) = self.login(username, password, None).await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        let session = Self {
            cookie,
            origin: Some(self.base.clone()),
            ..self.clone()
        };
        let (status, created) = session
            .post("/api/v1/tokens", json!({ "name": "test" }))
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        created["token"].as_str().unwrap().to_string()
    }
}
