//! Jobs with real agents: results stored per target, offline devices get
//! their run when they return, expired runs never run, restarts of agent
//! and server neither repeat nor lose a run, refused capabilities, and a
//! remote shell driven through `steward shell`.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Each run appends its run id to DIR/runs.log, prints a greeting, then
/// sleeps SLEEP seconds and prints "done".
const SCRIPT: &str = "#!/bin/sh\n# steward: name = mark\n# steward: timeout = 60s\n# steward: param = dir string required\n# steward: param = sleep int default=0\n# steward: param = greeting string default=hello\necho \"$STEWARD_RUN_ID\" >> \"$STEWARD_PARAM_DIR/runs.log\"\necho \"$STEWARD_PARAM_GREETING from $(hostname)\"\necho warning >&2\nsleep \"$STEWARD_PARAM_SLEEP\"\necho done\n";

async fn poll<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Run status per device name.
async fn statuses(api: &Api, job: &str) -> HashMap<String, Value> {
    let (status, body) = api.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["device_name"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn run_ids(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn setup(root: &Path) -> (Server, Api) {
    let server = Server::launch(root);
    let api = server.api();
    std::fs::write(root.join("mark.sh"), SCRIPT).unwrap();
    server.cli(&["scripts", "import", root.join("mark.sh").to_str().unwrap()]);
    (server, api)
}

async fn create_job(api: &Api, body: Value) -> String {
    let (status, created) = api.post("/api/v1/jobs", body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created["id"].as_str().unwrap().to_string()
}

async fn wait_online(server: &Server, agents: &[&Agent]) {
    for agent in agents {
        tokio::task::block_in_place(|| {
            wait_for("agent online", Duration::from_secs(20), || {
                (server.status_of(&agent.device_id) == "online").then_some(())
            })
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_reaches_every_agent_and_offline_ones_on_return() {
    let root = tempfile::tempdir().unwrap();
    let (server, api) = tokio::task::block_in_place(|| setup(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(4));
    let mut agents: Vec<Agent> = ["a1", "a2", "a3", "late"]
        .iter()
        .map(|name| tokio::task::block_in_place(|| Agent::enroll(root.path(), name, &token)))
        .collect();
    for agent in agents.iter_mut().take(3) {
        agent.start("5s");
    }
    wait_online(&server, &agents.iter().take(3).collect::<Vec<_>>()).await;
    let dir = root.path().display().to_string();

    // One job on every device: three run now, "late" is offline.
    let job = create_job(
        &api,
        json!({ "script": "mark", "targets": ["all"], "params": { "dir": dir, "greeting": "bonjour" } }),
    )
    .await;
    let runs = poll("three results", Duration::from_secs(20), async || {
        let runs = statuses(&api, &job).await;
        (["a1", "a2", "a3"]
            .iter()
            .all(|n| runs[*n]["status"] == "succeeded"))
        .then_some(runs)
    })
    .await;
    // The job list says how far each job is (one device is still away).
    let (_, listed) = api.get("/api/v1/jobs").await;
    let listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == job.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (listed["state"].as_str(), listed["progress"].as_str()),
        (Some("active"), Some("running")),
        "{listed}"
    );
    for name in ["a1", "a2", "a3"] {
        let run = &runs[name];
        assert_eq!(run["exit_code"], 0, "{run}");
        assert!(
            run["stdout"].as_str().unwrap().starts_with("bonjour from "),
            "{run}"
        );
        assert!(run["stdout"].as_str().unwrap().ends_with("done\n"), "{run}");
        assert_eq!(run["stderr"], "warning\n", "{run}");
    }
    assert!(
        matches!(runs["late"]["status"].as_str(), Some("queued")),
        "{}",
        runs["late"]
    );

    // A job that expires before "late" returns is never run there.
    let late_id = agents[3].device_id.clone();
    let expiring = create_job(
        &api,
        json!({ "script": "mark", "targets": [format!("device:{late_id}")], "params": { "dir": format!("{dir}/never") }, "expires_in": "1s" }),
    )
    .await;
    poll("the run to expire", Duration::from_secs(10), async || {
        (statuses(&api, &expiring).await["late"]["status"] == "expired").then_some(())
    })
    .await;

    agents[3].start("5s");
    let late = poll(
        "the returning agent's result",
        Duration::from_secs(30),
        async || {
            let runs = statuses(&api, &job).await;
            (runs["late"]["status"] == "succeeded").then(|| runs["late"].clone())
        },
    )
    .await;
    assert_eq!(late["exit_code"], 0, "{late}");
    assert_eq!(statuses(&api, &expiring).await["late"]["status"], "expired");
    assert!(
        !root.path().join("never").join("runs.log").exists(),
        "an expired job ran"
    );
    // Each device ran the first job exactly once.
    let mut ids = run_ids(root.path());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    assert_eq!(run_ids(root.path()).len(), 4, "a run executed twice");

    // The CLI shows the same, and `run --wait` summarises a second job.
    let shown = server.cli_json(&["jobs", "show", &job]);
    assert_eq!(shown["runs"].as_array().unwrap().len(), 4);
    let a1 = format!("device:{}", agents[0].device_id);
    let waited = server.cli_json(&[
        "run",
        "mark",
        "--target",
        &a1,
        "-p",
        &format!("dir={dir}"),
        "--wait",
    ]);
    assert_eq!(waited["runs"][0]["status"], "succeeded", "{waited}");
    assert_eq!(run_ids(root.path()).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_neither_repeat_nor_lose_a_run() {
    let root = tempfile::tempdir().unwrap();
    let (mut server, api) = tokio::task::block_in_place(|| setup(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(3));
    let mut a = tokio::task::block_in_place(|| Agent::enroll(root.path(), "killed", &token));
    let mut b = tokio::task::block_in_place(|| Agent::enroll(root.path(), "survivor", &token));
    let mut c = tokio::task::block_in_place(|| Agent::enroll(root.path(), "offline", &token));
    a.start("5s");
    b.start("5s");
    wait_online(&server, &[&a, &b]).await;
    let dir = root.path().display().to_string();
    let job = create_job(
        &api,
        json!({ "script": "mark", "targets": ["all"], "params": { "dir": dir, "sleep": "3" } }),
    )
    .await;
    // Output shows while the runs are still going (the script greets, then
    // sleeps).
    poll(
        "both runs to start and greet",
        Duration::from_secs(15),
        async || {
            let runs = statuses(&api, &job).await;
            ["killed", "survivor"]
                .iter()
                .all(|n| {
                    runs[*n]["status"] == "running"
                        && runs[*n]["stdout"]
                            .as_str()
                            .unwrap_or("")
                            .starts_with("hello from")
                })
                .then_some(())
        },
    )
    .await;
    // The agent dies mid-run; the server dies while the other agent's run
    // goes on (its result must wait for the server) and before the offline
    // device could get its run.
    a.proc.as_mut().unwrap().kill9();
    server.proc.as_mut().unwrap().kill9();
    tokio::time::sleep(Duration::from_secs(4)).await;
    tokio::task::block_in_place(|| server.restart());
    a.start("5s");
    c.start("5s");
    let runs = poll("every run to end", Duration::from_secs(40), async || {
        let runs = statuses(&api, &job).await;
        runs.values()
            .all(|r| !matches!(r["status"].as_str(), Some("queued" | "sent" | "running")))
            .then_some(runs)
    })
    .await;
    assert_eq!(runs["killed"]["status"], "unknown", "{}", runs["killed"]);
    assert_eq!(
        runs["survivor"]["status"], "succeeded",
        "{}",
        runs["survivor"]
    );
    assert!(
        runs["survivor"]["stdout"]
            .as_str()
            .unwrap()
            .ends_with("done\n")
    );
    assert_eq!(
        runs["offline"]["status"], "succeeded",
        "{}",
        runs["offline"]
    );
    // Every run id was executed once: nothing repeated after the restarts.
    let ids = run_ids(root.path());
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(unique.len(), 3, "a run executed twice: {ids:?}");
    // The unknown outcome is final: restarting the agent again changes nothing.
    a.proc.as_mut().unwrap().terminate();
    a.start("5s");
    wait_online(&server, &[&a]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(statuses(&api, &job).await["killed"]["status"], "unknown");
    assert_eq!(run_ids(root.path()).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_capabilities_and_the_remote_shell() {
    let root = tempfile::tempdir().unwrap();
    let (server, api) = tokio::task::block_in_place(|| setup(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(2));
    let open = tokio::task::block_in_place(|| Agent::enroll(root.path(), "open", &token));
    let locked = tokio::task::block_in_place(|| Agent::enroll(root.path(), "locked", &token));
    let _open = Proc(
        std::process::Command::new(AGENT)
            .arg("--state-dir")
            .arg(&open.state_dir)
            .args(["--name", "open", "run", "--interval", "5s"])
            .stderr(std::fs::File::create(root.path().join("open.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let _locked = Proc(
        std::process::Command::new(AGENT)
            .arg("--state-dir")
            .arg(&locked.state_dir)
            .args([
                "--name",
                "locked",
                "run",
                "--interval",
                "5s",
                "--refuse",
                "scripts,shell",
            ])
            .stderr(std::fs::File::create(root.path().join("locked.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_online(&server, &[&open, &locked]).await;

    // The server shows which device refuses what, and records the refusal.
    let (_, device) = api
        .get(&format!("/api/v1/devices/{}", locked.device_id))
        .await;
    assert_eq!(device["refuses"], json!(["scripts", "shell"]), "{device}");
    let dir = root.path().display().to_string();
    let job = create_job(
        &api,
        json!({ "script": "mark", "targets": ["all"], "params": { "dir": dir } }),
    )
    .await;
    let runs = poll("both outcomes", Duration::from_secs(15), async || {
        let runs = statuses(&api, &job).await;
        (runs["open"]["status"] == "succeeded").then_some(runs)
    })
    .await;
    assert_eq!(runs["locked"]["status"], "refused", "{}", runs["locked"]);
    assert_eq!(
        run_ids(root.path()).len(),
        1,
        "the locked device ran the script"
    );
    let (status, body) = api
        .get(&format!("/api/v1/devices/{}/shell", locked.device_id))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // `steward shell` runs a command in the device's PTY and shows its output.
    let out = tokio::task::block_in_place(|| {
        shell_session(&server.url(), &server.token, &server.ca(), &open.device_id)
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("steward-42"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("session ended"));
    // The session is in the audit trail.
    let (_, audit) = api.get("/api/v1/audit?limit=500").await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"shell.opened"), "{actions:?}");
    assert!(actions.contains(&"shell.closed"), "{actions:?}");

    // Files: up and down with checksums.
    let file = root.path().join("payload.txt");
    std::fs::write(&file, "steward file transfer\n").unwrap();
    let remote = root.path().join("copied.txt");
    server.cli(&[
        "file",
        "put",
        &open.device_id,
        file.to_str().unwrap(),
        remote.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&remote).unwrap(),
        "steward file transfer\n"
    );
    let back = server.cli(&[
        "file",
        "get",
        &open.device_id,
        remote.to_str().unwrap(),
        "-",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&back.stdout),
        "steward file transfer\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_for_many_devices_waits_for_a_second_person() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| {
        Server::launch_with_env(root.path(), &[("STEWARD_APPROVAL_THRESHOLD", "1")])
    });
    let api = server.api();
    std::fs::write(root.path().join("mark.sh"), SCRIPT).unwrap();
    server.cli(&[
        "scripts",
        "import",
        root.path().join("mark.sh").to_str().unwrap(),
    ]);
    let token = tokio::task::block_in_place(|| server.enroll_token(2));
    let mut agents: Vec<Agent> = ["p1", "p2"]
        .iter()
        .map(|name| tokio::task::block_in_place(|| Agent::enroll(root.path(), name, &token)))
        .collect();
    for agent in agents.iter_mut() {
        agent.start("5s");
    }
    wait_online(&server, &agents.iter().collect::<Vec<_>>()).await;
    let dir = root.path().display().to_string();

    // Two devices is more than the threshold of one: the job waits.
    let (status, created) = api
        .post(
            "/api/v1/jobs",
            json!({ "script": "mark", "targets": ["all"], "params": { "dir": dir } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["state"], "pending_approval", "{created}");
    let job = created["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(run_ids(root.path()).is_empty(), "ran before approval");
    // Its author cannot approve it...
    let (status, body) = api
        .post(&format!("/api/v1/jobs/{job}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // ...another admin can, and then it runs on both.
    let (status, body) = api
        .post(
            "/api/v1/users",
            json!({ "username": "second", "password": "a-long-second-password", "role": "admin" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let anonymous = Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let second = api.with_token(
        &anonymous
            .token_for("second", "a-long-second-password")
            .await,
    );
    let (status, body) = second
        .post(&format!("/api/v1/jobs/{job}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    poll(
        "both runs after approval",
        Duration::from_secs(20),
        async || {
            let runs = statuses(&api, &job).await;
            runs.values()
                .all(|r| r["status"] == "succeeded")
                .then_some(())
        },
    )
    .await;
    assert_eq!(run_ids(root.path()).len(), 2);
    let (_, job_record) = api.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(job_record["approved_by"], "second", "{job_record}");
}
