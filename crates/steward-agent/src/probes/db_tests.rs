//! Database probes against the machine's PostgreSQL and MariaDB
//! (`STEWARD_TEST_POSTGRES`, `STEWARD_TEST_MYSQL`; skipped without them
//! unless CI is set) and hostile peers that speak garbage.

use super::{Greeting, error_text, greeting, scramble};
use crate::probes::{Kind, judge, parse, run_one};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").is_ok() => panic!("{var} is needed in CI"),
        Err(_) => {
            eprintln!("{var} is not set: skipped");
            None
        }
    }
}

/// `scheme://user[:password]@host:port` of a service URL.
fn base(url: &str, scheme: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

#[test]
fn database_specs_parse() {
    let p = parse(
        "pg=postgres://app:s%40cret@db.local/shop?query=select+count(*)+from+orders&timeout=3s",
    )
    .unwrap();
    assert_eq!(
        (p.kind, p.host.as_str(), p.port),
        (Kind::Postgres, "db.local", 5432)
    );
    let db = p.db.unwrap();
    assert_eq!(
        (
            db.user.as_str(),
            db.password.as_deref(),
            db.database.as_str()
        ),
        ("app", Some("s@cret"), "shop")
    );
    assert_eq!(db.query, "select count(*) from orders");
    let p = parse("my=mysql://root@127.0.0.1?password_file=/etc/probe.pw").unwrap();
    assert_eq!((p.kind, p.port), (Kind::Mysql, 3306));
    let db = p.db.unwrap();
    assert_eq!((db.query.as_str(), db.database.as_str()), ("SELECT 1", ""));
    assert!(db.password_file.is_some());
    for bad in [
        "pg=postgres://127.0.0.1/x",    // no user
        "web=https://user@example.com", // userinfo elsewhere
        "my=mysql://root@h/?query=a%00b",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn mysql_greetings_and_scrambles_decode() {
    // A MariaDB-like greeting: version, id, 8 + 12 nonce bytes, plugin.
    let mut packet = vec![10];
    packet.extend_from_slice(b"10.11.6-MariaDB\0");
    packet.extend_from_slice(&7u32.to_le_bytes());
    packet.extend_from_slice(b"abcdefgh\0");
    packet.extend_from_slice(&0xf7feu16.to_le_bytes());
    packet.extend_from_slice(&[45, 2, 0]);
    packet.extend_from_slice(&0x81bfu16.to_le_bytes());
    packet.push(21);
    packet.extend_from_slice(&[0; 10]);
    packet.extend_from_slice(b"ijklmnopqrst\0");
    packet.extend_from_slice(b"mysql_native_password\0");
    let g = greeting(&packet).unwrap();
    assert_eq!(
        g,
        Greeting {
            version: "10.11.6-MariaDB".into(),
            capabilities: 0x81bf_f7fe,
            scramble: b"abcdefghijklmnopqrst".to_vec(),
            plugin: "mysql_native_password".into(),
        }
    );
    // Cut anywhere: an error, never a panic.
    for end in 0..packet.len() - 22 {
        let _ = greeting(&packet[..end]);
    }
    assert!(
        greeting(b"\xff\x15\x04#28000Access denied")
            .unwrap_err()
            .contains("1045")
    );
    assert_eq!(
        error_text(b"\xff\x19\x04#42000Unknown database"),
        "error 1049: Unknown database"
    );
    assert!(
        scramble("mysql_native_password", "", b"x")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        scramble("mysql_native_password", "pw", &[1; 20])
            .unwrap()
            .len(),
        20
    );
    assert_eq!(
        scramble("caching_sha2_password", "pw", &[1; 20])
            .unwrap()
            .len(),
        32
    );
    assert!(scramble("dialog", "pw", &[1; 20]).is_err());
}

#[tokio::test]
async fn postgres_answers_with_the_querys_latency_and_value() {
    let Some(url) = service("STEWARD_TEST_POSTGRES") else {
        return;
    };
    let base = base(&url, "postgres");
    let probe = parse(&format!("pg={base}/postgres?query=select+41%2B1")).unwrap();
    let outcome = run_one(&probe).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    let phases: Vec<&str> = outcome.phases.iter().map(|(p, _)| *p).collect();
    assert_eq!(phases, ["dns", "connect", "auth", "query"]);
    assert_eq!(outcome.db_value, Some(42.0));
    let (run, points) = judge(&probe, &outcome, 0);
    assert_eq!(run.exit_code, 0, "{}", run.output);
    assert!(
        points
            .iter()
            .any(|p| p.name == "probe.db.value" && p.value == 42.0)
    );
    // A database that does not exist, a query that does not parse.
    let missing = parse(&format!("pg={base}/no_such_database_here")).unwrap();
    let outcome = run_one(&missing).await;
    assert!(
        outcome.error.as_deref().unwrap().contains("3D000"),
        "{outcome:?}"
    );
    let bad = parse(&format!("pg={base}/postgres?query=selec+1")).unwrap();
    let outcome = run_one(&bad).await;
    assert!(
        outcome.error.as_deref().unwrap().contains("42601"),
        "{outcome:?}"
    );
    let (run, _) = judge(&bad, &outcome, 0);
    assert_eq!(run.exit_code, 2, "{}", run.output);
}

#[tokio::test]
async fn mysql_answers_with_the_querys_latency_and_value() {
    let Some(url) = service("STEWARD_TEST_MYSQL") else {
        return;
    };
    let base = base(&url, "mysql");
    let probe = parse(&format!("my={base}/mysql?query=select+6*7")).unwrap();
    let outcome = run_one(&probe).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    let phases: Vec<&str> = outcome.phases.iter().map(|(p, _)| *p).collect();
    assert_eq!(phases, ["dns", "connect", "auth", "query"]);
    assert_eq!(outcome.db_value, Some(42.0));
    // No database named, a statement without rows: fine, no value.
    let plain = parse(&format!("my={base}?query=do+1")).unwrap();
    let outcome = run_one(&plain).await;
    assert_eq!((outcome.error, outcome.db_value), (None, None));
    // An unknown database, a wrong password, a bad query: the server's words.
    let missing = parse(&format!("my={base}/no_such_database_here")).unwrap();
    let outcome = run_one(&missing).await;
    assert!(
        outcome.error.as_deref().unwrap().contains("1049"),
        "{outcome:?}"
    );
    let host = base.rsplit_once('@').map_or(base.as_str(), |(_, h)| h);
    let wrong = parse(&format!("my=mysql://nobody_here:wrong@{host}/")).unwrap();
    let outcome = run_one(&wrong).await;
    assert!(
        outcome.error.as_deref().unwrap().contains("1045"),
        "{outcome:?}"
    );
    let bad = parse(&format!("my={base}?query=selec+1")).unwrap();
    let outcome = run_one(&bad).await;
    assert!(
        outcome.error.as_deref().unwrap().contains("1064"),
        "{outcome:?}"
    );

    // A user with a password (mysql_native_password's scramble), given in
    // the URL or in a file; made with the mysql client, dropped after.
    let (address, port) = host.rsplit_once(':').unwrap_or((host, "3306"));
    let admin_user = base
        .trim_start_matches("mysql://")
        .split(['@', ':'])
        .next()
        .unwrap_or("root")
        .to_string();
    let sql = |statement: &str| {
        std::process::Command::new("mysql")
            .args([
                "-h",
                address,
                "-P",
                port,
                "-u",
                &admin_user,
                "-e",
                statement,
            ])
            .output()
    };
    let user = format!("steward_probe_{}", std::process::id());
    let created = sql(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'pr0be pw'; GRANT USAGE ON *.* TO '{user}'@'%'"
    ));
    if !created.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("no mysql client or no right to create a user: the password case is skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "pr0be pw\n").unwrap();
    for spec in [
        format!("my=mysql://{user}:pr0be%20pw@{host}/?query=select+1"),
        format!("my=mysql://{user}@{host}/?password_file={}", file.display()),
    ] {
        let outcome = run_one(&parse(&spec).unwrap()).await;
        assert_eq!(outcome.error, None, "{spec}: {outcome:?}");
    }
    let wrong = parse(&format!("my=mysql://{user}:nope@{host}/")).unwrap();
    let outcome = run_one(&wrong).await;
    let _ = sql(&format!("DROP USER '{user}'@'%'"));
    assert!(
        outcome.error.as_deref().unwrap().contains("1045"),
        "{outcome:?}"
    );
}

/// A server that sends `bytes` to whoever connects, then waits.
async fn sender(bytes: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(bytes).await;
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn hostile_database_peers_end_with_a_reason() {
    for (bytes, says) in [
        (&b"\x05\x00\x00\x00hello"[..], "not a MySQL"),
        (&b"SSH-2.0-OpenSSH_9.2\r\n"[..], "over"),
        (&b"\xff\xff\xff\x00"[..], "over"),
        (&b"\x05\x00\x00\x00\x0a\x31"[..], "no answer within"),
    ] {
        let port = sender(bytes).await;
        let probe = parse(&format!("my=mysql://root@127.0.0.1:{port}/?timeout=1s")).unwrap();
        let outcome = run_one(&probe).await;
        let error = outcome.error.unwrap_or_default();
        assert!(error.contains(says), "{bytes:?}: {error}");
    }
    let port = sender(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    let probe = parse(&format!(
        "pg=postgres://postgres@127.0.0.1:{port}/x?timeout=1s"
    ))
    .unwrap();
    let outcome = run_one(&probe).await;
    assert!(outcome.error.is_some(), "{outcome:?}");
}
