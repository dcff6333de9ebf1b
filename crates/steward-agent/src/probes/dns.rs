//! DNS resolution: asks a server (UDP) for a name's records of one type
//! and checks the answers against the expected ones.
//!
//! The codec is pure and bounded ([`query`], [`parse_response`]): names
//! at most 255 bytes, at most 16 compression jumps, at most 64 answers,
//! every length checked against the packet, so a hostile server's
//! garbage is a clear error, never a panic.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Record types a probe may ask for, by name.
pub const TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("PTR", 12),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
];
const MAX_ANSWERS: usize = 64;
const MAX_JUMPS: usize = 16;

pub fn type_named(name: &str) -> Option<u16> {
    TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, t)| *t)
}

/// A recursive query for `name`'s records of `rtype`.
pub fn query(id: u16, name: &str, rtype: u16) -> Result<Vec<u8>, String> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(format!("{name:?} is not a DNS name"));
    }
    let mut packet = Vec::with_capacity(18 + name.len());
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 || !label.is_ascii() {
            return Err(format!("{name:?} is not a DNS name"));
        }
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&rtype.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    Ok(packet)
}

/// Reads the (possibly compressed) name at `at`; returns it and where the
/// name ends in place.
fn read_name(packet: &[u8], mut at: usize) -> Result<(String, usize), String> {
    let bad = || "a malformed name in the answer".to_string();
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *packet.get(at).ok_or_else(bad)?;
        match len {
            0 => {
                return Ok((name, end.unwrap_or(at + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let low = *packet.get(at + 1).ok_or_else(bad)?;
                end.get_or_insert(at + 2);
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err("too many compression pointers in the answer".into());
                }
                at = (usize::from(l & 0x3f) << 8) | usize::from(low);
            }
            l if l & 0xc0 == 0 => {
                let label = packet
                    .get(at + 1..at + 1 + usize::from(l))
                    .ok_or_else(bad)?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label));
                if name.len() > 255 {
                    return Err(bad());
                }
                at += 1 + usize::from(l);
            }
            _ => return Err(bad()),
        }
    }
}

fn rcode_name(rcode: u8) -> String {
    match rcode {
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        other => format!("RCODE {other}"),
    }
}

/// The answers of type `rtype` in a response to query `id`, as text
/// (addresses, names, `PREF NAME` for MX, the strings of a TXT); an error
/// for a failed or malformed answer.
pub fn parse_response(packet: &[u8], id: u16, rtype: u16) -> Result<Vec<String>, String> {
    if packet.len() < 12 {
        return Err("a truncated DNS answer".into());
    }
    if u16::from_be_bytes([packet[0], packet[1]]) != id || packet[2] & 0x80 == 0 {
        return Err("an answer to another question".into());
    }
    let rcode = packet[3] & 0x0f;
    if rcode != 0 {
        return Err(format!("the server answered {}", rcode_name(rcode)));
    }
    let questions = u16::from_be_bytes([packet[4], packet[5]]);
    let answers = usize::from(u16::from_be_bytes([packet[6], packet[7]]));
    let mut at = 12;
    for _ in 0..questions.min(4) {
        at = read_name(packet, at)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..answers.min(MAX_ANSWERS) {
        let (_, after) = read_name(packet, at)?;
        let header = packet
            .get(after..after + 10)
            .ok_or("a truncated DNS answer")?;
        let kind = u16::from_be_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_be_bytes([header[8], header[9]]));
        let start = after + 10;
        let data = packet
            .get(start..start + len)
            .ok_or("a truncated DNS answer")?;
        at = start + len;
        if kind != rtype {
            continue;
        }
        out.push(match kind {
            1 => {
                let b: [u8; 4] = data
                    .try_into()
                    .map_err(|_| "an A record of the wrong size")?;
                Ipv4Addr::from(b).to_string()
            }
            28 => {
                let b: [u8; 16] = data
                    .try_into()
                    .map_err(|_| "an AAAA record of the wrong size")?;
                Ipv6Addr::from(b).to_string()
            }
            2 | 5 | 12 => read_name(packet, start)?.0,
            15 => {
                let pref = data.get(..2).ok_or("a truncated MX record")?;
                let pref = u16::from_be_bytes([pref[0], pref[1]]);
                format!("{pref} {}", read_name(packet, start + 2)?.0)
            }
            16 => {
                let mut text = String::new();
                let mut i = 0;
                while i < data.len() {
                    let n = usize::from(data[i]);
                    let part = data.get(i + 1..i + 1 + n).ok_or("a truncated TXT record")?;
                    text.push_str(&String::from_utf8_lossy(part));
                    i += 1 + n;
                }
                text
            }
            _ => continue,
        });
    }
    Ok(out)
}

/// Whether every expected value is among the answers (names compared
/// without case or a final dot); why not.
pub fn check_expected(answers: &[String], expected: &[String]) -> Result<(), String> {
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| !answers.iter().any(|a| norm(a) == norm(e)))
        .collect();
    if answers.is_empty() {
        return Err("no answer of that type".into());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "answered {} but expected {}",
            answers.join(", "),
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Asks `server:port` over UDP (the caller bounds the time).
pub async fn execute(
    server: &str,
    port: u16,
    name: &str,
    rtype: u16,
) -> Result<Vec<String>, String> {
    let mut id = [0u8; 2];
    let _ = getrandom::fill(&mut id);
    let id = u16::from_be_bytes(id);
    let question = query(id, name, rtype)?;
    let target = tokio::net::lookup_host((server, port))
        .await
        .map_err(|e| format!("cannot resolve {server}: {e}"))?
        .next()
        .ok_or_else(|| format!("{server} has no address"))?;
    let local = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    socket
        .connect(target)
        .await
        .map_err(|e| format!("cannot reach {target}: {e}"))?;
    socket
        .send(&question)
        .await
        .map_err(|e| format!("cannot send to {target}: {e}"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket
            .recv(&mut buf)
            .await
            .map_err(|e| format!("no answer from {target}: {e}"))?;
        match parse_response(&buf[..n], id, rtype) {
            // A stray datagram (another id) is not the answer: wait on.
            Err(why) if why == "an answer to another question" => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `query` with the given answer records (type, data).
    fn response(id: u16, rcode: u8, records: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let q = query(id, "shop.example", 1).unwrap();
        let mut p = q.clone();
        p[2] = 0x81;
        p[3] = 0x80 | rcode;
        p[7] = records.len() as u8;
        for (kind, data) in records {
            p.extend_from_slice(&[0xc0, 12]);
            p.extend_from_slice(&kind.to_be_bytes());
            p.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            p.extend_from_slice(&(data.len() as u16).to_be_bytes());
            p.extend_from_slice(data);
        }
        p
    }

    #[test]
    fn questions_are_encoded() {
        let q = query(0xabcd, "shop.example.", 28).unwrap();
        assert_eq!(&q[..4], &[0xab, 0xcd, 1, 0]);
        assert_eq!(&q[12..], b"\x04shop\x07example\x00\x00\x1c\x00\x01");
        assert!(query(1, "", 1).is_err());
        assert!(query(1, "a..b", 1).is_err());
        assert!(query(1, &"a".repeat(64), 1).is_err());
        assert_eq!(type_named("aaaa"), Some(28));
        assert_eq!(type_named("SOA"), None);
    }

    #[test]
    fn answers_are_read_and_checked() {
        let p = response(
            7,
            0,
            &[
                (1, vec![10, 0, 0, 1]),
                (1, vec![10, 0, 0, 2]),
                (5, vec![0xc0, 12]),
            ],
        );
        let answers = parse_response(&p, 7, 1).unwrap();
        assert_eq!(answers, ["10.0.0.1", "10.0.0.2"]);
        assert!(check_expected(&answers, &["10.0.0.2".into()]).is_ok());
        let wrong = check_expected(&answers, &["10.9.9.9".into()]).unwrap_err();
        assert!(wrong.contains("expected 10.9.9.9"), "{wrong}");
        assert_eq!(parse_response(&p, 7, 5).unwrap(), ["shop.example"]);
        assert!(check_expected(&[], &[]).is_err());
        let mut mx = vec![0, 10];
        mx.extend_from_slice(&[0xc0, 12]);
        let p = response(7, 0, &[(15, mx), (16, b"\x02hi\x03you".to_vec())]);
        assert_eq!(parse_response(&p, 7, 15).unwrap(), ["10 shop.example"]);
        assert_eq!(parse_response(&p, 7, 16).unwrap(), ["hiyou"]);
    }

    #[test]
    fn failures_and_garbage_are_clear_errors() {
        let nx = parse_response(&response(7, 3, &[]), 7, 1).unwrap_err();
        assert!(nx.contains("NXDOMAIN"), "{nx}");
        assert!(parse_response(&response(7, 0, &[]), 8, 1).is_err());
        assert!(parse_response(&[0; 5], 0, 1).is_err());
        // An A record of the wrong size, a length past the end.
        assert!(parse_response(&response(7, 0, &[(1, vec![1, 2, 3])]), 7, 1).is_err());
        let mut cut = response(7, 0, &[(1, vec![1, 2, 3, 4])]);
        cut.truncate(cut.len() - 2);
        assert!(parse_response(&cut, 7, 1).is_err());
        // A compression loop.
        let looped = response(7, 0, &[(5, vec![0xc0, 0x30])]);
        let mut looped = looped;
        let at = looped.len() - 2;
        looped[at + 1] = at as u8;
        assert!(parse_response(&looped, 7, 5).is_err());
        // Every byte pattern of a short packet: an answer or an error.
        for len in 12..40 {
            for fill in [0u8, 0x3f, 0xc0, 0xff] {
                let mut p = response(7, 0, &[(1, vec![1, 2, 3, 4])]);
                p.truncate(len.min(p.len()));
                for b in p.iter_mut().skip(12) {
                    *b ^= fill;
                }
                let _ = parse_response(&p, 7, 1);
            }
        }
    }
}
