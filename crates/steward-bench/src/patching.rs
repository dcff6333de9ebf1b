//! One patch detection pass, measured: an isolated apt root (the agent
//! tests' fixture: tiny packages built with dpkg-deb, a file repository
//! marked Debian-Security) with N packages installed at 1.0-1 and 2.0-1 of
//! each published as security; the agent's own `detect` runs against it
//! (real apt-get and apt-cache, as on a device) and the wall time and the
//! CPU time of the process and the package manager it ran are reported.
//! The host's package state is never touched.

#[path = "../../steward-agent/tests/fixture/apt.rs"]
mod apt_fixture;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// CPU time of this process and its waited-for children
/// (/proc/self/stat: utime, stime, cutime, cstime, in clock ticks).
fn cpu_time() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command's closing parenthesis; utime is the 14th.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unreadable /proc/self/stat")?;
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(100);
    Ok(Duration::from_micros(
        fields.iter().sum::<u64>() * 1_000_000 / ticks,
    ))
}

pub async fn run(packages: usize, passes: usize) -> Result<Value> {
    if packages == 0 || passes == 0 {
        bail!("--packages and --passes are at least 1");
    }
    let apt = apt_fixture::AptRoot::new();
    let mut old = Vec::with_capacity(packages);
    let mut new = Vec::with_capacity(packages);
    for n in 0..packages {
        let name = format!("stwd-bench-{n}");
        old.push(apt.package(&name, "1.0-1"));
        new.push(apt.package(&name, "2.0-1"));
    }
    let status = std::process::Command::new("dpkg")
        .arg(format!("--root={}", apt.root.display()))
        .args(["--force-not-root", "--force-script-chrootless", "-i"])
        .args(&old)
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("dpkg could not install the {packages} packages into the isolated root");
    }
    let published: Vec<&std::path::Path> = new.iter().map(|p| p.as_path()).collect();
    apt.publish("security", &published, &apt_fixture::SECURITY);
    apt.update();

    let config = steward_agent::collectors::patching::Config {
        apt_config: Some(apt.apt_config.clone()),
        root: apt.root.clone(),
        kernel_release: Some("6.1.0-bench-amd64".into()),
        timeout: Duration::from_secs(120),
        ..Default::default()
    };
    let mut walls = Vec::with_capacity(passes);
    let mut cpus = Vec::with_capacity(passes);
    let mut found = 0;
    for _ in 0..passes {
        let cpu = cpu_time()?;
        let started = Instant::now();
        let detection = steward_agent::collectors::patching::detect(&config).await;
        walls.push(started.elapsed());
        cpus.push(cpu_time()?.saturating_sub(cpu));
        let updates = detection.updates.unwrap_or_default();
        if updates.len() != packages || !updates.iter().all(|u| u.security) {
            bail!(
                "the pass saw {} pending ({} security) of {packages}: {}",
                updates.len(),
                updates.iter().filter(|u| u.security).count(),
                detection.status.error
            );
        }
        found = updates.len();
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(json!({
        "packages_installed": packages,
        "security_updates_found": found,
        "passes": passes,
        "wall_ms_median": median(walls.iter().map(ms).collect()),
        "cpu_ms_median": median(cpus.iter().map(ms).collect()),
        "wall_ms": walls.iter().map(ms).collect::<Vec<_>>(),
        "cpu_ms": cpus.iter().map(ms).collect::<Vec<_>>(),
        "note": "CPU is this process plus the apt-get and apt-cache it ran (utime+stime+cutime+cstime)",
    }))
}
