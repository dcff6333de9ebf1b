//! Test kit: real `steward` and `steward-agent` processes on loopback.
#![allow(dead_code)]

pub mod api;
pub mod balancer;
pub mod hooks;
pub mod lives;
pub mod shell;
pub mod smartctl;

use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const STEWARD: &str = env!("CARGO_BIN_EXE_steward");
pub const AGENT: &str = env!("CARGO_BIN_EXE_steward-agent");
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Polls `check` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub fn kill9(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// SIGTERM, then wait for the exit.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.0.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }
}

pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
    pub proc: Option<Proc>,
    pub token: String,
    /// The PostgreSQL database of this server when the suite runs with
    /// STEWARD_TEST_BACKEND=postgres (dropped with the server).
    pub database: Option<steward_store_sql::testdb::TestDb>,
}

/// With STEWARD_TEST_BACKEND=postgres, servers launched by the kit keep
/// their state in a fresh PostgreSQL database (STEWARD_TEST_POSTGRES) instead
/// of SQLite; the URL is kept beside the data directory so restarts find it.
fn test_database(dir: &Path) -> Option<steward_store_sql::testdb::TestDb> {
    if std::env::var("STEWARD_TEST_BACKEND").as_deref() != Ok("postgres") {
        return None;
    }
    let db = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(steward_store_sql::testdb::create())
        .expect("STEWARD_TEST_BACKEND=postgres needs STEWARD_TEST_POSTGRES");
    std::fs::write(dir.with_extension("database"), &db.url).unwrap();
    Some(db)
}

/// `STEWARD_DATABASE` for the server of `dir`, when it has one.
fn database_env(dir: &Path) -> Vec<(&'static str, String)> {
    std::fs::read_to_string(dir.with_extension("database"))
        .map(|url| vec![("STEWARD_DATABASE", url)])
        .unwrap_or_default()
}

impl Server {
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Starts `steward serve` (1 s heartbeats, offline after 3 missed).
    pub fn start(dir: &Path, port: u16) -> Proc {
        Self::start_with_password(dir, port, ADMIN_PASSWORD)
    }

    /// Starts `steward serve` on `port`; Err when it exits before it
    /// answers as the server of `dir`.
    pub fn try_start(dir: &Path, port: u16) -> Result<Proc, String> {
        Self::try_spawn(dir, port, ADMIN_PASSWORD, &[], false)
    }

    pub fn start_with_password(dir: &Path, port: u16, password: &str) -> Proc {
        Self::start_with_env(dir, port, password, &[])
    }

    /// Starts `steward serve` with extra environment (its `STEWARD_*` flags).
    /// Notifications may reach loopback (the tests' receivers) unless `env`
    /// sets STEWARD_ALLOW_PRIVATE_TARGETS itself ("" for none).
    pub fn start_with_env(dir: &Path, port: u16, password: &str, env: &[(&str, &str)]) -> Proc {
        Self::spawn(dir, port, password, env, false)
    }

    fn spawn(
        dir: &Path,
        port: u16,
        password: &str,
        env: &[(&str, &str)],
        default_policy: bool,
    ) -> Proc {
        Self::try_spawn(dir, port, password, env, default_policy).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts the server and waits until it answers; Err when it exited
    /// first (a port taken between `free_port` and its bind, say).
    fn try_spawn(
        dir: &Path,
        port: u16,
        password: &str,
        env: &[(&str, &str)],
        default_policy: bool,
    ) -> Result<Proc, String> {
        let allowance: &[&str] = if env
            .iter()
            .any(|(k, _)| *k == "STEWARD_ALLOW_PRIVATE_TARGETS")
        {
            &[]
        } else {
            &["--allow-private-targets", "127.0.0.0/8"]
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("server.log"))
            .unwrap();
        let child = Command::new(STEWARD)
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--alert-group-wait",
                "3s",
                "--heartbeat-interval",
                "1s",
                "--offline-after-missed",
                "3",
            ])
            .args(allowance)
            .args((!default_policy).then_some("--no-default-policy"))
            .env("STEWARD_ADMIN_PASSWORD", password)
            .env("STEWARD_LOG", "info,steward_server=debug")
            .envs(database_env(dir))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut proc = Proc(child);
        // Ready when this server answers TLS with the certificate its own CA
        // signed: a bare connect could reach another test's server that took
        // the same free port first (this one then fails to bind and exits).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = proc.0.try_wait().unwrap() {
                return Err(format!(
                    "the server on port {port} exited ({status}) before answering; its log is {}",
                    dir.with_extension("server.log").display()
                ));
            }
            if answers_tls(dir, port) {
                return Ok(proc);
            }
            assert!(
                Instant::now() < deadline,
                "timed out after 30 s waiting for the server on port {port} to answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn launch(root: &Path) -> Self {
        Self::launch_with_env(root, &[])
    }

    /// A server on SQLite whatever STEWARD_TEST_BACKEND says, for tests of
    /// what only the embedded store has (its file, backups, triggers).
    pub fn launch_sqlite(root: &Path) -> Self {
        Self::launch_on(root, &[], false, false)
    }

    pub fn launch_with_env(root: &Path, env: &[(&str, &str)]) -> Self {
        Self::launch_on(root, env, true, false)
    }

    /// A server as a new install starts: with the default policy (the
    /// others start without monitors).
    pub fn launch_new_install(root: &Path) -> Self {
        Self::launch_on(root, &[], true, true)
    }

    fn launch_on(
        root: &Path,
        env: &[(&str, &str)],
        may_use_postgres: bool,
        default_policy: bool,
    ) -> Self {
        let dir = root.join("server");
        let database = if may_use_postgres {
            test_database(&dir)
        } else {
            None
        };
        // A free port can be taken by another test's server before this one
        // binds it: then start again on another.
        let mut attempts = 0;
        let (port, proc) = loop {
            let port = free_port();
            match Self::try_spawn(&dir, port, ADMIN_PASSWORD, env, default_policy) {
                Ok(proc) => break (port, proc),
                Err(e) if attempts < 3 => {
                    attempts += 1;
                    eprintln!("{e}; starting again on another port");
                }
                Err(e) => panic!("{e}"),
            }
        };
        let out = run(Command::new(STEWARD)
            .args(["token", "create", "--json", "--data-dir"])
            .arg(&dir)
            .envs(database_env(&dir)));
        let token = serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        Self {
            dir,
            port,
            proc: Some(proc),
            token,
            database,
        }
    }

    pub fn restart(&mut self) {
        self.proc = Some(Self::start(&self.dir, self.port));
    }

    /// An API client with this server's CA and token.
    pub fn api(&self) -> api::Api {
        api::Api::new(&self.url(), &std::fs::read_to_string(self.ca()).unwrap())
            .with_token(&self.token)
    }

    /// The API without credentials (sign in with `token_for`).
    pub fn anon(&self) -> api::Api {
        api::Api::new(&self.url(), &std::fs::read_to_string(self.ca()).unwrap())
    }

    /// An agent `name` enrolled under `root`, started with `interval`, and
    /// seen online (blocking: call it in `block_in_place`).
    pub fn online_agent(&self, root: &Path, name: &str, interval: &str) -> Agent {
        let mut agent = Agent::enroll(root, name, &self.enroll_token(1));
        agent.start(interval);
        wait_for("the agent online", Duration::from_secs(20), || {
            (self.status_of(&agent.device_id) == "online").then_some(())
        });
        agent
    }

    /// The `steward` CLI with `args`, set to reach this server.
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(STEWARD);
        command
            .args(args)
            .env("STEWARD_URL", self.url())
            .env("STEWARD_TOKEN", &self.token)
            .env("STEWARD_CA", self.ca());
        command
    }

    /// Runs the `steward` CLI against this server; panics if it fails.
    pub fn cli(&self, args: &[&str]) -> Output {
        run(&mut self.cli_command(args))
    }

    /// Runs the `steward` CLI against this server, succeeding or not.
    pub fn cli_unchecked(&self, args: &[&str]) -> Output {
        self.cli_command(args).output().unwrap()
    }

    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.cli(&args);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    pub fn enroll_token(&self, uses: u32) -> String {
        let created = self.cli_json(&["enroll-token", "create", "--uses", &uses.to_string()]);
        created["token"].as_str().unwrap().to_string()
    }

    pub fn devices(&self) -> Vec<Value> {
        self.cli_json(&["devices"])
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn device(&self, id: &str) -> Value {
        self.cli_json(&["device", "show", id])
    }

    pub fn status_of(&self, id: &str) -> String {
        self.devices()
            .iter()
            .find(|d| d["id"] == json!(id))
            .map(|d| d["status"].as_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// Whether the server on `port` completes a TLS handshake verified by the
/// CA in `dir` (so it is the server of `dir`, up and serving).
fn answers_tls(dir: &Path, port: u16) -> bool {
    let Ok(ca) = std::fs::read_to_string(dir.join("ca.pem")) else {
        return false;
    };
    steward_pki::install_default_provider();
    let Ok(config) = steward_pki::client_config(&ca, None) else {
        return false;
    };
    let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let name = rustls_pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let Ok(mut tls) = rustls::ClientConnection::new(std::sync::Arc::new(config), name) else {
        return false;
    };
    while tls.is_handshaking() {
        if tls.complete_io(&mut tcp).is_err() {
            return false;
        }
    }
    true
}

/// Runs a command to completion; panics with its output if it failed.
pub fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub struct Agent {
    pub state_dir: PathBuf,
    pub name: String,
    pub device_id: String,
    pub proc: Option<Proc>,
}

impl Agent {
    pub fn dir(&self) -> PathBuf {
        self.state_dir.join(&self.name)
    }

    pub fn enroll(root: &Path, name: &str, token: &str) -> Self {
        let state_dir = root.join("agents");
        run(Command::new(AGENT)
            .arg("--state-dir")
            .arg(&state_dir)
            .args(["--name", name, "enroll", token]));
        let config: Value = serde_json::from_str(
            &std::fs::read_to_string(state_dir.join(name).join("agent.json")).unwrap(),
        )
        .unwrap();
        Self {
            state_dir,
            name: name.into(),
            device_id: config["device_id"].as_str().unwrap().into(),
            proc: None,
        }
    }

    pub fn start(&mut self, interval: &str) {
        self.start_with(interval, &[]);
    }

    /// Starts the agent with more `run` options.
    pub fn start_with(&mut self, interval: &str, extra: &[&str]) {
        let log = std::fs::File::create(self.state_dir.join(format!("{}.log", self.name))).unwrap();
        let child = Command::new(AGENT)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args([
                "--name",
                &self.name,
                "--log",
                "debug",
                "run",
                "--interval",
                interval,
                "--reconnect-max",
                "3s",
            ])
            .args(extra)
            // A patch policy's restart never restarts this machine: a test
            // that checks it gives its own stand-ins (flags beat these).
            .env("STEWARD_AGENT_REBOOT_COMMAND", "true")
            .env("STEWARD_AGENT_NOTICE_COMMAND", "true")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.proc = Some(Proc(child));
    }

    /// Spooled (unacknowledged) batch sequence numbers and the highest
    /// sequence number ever used, read from the spool directory.
    pub fn spool(&self) -> (Vec<u64>, u64) {
        let dir = self.dir().join("spool");
        let mut seqs: Vec<u64> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
            })
            .collect();
        seqs.sort_unstable();
        let floor = std::fs::read_to_string(dir.join("seq"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let last = seqs.last().copied().unwrap_or(0).max(floor);
        (seqs, last)
    }
}

/// Runs `echo steward-$((6*7)); exit` through `steward shell DEVICE`
/// against the server at `url`; returns the CLI's output when it ends.
pub fn shell_session(url: &str, token: &str, ca: &Path, device: &str) -> Output {
    let mut child = Command::new(STEWARD)
        .args(["shell", device])
        .env("STEWARD_URL", url)
        .env("STEWARD_TOKEN", token)
        .env("STEWARD_CA", ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo steward-$((6*7)); exit\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "steward shell did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}
