use super::*;

/// Recorded from Debian's restic 0.14.0 (no summary).
const SNAPSHOTS_0_14: &str = r#"[{"time":"2026-12-06T20:05:53.588237863Z","tree":"607c9f1097f12616f8073663f0708077b5863d33765452a6c526f8e8441c1443","paths":["/tmp/rtest/src"],"hostname":"vm","username":"root","id":"767318cd276cf541f46e193782287be32f0b21682c58af7ece4fd574f14a5d04","short_id":"767318cd"},{"time":"2026-12-05T20:05:53Z","tree":"60","paths":["/tmp/rtest/src"],"hostname":"vm","id":"aa","short_id":"aa"}]"#;

/// The shape restic 0.17+ prints: a `summary` per snapshot.
const SNAPSHOTS_0_17: &str = r#"[{"time":"2024-07-29T10:00:05.2+02:00","parent":"1f","tree":"2e","paths":["/home/user"],"hostname":"h","username":"u","uid":1000,"gid":1000,"program_version":"restic 0.17.0","summary":{"backup_start":"2024-07-29T10:00:00.1+02:00","backup_end":"2024-07-29T10:00:05.2+02:00","files_new":3,"files_changed":0,"files_unmodified":0,"dirs_new":2,"dirs_changed":0,"dirs_unmodified":0,"data_blobs":3,"tree_blobs":3,"data_added":1234,"data_added_packed":1000,"total_files_processed":3,"total_bytes_processed":5006},"id":"4bd2","short_id":"4bd2"}]"#;

#[test]
fn reads_restic_0_14_snapshots() {
    let seen = observe(&parse_snapshots(SNAPSHOTS_0_14.as_bytes()).unwrap());
    assert_eq!(seen.result, BackupResult::Ok);
    assert_eq!(seen.run_ms, Some(1_796_587_553_588));
    assert_eq!(seen.newest_good_ms, seen.run_ms);
    assert_eq!(
        seen.copy_id,
        "767318cd276cf541f46e193782287be32f0b21682c58af7ece4fd574f14a5d04"
    );
    assert_eq!(
        (seen.size_bytes, seen.file_count, seen.duration_ms),
        (None, None, None)
    );
    assert_eq!(
        parse_stats(br#"{"total_size":5006,"total_file_count":3,"snapshots_count":1}"#),
        Some((5006, 3))
    );
}

#[test]
fn reads_restic_0_17_summaries() {
    let seen = observe(&parse_snapshots(SNAPSHOTS_0_17.as_bytes()).unwrap());
    assert_eq!(seen.result, BackupResult::Ok);
    assert_eq!(seen.duration_ms, Some(5_100));
    assert_eq!((seen.size_bytes, seen.file_count), (Some(5006), Some(3)));
    assert_eq!(seen.reason, "snapshot 4bd2");
}

#[test]
fn empty_corrupt_and_hostile_output() {
    assert_eq!(
        observe(&parse_snapshots(b"[]").unwrap()).result,
        BackupResult::Failed
    );
    assert!(parse_snapshots(b"[{\"time\":").is_err());
    assert!(parse_snapshots(b"\xff\xfe garbage").is_err());
    assert!(parse_snapshots(br#"[{"time":"x","summary":{"total_bytes_processed":-4}}]"#).is_err());
    // Unparseable times never count as the newest snapshot.
    let odd =
        parse_snapshots(br#"[{"time":"yesterday","id":"x","short_id":"\u001b[2J"}]"#).unwrap();
    assert_eq!(observe(&odd).result, BackupResult::Failed);
    // A control character in an id does not reach the reason.
    let sneaky =
        parse_snapshots(br#"[{"time":"2024-01-01T00:00:00Z","short_id":"\u001b[2Jx"}]"#).unwrap();
    assert!(!observe(&sneaky).reason.chars().any(char::is_control));
    // A huge listing parses (bounded by the read cap, not by the parser).
    let many: Vec<String> = (0..20_000)
        .map(|i| format!(r#"{{"time":"2024-01-01T00:00:{:02}Z","id":"{i}","short_id":"{i}","paths":["/{}"]}}"#, i % 60, "p".repeat(100)))
        .collect();
    let huge = format!("[{}]", many.join(","));
    let seen = observe(&parse_snapshots(huge.as_bytes()).unwrap());
    assert_eq!(seen.run_ms, Some(1_704_067_259_000));
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
    let t = Duration::from_secs(60);
    // restic 0.14 says it on stderr with exit 1 (recorded).
    assert_eq!(
        failure(
            &output(Some(1), "Fatal: wrong password or no key found\n"),
            t
        )
        .1,
        "wrong password for the repository"
    );
    let gone = "Fatal: unable to open config file: stat nothere/config: no such file or directory\nIs there a repository at the following location?\nnothere\n";
    assert_eq!(
        failure(&output(Some(1), gone), t).1,
        "no repository at this location"
    );
    // A repository removed under a warm cache (recorded).
    let removed =
        "Fatal: config cannot be loaded: open /tmp/x/spare/config: no such file or directory\n";
    assert_eq!(
        failure(&output(Some(1), removed), t).1,
        "no repository at this location"
    );
    // restic 0.17 exit codes.
    assert_eq!(
        failure(&output(Some(10), ""), t).1,
        "no repository at this location"
    );
    assert_eq!(
        failure(&output(Some(11), ""), t),
        (BackupResult::Warning, "repository is locked".into())
    );
    assert_eq!(
        failure(&output(Some(12), ""), t).1,
        "wrong password for the repository"
    );
    assert_eq!(
        failure(&output(Some(99), "boom\n"), t).1,
        "restic exited with 99: boom"
    );
    let hung = Output {
        timed_out: true,
        ..output(None, "")
    };
    assert!(failure(&hung, t).1.contains("did not answer within 60 s"));
}

#[test]
fn ls_lists_files_and_maps_them_to_their_source() {
    let ls = br#"{"time":"2026-12-06T20:05:53.588237863Z","paths":["/tmp/rtest/src"],"id":"7673","short_id":"7673","struct_type":"snapshot"}
{"name":"src","type":"dir","path":"/src","mtime":"2026-12-06T20:05:50.605238374Z","struct_type":"node"}
{"name":"a.txt","type":"file","path":"/src/a.txt","size":6,"mtime":"2026-12-06T20:05:50.601238374Z","struct_type":"node"}
not json at all
{"name":"b.bin","type":"file","path":"/src/b.bin","size":5000,"mtime":"2026-12-06T20:05:50.60845204Z","struct_type":"node"}"#;
    let files = parse_ls(ls, 10);
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].path, "/src/a.txt");
    assert_eq!(files[0].mtime_ms, Some(1_796_587_550_601));
    assert_eq!(parse_ls(ls, 1).len(), 1);
    let roots = vec!["/tmp/rtest/src".to_string()];
    assert_eq!(
        source_of(&roots, "/src/a.txt").as_deref(),
        Some("/tmp/rtest/src/a.txt")
    );
    assert_eq!(
        source_of(&roots, "/tmp/rtest/src/a.txt").as_deref(),
        Some("/tmp/rtest/src/a.txt")
    );
    assert_eq!(source_of(&roots, "/elsewhere/a.txt"), None);
}
