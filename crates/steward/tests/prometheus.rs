//! Prometheus out: Debian's `prometheus` scrapes
//! `/api/v1/metrics/prometheus` over TLS (trusting the server's CA) with a
//! token limited to one site; the series it stores are that site's devices
//! only, with their labels, and every sample it stored is one Steward
//! holds (same time, same value).

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

fn ok((status, body): (reqwest::StatusCode, Value)) -> Value {
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    body
}

/// Prometheus' HTTP API answer to `query` (its `data.result`).
fn prom_query(base: &str, query: &str) -> Option<Vec<Value>> {
    let runtime = tokio::runtime::Handle::current();
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let url = format!("{base}/api/v1/query?query={encoded}");
    let answer: Value = runtime.block_on(async {
        reqwest::Client::new()
            .get(&url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    })?;
    answer["data"]["result"].as_array().cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_fleet_within_its_tokens_site() {
    steward_pki::install_default_provider();
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("Debian's prometheus is needed (apt-get install prometheus)");
    }
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let admin = server.api();
    let (hq, branch) = tokio::task::block_in_place(|| {
        let token = |site: &str, tag: &str| {
            server.cli_json(&[
                "enroll-token",
                "create",
                "--site",
                site,
                "--tag",
                tag,
                "--tag",
                "linux",
                "--uses",
                "1",
            ])["token"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let mut hq = Agent::enroll(root.path(), "hq-1", &token("hq", "web"));
        let mut branch = Agent::enroll(root.path(), "branch-1", &token("branch", "till"));
        hq.start("1s");
        branch.start("1s");
        for agent in [&hq, &branch] {
            wait_for("the agents online", Duration::from_secs(30), || {
                (server.status_of(&agent.device_id) == "online").then_some(())
            });
        }
        (hq, branch)
    });
    let org = ok(admin.get("/api/v1/whoami").await)["org_name"]
        .as_str()
        .unwrap()
        .to_string();
    let limited = ok(admin
        .post(
            "/api/v1/tokens",
            json!({ "name": "prometheus", "org": org, "site": "hq", "role": "read_only" }),
        )
        .await)["token"]
        .as_str()
        .unwrap()
        .to_string();

    // The exposition itself: the admin sees both sites, the limited token hq.
    let path = "/api/v1/metrics/prometheus";
    let mut everything = String::new();
    for _ in 0..200 {
        everything = admin.get_text(path).await;
        if everything.contains(&branch.device_id) && everything.contains(&hq.device_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        everything.contains(&format!("device_id=\"{}\"", branch.device_id))
            && everything.contains("# TYPE system_cpu_utilization gauge"),
        "{everything}"
    );
    let seen = admin.with_token(&limited).get_text(path).await;
    assert!(
        seen.contains(&format!("device_id=\"{}\"", hq.device_id)),
        "{seen}"
    );
    assert!(!seen.contains(&branch.device_id), "{seen}");
    assert!(seen.contains("site=\"hq\",tags=\",linux,web,\""), "{seen}");
    // Without a token: refused.
    let (status, _) = server.anon().get(path).await;
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);

    // A real Prometheus scrapes it every second with the limited token.
    let dir = root.path().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), &limited).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: steward\n    scheme: https\n    metrics_path: {path}\n\
         \x20   authorization:\n      credentials_file: {token}\n\
         \x20   tls_config:\n      ca_file: {ca}\n\
         \x20   static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
        token = dir.join("token").display(),
        ca = server.ca().display(),
        port = server.port,
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let _prometheus = Proc(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://{listen}");
    let hq_cpu = format!(
        "system_cpu_utilization{{job=\"steward\",device_id=\"{}\"}}[10m]",
        hq.device_id
    );
    let stored = tokio::task::block_in_place(|| {
        wait_for(
            "Prometheus to store 3 samples of hq's CPU",
            Duration::from_secs(90),
            || {
                let result = prom_query(&base, &hq_cpu)?;
                let series = result.first()?.clone();
                (series["values"].as_array()?.len() >= 3).then_some(series)
            },
        )
    });
    let labels = &stored["metric"];
    assert_eq!(labels["device"], "hq-1", "{stored}");
    assert_eq!(labels["site"], "hq", "{stored}");
    assert_eq!(labels["organisation"], json!(org), "{stored}");
    assert_eq!(labels["tags"], ",linux,web,", "{stored}");
    // The scrape is healthy and brought nothing of the other site.
    let up = tokio::task::block_in_place(|| prom_query(&base, "up{job=\"steward\"}")).unwrap();
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    let devices = tokio::task::block_in_place(|| {
        prom_query(
            &base,
            "count by (device_id) ({job=\"steward\",device_id!=\"\"})",
        )
    })
    .unwrap();
    let ids: Vec<&str> = devices
        .iter()
        .map(|d| d["metric"]["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [hq.device_id.as_str()], "{devices:?}");

    // Every sample Prometheus stored is one Steward holds: same time, same value.
    let (_, held) = admin
        .get(&format!(
            "/api/v1/devices/{}/metrics/system.cpu.utilization?since=1h",
            hq.device_id
        ))
        .await;
    let held: Vec<(i64, f64)> = held[0]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s[0].as_i64().unwrap(), s[1].as_f64().unwrap()))
        .collect();
    for pair in stored["values"].as_array().unwrap() {
        let at = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
        let value: f64 = pair[1].as_str().unwrap().parse().unwrap();
        assert!(
            held.contains(&(at, value)),
            "Prometheus holds ({at}, {value}) which Steward does not: {held:?}"
        );
    }
    drop(hq);
    drop(branch);
}
