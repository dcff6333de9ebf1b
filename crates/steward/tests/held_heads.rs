//! The ingest writer holds each series' open chunk in memory between
//! groups. A server killed with SIGKILL again and again while agents keep
//! sending loses none of it: every acknowledged sample is stored once, and
//! after each restart the series go on in the chunks they were in (the
//! heads are rebuilt from the store, not started afresh).

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

fn stored_seq(server: &Server, agent: &Agent) -> u64 {
    server.device(&agent.device_id)["stored_seq"]
        .as_u64()
        .unwrap()
}

fn storage(server: &Server) -> Value {
    let stats: Value = wait_for("server stats", Duration::from_secs(10), || {
        tokio::runtime::Runtime::new()
            .ok()?
            .block_on(server.api().get("/api/v1/server/stats"))
            .1
            .get("storage")
            .cloned()
    });
    stats
}

#[test]
fn held_open_chunks_survive_kill_9_without_loss_or_duplicates() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::launch(root.path());
    let token = server.enroll_token(2);
    let mut agents: Vec<Agent> = (1..=2)
        .map(|i| Agent::enroll(root.path(), &format!("agent{i}"), &token))
        .collect();
    for agent in &mut agents {
        agent.start("1s");
    }
    // Some samples in every open chunk before the first kill.
    wait_for("five batches stored each", Duration::from_secs(30), || {
        agents
            .iter()
            .all(|a| stored_seq(&server, a) >= 5)
            .then_some(())
    });

    for round in 0..3 {
        let before: Vec<u64> = agents.iter().map(|a| stored_seq(&server, a)).collect();
        server.proc.as_mut().unwrap().kill9();
        // The agents keep collecting while the server is gone.
        wait_for("batches spooled", Duration::from_secs(20), || {
            agents.iter().all(|a| a.spool().0.len() >= 2).then_some(())
        });
        server.restart();
        wait_for(
            &format!("ingest going on after restart {round}"),
            Duration::from_secs(40),
            || {
                agents
                    .iter()
                    .zip(&before)
                    .all(|(a, b)| stored_seq(&server, a) >= b + 4)
                    .then_some(())
            },
        );
    }

    for agent in &mut agents {
        agent.proc.as_mut().unwrap().terminate();
    }
    for agent in &agents {
        let (unacked, last_seq) = agent.spool();
        let stored = stored_seq(&server, agent);
        let forgotten = last_seq - unacked.len() as u64;
        assert!(
            stored >= forgotten && stored <= last_seq,
            "stored {stored}, agent made {last_seq}, still spooled {unacked:?}"
        );
        for name in ["system.processes.count", "system.memory.utilization"] {
            let series = server.cli_json(&["metrics", &agent.device_id, name, "--since", "1h"]);
            let ts: Vec<i64> = series[0]["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s[0].as_i64().unwrap())
                .collect();
            assert!(
                ts.windows(2).all(|w| w[0] < w[1]),
                "{name}: duplicate or unordered samples: {ts:?}"
            );
            assert_eq!(
                ts.len() as u64,
                stored,
                "{name}: one sample per stored batch"
            );
        }
    }
    // Each series goes on in the chunk it was in across the kills: no more
    // chunks than 120-sample ones need (a head started afresh after each of
    // the three restarts would make at least four a series).
    let most = agents.iter().map(|a| stored_seq(&server, a)).max().unwrap();
    let storage = storage(&server);
    let (series, chunks) = (
        storage["series"].as_u64().unwrap(),
        storage["chunks"].as_u64().unwrap(),
    );
    assert!(series > 0, "nothing stored: {storage}");
    assert!(
        chunks <= series * most.div_ceil(120),
        "series went on in new chunks after a restart: {storage}, {most} batches"
    );
}
