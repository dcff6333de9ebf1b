//! The backup collectors against Debian's real `restic` and `borg`:
//! repositories made in a temporary directory, backed up to, watched,
//! restore-tested, then broken (wrong password, removed, corrupted).
//! Skipped (with a message) where the tools are not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use steward_agent::collectors::backup::{Watcher, config};
use steward_proto::{BackupJob, BackupResult};

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

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("deep")).unwrap();
        for i in 0..12 {
            std::fs::write(
                src.join(format!("file{i}.txt")),
                format!("content of file {i}\n").repeat(50 + i),
            )
            .unwrap();
        }
        std::fs::write(
            src.join("deep/blob.bin"),
            (0..20_000u32)
                .flat_map(|i| i.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        std::fs::write(dir.path().join("pass"), "correct horse\n").unwrap();
        std::fs::write(dir.path().join("wrong"), "battery staple\n").unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sh(&self, program: &str, args: &[&str], env: &[(&str, &Path)]) {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.env("TZ", "UTC").output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn jobs(&self, text: &str) -> Vec<config::Job> {
        let text = text.replace("DIR", self.dir.path().to_str().unwrap());
        config::parse(&text, |_| None).unwrap()
    }
}

async fn report(jobs: Vec<config::Job>) -> Vec<BackupJob> {
    Watcher::new(jobs).cycle().await.jobs
}

/// Flips bytes in the middle of every file under `dir`.
fn corrupt(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            corrupt(&path);
        } else {
            corrupt_file(&path);
        }
    }
}

fn corrupt_file(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    for b in bytes.iter_mut().skip(mid.saturating_sub(64)).take(128) {
        *b ^= 0x5a;
    }
    // restic and borg write their files read-only.
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn restic_repositories_are_watched_and_restore_tested() {
    if !have("restic") {
        eprintln!("restic is not installed: skipped");
        return;
    }
    let f = Fixture::new();
    let (repo, pass, cache) = (f.path("repo"), f.path("pass"), f.path("cache"));
    let env = [
        ("RESTIC_REPOSITORY", repo.as_path()),
        ("RESTIC_PASSWORD_FILE", pass.as_path()),
        ("RESTIC_CACHE_DIR", cache.as_path()),
    ];
    f.sh("restic", &["init", "-q"], &env);
    f.sh("restic", &["backup", "-q", "src"], &env);
    let good = r#"{"jobs":[{"name":"home","kind":"restic","repository":"DIR/repo","password_file":"DIR/pass","cache_dir":"DIR/cache",
        "restore_test":{"sample":4,"read_data_subset":"1/1"}},
        {"name":"wrong","kind":"restic","repository":"DIR/repo","password_file":"DIR/wrong","cache_dir":"DIR/cache"},
        {"name":"gone","kind":"restic","repository":"DIR/nothing","password_file":"DIR/pass","cache_dir":"DIR/cache"}]}"#;
    let jobs = report(f.jobs(good)).await;
    let home = &jobs[0];
    assert_eq!(home.result, BackupResult::Ok, "{home:?}");
    assert!(home.newest_good_ms.is_some() && home.last_run_ms == home.newest_good_ms);
    // 13 files and 2 directories: restic 0.14's restore size counts both.
    assert_eq!(home.file_count, Some(15), "{home:?}");
    assert!(home.size_bytes.unwrap() > 80_000, "{home:?}");
    let test = home.restore_test.as_ref().expect("a restore test ran");
    assert_eq!(test.result, BackupResult::Ok, "{test:?}");
    assert_eq!(
        (test.files_restored, test.files_compared),
        (4, 4),
        "{test:?}"
    );
    assert!(
        test.reason
            .contains("restic check of data subset 1/1 passed"),
        "{}",
        test.reason
    );
    assert_eq!(
        (jobs[1].result, jobs[1].reason.as_str()),
        (BackupResult::Failed, "wrong password for the repository")
    );
    assert_eq!(
        (jobs[2].result, jobs[2].reason.as_str()),
        (BackupResult::Failed, "no repository at this location")
    );

    // A corrupted repository: the snapshot list still reads, the restore
    // test does not pass.
    corrupt(&repo.join("data"));
    let jobs = report(f.jobs(good)).await;
    let test = jobs[0].restore_test.as_ref().expect("a restore test ran");
    assert_eq!(test.result, BackupResult::Failed, "{test:?}");
    assert!(!test.reason.is_empty());
}

#[tokio::test]
async fn borg_repositories_are_watched_and_restore_tested() {
    if !have("borg") {
        eprintln!("borg is not installed: skipped");
        return;
    }
    let f = Fixture::new();
    let base = f.path("borgbase");
    let pass_cmd = format!("cat {}", f.path("pass").display());
    let env = [
        ("BORG_BASE_DIR", base.as_path()),
        ("BORG_PASSCOMMAND", Path::new(&pass_cmd)),
    ];
    f.sh("borg", &["init", "-e", "repokey", "repo"], &env);
    let src = f.path("src");
    f.sh(
        "borg",
        &["create", "repo::first", src.to_str().unwrap()],
        &env,
    );
    let good = r#"{"jobs":[{"name":"mail","kind":"borg","repository":"DIR/repo","password_file":"DIR/pass","cache_dir":"DIR/borgbase",
        "restore_test":{"sample":4}},
        {"name":"wrong","kind":"borg","repository":"DIR/repo","password_file":"DIR/wrong","cache_dir":"DIR/borgbase"},
        {"name":"gone","kind":"borg","repository":"DIR/nothing","password_file":"DIR/pass","cache_dir":"DIR/borgbase"}]}"#;
    let jobs = report(f.jobs(good)).await;
    let mail = &jobs[0];
    assert_eq!(mail.result, BackupResult::Ok, "{mail:?}");
    assert_eq!(mail.reason, "archive first");
    assert_eq!(mail.file_count, Some(13), "{mail:?}");
    assert!(mail.duration_ms.is_some());
    let test = mail.restore_test.as_ref().expect("a restore test ran");
    assert_eq!(test.result, BackupResult::Ok, "{test:?}");
    assert_eq!(
        (test.files_restored, test.files_compared),
        (4, 4),
        "{test:?}"
    );
    assert_eq!(
        (jobs[1].result, jobs[1].reason.as_str()),
        (BackupResult::Failed, "wrong passphrase for the repository")
    );
    assert_eq!(
        (jobs[2].result, jobs[2].reason.as_str()),
        (BackupResult::Failed, "no repository at this location")
    );

    // The largest segment holds the files' chunks; the manifest and the
    // archive's metadata, in later ones, stay readable.
    let segments = f.path("repo/data/0");
    let largest = std::fs::read_dir(&segments)
        .unwrap()
        .flatten()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap();
    corrupt_file(&largest.path());
    let jobs = report(f.jobs(good)).await;
    assert_eq!(jobs[0].result, BackupResult::Ok, "{:?}", jobs[0]);
    let test = jobs[0].restore_test.as_ref().expect("a restore test ran");
    assert_eq!(test.result, BackupResult::Failed, "{test:?}");
    assert!(
        test.reason.contains("extract failed") || test.reason.contains("check"),
        "{}",
        test.reason
    );
}
