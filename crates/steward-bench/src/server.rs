//! A real `steward serve` process for benchmarks, with an admin token and
//! an HTTPS client that trusts its CA.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct BenchServer {
    child: Child,
    pub port: u16,
    pub token: String,
    http: reqwest::Client,
    /// How to start it again (`restart`).
    steward: std::path::PathBuf,
    root: std::path::PathBuf,
    env: Vec<(String, String)>,
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl BenchServer {
    /// Starts the server with its data in `root/server` (kept between runs).
    pub async fn start(steward: &Path, root: &Path) -> Result<Self> {
        Self::start_with_env(steward, root, &[]).await
    }

    /// The same with extra environment (a replica's database and bus).
    pub async fn start_with_env(steward: &Path, root: &Path, env: &[(&str, &str)]) -> Result<Self> {
        let data = root.join("server");
        std::fs::create_dir_all(root)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = spawn(steward, root, port, &env).await?;
        let out = Command::new(steward)
            .args(["token", "create", "--json", "--data-dir"])
            .arg(&data)
            .envs(env.iter().filter(|(k, _)| k == "STEWARD_DATABASE").cloned())
            .output()?;
        let token: Value = serde_json::from_slice(&out.stdout).context("token create")?;
        let token = token["token"].as_str().context("no token")?.to_string();
        let ca = std::fs::read_to_string(data.join("ca.pem"))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(steward_pki::client_config(&ca, None)?)
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Self {
            child,
            port,
            token,
            http,
            steward: steward.to_path_buf(),
            root: root.to_path_buf(),
            env,
        })
    }

    /// Stops the server as an operator's restart does (SIGTERM: it closes
    /// every agent's connection with "server restarting") and waits for it
    /// to exit, without starting it again.
    pub fn stop(&mut self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.child.id());
        }
        self.child.wait()?;
        Ok(())
    }

    /// Starts the stopped server again on the same port with the same data;
    /// returns once it listens.
    pub async fn start_again(&mut self) -> Result<()> {
        self.child = spawn(&self.steward, &self.root, self.port, &self.env).await?;
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub async fn api(&self, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("https://127.0.0.1:{}{path}", self.port);
        let request = match body {
            Some(body) => self.http.post(url).json(&body),
            None => self.http.get(url),
        };
        let response = request.bearer_auth(&self.token).send().await?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{path}: {status} {value}");
        }
        Ok(value)
    }

    /// Enrolls (or reloads) `n` simulated agents kept under `root/agents`.
    pub async fn fleet(&self, root: &Path, n: usize) -> Result<Vec<steward_loadgen::Identity>> {
        let dir = root.join("agents");
        let have = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        let token = if have < n {
            self.api(
                "/api/v1/enroll-tokens",
                Some(serde_json::json!({ "uses": n, "expires_in": "1h" })),
            )
            .await?["token"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        } else {
            String::new()
        };
        steward_loadgen::enroll(&dir, &token, n, 16).await
    }

    /// Waits until the server holds `n` agent connections.
    pub async fn wait_connected(&self, n: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let held = self.api("/api/v1/server/stats", None).await?["connected_agents"]
                .as_u64()
                .unwrap_or(0) as usize;
            if held >= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("only {held} of {n} agents connected");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Starts `steward serve` with its data in `root/server` on `port` and
/// waits until it listens.
async fn spawn(steward: &Path, root: &Path, port: u16, env: &[(String, String)]) -> Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("server.log"))?;
    let mut child = Command::new(steward)
        .args(["serve", "--data-dir"])
        .arg(root.join("server"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--no-default-policy",
        ])
        .env("STEWARD_ADMIN_PASSWORD", "bench-admin-password")
        .env("STEWARD_LOG", "warn")
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", steward.display()))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            let _ = child.kill();
            bail!(
                "the server did not start; see {}",
                root.join("server.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(child)
}

pub fn rss_mib(pid: u32) -> f64 {
    proc_status(pid, "VmRSS:")
}

pub fn peak_rss_mib(pid: u32) -> f64 {
    proc_status(pid, "VmHWM:")
}

fn proc_status(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// CPU seconds (user + system) the process has used.
pub fn cpu_secs(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(f64::NAN)
}
