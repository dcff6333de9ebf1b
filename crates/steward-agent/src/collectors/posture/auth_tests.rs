use super::*;
use std::io::Write;

fn summary(events: &[LoginEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| format!("{:?} {} {} {}", e.outcome, e.service, e.user, e.address))
        .collect()
}

#[test]
fn real_sshd_sudo_and_login_lines() {
    let lines = [
        // Debian 12 rsyslog (RFC 3339), OpenSSH 9.2: the process is sshd.
        "2026-12-06T23:31:00.123456+00:00 web1 sshd[1201]: Failed password for root from 203.0.113.7 port 50522 ssh2",
        "2026-12-06T23:31:01.000000+00:00 web1 sshd[1202]: Invalid user admin from 203.0.113.8 port 50530",
        "2026-12-06T23:31:01.500000+00:00 web1 sshd[1202]: Failed password for invalid user admin from 203.0.113.8 port 50530 ssh2",
        // OpenSSH 9.8+: authentication happens in sshd-session.
        "2026-12-06T23:31:02+00:00 web1 sshd-session[1300]: Failed publickey for bob from 2001:db8::5 port 40000 ssh2: ED25519 SHA256:abc",
        "2026-12-06T23:31:03+00:00 web1 sshd-session[1301]: Accepted publickey for alice from 198.51.100.4 port 51000 ssh2: ED25519 SHA256:abc",
        "Dec  6 23:31:04 web1 sshd[1203]: Accepted password for carol from 192.0.2.10 port 22 ssh2",
        "Dec  6 23:31:05 web1 sshd[1204]: message repeated 2 times: [ Failed password for root from 203.0.113.7 port 50522 ssh2]",
        "2026-12-06T23:31:06+00:00 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
        "2026-12-06T23:31:07+00:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
        "2026-12-06T23:31:07+00:00 web1 sudo: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
        "2026-12-06T23:31:08+00:00 web1 login[900]: FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure",
        "2026-12-06T23:31:09+00:00 web1 login[900]: pam_unix(login:session): session opened for user dave(uid=1001) by LOGIN(uid=0)",
        "2026-12-06T23:31:10+00:00 web1 sshd[1205]: Accepted password for eve from not-an-address port 22 ssh2",
        "2026-12-06T23:31:11+00:00 web1 CRON[5]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    ];
    let events: Vec<LoginEvent> = lines.iter().flat_map(|l| parse_line(l, 7)).collect();
    assert_eq!(
        summary(&events),
        [
            "Failed sshd root 203.0.113.7",
            "Failed sshd admin 203.0.113.8",
            "Failed sshd bob 2001:db8::5",
            "Accepted sshd alice 198.51.100.4",
            "Accepted sshd carol 192.0.2.10",
            "Failed sshd root 203.0.113.7",
            "Failed sshd root 203.0.113.7",
            "Failed sudo alice ",
            "Failed sudo alice ",
            "Failed sudo alice ",
            "Accepted sudo alice ",
            "Failed login root ",
            "Accepted login dave ",
            "Accepted sshd eve ",
        ]
    );
    assert_eq!(events[0].at_ms, 1_796_599_860_123);
    assert_eq!(events[4].at_ms, 7, "a traditional line is dated when read");
}

#[test]
fn journal_entries_with_either_process_name() {
    let output = concat!(
        r#"{"__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"1796599860000000","SYSLOG_IDENTIFIER":"sshd","_SYSTEMD_UNIT":"ssh.service","MESSAGE":"Failed password for root from 203.0.113.7 port 1 ssh2"}"#,
        "\n",
        r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1796599861000000","_COMM":"sshd-session","_SYSTEMD_UNIT":"ssh.service","MESSAGE":"Accepted publickey for alice from 198.51.100.4 port 2 ssh2"}"#,
        "\n",
        r#"{"__CURSOR":"s=1;i=3","SYSLOG_IDENTIFIER":"sshd","MESSAGE":[1,2,3]}"#,
        "\n",
        r#"{"__CURSOR":"s=1;i=4","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Failed password for"#,
    );
    let (events, cursor) = parse_journal(output.as_bytes());
    assert_eq!(
        summary(&events),
        [
            "Failed sshd root 203.0.113.7",
            "Accepted sshd alice 198.51.100.4"
        ]
    );
    assert_eq!(events[1].at_ms, 1_796_599_861_000);
    assert_eq!(
        cursor.as_deref(),
        Some("s=1;i=3"),
        "the cut entry is read again"
    );
}

#[test]
fn the_tail_follows_rotation_and_survives_huge_lines_and_junk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    std::fs::write(&path, "old line\n").unwrap();
    let mut tail = Tail::new(path.clone());
    assert!(tail.read().is_empty(), "the first read notes the end");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    // A 10 MB line, binary junk, then a real line.
    f.write_all(&vec![b'x'; 10 * 1024 * 1024]).unwrap();
    f.write_all(b"\n\xff\xfe\x00junk\nreal one\npart").unwrap();
    let mut lines = Vec::new();
    for _ in 0..4 {
        lines.extend(tail.read());
    }
    assert_eq!(
        lines.len(),
        2,
        "{:?}",
        lines.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
    assert!(lines[0].ends_with("junk"));
    assert_eq!(lines[1], "real one");
    // Rotation: the rest of the old file is still read, then the new one.
    f.write_all(b"ial\nlast old\n").unwrap();
    std::fs::rename(&path, dir.path().join("auth.log.1")).unwrap();
    std::fs::write(&path, "first new\n").unwrap();
    assert_eq!(tail.read(), ["partial", "last old", "first new"]);
    // Truncation in place.
    std::fs::write(&path, "").unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"cut\n").unwrap();
    assert_eq!(tail.read(), ["cut"]);
    assert!(tail.read().is_empty());
}
