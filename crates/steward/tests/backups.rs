//! Backup monitoring end to end with Debian's `restic` and `borg`: real
//! repositories in a temporary directory, backed up to and watched by a
//! real agent reporting to a real server; a wrong passphrase and a removed
//! repository raise alerts through the ordinary check monitors, the
//! restore test passes on a good repository and fails once it is
//! corrupted, and the success rate counts the outcomes.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn have(tool: &str) -> bool {
    // restic says `restic version`, borg `borg --version`.
    let flag = if tool == "restic" {
        "version"
    } else {
        "--version"
    };
    Command::new(tool)
        .arg(flag)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sh(dir: &Path, program: &str, args: &[&str], env: &[(&str, String)]) {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).env("TZ", "UTC");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Flips bytes in the middle of every file under `dir`.
fn corrupt(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            corrupt(&path);
            continue;
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        for b in bytes.iter_mut().skip(mid.saturating_sub(64)).take(128) {
            *b ^= 0x5a;
        }
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&path, perms).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
}

fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    tokio::task::block_in_place(|| wait_for(what, Duration::from_secs(60), &mut check))
}

fn job<'a>(answer: &'a Value, name: &str) -> Option<&'a Value> {
    answer["jobs"]
        .as_array()?
        .iter()
        .find(|j| j["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_monitored_alerted_and_restore_tested() {
    if !have("restic") || !have("borg") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "restic and borgbackup are not installed"
        );
        eprintln!("\n!!! SKIPPED backups test: apt-get install restic borgbackup\n");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("backups");
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("deep")).unwrap();
    for i in 0..10 {
        std::fs::write(
            src.join(format!("f{i}.txt")),
            format!("line {i}\n").repeat(100 + i),
        )
        .unwrap();
    }
    std::fs::write(
        src.join("deep/blob.bin"),
        (0..10_000u32)
            .flat_map(|i| i.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::write(dir.join("restic.pass"), "correct horse\n").unwrap();
    std::fs::write(dir.join("borg.pass"), "battery staple\n").unwrap();
    let d = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let restic = |repo: &str| {
        vec![
            ("RESTIC_REPOSITORY", d(repo)),
            ("RESTIC_PASSWORD_FILE", d("restic.pass")),
            ("RESTIC_CACHE_DIR", d("cache")),
        ]
    };
    for repo in ["home", "spare"] {
        sh(&dir, "restic", &["init", "-q"], &restic(repo));
        sh(&dir, "restic", &["backup", "-q", &d("src")], &restic(repo));
    }
    let borg = vec![
        ("BORG_BASE_DIR", d("borgbase")),
        ("BORG_PASSCOMMAND", format!("cat {}", d("borg.pass"))),
    ];
    sh(&dir, "borg", &["init", "-e", "repokey", &d("mail")], &borg);
    sh(
        &dir,
        "borg",
        &["create", &format!("{}::nightly", d("mail")), &d("src")],
        &borg,
    );
    let config = json!({ "jobs": [
        { "name": "home", "kind": "restic", "repository": d("home"), "password_file": d("restic.pass"),
          "cache_dir": d("cache"), "rescan_minutes": 0.02,
          "restore_test": { "every_hours": 0.0005, "sample": 3, "read_data_subset": "1/1" } },
        { "name": "spare", "kind": "restic", "repository": d("spare"), "password_file": d("restic.pass"),
          "cache_dir": d("cache"), "rescan_minutes": 0.02 },
        { "name": "mail", "kind": "borg", "repository": d("mail"), "password_file": d("borg.pass"),
          "cache_dir": d("borgbase"), "rescan_minutes": 0.02, "restore_test": { "every_hours": 24, "sample": 3 } },
    ]});
    std::fs::write(dir.join("backups.json"), config.to_string()).unwrap();

    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    // Ordinary check monitors, alerting at once.
    for check in [
        "backup.mail",
        "backup.spare",
        "backup.home.restore",
        "backup.configured",
    ] {
        let (status, body) = api
            .post("/api/v1/monitors", json!({ "name": format!("{check} failing"), "spec": { "kind": "check", "check": check } }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "nas", &token));
    let _agent = Proc(
        Command::new(AGENT)
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .args([
                "--name",
                "nas",
                "run",
                "--interval",
                "5s",
                "--backup-interval",
                "1s",
                "--backup-config",
            ])
            .arg(dir.join("backups.json"))
            .stderr(std::fs::File::create(root.path().join("nas.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let device = agent.device_id.clone();
    let path = format!("/api/v1/devices/{device}/backups");
    let rt = tokio::runtime::Handle::current();
    let get = |path: &str| rt.block_on(api.get(path)).1;

    // Every job good, both restore tests passed.
    let good = poll("every job good with its restore test", || {
        let answer = get(&path);
        let passed =
            |name: &str| job(&answer, name).is_some_and(|j| j["restore_test"]["result"] == "ok");
        (["home", "spare", "mail"]
            .iter()
            .all(|n| job(&answer, n).is_some_and(|j| j["result"] == "ok"))
            && passed("home")
            && passed("mail"))
        .then_some(answer)
    });
    let home = job(&good, "home").unwrap();
    assert_eq!(home["source"], "restic");
    // restic 0.14 counts the directories too.
    assert!(home["file_count"].as_u64().unwrap() >= 11, "{home}");
    assert!(home["newest_good_ms"].as_i64().is_some());
    assert!(
        home["restore_test"]["reason"]
            .as_str()
            .unwrap()
            .contains("3 files restored, 3 identical"),
        "{home}"
    );
    let mail = job(&good, "mail").unwrap();
    assert_eq!(
        (mail["source"].as_str(), mail["reason"].as_str()),
        (Some("borg"), Some("archive nightly"))
    );
    assert_eq!(mail["restore_test"]["files_compared"], 3, "{mail}");

    // A wrong passphrase and a removed repository: failures with their
    // reasons, and alerts through the check monitors.
    std::fs::write(dir.join("borg.pass"), "not the passphrase\n").unwrap();
    std::fs::remove_dir_all(dir.join("spare")).unwrap();
    let broken = poll("the two failures", || {
        let answer = get(&path);
        (job(&answer, "mail")?["result"] == "failed"
            && job(&answer, "spare")?["result"] == "failed")
            .then_some(answer)
    });
    assert_eq!(
        job(&broken, "mail").unwrap()["reason"],
        "wrong passphrase for the repository"
    );
    assert_eq!(
        job(&broken, "spare").unwrap()["reason"],
        "no repository at this location"
    );
    let alert = |monitor: &str| {
        let monitor = monitor.to_string();
        poll(&format!("the alert of {monitor}"), || {
            let alerts = get("/api/v1/alerts");
            alerts
                .as_array()?
                .iter()
                .find(|a| a["monitor_name"] == monitor.as_str() && a["state"] != "resolved")
                .cloned()
        })
    };
    let mail_alert = alert("backup.mail failing");
    assert_eq!(mail_alert["severity"], "critical");
    assert!(
        mail_alert["summary"]
            .as_str()
            .unwrap_or("")
            .contains("wrong passphrase"),
        "{mail_alert}"
    );
    let spare_alert = alert("backup.spare failing");
    assert!(
        spare_alert["summary"]
            .as_str()
            .unwrap_or("")
            .contains("no repository"),
        "{spare_alert}"
    );

    // A corrupted repository fails its restore test, which alerts too.
    corrupt(&dir.join("home/data"));
    let failed = poll("the failed restore test", || {
        let answer = get(&path);
        (job(&answer, "home")?["restore_test"]["result"] == "failed").then_some(answer)
    });
    let reason = job(&failed, "home").unwrap()["restore_test"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!reason.is_empty());
    let restore_alert = alert("backup.home.restore failing");
    assert_eq!(restore_alert["severity"], "critical");

    // The success rate counts outcomes: home 1 good run, spare and mail a
    // good run then a failure each, whatever the number of reports.
    let summary = api.get("/api/v1/backups/summary?since=1d").await.1;
    let device_rate = &summary["devices"][0];
    assert_eq!(
        (device_rate["ok"].as_u64(), device_rate["failed"].as_u64()),
        (Some(3), Some(2)),
        "{summary}"
    );
    assert_eq!(device_rate["success_rate"].as_f64(), Some(0.6));
    assert_eq!(summary["orgs"][0]["success_rate"].as_f64(), Some(0.6));
    let runs = failed["runs"].as_array().unwrap();
    assert!(
        runs.iter()
            .any(|r| r["kind"] == "restore_test" && r["result"] == "failed"),
        "{runs:?}"
    );

    // A device whose tag requires a backup and that has none.
    let tagged = tokio::task::block_in_place(|| {
        server.cli_json(&[
            "enroll-token",
            "create",
            "--uses",
            "1",
            "--tag",
            "backup-required",
        ])
    });
    let mut bare = tokio::task::block_in_place(|| {
        Agent::enroll(root.path(), "bare", tagged["token"].as_str().unwrap())
    });
    bare.start("5s");
    let unconfigured = alert("backup.configured failing");
    assert_eq!(
        unconfigured["device_id"],
        bare.device_id.as_str(),
        "{unconfigured}"
    );
    assert!(
        unconfigured["summary"]
            .as_str()
            .unwrap_or("")
            .contains("no backup job is configured"),
        "{unconfigured}"
    );

    // The CLI reads the same.
    let cli = tokio::task::block_in_place(|| server.cli_json(&["backups", "--since", "1d"]));
    assert_eq!(cli["devices"][0]["success_rate"].as_f64(), Some(0.6));
    let text = tokio::task::block_in_place(|| server.cli(&["backups", "--device", "nas"]));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("wrong passphrase") && text.contains("spare"),
        "{text}"
    );
}
