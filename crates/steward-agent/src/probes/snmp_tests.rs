//! The SNMP codec with plain bytes (hostile ones included), rates from
//! counters, and Debian's `snmpd` on a loopback port.

use super::*;
use crate::probes::{Kind, parse, run_all, run_one};
use std::time::Duration;

/// A GetResponse with `binds`, as an agent would send it.
fn answer(id: i32, binds: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let binds: Vec<u8> = binds
        .iter()
        .flat_map(|(o, v)| tlv(0x30, &[oid(&parse_oid(o).unwrap()), v.clone()].concat()))
        .collect();
    let pdu = tlv(
        0xa2,
        &[
            integer(id.into()),
            integer(0),
            integer(0),
            tlv(0x30, &binds),
        ]
        .concat(),
    );
    tlv(0x30, &[integer(1), tlv(0x04, b"public"), pdu].concat())
}

#[test]
fn answers_decode_to_typed_values() {
    let packet = answer(
        7,
        &[
            ("1.3.6.1.2.1.1.3.0", tlv(0x43, &[0x01, 0x00])),
            ("1.3.6.1.2.1.1.5.0", tlv(0x04, b"switch-1")),
            (
                "1.3.6.1.2.1.31.1.1.1.6.1",
                tlv(0x46, &[0x00, 0xff, 0, 0, 0, 0, 0, 0, 1]),
            ),
            ("1.3.6.1.2.1.2.2.1.8.1", integer(-2)),
            ("1.3.6.1.2.1.2.2.1.8.2", vec![0x81, 0x00]),
        ],
    );
    let (id, binds) = response(&packet).unwrap();
    assert_eq!(id, 7);
    assert_eq!(
        binds[0],
        (parse_oid(SYS_UPTIME).unwrap(), Value::Unsigned(256))
    );
    assert_eq!(binds[1].1, Value::Text(b"switch-1".to_vec()));
    assert_eq!(binds[2].1, Value::Unsigned(0xff00_0000_0000_0001));
    assert_eq!(binds[3].1, Value::Int(-2));
    assert_eq!(binds[4].1, Value::Missing);
    // Requests encode OIDs with multi-byte arcs and lengths over 127.
    let oids: Vec<Vec<u32>> = (0..20)
        .map(|i| parse_oid(&format!("1.3.6.1.4.1.2021.{}", 300 + i)).unwrap())
        .collect();
    let req = request(0xa1, "public", 5, &oids);
    assert_eq!(req[1] & 0x80, 0x80, "a long form length");
    assert_eq!(Reader(&req).expect(0x30).unwrap().len() + 4, req.len());
    assert_eq!(decode_oid(&oid(&oids[0])[2..]).unwrap(), oids[0]);
    for n in [0i64, 127, 128, -1, -129, i64::MAX, i64::MIN] {
        assert_eq!(decode_int(&integer(n)[2..]).unwrap(), n);
    }
}

#[test]
fn malformed_answers_are_errors_never_panics() {
    let packet = answer(9, &[("1.3.6.1.2.1.1.5.0", tlv(0x04, b"x"))]);
    for cut in 0..packet.len() {
        assert!(response(&packet[..cut]).is_err(), "cut at {cut}");
    }
    // Pseudo-random garbage, and lengths that point past the end.
    let mut seed: u64 = 0x5eed;
    for _ in 0..20_000 {
        let len = (seed % 64) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 56) as u8
            })
            .collect();
        let _ = response(&bytes);
        let mut mutated = packet.clone();
        let at = (seed as usize) % mutated.len();
        mutated[at] = (seed >> 40) as u8;
        let _ = response(&mutated);
    }
    assert!(response(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(decode_oid(&[0x2b, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
    assert!(decode_unsigned(&[1; 10]).is_err());
}

#[test]
fn counters_become_rates() {
    let mut counters = Counters::new();
    let report = |octets: u64| Report {
        name: "sw".into(),
        uptime_s: Some(10.0),
        interfaces: vec![Interface {
            descr: "eth0".into(),
            oper_status: Some(1),
            in_octets: Some(octets),
            out_octets: None,
        }],
        values: vec![("1.3.6.1.4.1.1.0".into(), 42.0)],
    };
    let rates = |points: &[Point]| {
        points
            .iter()
            .filter(|p| p.name == "snmp.if.in.bytes_rate")
            .map(|p| p.value)
            .collect::<Vec<_>>()
    };
    let first = points("sw", &report(1_000), 10_000, &mut counters);
    assert!(rates(&first).is_empty(), "no rate from one reading");
    assert!(
        first
            .iter()
            .any(|p| p.name == "snmp.if.oper_status" && p.value == 1.0)
    );
    assert!(
        first
            .iter()
            .any(|p| p.name == "snmp.value" && p.labels["oid"] == "1.3.6.1.4.1.1.0")
    );
    assert_eq!(
        rates(&points("sw", &report(3_000), 12_000, &mut counters)),
        [1000.0]
    );
    // A counter that went back (reset or wrap): no rate, the next is fine.
    assert!(rates(&points("sw", &report(10), 14_000, &mut counters)).is_empty());
    assert_eq!(
        rates(&points("sw", &report(110), 15_000, &mut counters)),
        [100.0]
    );
}

/// Debian's snmpd on 127.0.0.1:`port`, answering community "public".
fn snmpd(dir: &std::path::Path, port: u16) -> std::process::Child {
    let conf = dir.join("snmpd.conf");
    std::fs::write(
        &conf,
        format!("agentaddress udp:127.0.0.1:{port}\nrocommunity public 127.0.0.1\n"),
    )
    .unwrap();
    std::process::Command::new("/usr/sbin/snmpd")
        .args(["-f", "-C", "-c"])
        .arg(&conf)
        .args(["-Ln", "-M", "/nonexistent"])
        .env("SNMP_PERSISTENT_DIR", dir)
        .env("MIBS", "")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("Debian's snmpd is needed (apt-get install snmpd)")
}

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn snmpd_interfaces_are_read_and_their_counters_become_rates() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _snmpd = Killed(snmpd(dir.path(), port));
    let probe = parse(&format!(
        "sw=snmp://127.0.0.1:{port}?timeout=2s&oids=1.3.6.1.2.1.2.1.0"
    ))
    .unwrap();
    assert_eq!(probe.kind, Kind::Snmp);
    // Polled until snmpd answers (it takes a moment to start).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let report = loop {
        let outcome = run_one(&probe).await;
        if let Some(report) = outcome.snmp {
            break report;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "snmpd never answered: {outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let lo = report
        .interfaces
        .iter()
        .find(|i| i.descr == "lo")
        .expect("the lo interface");
    assert_eq!(lo.oper_status, Some(1), "{report:?}");
    assert!(lo.in_octets.is_some(), "{report:?}");
    assert!(report.uptime_s.is_some());
    assert!(
        report
            .values
            .iter()
            .any(|(oid, _)| oid == "1.3.6.1.2.1.2.1.0"),
        "{report:?}"
    );
    // Two runs a second apart: a rate for lo (SNMP's own packets cross it).
    let mut counters = Counters::new();
    let probes = [probe];
    let (runs, _) = run_all(&probes, &mut counters).await;
    assert_eq!(runs[0].exit_code, 0, "{:?}", runs[0]);
    assert!(runs[0].output.contains("interfaces"), "{:?}", runs[0]);
    // snmpd caches its counters for a few seconds: polled until they move.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let rate = loop {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (_, points) = run_all(&probes, &mut counters).await;
        let rate = points
            .into_iter()
            .find(|p| p.name == "snmp.if.in.bytes_rate" && p.labels["interface"] == "lo")
            .expect("a rate from the second reading on");
        if rate.value > 0.0 || std::time::Instant::now() > deadline {
            break rate;
        }
    };
    assert!(rate.value > 0.0, "{rate:?}");
}

#[tokio::test]
async fn a_hostile_snmp_agent_gets_a_clear_reason() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((_, from)) = socket.recv_from(&mut buf).await {
            let _ = socket
                .send_to(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x04, 0x7f], from)
                .await;
        }
    });
    let o = run_one(&parse(&format!("x=snmp://127.0.0.1:{port}")).unwrap()).await;
    assert_eq!(o.error.as_deref(), Some("a malformed SNMP answer"), "{o:?}");
    // An agent that never answers: the probe's timeout.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let o = run_one(&parse(&format!("x=snmp://127.0.0.1:{port}?timeout=300ms")).unwrap()).await;
    assert_eq!(o.error.as_deref(), Some("no answer within 300 ms"));
}
