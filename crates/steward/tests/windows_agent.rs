//! The Windows agent (built with Debian's mingw-w64: `cargo build -p
//! steward-agent --features standalone --profile agent --target
//! x86_64-pc-windows-gnu`) run under Debian's wine against a real server on
//! loopback: it enrols with a token, connects, and the server sees it
//! online. Skipped loudly without wine or the .exe; with CI=true (where
//! `.ci/run` installs wine and builds the .exe first) their absence fails.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The Windows build beside this test's target directory, or
/// STEWARD_TEST_WINDOWS_AGENT.
fn windows_agent() -> PathBuf {
    if let Some(path) = std::env::var_os("STEWARD_TEST_WINDOWS_AGENT") {
        return path.into();
    }
    // AGENT is TARGET/debug/steward-agent.
    let target = Path::new(AGENT).parent().and_then(Path::parent).unwrap();
    target.join("x86_64-pc-windows-gnu/agent/steward-agent.exe")
}

fn wine() -> Option<&'static str> {
    ["/usr/bin/wine64", "/usr/bin/wine", "/usr/lib/wine/wine64"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// `program` under wine with its own prefix (created on first use) and
/// wine's own messages off.
fn under_wine(wine: &str, prefix: &Path, exe: &Path) -> Command {
    let mut command = Command::new(wine);
    command
        .arg(exe)
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .stdin(Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_agent_enrols_and_connects_under_wine() {
    let exe = windows_agent();
    let Some(wine) = wine().filter(|_| exe.exists()) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "wine or the Windows agent is missing ({}); .ci/run installs wine64 and builds it",
            exe.display()
        );
        eprintln!(
            "\n!!! SKIPPED Windows agent test: apt-get install wine64, and cargo build -p steward-agent --features standalone --profile agent --target x86_64-pc-windows-gnu\n"
        );
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let prefix = root.path().join("wine");
    let state = root.path().join("windows-agent");
    // The state directory as Windows sees it (wine maps Z: to /).
    let state_arg = format!("Z:{}", state.display()).replace('/', "\\");
    let enrolled = tokio::task::block_in_place(|| {
        under_wine(wine, &prefix, &exe)
            .args(["--state-dir", &state_arg, "enroll", &token])
            .output()
            .unwrap()
    });
    assert!(
        enrolled.status.success(),
        "the Windows agent did not enrol: {}{}",
        String::from_utf8_lossy(&enrolled.stdout),
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("agent.json")).unwrap()).unwrap();
    let device = config["device_id"].as_str().unwrap().to_string();
    let log = std::fs::File::create(root.path().join("windows-agent.log")).unwrap();
    let _agent = Proc(
        under_wine(wine, &prefix, &exe)
            .args([
                "--state-dir",
                &state_arg,
                "run",
                "--interval",
                "2s",
                "--patch-interval",
                "0s",
                "--posture-interval",
                "0s",
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    tokio::task::block_in_place(|| {
        wait_for("the Windows agent online", Duration::from_secs(60), || {
            (server.status_of(&device) == "online").then_some(())
        });
        // Its metric batches are stored and its inventory says Windows:
        // the collectors ran on Windows' APIs.
        let os = wait_for("the Windows agent's inventory", Duration::from_secs(60), || {
            let shown = server.device(&device);
            let os = shown["inventory"]["os_name"].as_str().unwrap_or("").to_string();
            (shown["stored_seq"].as_u64() > Some(0) && !os.is_empty()).then_some(os)
        });
        assert!(os.contains("Windows"), "inventory OS {os:?}");
    });
}
