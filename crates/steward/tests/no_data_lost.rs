//! Three real agents against a real server: online/offline detection, and a
//! server killed with SIGKILL for 20 s while agents keep collecting loses
//! no acknowledged sample and stores none twice.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn agents_survive_a_killed_server_without_loss_or_duplicates() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::launch(root.path());
    let token = server.enroll_token(3);
    let mut agents: Vec<Agent> = (1..=3)
        .map(|i| Agent::enroll(root.path(), &format!("agent{i}"), &token))
        .collect();
    for agent in &mut agents {
        agent.start("1s");
    }
    wait_for(
        "three devices online with figures",
        Duration::from_secs(30),
        || {
            let devices = server.devices();
            (devices.len() == 3
                && devices
                    .iter()
                    .all(|d| d["status"] == "online" && d["cpu_utilization"].is_number()))
            .then_some(())
        },
    );

    // The token was for three uses: a fourth enrollment is refused.
    let refused = std::process::Command::new(AGENT)
        .arg("--state-dir")
        .arg(root.path().join("agents"))
        .args(["--name", "agent4", "enroll", &token])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("used up"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // Stop one agent: offline within the window (3 × 1 s) plus slack.
    let stopped = agents.pop().unwrap();
    let mut stopped_proc = stopped.proc.unwrap();
    stopped_proc.terminate();
    wait_for(
        "the stopped agent to go offline",
        Duration::from_secs(8),
        || (server.status_of(&stopped.device_id) == "offline").then_some(()),
    );
    for agent in &agents {
        assert_eq!(server.status_of(&agent.device_id), "online");
    }
    let history = server.cli_json(&["device", "history", &stopped.device_id]);
    let transitions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["to"].as_str().unwrap())
        .collect();
    assert_eq!(transitions, vec!["online", "offline"], "{history}");

    // SIGKILL the server for 20 s while the agents keep collecting.
    server.proc.as_mut().unwrap().kill9();
    std::thread::sleep(Duration::from_secs(20));
    let spooled_during_outage: Vec<usize> = agents.iter().map(|a| a.spool().0.len()).collect();
    assert!(
        spooled_during_outage.iter().all(|n| *n >= 15),
        "agents did not keep collecting: {spooled_during_outage:?}"
    );
    server.restart();

    // The backlog drains (oldest first) once the agents reconnect.
    wait_for("the spools to drain", Duration::from_secs(60), || {
        agents.iter().all(|a| a.spool().0.len() <= 2).then_some(())
    });
    for agent in &mut agents {
        agent.proc.as_mut().unwrap().terminate();
    }
    for agent in &agents {
        let (unacked, last_seq) = agent.spool();
        let stored = server.device(&agent.device_id)["stored_seq"]
            .as_u64()
            .unwrap();
        // Everything acked is stored: the server holds at least every batch
        // the agent forgot, and never one it did not make.
        let forgotten = last_seq - unacked.len() as u64;
        assert!(
            stored >= forgotten && stored <= last_seq,
            "stored {stored}, agent made {last_seq}, still spooled {unacked:?}"
        );
        let series = server.cli_json(&[
            "metrics",
            &agent.device_id,
            "system.processes.count",
            "--since",
            "1h",
        ]);
        let samples = series[0]["samples"].as_array().unwrap();
        let ts: Vec<i64> = samples.iter().map(|s| s[0].as_i64().unwrap()).collect();
        assert!(
            ts.windows(2).all(|w| w[0] < w[1]),
            "duplicate or unordered samples: {ts:?}"
        );
        assert_eq!(ts.len() as u64, stored, "one sample per stored batch");
    }
}
