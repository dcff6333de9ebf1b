//! The suite's figures against the committed baseline.

use super::{Figure, Kind};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::Path;

pub(super) const NOT_CHECKED: &[&str] = &[
    "alert_p99_ms",
    // The peers' own memory: reported beside ours, not ours to regress.
    "zabbix_pss_mib",
    "zabbix_unpolled_pss_mib",
    "node_exporter_pss_mib",
    // Counts that equal the load offered (more is not worse).
    "replicas_1_agents_held",
    "replicas_3_agents_held",
];

/// Times may be 3× worse than the baseline (shared CI machines are noisy)
/// and must also pass an absolute floor, sizes 1.5×; rates a third.
pub(super) fn check(
    path: &Path,
    figures: &[Figure],
    normalised: &dyn Fn(&Figure) -> f64,
) -> Result<()> {
    let baseline: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
    )?;
    let mut failures = Vec::new();
    for f in figures {
        // Tails of queueing latencies on a shared 2-core machine swing by
        // several times between identical runs: reported, not checked (the
        // median is).
        if NOT_CHECKED.contains(&f.key) {
            continue;
        }
        let (Some(base), now) = (baseline.get(f.key).and_then(Value::as_f64), normalised(f)) else {
            // Said, not silently skipped: a figure without a baseline is
            // not checked until one is added (--add-to-baseline).
            eprintln!(
                "{:>9}  {:<45} now {:.4}  no baseline: not checked",
                "NEW",
                f.key,
                normalised(f)
            );
            continue;
        };
        // Tiny figures are mostly noise: a time regresses only when it is
        // also large in absolute terms.
        let floor = match f.unit {
            "ms" => 25.0,
            "cores" => 0.1,
            "µs/s" => 5.0,
            _ => 0.0,
        };
        let bad = match f.kind {
            Kind::Time => now > base * 3.0 && f.value > floor,
            Kind::Size => now > base * 1.5,
            // Deterministic: any drop beyond rounding is a change.
            Kind::Score => now < base - 0.01,
            Kind::Rate => now < base / 3.0,
        };
        let verdict = if bad { "REGRESSED" } else { "ok" };
        eprintln!(
            "{verdict:>9}  {:<45} now {now:.4}  baseline {base:.4}",
            f.key
        );
        if bad {
            failures.push(f.key);
        }
    }
    if !failures.is_empty() {
        bail!(
            "benchmarks regressed beyond their margin: {}",
            failures.join(", ")
        );
    }
    Ok(())
}
