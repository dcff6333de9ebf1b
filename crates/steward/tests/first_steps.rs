//! What a new user does first, done the way the output says: the agent's
//! "start it with" command, the alert list naming devices, and the
//! `--data-dir` commands of a server on PostgreSQL.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_printed_start_command_runs_the_agent_just_enrolled() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::launch(root.path());
    let token = server.enroll_token(1);
    let state_dir = root.path().join("agents");
    let out = run(Command::new(AGENT)
        .env_remove("STEWARD_AGENT_STATE_DIR")
        .env_remove("STEWARD_AGENT_NAME")
        .arg("--state-dir")
        .arg(&state_dir)
        .args(["--name", "c1", "enroll", &token]));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let command = printed
        .split_once("Start the agent with: ")
        .unwrap_or_else(|| panic!("no start command in {printed:?}"))
        .1
        .trim()
        .to_string();
    assert!(command.contains("--name c1"), "{command}");
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(state_dir.join("c1").join("agent.json")).unwrap(),
    )
    .unwrap();
    let device = config["device_id"].as_str().unwrap().to_string();
    // Exactly as printed, from another directory, with the agent on PATH.
    let bin = Path::new(AGENT).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut agent = Proc(
        Command::new("/bin/sh")
            .args(["-c", &command])
            .current_dir("/")
            .env("PATH", path)
            .env_remove("STEWARD_AGENT_STATE_DIR")
            .env_remove("STEWARD_AGENT_NAME")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.path().join("c1.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for("the agent to come online", Duration::from_secs(30), || {
        if let Some(status) = agent.0.try_wait().unwrap() {
            panic!(
                "`{command}` exited ({status}): {}",
                std::fs::read_to_string(root.path().join("c1.log")).unwrap()
            );
        }
        (server.status_of(&device) == "online").then_some(())
    });
}

#[test]
fn the_alert_list_names_the_device() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::launch(root.path());
    let monitor = root.path().join("offline.json");
    std::fs::write(
        &monitor,
        json!({ "name": "gone", "spec": { "kind": "offline" } }).to_string(),
    )
    .unwrap();
    run(Command::new(STEWARD)
        .args(["monitors", "create"])
        .arg(&monitor)
        .env("STEWARD_URL", server.url())
        .env("STEWARD_TOKEN", &server.token)
        .env("STEWARD_CA", server.ca()));
    let token = server.enroll_token(1);
    let mut agent = Agent::enroll(root.path(), "laptop-7", &token);
    agent.start("1s");
    wait_for("the agent to come online", Duration::from_secs(30), || {
        (server.status_of(&agent.device_id) == "online").then_some(())
    });
    agent.proc.take().unwrap().kill9();
    let alert = wait_for("the offline alert", Duration::from_secs(30), || {
        server
            .cli_json(&["alerts"])
            .as_array()?
            .iter()
            .find(|a| a["monitor_name"] == "gone")
            .cloned()
    });
    // --json keeps the id (and has the name too).
    assert_eq!(alert["device_id"], json!(agent.device_id), "{alert}");
    assert_eq!(alert["device_name"], "laptop-7", "{alert}");
    let out = server.cli(&["alerts"]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = table
        .lines()
        .find(|l| l.contains("gone"))
        .unwrap_or_else(|| panic!("no alert row in {table}"));
    assert!(row.contains("laptop-7"), "{table}");
    assert!(!row.contains(&agent.device_id), "{table}");
}

/// `steward ARGS` on a data directory, without STEWARD_DATABASE.
fn data_dir_command(args: &[&str], dir: &Path) -> Output {
    Command::new(STEWARD)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("STEWARD_DATABASE")
        .output()
        .unwrap()
}

/// The `--data-dir` commands that read the database directly.
const DATA_DIR_COMMANDS: [&[&str]; 4] = [
    &["token", "create"],
    &["audit", "verify"],
    &["audit", "export"],
    &["migrate"],
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_commands_of_a_server_on_postgres_ask_for_steward_database() {
    let Some(db) = steward_store_sql::testdb::create().await else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("server");
    let port = free_port();
    let _server = tokio::task::block_in_place(|| {
        Server::start_with_env(
            &dir,
            port,
            ADMIN_PASSWORD,
            &[("STEWARD_DATABASE", db.url.as_str())],
        )
    });
    for args in DATA_DIR_COMMANDS {
        let out = data_dir_command(args, &dir);
        assert!(!out.status.success(), "{args:?} succeeded");
        let said = stderr(&out);
        assert!(
            said.contains("PostgreSQL") && said.contains("STEWARD_DATABASE="),
            "{args:?}: {said}"
        );
    }
    assert!(
        !dir.join("steward.db").exists(),
        "no empty SQLite database was made"
    );
    // With it, the bootstrap token works.
    let out = run(Command::new(STEWARD)
        .args(["token", "create", "--json", "--data-dir"])
        .arg(&dir)
        .env("STEWARD_DATABASE", &db.url));
    let token: Value = serde_json::from_slice(&out.stdout).unwrap();
    run(Command::new(STEWARD)
        .arg("devices")
        .env("STEWARD_URL", format!("https://127.0.0.1:{port}"))
        .env("STEWARD_TOKEN", token["token"].as_str().unwrap())
        .env("STEWARD_CA", dir.join("ca.pem")));
}

#[test]
fn data_dir_commands_do_not_take_an_empty_sqlite_file_for_the_server_database() {
    let root = tempfile::tempdir().unwrap();
    // What a server on PostgreSQL leaves: its keys, no SQLite database.
    let dir = root.path().join("on-postgres");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), "").unwrap();
    for args in DATA_DIR_COMMANDS {
        let out = data_dir_command(args, &dir);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&out).contains("STEWARD_DATABASE="),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(!dir.join("steward.db").exists());
    // An empty SQLite database (older versions made one there): no server
    // ever ran on it, so it is not the server's.
    std::fs::write(dir.join("steward.db"), "").unwrap();
    for args in &DATA_DIR_COMMANDS[..3] {
        let out = data_dir_command(args, &dir);
        assert!(!out.status.success(), "{args:?} succeeded");
        let said = stderr(&out);
        assert!(
            said.contains("no server ever ran on it") && said.contains("STEWARD_DATABASE="),
            "{args:?}: {said}"
        );
    }
    // Nothing at all: start the server first.
    let out = data_dir_command(&["token", "create"], &root.path().join("nothing"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("start the server once"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_kit_never_takes_another_server_on_its_port_for_its_own() {
    // CI once failed this way: a server launched on a "free" port that
    // another test's server had taken answered the connect, and the test
    // went on before its own server existed. Now a server counts as up only
    // when it answers TLS with its own CA's certificate.
    let root = tempfile::tempdir().unwrap();
    let first = tokio::task::block_in_place(|| Server::launch(root.path()));
    let other = root.path().join("other");
    let second = tokio::task::block_in_place(|| Server::try_start(&other, first.port));
    let error = second.err().expect("the second server was taken as up");
    assert!(error.contains("exited"), "{error}");
}
