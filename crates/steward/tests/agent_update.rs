//! Agent self-update end to end: a real agent, run from its own copy of the
//! binary, is offered releases through a real server. A release signed by
//! a key it does not pin, one whose stored bytes were swapped after signing
//! (a compromised server), and a new version that never connects each
//! leave the old agent running (the last after a rollback); a good one
//! replaces it, keeping the previous binary as `.prev`. Every outcome is
//! reported and audited under the name of whoever started the rollout.

mod common;

use common::lives::ok;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A copy of the agent with `version` stamped in (a new build without
/// rebuilding).
fn stamped(dir: &Path, version: &str) -> PathBuf {
    let mut bytes = std::fs::read(AGENT).unwrap();
    steward_agent::update::version::stamp(&mut bytes, version).unwrap();
    write_exe(&dir.join(format!("steward-agent-{version}")), &bytes)
}

fn write_exe(path: &Path, bytes: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// Processes running the agent of `state` (`--state-dir STATE … run`).
fn agent_pids(state: &Path) -> Vec<u32> {
    let want = state.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.contains(&want) && args.iter().any(|a| a == "run")
        })
        .collect()
}

/// Zombie children of `pid` (exited, never reaped).
fn zombies_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                return false;
            };
            // pid (comm) state ppid …: comm may hold spaces, so split after ')'.
            let mut rest = stat
                .rsplit_once(')')
                .map_or("", |(_, r)| r)
                .split_whitespace();
            rest.next() == Some("Z") && rest.next() == Some(&pid.to_string())
        })
        .collect()
}

async fn poll<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

struct Fixture {
    server: Server,
    api: common::api::Api,
    root: PathBuf,
    exe: PathBuf,
    state: PathBuf,
    device: String,
}

impl Fixture {
    fn cli_json(&self, args: &[&str]) -> Value {
        self.server.cli_json(args)
    }

    /// Signs `file` as `version` with `key` and uploads it.
    fn release(&self, file: &Path, version: &str, key: &str) {
        let key = self.root.join("keys").join(key);
        self.cli_json(&[
            "agent-release",
            "sign",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--version",
            version,
        ]);
        let uploaded = self.cli_json(&["agent-release", "upload", file.to_str().unwrap()]);
        assert_eq!(uploaded["version"], version, "{uploaded}");
    }

    /// Starts a rollout of `version` and waits until it is no longer
    /// active; answers the rollout with its devices.
    async fn roll_out(&self, version: &str, expect: &str) -> Value {
        let started = self.cli_json(&["agent-rollout", "start", "--version", version]);
        assert_eq!(started["state"], "active", "{started}");
        let id = started["id"].as_str().unwrap().to_string();
        let rollout = poll(
            &format!("the rollout of {version} to end {expect}"),
            Duration::from_secs(150),
            async || {
                let (_, r) = self.api.get(&format!("/api/v1/agent-rollouts/{id}")).await;
                (r["state"] != "active").then_some(r)
            },
        )
        .await;
        assert_eq!(rollout["state"], expect, "{rollout}");
        rollout
    }

    /// The device is online, an agent process runs, and it said hello
    /// with `version` (its inventory says so).
    async fn runs(&self, version: &str) {
        poll(
            &format!("the agent online on {version}"),
            Duration::from_secs(60),
            async || {
                let (_, d) = self
                    .api
                    .get(&format!("/api/v1/devices/{}", self.device))
                    .await;
                (d["status"] == "online"
                    && d["inventory"]["agent_version"] == version
                    && !agent_pids(&self.state).is_empty())
                .then_some(())
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_agent_updates_itself_and_bad_updates_leave_it_running() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let server = tokio::task::block_in_place(|| Server::launch(&root));
    let api = server.api();
    std::fs::create_dir_all(root.join("keys")).unwrap();
    for key in ["release.key", "rogue.key"] {
        let made = server.cli_json(&[
            "agent-release",
            "keygen",
            root.join("keys").join(key).to_str().unwrap(),
        ]);
        assert!(made["key_id"].is_string(), "{made}");
    }
    // The installed agent: its own copy, which it will replace.
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let original = std::fs::read(AGENT).unwrap();
    let exe = write_exe(&bin.join("steward-agent"), &original);
    let state = root.join("agents");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    run(Command::new(&exe)
        .arg("--state-dir")
        .arg(&state)
        .args(["--name", "a1", "enroll", &token]));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("a1/agent.json")).unwrap())
            .unwrap();
    let device = config["device_id"].as_str().unwrap().to_string();
    let log = std::fs::File::create(root.join("a1.log")).unwrap();
    let child = Command::new(&exe)
        .arg("--state-dir")
        .arg(&state)
        .args(["--name", "a1", "--log", "info", "run", "--interval", "2s"])
        .args(["--reconnect-max", "1s", "--patch-interval", "0s"])
        .args([
            "--posture-interval",
            "0s",
            "--smart-interval",
            "0s",
            "--update-deadline",
            "15s",
        ])
        .arg("--release-keys")
        .arg(root.join("keys/release.pub"))
        .env("STEWARD_AGENT_REBOOT_COMMAND", "true")
        .env("STEWARD_AGENT_NOTICE_COMMAND", "true")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut first = Proc(child);
    let fx = Fixture {
        server,
        api,
        root: root.clone(),
        exe: exe.clone(),
        state: state.clone(),
        device: device.clone(),
    };
    let old = env!("CARGO_PKG_VERSION");
    fx.runs(old).await;
    let pid = first.0.id();
    let owner = ok(fx.api.get("/api/v1/whoami").await)["username"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = |rollout: &Value| rollout["devices"][0].clone();

    // 1. Signed by a key the agent does not pin (a server's own key, a
    // thief's): refused before anything is fetched.
    let rogue = stamped(&root, "9.0.0-rogue");
    fx.release(&rogue, "9.0.0-rogue", "rogue.key");
    let r = fx.roll_out("9.0.0-rogue", "stopped").await;
    assert_eq!(answer(&r)["outcome"], "refused", "{r}");
    assert!(
        answer(&r)["detail"]
            .as_str()
            .unwrap()
            .contains("does not trust"),
        "{r}"
    );
    assert!(r["reason"].as_str().unwrap().contains(&device), "{r}");
    assert_eq!(std::fs::read(&exe).unwrap(), original, "the binary changed");
    assert!(first.0.try_wait().unwrap().is_none(), "the agent stopped");
    fx.runs(old).await;

    // 2. Genuinely signed, but the bytes the server hands out are not
    // the ones signed (swapped in its database).
    let tampered = stamped(&root, "9.0.1-swapped");
    fx.release(&tampered, "9.0.1-swapped", "release.key");
    swap_stored_bytes(&fx.server, "9.0.1-swapped").await;
    let r = fx.roll_out("9.0.1-swapped", "stopped").await;
    assert_eq!(answer(&r)["outcome"], "refused", "{r}");
    assert!(
        answer(&r)["detail"].as_str().unwrap().contains("SHA-256"),
        "{r}"
    );
    assert_eq!(std::fs::read(&exe).unwrap(), original, "the binary changed");
    assert_eq!(agent_pids(&state), vec![pid], "the agent was restarted");
    fx.runs(old).await;

    // 3. A genuine release that never connects (it starts and hangs):
    // the guard puts the previous binary back and starts it.
    let silent = write_exe(&root.join("silent-agent"), b"#!/bin/sh\nexec sleep 600\n");
    fx.release(&silent, "9.0.2-silent", "release.key");
    let r = fx.roll_out("9.0.2-silent", "stopped").await;
    assert_eq!(answer(&r)["outcome"], "rolled_back", "{r}");
    assert!(
        answer(&r)["detail"]
            .as_str()
            .unwrap()
            .contains("did not connect"),
        "{r}"
    );
    assert_eq!(std::fs::read(&exe).unwrap(), original, "not rolled back");
    // The hung version was stopped (the first process is gone) and the
    // previous version runs again in its place.
    poll(
        "the hung version gone",
        Duration::from_secs(10),
        async || first.0.try_wait().unwrap().map(|_| ()),
    )
    .await;
    fx.runs(old).await;
    assert!(!state.join("a1/update.json").exists(), "the marker stayed");

    // 4. A good release: fetched, verified, swapped, started, confirmed.
    let next = stamped(&root, "9.1.0");
    fx.release(&next, "9.1.0", "release.key");
    let r = fx.roll_out("9.1.0", "done").await;
    assert_eq!(answer(&r)["outcome"], "succeeded", "{r}");
    fx.runs("9.1.0").await;
    assert_eq!(std::fs::read(&exe).unwrap(), std::fs::read(&next).unwrap());
    assert_eq!(
        std::fs::read(bin.join("steward-agent.prev")).unwrap(),
        original,
        "the previous binary is kept as .prev"
    );
    assert_eq!(agent_pids(&state).len(), 1, "{:?}", agent_pids(&state));
    // The guard, done once the new version confirmed, is not left behind
    // as a zombie child of the agent.
    let agent = agent_pids(&state)[0];
    poll(
        "no zombie child of the agent",
        Duration::from_secs(10),
        async || zombies_of(agent).is_empty().then_some(()),
    )
    .await;

    // Every outcome is audited under the rollout's creator.
    let (_, audit) = fx
        .api
        .get("/api/v1/audit?action=agent.update&limit=500")
        .await;
    let seen: Vec<(String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], json!(owner), "{e}");
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for action in [
        "agent.update.offered",
        "agent.update.refused",
        "agent.update.installing",
        "agent.update.rolled_back",
        "agent.update.succeeded",
    ] {
        assert!(
            seen.iter()
                .any(|(a, t)| a == action && *t == format!("device:{device}")),
            "{action} not audited: {seen:?}"
        );
    }
    let _ = &fx.exe;
    for pid in agent_pids(&state) {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
}

/// Flips one byte of a stored release (same size, other checksum): what a
/// compromised server or its storage could hand out.
async fn swap_stored_bytes(server: &Server, version: &str) {
    use steward_store_sql::db::q;
    let store = match &server.database {
        Some(db) => steward_store_sql::SqlStore::connect_postgres(&db.url)
            .await
            .unwrap(),
        None => steward_store_sql::SqlStore::open_sqlite(&server.dir.join("steward.db"))
            .await
            .unwrap(),
    };
    let rows = q("SELECT content FROM agent_releases WHERE version = $1")
        .bind(version)
        .fetch_all(store.db())
        .await
        .unwrap();
    let mut content: Vec<u8> = rows[0].get("content");
    let middle = content.len() / 2;
    content[middle] ^= 0xff;
    q("UPDATE agent_releases SET content = $1 WHERE version = $2")
        .bind(content)
        .bind(version)
        .execute(store.db())
        .await
        .unwrap();
    store.db().close().await;
}
