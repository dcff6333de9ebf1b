//! ICMP echo ("ping"): loss and round-trip time to an IPv4 host.
//!
//! Unprivileged where the kernel allows it (an ICMP datagram socket, for
//! the groups `net.ipv4.ping_group_range` names), else a raw socket when
//! the agent runs as root, else a clear message saying which setting to
//! change. The packet codec is pure ([`echo_request`], [`parse_reply`]);
//! every reply is checked (type, identifier, sequence, length) and
//! anything else is ignored, so a hostile host can only fail the probe.

use std::net::Ipv4Addr;
#[cfg(unix)]
use std::net::SocketAddrV4;
use std::time::Duration;
#[cfg(unix)]
use std::time::Instant;

/// Echoes sent per run, at most.
pub const MAX_COUNT: u8 = 20;
const PAYLOAD: &[u8] = b"steward-probe-icmp";

/// What a run of echoes found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub sent: u32,
    pub received: u32,
    /// Round-trip times of the replies, in seconds.
    pub rtts: Vec<f64>,
}

impl Report {
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        1.0 - f64::from(self.received) / f64::from(self.sent)
    }

    pub fn mean_rtt(&self) -> Option<f64> {
        (!self.rtts.is_empty()).then(|| self.rtts.iter().sum::<f64>() / self.rtts.len() as f64)
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request (type 8) with its checksum.
pub fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![8, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(PAYLOAD);
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// The (identifier, sequence) of an echo reply, or None for anything
/// else. `with_ip_header`: a raw socket's packets start with the IPv4
/// header (its length from the first byte, checked).
pub fn parse_reply(packet: &[u8], with_ip_header: bool) -> Option<(u16, u16)> {
    let icmp = if with_ip_header {
        let first = *packet.first()?;
        if first >> 4 != 4 {
            return None;
        }
        let header = usize::from(first & 0x0f) * 4;
        if header < 20 {
            return None;
        }
        packet.get(header..)?
    } else {
        packet
    };
    if icmp.len() < 8 || icmp[0] != 0 || icmp[1] != 0 {
        return None;
    }
    Some((
        u16::from_be_bytes([icmp[4], icmp[5]]),
        u16::from_be_bytes([icmp[6], icmp[7]]),
    ))
}

/// Why ICMP is refused here, naming the setting to change.
#[cfg(unix)]
fn refused(error: rustix::io::Errno) -> String {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into());
    format!(
        "ICMP is not permitted ({error}): the kernel's net.ipv4.ping_group_range ({range}) does not include this agent's group ({}) and raw sockets need root; allow it with sysctl -w net.ipv4.ping_group_range=\"0 2147483647\" (or a range with the agent's group)",
        rustix::process::getegid().as_raw()
    )
}

#[cfg(unix)]
fn open() -> Result<(rustix::fd::OwnedFd, bool), String> {
    use rustix::net::{AddressFamily, SocketType, ipproto, socket};
    match socket(AddressFamily::INET, SocketType::DGRAM, Some(ipproto::ICMP)) {
        Ok(fd) => Ok((fd, false)),
        Err(dgram) => socket(AddressFamily::INET, SocketType::RAW, Some(ipproto::ICMP))
            .map(|fd| (fd, true))
            .map_err(|_| refused(dgram)),
    }
}

/// Sends `count` echoes one after another (each waits for its reply up to
/// `wait`), blocking: run it off the async threads.
#[cfg(unix)]
fn ping(address: Ipv4Addr, count: u8, wait: Duration) -> Result<Report, String> {
    use rustix::net::{RecvFlags, SendFlags, recvfrom, sendto, sockopt};
    let (fd, raw) = open()?;
    let id = (std::process::id() & 0xffff) as u16;
    let target = SocketAddrV4::new(address, 0);
    let mut report = Report::default();
    let mut buf = [0u8; 1500];
    for seq in 0..u16::from(count.clamp(1, MAX_COUNT)) {
        let started = Instant::now();
        sendto(&fd, &echo_request(id, seq), SendFlags::empty(), &target)
            .map_err(|e| format!("cannot send to {address}: {e}"))?;
        report.sent += 1;
        loop {
            let left = wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            let _ = sockopt::set_socket_timeout(
                &fd,
                sockopt::Timeout::Recv,
                Some(left.max(Duration::from_millis(1))),
            );
            let Ok((n, _, from)) = recvfrom(&fd, &mut buf[..], RecvFlags::empty()) else {
                break;
            };
            let from_target = from
                .and_then(|a| std::net::SocketAddr::try_from(a).ok())
                .is_some_and(|a| a.ip() == std::net::IpAddr::V4(address));
            // A datagram socket's identifier is the kernel's (its port):
            // only the sequence is ours to check.
            match parse_reply(&buf[..n], raw) {
                Some((reply_id, reply_seq))
                    if from_target && reply_seq == seq && (!raw || reply_id == id) =>
                {
                    report.received += 1;
                    report.rtts.push(started.elapsed().as_secs_f64());
                    break;
                }
                _ => continue,
            }
        }
    }
    Ok(report)
}

/// ICMP echo through the platform's own API is not written yet (Windows:
/// IcmpSendEcho): a clear refusal instead of a wrong answer.
#[cfg(not(unix))]
fn ping(_: Ipv4Addr, _: u8, _: Duration) -> Result<Report, String> {
    Err("ICMP probes are not available on this operating system yet".into())
}

/// Resolves the host (IPv4) and pings it within the probe's timeout.
pub async fn execute(host: &str, count: u8, timeout: Duration) -> Result<Report, String> {
    let address = match host.parse::<Ipv4Addr>() {
        Ok(a) => a,
        Err(_) => tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .find_map(|a| match a.ip() {
                std::net::IpAddr::V4(v4) => Some(v4),
                _ => None,
            })
            .ok_or_else(|| format!("{host} has no IPv4 address (ICMP probes are IPv4)"))?,
    };
    let count = count.clamp(1, MAX_COUNT);
    // Each echo may wait its share of the timeout.
    let wait = (timeout / u32::from(count)).max(Duration::from_millis(10));
    tokio::task::spawn_blocking(move || ping(address, count, wait))
        .await
        .map_err(|e| format!("the ping stopped: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_a_valid_checksum() {
        let packet = echo_request(0x1234, 7);
        assert_eq!(&packet[..2], &[8, 0]);
        assert_eq!(
            checksum(&packet),
            0,
            "a packet with its checksum sums to zero"
        );
        assert_eq!(&packet[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn only_echo_replies_are_read() {
        let mut reply = echo_request(5, 9);
        reply[0] = 0;
        assert_eq!(parse_reply(&reply, false), Some((5, 9)));
        // Behind an IPv4 header of 20 bytes.
        let mut framed = vec![0x45];
        framed.extend([0u8; 19]);
        framed.extend(&reply);
        assert_eq!(parse_reply(&framed, true), Some((5, 9)));
        // Garbage, truncation, another type, a bad header length.
        assert_eq!(parse_reply(&[], false), None);
        assert_eq!(parse_reply(&reply[..7], false), None);
        assert_eq!(parse_reply(&echo_request(5, 9), false), None);
        assert_eq!(parse_reply(&[0x41, 0, 0], true), None);
        assert_eq!(parse_reply(&[0x4f; 10], true), None);
        assert_eq!(parse_reply(&[0x65; 40], true), None);
    }

    #[test]
    fn loss_and_latency() {
        let report = Report {
            sent: 4,
            received: 3,
            rtts: vec![0.001, 0.002, 0.003],
        };
        assert_eq!(report.loss(), 0.25);
        assert!((report.mean_rtt().unwrap() - 0.002).abs() < 1e-12);
        assert_eq!(Report::default().loss(), 1.0);
        assert_eq!(Report::default().mean_rtt(), None);
    }
}
