//! The macOS package source (packaging/macos) checked on Linux: the launchd
//! plist is a property list (Python's plistlib reads it) that starts the
//! binary where build.sh installs it, with the agent's macOS state
//! directory, kept alive; the install scripts parse (`sh -n`).

#![cfg(unix)]
use std::path::{Path, PathBuf};
use std::process::Command;

fn macos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/macos")
}

#[test]
fn launchd_plist_runs_the_installed_agent_kept_alive() {
    let plist = macos_dir().join("root/Library/LaunchDaemons/io.steward.agent.plist");
    let script =
        "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&plist)
        .output()
        .expect("python3 is needed (apt-get install python3)");
    assert!(
        out.status.success(),
        "not a property list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let daemon: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(daemon["Label"], "io.steward.agent");
    assert_eq!(daemon["RunAtLoad"], true);
    assert_eq!(daemon["KeepAlive"], true);
    let args: Vec<&str> = daemon["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "/usr/local/steward/bin/steward-agent",
            "--state-dir",
            "/Library/Application Support/Steward/agent",
            "run"
        ]
    );
    let build = std::fs::read_to_string(macos_dir().join("build.sh")).unwrap();
    assert!(build.contains("$STAGE/usr/local/steward/bin/steward-agent"));
    let postinstall = std::fs::read_to_string(macos_dir().join("scripts/postinstall")).unwrap();
    assert!(postinstall.contains("STATE=\"/Library/Application Support/Steward/agent\""));
}

#[test]
fn install_scripts_parse_and_are_executable() {
    use std::os::unix::fs::PermissionsExt;
    for script in ["scripts/postinstall", "scripts/preinstall", "build.sh"] {
        let path = macos_dir().join(script);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is not executable");
        let status = Command::new("sh").arg("-n").arg(&path).status().unwrap();
        assert!(status.success(), "{script} does not parse");
    }
}
