//! The suite's load scenarios: server capacity at 60 s metrics and 30 s
//! heartbeats, the reconnect storm, and ingest under overload.

use super::{Figure, Kind};
use anyhow::Result;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

pub(super) async fn run(
    figures: &mut Vec<Figure>,
    raw: &mut serde_json::Map<String, Value>,
    quick: bool,
    steward: &Path,
    work: &Path,
    suite_cmd: &str,
) -> Result<()> {
    // 2. Server capacity at 60 s metrics and 30 s heartbeats.
    let sizes: &[usize] = if quick {
        &[1000]
    } else {
        &[1000, 10_000, 19_000]
    };
    let window = Duration::from_secs(if quick { 65 } else { 125 });
    for &agents in sizes {
        let load = crate::capacity::Load {
            agents,
            heartbeat: Duration::from_secs(30),
            metrics_every: Duration::from_secs(60),
            points: 20,
            window,
            source_ips: 8,
        };
        let cmd = format!(
            "{suite_cmd} (capacity: {agents} agents, 60 s metrics of 20 points, 30 s heartbeats, {} s window)",
            window.as_secs()
        );
        let result = crate::capacity::measure(steward, work, "capacity", &load).await?;
        let k = |suffix: &'static str| -> &'static str {
            match (agents, suffix) {
                (1000, "p99") => "capacity_1k_ack_p99_ms",
                (1000, "rss") => "capacity_1k_rss_mib",
                (1000, "cpu") => "capacity_1k_cpu_cores",
                (10_000, "p99") => "capacity_10k_ack_p99_ms",
                (10_000, "rss") => "capacity_10k_rss_mib",
                (10_000, "cpu") => "capacity_10k_cpu_cores",
                (1000, "us") => "capacity_1k_cpu_us_per_agent_s",
                (1000, "kib") => "capacity_1k_kib_per_agent",
                (10_000, "us") => "capacity_10k_cpu_us_per_agent_s",
                (10_000, "kib") => "capacity_10k_kib_per_agent",
                (_, "us") => "capacity_max_cpu_us_per_agent_s",
                (_, "kib") => "capacity_max_kib_per_agent",
                (_, "p99") => "capacity_max_ack_p99_ms",
                (_, "rss") => "capacity_max_rss_mib",
                _ => "capacity_max_cpu_cores",
            }
        };
        for (suffix, what, field, unit, kind, target) in [
            (
                "p99",
                "batch → durable ack p99",
                "ack_rtt_p99_ms",
                "ms",
                Kind::Time,
                "≤ 1000 ms",
            ),
            (
                "rss",
                "server RSS",
                "server_rss_mib",
                "MiB",
                Kind::Size,
                "≤ 2048 MiB at 50,000",
            ),
            (
                "cpu",
                "server CPU",
                "server_cpu_cores",
                "cores",
                Kind::Time,
                "",
            ),
            (
                "us",
                "server CPU per agent",
                "cpu_us_per_agent_s",
                "µs/s",
                Kind::Time,
                "≤ 10 µs/s",
            ),
            (
                "kib",
                "server memory per connection",
                "kib_per_agent",
                "KiB",
                Kind::Size,
                "≤ 16 KiB",
            ),
        ] {
            figures.push(Figure {
                key: k(suffix),
                label: format!("{agents} agents: {what}"),
                value: result[field].as_f64().unwrap_or(f64::NAN),
                unit,
                kind,
                target: target.into(),
                command: cmd.clone(),
            });
        }
        raw.insert(format!("capacity_{agents}"), result);
    }

    // 2b. Reconnect storm: the server restarted under its fleet.
    let (agents, settle) = if quick { (1000, 15) } else { (10_000, 65) };
    let result = crate::storm::run(crate::storm::Options {
        steward,
        work_dir: work,
        agents,
        settle: Duration::from_secs(settle),
        timeout: Duration::from_secs(300),
    })
    .await?;
    let cmd = format!(
        "cargo run --release -p steward-bench -- storm --agents {agents} --settle {settle}"
    );
    for (key, label, value, unit, kind, target) in [
        (
            "storm_back_all_ms",
            format!("reconnect storm, {agents} agents: all back and acked after the restart"),
            result["back_all_s"]
                .as_f64()
                .map_or(f64::NAN, |s| s * 1000.0),
            "ms",
            Kind::Time,
            "≤ 60000 ms",
        ),
        (
            "storm_peak_vs_steady",
            format!("reconnect storm, {agents} agents: server peak RSS ÷ steady RSS"),
            result["peak_vs_steady"].as_f64().unwrap_or(f64::NAN),
            "×",
            Kind::Size,
            "≤ 2",
        ),
        (
            "storm_disconnects",
            format!("reconnect storm, {agents} agents: disconnects outside the restart"),
            result["disconnects"].as_f64().unwrap_or(f64::NAN),
            "",
            Kind::Size,
            "0",
        ),
    ] {
        figures.push(Figure {
            key,
            label,
            value,
            unit,
            kind,
            target: target.into(),
            command: cmd.clone(),
        });
    }
    raw.insert("storm".into(), result);

    // 3. Ingest throughput: agents send as fast as they are acked.
    let (agents, seconds) = if quick { (100, 15) } else { (500, 30) };
    let result = crate::capacity::ingest(steward, work, None, agents, seconds).await?;
    figures.push(Figure {
        key: "ingest_samples_per_s",
        label: "ingest throughput (durably acked)".into(),
        value: result["samples_per_s"].as_f64().unwrap_or(f64::NAN),
        unit: "samples/s",
        kind: Kind::Rate,
        target: "≥ 100,000".into(),
        command: format!(
            "cargo run --release -p steward-bench -- ingest --backend sqlite --agents {agents} --seconds {seconds}"
        ),
    });
    figures.push(Figure {
        key: "ingest_disconnects",
        label: format!("ingest overload, {agents} agents: disconnects"),
        value: result["disconnects"].as_f64().unwrap_or(f64::NAN),
        unit: "",
        kind: Kind::Size,
        target: "0".into(),
        command: format!(
            "cargo run --release -p steward-bench -- ingest --backend sqlite --agents {agents} --seconds {seconds}"
        ),
    });
    raw.insert("ingest".into(), result);
    Ok(())
}
