//! The Windows agent (built with Debian's mingw-w64: `cargo build -p
//! steward-agent --features standalone --target x86_64-pc-windows-gnu`, as
//! `.ci/run` does) run under Debian's wine against a real server on
//! loopback: it enrols with a token, installs itself as a Windows service
//! (wine's service control manager), the SCM starts it, the server sees it
//! online with a Windows inventory, and `service stop` and `uninstall`
//! work. Skipped loudly without wine, mingw-w64 or the .exe; with CI=true
//! (where `.ci/run` installs them and builds the .exe first) their absence
//! fails. Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, which Rust's
//! standard library imports: `wine/prng.c` stands in for it.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The Windows build (debug, what `.ci/run` builds) beside this test's
/// target directory, or STEWARD_TEST_WINDOWS_AGENT (the `--profile agent`
/// build, say).
fn windows_agent() -> PathBuf {
    if let Some(path) = std::env::var_os("STEWARD_TEST_WINDOWS_AGENT") {
        return path.into();
    }
    // AGENT is TARGET/debug/steward-agent.
    let target = Path::new(AGENT).parent().and_then(Path::parent).unwrap();
    target.join("x86_64-pc-windows-gnu/debug/steward-agent.exe")
}

fn wine() -> Option<&'static str> {
    ["/usr/bin/wine", "/usr/bin/wine64", "/usr/lib/wine/wine64"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

const MINGW: &str = "x86_64-w64-mingw32-gcc";

/// Ends everything wine runs under the prefix (the service, the SCM).
struct WineServer(PathBuf);

impl Drop for WineServer {
    fn drop(&mut self) {
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", &self.0)
            .status();
    }
}

/// Runs the agent under wine; panics with its output when it fails.
fn agent(wine: &str, prefix: &Path, exe: &Path, args: &[&str]) -> String {
    let out = under_wine(wine, prefix, exe).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "steward-agent {args:?} failed: {text}"
    );
    text
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

/// Wine, mingw-w64 and the Windows agent (plus `extra` tools), or None
/// after a loud skip; with CI=true their absence fails.
fn tools(extra: &[&str]) -> Option<(&'static str, PathBuf)> {
    let exe = windows_agent();
    let found = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
    let present = found(MINGW) && extra.iter().all(|tool| found(tool));
    let Some(wine) = wine().filter(|_| exe.exists() && present) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "wine, mingw-w64, {extra:?} or the Windows agent is missing ({}); .ci/run installs them and builds it",
            exe.display()
        );
        eprintln!(
            "\n!!! SKIPPED Windows agent test: apt-get install wine64 wine gcc-mingw-w64-x86-64 wixl msitools, and cargo build -p steward-agent --features standalone --target x86_64-pc-windows-gnu\n"
        );
        return None;
    };
    Some((wine, exe))
}

/// Builds the stand-in for bcryptprimitives.dll into `dir` (Windows loads
/// a DLL from the executable's directory, then from system32).
fn stand_in_dll(dir: &Path) {
    let built = Command::new(MINGW)
        .args(["-O2", "-shared", "-o"])
        .arg(dir.join("bcryptprimitives.dll"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wine/prng.c"))
        .arg("-ladvapi32")
        .status()
        .unwrap();
    assert!(built.success(), "mingw-w64 could not build wine/prng.c");
}

/// A path as Windows under wine sees it (wine maps Z: to /).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_agent_enrols_and_connects_under_wine() {
    let Some((wine, exe)) = tools(&[]) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // The agent and the stand-in DLL side by side.
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let local_exe = bin.join("steward-agent.exe");
    std::fs::copy(&exe, &local_exe).unwrap();
    stand_in_dll(&bin);
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let prefix = root.path().join("wine");
    let _wineserver = WineServer(prefix.clone());
    let state = root.path().join("windows-agent");
    let state_arg = windows_path(&state);
    let (wine_ref, prefix_ref, exe_ref) = (wine, prefix.as_path(), local_exe.as_path());
    let run = |args: &[&str]| {
        let mut all = vec!["--state-dir", state_arg.as_str()];
        all.extend_from_slice(args);
        tokio::task::block_in_place(|| agent(wine_ref, prefix_ref, exe_ref, &all))
    };
    run(&["enroll", &token]);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("agent.json")).unwrap()).unwrap();
    let device = config["device_id"].as_str().unwrap().to_string();
    // As a service: installed with `run`'s flags, started by the SCM.
    run(&[
        "service",
        "install",
        "--interval",
        "2s",
        "--patch-interval",
        "0s",
        "--posture-interval",
        "0s",
    ]);
    run(&["service", "start"]);
    tokio::task::block_in_place(|| {
        wait_for("the Windows agent online", Duration::from_secs(90), || {
            (server.status_of(&device) == "online").then_some(())
        });
        // Its metric batches are stored and its inventory says Windows:
        // the collectors ran on Windows' APIs.
        let os = wait_for(
            "the Windows agent's inventory",
            Duration::from_secs(60),
            || {
                let shown = server.device(&device);
                let os = shown["inventory"]["os_name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                (shown["stored_seq"].as_u64() > Some(0) && !os.is_empty()).then_some(os)
            },
        );
        assert!(os.contains("Windows"), "inventory OS {os:?}");
        // CPU usage from GetSystemTimes (sysinfo's PDH counters abort
        // under Wine 8.0).
        wait_for(
            "the Windows agent's CPU usage",
            Duration::from_secs(30),
            || {
                let series = server.cli_json(&["metrics", &device, "system.cpu.utilization"]);
                series.as_array()?.iter().find(|s| {
                    s["samples"]
                        .as_array()
                        .is_some_and(|samples| !samples.is_empty())
                })?;
                Some(())
            },
        );
    });
    // Stopped through the SCM (the agent's shutdown path), then removed.
    run(&["service", "stop"]);
    // Its connection closed; what it sent before is stored by then.
    // Its connection closed (the server may still be storing the batches
    // it sent just before: the server's ingest lags on a loaded machine).
    tokio::task::block_in_place(|| {
        wait_for("the stopped agent offline", Duration::from_secs(30), || {
            (server.status_of(&device) != "online").then_some(())
        });
    });
    // Uninstalling boots wine's SCM again, which starts the automatic
    // service on its way up: `uninstall` marks it for deletion, then stops
    // it (it used to delete it still running, a service that then stayed
    // online).
    run(&["service", "uninstall"]);
    let gone = under_wine(wine, &prefix, &local_exe)
        .args(["--state-dir", &state_arg, "service", "start"])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the service is still installed");
    // Offline once the server has seen the last connection close, and not
    // restarted by the SCM.
    tokio::task::block_in_place(|| {
        wait_for(
            "the uninstalled agent offline",
            Duration::from_secs(30),
            || (server.status_of(&device) != "online").then_some(()),
        );
        // Still offline well past the running agent's 2 s interval.
        std::thread::sleep(Duration::from_secs(6));
        assert_ne!(server.status_of(&device), "online", "restarted");
    });
}

/// One table of an MSI as `msiinfo export` prints it: its rows (after the
/// column names, types and key lines), tab-separated.
fn msi_table(msi: &Path, table: &str) -> Vec<Vec<String>> {
    let out = Command::new("msiinfo")
        .args(["export"])
        .arg(msi)
        .arg(table)
        .output()
        .unwrap();
    assert!(out.status.success(), "msiinfo export {table} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(3)
        .map(|line| line.split('\t').map(str::to_string).collect())
        .collect()
}

/// The MSI from packaging/windows/ (wixl): the agent under Program Files,
/// its service registered, started, stopped and removed by the installer;
/// then wine's msiexec installs it with an enrolment token, the service
/// starts and the agent comes online, and uninstalling removes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_msi_installs_the_service_which_enrols_under_wine() {
    let Some((wine, exe)) = tools(&["wixl", "msiinfo"]) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = Command::new(repo.join("packaging/windows/build-msi.sh"))
        .arg(&exe)
        .arg("0.1.0")
        .arg(root.path().join("out"))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "build-msi.sh failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let msi = PathBuf::from(String::from_utf8(built.stdout).unwrap().trim());
    // Its tables: the file, the service, its control events.
    let size = std::fs::metadata(&exe).unwrap().len().to_string();
    let files = msi_table(&msi, "File");
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0][2], "steward-agent.exe");
    assert_eq!(files[0][3], size);
    let directories = msi_table(&msi, "Directory");
    assert!(
        directories
            .iter()
            .any(|d| d[0] == "INSTALLDIR" && d[1] == "ProgramFiles64Folder"),
        "{directories:?}"
    );
    let services = msi_table(&msi, "ServiceInstall");
    assert_eq!(services.len(), 1, "{services:?}");
    // Own process (16), automatic start (2), normal error control (1),
    // `service dispatch` with the installer's RUNARGS.
    assert_eq!(services[0][1], "StewardAgent");
    assert_eq!(services[0][3..6], ["16", "2", "1"]);
    assert_eq!(services[0][10], "service dispatch [RUNARGS]");
    let controls = msi_table(&msi, "ServiceControl");
    assert_eq!(controls.len(), 1, "{controls:?}");
    // Started on install (1), stopped on install and uninstall (2 + 32),
    // deleted on uninstall (128), waited for.
    assert_eq!(controls[0][1..3], ["StewardAgent", "163"]);
    assert_eq!(controls[0][4], "1");

    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let prefix = root.path().join("wine");
    let _wineserver = WineServer(prefix.clone());
    let wine_run = |program: &str, args: &[&str]| {
        tokio::task::block_in_place(|| {
            let mut command = Command::new(wine);
            command
                .arg(program)
                .args(args)
                .env("WINEPREFIX", &prefix)
                .env("WINEDEBUG", "-all")
                .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
                .stdin(Stdio::null());
            command.output().unwrap()
        })
    };
    // The prefix, then the stand-in DLL where the installed agent finds it.
    let booted = wine_run("wineboot", &["--init"]);
    assert!(booted.status.success(), "wineboot failed");
    let system32 = prefix.join("drive_c/windows/system32");
    stand_in_dll(&system32);
    let msi_arg = windows_path(&msi);
    let token_arg = format!("TOKEN={token}");
    let installed = wine_run(
        "msiexec",
        &[
            "/i",
            &msi_arg,
            "/qn",
            &token_arg,
            "RUNARGS=--interval 2s --patch-interval 0s --posture-interval 0s",
        ],
    );
    assert!(
        installed.status.success(),
        "msiexec /i failed: {}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let program = prefix.join("drive_c/Program Files/Steward Agent/steward-agent.exe");
    assert!(program.exists(), "no {}", program.display());
    // Enrolled into the default state directory by the installer.
    let state = prefix.join("drive_c/ProgramData/Steward/agent");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("agent.json")).unwrap()).unwrap();
    let device = config["device_id"].as_str().unwrap().to_string();
    tokio::task::block_in_place(|| {
        wait_for("the MSI's agent online", Duration::from_secs(90), || {
            (server.status_of(&device) == "online").then_some(())
        });
        wait_for("the MSI's agent's metrics", Duration::from_secs(60), || {
            (server.device(&device)["stored_seq"].as_u64() > Some(0)).then_some(())
        });
    });
    let removed = wine_run("msiexec", &["/x", &msi_arg, "/qn"]);
    assert!(
        removed.status.success(),
        "msiexec /x failed: {}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(!program.exists(), "the agent is still installed");
    let copy = root.path().join("steward-agent.exe");
    std::fs::copy(&exe, &copy).unwrap();
    let gone = wine_run(&copy.to_string_lossy(), &["service", "start"]);
    assert!(!gone.status.success(), "the service is still installed");
}
