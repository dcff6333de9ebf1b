//! The real tools: a local apt repository marked as a security origin, an
//! isolated root with v1 installed, v2 published as a security update; the
//! agent's detection reports it with the rule that matched, finds a
//! security version hidden behind a newer candidate, reads the
//! reboot-required flag with its packages, and reports a held dpkg lock.
//! The host's package state is never touched.

mod fixture;

use fixture::apt::{AptRoot, SECURITY, UPDATES};
use std::time::Duration;
use steward_agent::collectors::patching::{Config, detect};
use steward_proto::DetectionState;

fn config(apt: &AptRoot) -> Config {
    Config {
        apt_config: Some(apt.apt_config.clone()),
        root: apt.root.clone(),
        timeout: Duration::from_secs(60),
        needrestart: false,
        kernel_release: Some("6.1.0-25-amd64".into()),
        ..Config::default()
    }
}

/// CPU seconds used by this process and its reaped children.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime, stime, cutime, cstime are fields 14-17 (1-based; 3 is the first after the name).
    let ticks: f64 = fields[11..15]
        .iter()
        .map(|f| f.parse::<f64>().unwrap())
        .sum();
    ticks / 100.0
}

#[tokio::test]
async fn security_update_from_a_local_repository_is_detected_with_its_rule() {
    let host_status = std::fs::read("/var/lib/dpkg/status").ok();
    let apt = AptRoot::new();
    let demo_v1 = apt.package("stwd-demo", "1.0-1");
    let demo_v2 = apt.package("stwd-demo", "2.0-1");
    let other_v1 = apt.package("stwd-other", "1.0-1");
    let other_sec = apt.package("stwd-other", "1.1-1");
    let other_new = apt.package("stwd-other", "2.0-1");
    apt.install(&demo_v1);
    apt.install(&other_v1);
    assert_eq!(apt.installed_version("stwd-demo"), "1.0-1");

    // Nothing published yet: nothing pending.
    apt.update();
    let detection = detect(&config(&apt)).await;
    assert_eq!(
        detection.status.state,
        DetectionState::Ok,
        "{:?}",
        detection.status
    );
    assert_eq!(detection.updates, Some(vec![]));

    // v2 as a security update; stwd-other has a security 1.1 hidden
    // behind a newer 2.0 from -updates.
    apt.publish("security", &[&demo_v2, &other_sec], &SECURITY);
    apt.publish("updates", &[&other_new], &UPDATES);
    apt.update();
    std::fs::write(
        apt.root.join("run/reboot-required"),
        "*** System restart required ***\n",
    )
    .unwrap();
    std::fs::write(apt.root.join("run/reboot-required.pkgs"), "stwd-demo\n").unwrap();

    let cpu = cpu_seconds();
    let wall = std::time::Instant::now();
    let detection = detect(&config(&apt)).await;
    eprintln!(
        "one detection pass: {} ms wall, {:.2} s CPU (agent and apt)",
        wall.elapsed().as_millis(),
        cpu_seconds() - cpu
    );
    let status = &detection.status;
    assert_eq!(status.state, DetectionState::Ok, "{status:?}");
    assert_eq!(status.manager, "apt");
    assert_eq!(
        status.security_source,
        steward_proto::SecuritySource::Origins
    );
    let updates = detection.updates.expect("updates");
    let demo = updates
        .iter()
        .find(|u| u.name == "stwd-demo")
        .expect("stwd-demo pending");
    assert_eq!(
        (demo.current.as_str(), demo.available.as_str()),
        ("1.0-1", "2.0-1")
    );
    assert!(demo.security);
    assert_eq!(demo.rule, "label Debian-Security");
    let origin = demo.origin.as_ref().unwrap();
    assert_eq!(
        (
            origin.origin.as_str(),
            origin.label.as_str(),
            origin.codename.as_str(),
            origin.archive.as_str()
        ),
        (
            "Debian",
            "Debian-Security",
            "bookworm-security",
            "bookworm-security"
        )
    );
    let other = updates
        .iter()
        .find(|u| u.name == "stwd-other")
        .expect("stwd-other pending");
    assert_eq!(other.available, "2.0-1");
    assert!(other.security);
    assert_eq!(
        other.rule,
        "security version 1.1-1 (label Debian-Security) hidden behind a newer candidate"
    );
    assert_eq!(other.origin.as_ref().unwrap().codename, "bookworm-updates");
    // The reboot flag, with the package that asked for it.
    assert_eq!(status.reboot.required, Some(true));
    assert_eq!(status.reboot.packages, ["stwd-demo"]);
    assert_eq!(status.reboot.reasons[0].source, "flag_file");
    assert_eq!(
        status.reboot.reasons[0].detail,
        "/run/reboot-required exists, asked by stwd-demo"
    );
    // Detection changed nothing: v1 is still what dpkg has.
    assert_eq!(apt.installed_version("stwd-demo"), "1.0-1");
    assert_eq!(std::fs::read("/var/lib/dpkg/status").ok(), host_status);
}

#[tokio::test]
async fn a_held_dpkg_lock_gives_a_locked_status() {
    let apt = AptRoot::new();
    let lock = apt.root.join("var/lib/dpkg/lock-frontend");
    std::fs::write(&lock, "").unwrap();
    // Another process holds the lock the way dpkg does (fcntl).
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys; f=open(sys.argv[1],'w'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
        ])
        .arg(&lock)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held");
    let detection = detect(&config(&apt)).await;
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(detection.status.state, DetectionState::Locked);
    assert_eq!(detection.updates, None);
    assert!(
        detection
            .status
            .error
            .contains(&format!("process {} (python3)", holder.id())),
        "{}",
        detection.status.error
    );
}

#[tokio::test]
async fn a_hung_package_manager_is_killed_with_what_it_started() {
    let apt = AptRoot::new();
    let pid_file = apt.hang_dpkg();
    let started = std::time::Instant::now();
    let detection = detect(&Config {
        timeout: Duration::from_secs(2),
        ..config(&apt)
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(detection.status.state, DetectionState::TimedOut);
    assert_eq!(detection.updates, None);
    assert_eq!(
        detection.status.error,
        "apt-get -s dist-upgrade: no answer before the detection timeout"
    );
    // The hung dpkg apt was waiting for is gone too.
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the hung dpkg {pid} still runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One detection pass against this host, measured (read-only: apt is only
/// simulated). Run on purpose: `cargo test -p steward-agent --test apt_repo
/// -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measures this host; run on purpose"]
async fn measure_a_detection_pass_on_this_host() {
    let config = Config {
        needrestart: true,
        ..Config::default()
    };
    let cpu = cpu_seconds();
    let wall = std::time::Instant::now();
    let detection = detect(&config).await;
    let packages = steward_agent::os::packages(std::path::Path::new("/"))
        .await
        .len();
    eprintln!(
        "host pass: {} ms wall, {:.2} s CPU (agent and its children); state {:?}, {} pending ({} security), {packages} installed packages",
        wall.elapsed().as_millis(),
        cpu_seconds() - cpu,
        detection.status.state,
        detection.updates.as_ref().map_or(0, Vec::len),
        detection
            .updates
            .as_ref()
            .map_or(0, |u| u.iter().filter(|u| u.security).count()),
    );
}
