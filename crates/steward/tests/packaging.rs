//! Linux packaging with Debian's own tools, never touching the host's
//! package database: the `.deb` from `packaging/linux/build-deb.sh` goes
//! into a throwaway root (`dpkg --root … --force-script-chrootless`), its
//! unit passes `systemd-analyze verify`, the installed agent is started the
//! way the unit starts it (with `NOTIFY_SOCKET` and `WATCHDOG_USEC`, as
//! systemd would) and says `READY=1` and `WATCHDOG=1`, enrols with a token
//! and comes online; `dpkg --purge` then leaves nothing in the root. The
//! one-line installer checks itself, refuses a server whose CA is not the
//! token's pin, and installs and enrols when it is. The `.rpm` is built
//! where rpmbuild exists.

mod common;

use common::lives::ok;
use common::*;
use serde_json::json;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The agent without its debug information, as a release ships it (and
/// cheap to pack).
fn stripped_agent(dir: &Path) -> PathBuf {
    let out = dir.join("steward-agent");
    run(Command::new("objcopy")
        .args(["--strip-debug", AGENT])
        .arg(&out));
    out
}

/// Every file and directory under `root` but dpkg's own database.
fn leftovers(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if relative == "var/lib/dpkg" {
                continue;
            }
            if path.is_dir() && !path.is_symlink() {
                walk(&path, root, out);
                // Directories that only led to dpkg's database are its.
                if !"var/lib/dpkg".starts_with(&relative) {
                    out.push(format!("{relative}/"));
                }
            } else {
                out.push(relative);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn dpkg(root: &Path, args: &[&str]) -> std::process::Output {
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        // The throwaway root registers no libc6 for the package to depend on.
        .args([
            "--force-not-root",
            "--force-script-chrootless",
            "--force-depends",
        ])
        .arg("--log=/dev/null")
        .args(args)
        .env("LC_ALL", "C"))
}

/// The next datagram on `socket`, or None after `timeout`.
fn next_state(socket: &UnixDatagram, deadline: Instant) -> Option<String> {
    let left = deadline.checked_duration_since(Instant::now())?;
    socket
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deb_installs_starts_under_its_unit_enrols_and_purges_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(dir.path()));
    let agent = stripped_agent(dir.path());
    let keys = dir.path().join("release.pub");
    std::fs::write(
        &keys,
        "# test release key\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    )
    .unwrap();
    let built = run(Command::new(repo().join("packaging/linux/build-deb.sh"))
        .env("DEB_COMPRESSION", "gzip")
        .arg(&agent)
        .arg(env!("CARGO_PKG_VERSION"))
        .arg(dir.path().join("out"))
        .arg(&keys));
    let deb = PathBuf::from(String::from_utf8(built.stdout).unwrap().trim());
    assert!(deb.is_file(), "{}", deb.display());
    let fields = run(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .args(["Package", "Version"]));
    assert_eq!(
        String::from_utf8_lossy(&fields.stdout),
        format!(
            "Package: steward-agent\nVersion: {}\n",
            env!("CARGO_PKG_VERSION")
        )
    );

    // Install into a throwaway root with its own dpkg database.
    let root = dir.path().join("root");
    let admin = root.join("var/lib/dpkg");
    std::fs::create_dir_all(admin.join("updates")).unwrap();
    std::fs::create_dir_all(admin.join("info")).unwrap();
    std::fs::write(admin.join("status"), "").unwrap();
    dpkg(&root, &["-i", deb.to_str().unwrap()]);
    let exe = root.join("usr/lib/steward-agent/steward-agent");
    let unit = root.join("lib/systemd/system/steward-agent.service");
    assert!(exe.is_file() && unit.is_file());
    assert_eq!(
        std::fs::read_to_string(root.join("etc/steward-agent/release-keys")).unwrap(),
        std::fs::read_to_string(&keys).unwrap()
    );
    assert_eq!(
        std::fs::read_link(root.join("usr/bin/steward-agent")).unwrap(),
        Path::new("../lib/steward-agent/steward-agent")
    );

    // The unit as systemd reads it (this machine has no systemd as PID 1
    // to start it), in the root with the standard targets it names (the
    // host's, borrowed for the check).
    let targets = [
        "sysinit",
        "basic",
        "shutdown",
        "network-online",
        "multi-user",
    ]
    .map(|t| format!("lib/systemd/system/{t}.target"));
    for target in &targets {
        std::fs::copy(Path::new("/").join(target), root.join(target)).unwrap();
    }
    let verified = Command::new("systemd-analyze")
        .arg(format!("--root={}", root.display()))
        .args([
            "--man=no",
            "verify",
            "/lib/systemd/system/steward-agent.service",
        ])
        .output()
        .unwrap();
    for target in &targets {
        std::fs::remove_file(root.join(target)).unwrap();
    }
    let complaints = String::from_utf8_lossy(&verified.stderr).into_owned();
    assert!(
        verified.status.success() && !complaints.contains("steward-agent.service:"),
        "systemd-analyze verify: {complaints}"
    );
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "NotifyAccess=main",
        "Restart=always",
    ] {
        assert!(text.contains(line), "the unit lacks {line}");
    }

    // Enrol the installed agent, then start it with the unit's ExecStart
    // (paths moved into the root) as systemd would: a notify socket and a
    // watchdog interval in its environment.
    let state = root.join("var/lib/steward-agent");
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    run(Command::new(&exe)
        .arg("--state-dir")
        .arg(&state)
        .args(["enroll", &token]));
    let exec_start = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let words: Vec<String> = exec_start
        .split_whitespace()
        .map(|w| {
            w.replace(
                "/usr/lib/steward-agent/",
                &format!("{}/usr/lib/steward-agent/", root.display()),
            )
            .replace("/var/lib/steward-agent", &state.to_string_lossy())
        })
        .collect();
    let notify = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    let log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
    let mut agent = Proc(
        Command::new(&words[0])
            .args(&words[1..])
            .args([
                "--interval",
                "2s",
                "--patch-interval",
                "0s",
                "--posture-interval",
                "0s",
                "--smart-interval",
                "0s",
            ])
            .env("NOTIFY_SOCKET", &notify)
            .env("WATCHDOG_USEC", "2000000")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = next_state(&socket, deadline).expect("no READY=1 from the agent");
    assert!(ready.starts_with("READY=1"), "{ready}");
    assert!(
        ready.contains(&format!("MAINPID={}", agent.0.id())),
        "{ready}"
    );
    // The watchdog is fed every half interval (1 s here): twice in 3 s.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut pings = 0;
    while let Some(state) = next_state(&socket, deadline) {
        pings += usize::from(state == "WATCHDOG=1");
    }
    assert!(pings >= 2, "{pings} watchdog pings in 3 s");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("agent.json")).unwrap()).unwrap();
    let device = config["device_id"].as_str().unwrap().to_string();
    tokio::task::block_in_place(|| {
        wait_for("the packaged agent online", Duration::from_secs(20), || {
            (server.status_of(&device) == "online").then_some(())
        })
    });
    agent.terminate();
    // A watchdog ping may still be queued before it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stopping = None;
    while let Some(state) = next_state(&socket, deadline) {
        if state == "STOPPING=1" {
            stopping = Some(state);
            break;
        }
        assert_eq!(state, "WATCHDOG=1", "unexpected notification");
    }
    assert_eq!(stopping.as_deref(), Some("STOPPING=1"));

    // A self-update's leftovers too are gone after a purge.
    std::fs::copy(&exe, root.join("usr/lib/steward-agent/steward-agent.prev")).unwrap();
    dpkg(&root, &["--purge", "steward-agent"]);
    assert_eq!(leftovers(&root), Vec::<String>::new(), "left in the root");
    let listed = Command::new("dpkg-query")
        .arg(format!("--admindir={}", admin.display()))
        .args(["-W", "steward-agent"])
        .output()
        .unwrap();
    assert!(!listed.status.success(), "dpkg still knows the package");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installer_checks_the_pin_then_installs_and_enrols() {
    let dir = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(dir.path()));
    let api = server.api();
    let created = ok(api
        .post("/api/v1/enroll-tokens", json!({ "uses": 2 }))
        .await);
    let token = created["token"].as_str().unwrap();
    let command = created["installer_command"].as_str().unwrap();
    // The script the server serves is the one the command checks.
    let script = api.get_text("/install.sh").await;
    assert!(
        command.contains(&steward_sign::sha256_hex(script.as_bytes())),
        "{command}"
    );
    assert!(
        command.contains(&format!("{}/install.sh", server.url())),
        "{command}"
    );
    let script_path = dir.path().join("steward-install.sh");
    std::fs::write(&script_path, &script).unwrap();
    let install = |root: &Path, token: &str| {
        Command::new("sh")
            .arg(&script_path)
            .arg(token)
            .env("STEWARD_INSTALL_ROOT", root)
            .output()
            .unwrap()
    };

    // A token whose pin is not this server's CA (someone in the middle):
    // refused, nothing installed.
    let mut forged = steward_proto::EnrollToken::decode(token).unwrap();
    forged.ca_sha256 = "0".repeat(64);
    let elsewhere = dir.path().join("elsewhere");
    let refused = install(&elsewhere, &forged.encode());
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not the one the token pins"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!elsewhere.exists(), "something was installed");

    let root = dir.path().join("root");
    let done = install(&root, token);
    assert!(
        done.status.success(),
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    let exe = root.join("usr/lib/steward-agent/steward-agent");
    assert_eq!(std::fs::read(&exe).unwrap(), std::fs::read(AGENT).unwrap());
    let unit =
        std::fs::read_to_string(root.join("lib/systemd/system/steward-agent.service")).unwrap();
    assert_eq!(
        unit,
        std::fs::read_to_string(repo().join("packaging/linux/steward-agent.service")).unwrap()
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("var/lib/steward-agent/agent.json")).unwrap(),
    )
    .unwrap();
    let device = config["device_id"].as_str().unwrap();
    assert!(server.devices().iter().any(|d| d["id"] == json!(device)));
}

#[test]
fn the_rpm_builds_where_rpmbuild_exists() {
    if Command::new("rpmbuild").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "rpmbuild is missing (Debian package rpm)"
        );
        eprintln!("rpmbuild not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let agent = stripped_agent(dir.path());
    let built = run(Command::new(repo().join("packaging/linux/build-rpm.sh"))
        .arg(&agent)
        .arg(env!("CARGO_PKG_VERSION"))
        .arg(dir.path().join("out")));
    let rpm = String::from_utf8(built.stdout).unwrap().trim().to_string();
    let files = run(Command::new("rpm").args(["-qlp", &rpm]));
    let files = String::from_utf8_lossy(&files.stdout);
    for path in [
        "/usr/lib/steward-agent/steward-agent",
        "/usr/bin/steward-agent",
        "/lib/systemd/system/steward-agent.service",
        "/etc/steward-agent/release-keys",
    ] {
        assert!(files.lines().any(|l| l == path), "{path} not in {files}");
    }
    let scripts = run(Command::new("rpm").args(["-qp", "--scripts", &rpm]));
    assert!(String::from_utf8_lossy(&scripts.stdout).contains("systemctl daemon-reload"));
}
