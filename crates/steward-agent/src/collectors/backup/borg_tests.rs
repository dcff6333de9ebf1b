use super::*;

/// Recorded from Debian's borg 1.2.4 (`TZ=UTC`).
const LIST_1_2: &str = r#"{
    "archives": [
        {"archive": "first", "barchive": "first", "id": "6001e655", "name": "first",
         "start": "2026-12-06T20:06:08.000000", "time": "2026-12-06T20:06:08.000000"},
        {"archive": "older", "barchive": "older", "id": "5000", "name": "older",
         "start": "2026-12-05T20:06:08.000000", "time": "2026-12-05T20:06:08.000000"}
    ],
    "encryption": {"mode": "repokey"},
    "repository": {"id": "8ada", "last_modified": "2026-12-06T20:06:08.000000", "location": "/tmp/rtest/borgrepo"}
}"#;

const INFO_1_2: &str = r#"{"archives": [{"chunker_params": ["buzhash", 19, 23, 21, 4095], "command_line": ["/usr/bin/borg", "create", "borgrepo::first", "src"],
  "comment": "", "duration": 0.03204, "end": "2026-12-06T20:06:08.000000", "hostname": "vm", "id": "6001e655",
  "limits": {"max_archive_size": 2.3e-05}, "name": "first", "start": "2026-12-06T20:06:08.000000",
  "stats": {"compressed_size": 5092, "deduplicated_size": 5881, "nfiles": 2, "original_size": 5006}, "username": "root"}],
  "cache": {"path": "/root/.cache/borg/8ada", "stats": {"total_chunks": 4}}, "encryption": {"mode": "repokey"},
  "repository": {"id": "8ada", "last_modified": "2026-12-06T20:06:08.000000", "location": "/tmp/rtest/borgrepo"}}"#;

/// borg 2 (`repo-list --json`): only `name`, times with an offset.
const LIST_2: &str = r#"{"archives": [{"hostname": "h", "id": "aa11", "name": "nightly-2023-02-01",
  "start": "2023-02-01T10:00:00.000000+01:00", "time": "2023-02-01T10:00:00.000000+01:00", "username": "u", "tags": []}],
  "encryption": {"mode": "repokey-aes-ocb"}, "repository": {"id": "bb", "last_modified": "2023-02-01T10:00:01.000000+01:00", "location": "/repo"}}"#;

const INFO_2: &str = r#"{"archives": [{"name": "nightly-2023-02-01", "id": "aa11", "duration": 61.5,
  "start": "2023-02-01T10:00:00.000000+01:00", "end": "2023-02-01T10:01:01.500000+01:00",
  "stats": {"nfiles": 1200, "original_size": 987654321}}]}"#;

#[test]
fn reads_borg_1_2() {
    let archives = parse_archives(LIST_1_2.as_bytes()).unwrap();
    let info = parse_archives(INFO_1_2.as_bytes()).unwrap();
    let seen = observe(&archives, info.first());
    assert_eq!(seen.result, BackupResult::Ok);
    assert_eq!(seen.copy_id, "first");
    assert_eq!(seen.run_ms, Some(1_796_587_568_000));
    assert_eq!(seen.duration_ms, Some(32));
    assert_eq!((seen.size_bytes, seen.file_count), (Some(5006), Some(2)));
    // Without info (it failed), the run still counts, without figures.
    assert_eq!(observe(&archives, None).size_bytes, None);
}

#[test]
fn reads_borg_2_names() {
    let archives = parse_archives(LIST_2.as_bytes()).unwrap();
    let info = parse_archives(INFO_2.as_bytes()).unwrap();
    let seen = observe(&archives, info.first());
    assert_eq!(seen.copy_id, "nightly-2023-02-01");
    assert_eq!(seen.run_ms, Some(1_675_242_000_000));
    assert_eq!(seen.duration_ms, Some(61_500));
    assert_eq!(
        (seen.size_bytes, seen.file_count),
        (Some(987_654_321), Some(1200))
    );
    assert!(is_borg2("borg2 2.0.0b5\n"));
    assert!(!is_borg2("borg 1.2.4\n"));
    assert!(!is_borg2(""));
}

#[test]
fn corrupt_and_hostile_output() {
    assert!(parse_archives(b"").is_err());
    assert!(parse_archives(b"{\"archives\": [{\"name\": 5}]}").is_err());
    assert_eq!(
        observe(&parse_archives(b"{}").unwrap(), None).result,
        BackupResult::Failed
    );
    let odd = parse_archives(br#"{"archives":[{"name":"x","time":"soon"}]}"#).unwrap();
    assert_eq!(observe(&odd, None).result, BackupResult::Failed);
    let info = parse_archives(
        br#"{"archives":[{"name":"x","time":"2024-01-01T00:00:00","duration":-3}]}"#,
    )
    .unwrap();
    assert_eq!(observe(&info, info.first()).duration_ms, None);
}

fn output(code: Option<i32>, stderr: &str) -> Output {
    Output {
        code,
        stdout: Vec::new(),
        stderr: stderr.into(),
        truncated: false,
        timed_out: false,
        start_error: None,
    }
}

#[test]
fn failures_have_clear_reasons() {
    let t = Duration::from_secs(30);
    // Recorded from borg 1.2.4.
    let wrong = "passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect.\n";
    assert_eq!(
        failure(&output(Some(2), wrong), t).1,
        "wrong passphrase for the repository"
    );
    assert_eq!(
        failure(
            &output(Some(2), "Repository /tmp/rtest/nothere does not exist.\n"),
            t
        )
        .1,
        "no repository at this location"
    );
    assert_eq!(
        failure(
            &output(
                Some(2),
                "Failed to create/acquire the lock /r/lock.exclusive (timeout).\n"
            ),
            t
        )
        .0,
        BackupResult::Warning
    );
    assert_eq!(
        failure(&output(Some(1), "file changed while we backed it up\n"), t).0,
        BackupResult::Warning
    );
    assert_eq!(
        failure(&output(Some(2), "Error\n"), t).1,
        "borg exited with 2: Error"
    );
    let traceback = "Traceback (most recent call last):\n  File \"x\"\nborg.crypto.low_level.IntegrityError: MAC Authentication failed\n\nPlatform: Linux vm 6.1\nBorg: 1.2.4  Python: CPython 3.11.2\nPID: 5, CWD: /\nsys.argv: ['borg', 'list']\nSSH_ORIGINAL_COMMAND: None\n";
    assert_eq!(
        failure(&output(Some(2), traceback), t).1,
        "borg exited with 2: borg.crypto.low_level.IntegrityError: MAC Authentication failed"
    );
    let hung = Output {
        timed_out: true,
        ..output(None, "")
    };
    assert!(failure(&hung, t).1.contains("did not answer within 30 s"));
}

#[test]
fn items_are_regular_files_without_escapes() {
    let lines = br#"{"type": "d", "path": "src", "size": 0, "mtime": "2026-12-06T20:05:50.605238"}
{"type": "-", "path": "src/a.txt", "size": 6, "mtime": "2026-12-06T20:05:50.601238"}
{"type": "-", "path": "../../etc/passwd", "size": 6}
garbage
{"type": "-", "path": "src/b.bin", "size": 5000, "mtime": "2026-12-06T20:05:50.608452"}"#;
    let items = parse_items(lines, 100);
    assert_eq!(
        items.iter().map(|i| i.path.as_str()).collect::<Vec<_>>(),
        vec!["src/a.txt", "src/b.bin"]
    );
    assert_eq!(items[0].mtime_ms, Some(1_796_587_550_601));
}
