//! SNMP v2c probes (`snmp://HOST[:161]?community=public&oids=1.3.6…,…`):
//! the system's name and uptime, each interface's status and octet
//! counters (64-bit where the agent has them), and custom OIDs. The BER
//! codec is pure and bounds-checked: a malformed or hostile answer is an
//! error, never a panic. Counters become rates in [`points`] (pure, given
//! the previous readings), so what is stored is bytes per second.

use super::Probe;
use std::collections::HashMap;
use steward_proto::Point;
use tokio::net::UdpSocket;

const SYS_UPTIME: &str = "1.3.6.1.2.1.1.3.0";
const SYS_NAME: &str = "1.3.6.1.2.1.1.5.0";
const IF_DESCR: &str = "1.3.6.1.2.1.2.2.1.2";
/// Interfaces read at most.
pub const MAX_INTERFACES: usize = 128;
const MAX_OIDS: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Unsigned(u64),
    Text(Vec<u8>),
    Oid(Vec<u32>),
    /// noSuchObject, noSuchInstance, endOfMibView, NULL.
    Missing,
    Other,
}

impl Value {
    fn number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Unsigned(u) => Some(*u as f64),
            _ => None,
        }
    }
    fn counter(&self) -> Option<u64> {
        match self {
            Value::Unsigned(u) => Some(*u),
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }
}

pub fn parse_oid(text: &str) -> Result<Vec<u32>, String> {
    let arcs: Result<Vec<u32>, _> = text
        .trim_start_matches('.')
        .split('.')
        .map(str::parse)
        .collect();
    match arcs {
        Ok(arcs) if arcs.len() >= 2 && arcs.len() <= 64 && arcs[0] <= 2 && arcs[1] < 40 => Ok(arcs),
        _ => Err(format!("{text:?} is not an OID")),
    }
}

fn oid_text(oid: &[u32]) -> String {
    oid.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

// --- BER encoding ---------------------------------------------------------

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn integer(n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(0x02, &bytes[start..])
}

fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        content.extend(groups.iter().rev());
    }
    tlv(0x06, &content)
}

/// A v2c GetRequest (0xa0) or GetNextRequest (0xa1).
pub fn request(pdu: u8, community: &str, id: i32, oids: &[Vec<u32>]) -> Vec<u8> {
    let binds: Vec<u8> = oids
        .iter()
        .flat_map(|o| tlv(0x30, &[oid(o), vec![0x05, 0x00]].concat()))
        .collect();
    let pdu = tlv(
        pdu,
        &[
            integer(id.into()),
            integer(0),
            integer(0),
            tlv(0x30, &binds),
        ]
        .concat(),
    );
    tlv(
        0x30,
        &[integer(1), tlv(0x04, community.as_bytes()), pdu].concat(),
    )
}

// --- BER decoding ---------------------------------------------------------

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(u8, &'a [u8]), String> {
        let bad = || "a malformed SNMP answer".to_string();
        let (&tag, rest) = self.0.split_first().ok_or_else(bad)?;
        let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 3 || rest.len() < n {
                return Err(bad());
            }
            let len = rest[..n].iter().fold(0usize, |a, b| a << 8 | *b as usize);
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err(bad());
        }
        let (content, after) = rest.split_at(len);
        self.0 = after;
        Ok((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Result<&'a [u8], String> {
        match self.next()? {
            (t, content) if t == tag => Ok(content),
            (t, _) => Err(format!(
                "an SNMP answer with tag {t:#04x} where {tag:#04x} belongs"
            )),
        }
    }
}

fn decode_int(content: &[u8]) -> Result<i64, String> {
    if content.is_empty() || content.len() > 8 {
        return Err("an SNMP integer of a wrong size".into());
    }
    let mut n: i64 = if content[0] & 0x80 != 0 { -1 } else { 0 };
    for b in content {
        n = n << 8 | *b as i64;
    }
    Ok(n)
}

fn decode_unsigned(content: &[u8]) -> Result<u64, String> {
    // Counter64 may carry a leading zero byte: up to 9 bytes.
    if content.is_empty() || content.len() > 9 || (content.len() == 9 && content[0] != 0) {
        return Err("an SNMP counter of a wrong size".into());
    }
    Ok(content.iter().fold(0u64, |a, b| a << 8 | *b as u64))
}

fn decode_oid(content: &[u8]) -> Result<Vec<u32>, String> {
    let (&first, rest) = content.split_first().ok_or("an empty OID")?;
    let mut arcs = vec![
        (first / 40).min(2) as u32,
        (first as u32).saturating_sub(40 * (first / 40).min(2) as u32),
    ];
    let mut arc: u32 = 0;
    for b in rest {
        if arc > u32::MAX >> 7 {
            return Err("an OID arc too large".into());
        }
        arc = arc << 7 | (b & 0x7f) as u32;
        if b & 0x80 == 0 {
            arcs.push(arc);
            arc = 0;
        }
        if arcs.len() > 128 {
            return Err("an OID too long".into());
        }
    }
    Ok(arcs)
}

/// Variable bindings: OID and value.
pub type Bindings = Vec<(Vec<u32>, Value)>;

/// A GetResponse: its request id and variable bindings.
pub fn response(packet: &[u8]) -> Result<(i32, Bindings), String> {
    let mut message = Reader(Reader(packet).expect(0x30)?);
    message.expect(0x02)?; // version
    message.expect(0x04)?; // community
    let mut pdu = Reader(message.expect(0xa2)?);
    let id = decode_int(pdu.expect(0x02)?)?;
    let status = decode_int(pdu.expect(0x02)?)?;
    pdu.expect(0x02)?; // error index
    if status != 0 {
        return Err(format!("the SNMP agent answered error-status {status}"));
    }
    let mut binds = Reader(pdu.expect(0x30)?);
    let mut out = Vec::new();
    while !binds.0.is_empty() {
        let mut bind = Reader(binds.expect(0x30)?);
        let name = decode_oid(bind.expect(0x06)?)?;
        let (tag, content) = bind.next()?;
        let value = match tag {
            0x02 => Value::Int(decode_int(content)?),
            0x41 | 0x42 | 0x43 | 0x46 => Value::Unsigned(decode_unsigned(content)?),
            0x04 => Value::Text(content.to_vec()),
            0x06 => Value::Oid(decode_oid(content)?),
            0x05 | 0x80 | 0x81 | 0x82 => Value::Missing,
            _ => Value::Other,
        };
        out.push((name, value));
    }
    Ok((i32::try_from(id).unwrap_or(-1), out))
}

// --- the probe --------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interface {
    pub descr: String,
    pub oper_status: Option<i64>,
    pub in_octets: Option<u64>,
    pub out_octets: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub name: String,
    pub uptime_s: Option<f64>,
    pub interfaces: Vec<Interface>,
    pub values: Vec<(String, f64)>,
}

struct Session {
    socket: UdpSocket,
    community: String,
    id: i32,
}

impl Session {
    async fn ask(&mut self, pdu: u8, oids: &[Vec<u32>]) -> Result<Bindings, String> {
        self.id = self.id.wrapping_add(1) & 0x7fff_ffff;
        let packet = request(pdu, &self.community, self.id, oids);
        self.socket
            .send(&packet)
            .await
            .map_err(|e| format!("sending to the SNMP agent: {e}"))?;
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = self
                .socket
                .recv(&mut buf)
                .await
                .map_err(|e| format!("no SNMP answer: {e}"))?;
            let (id, binds) = response(&buf[..n])?;
            if id == self.id {
                return Ok(binds);
            }
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::Text(bytes) => String::from_utf8_lossy(bytes)
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect(),
        _ => String::new(),
    }
}

pub async fn execute(probe: &Probe) -> Result<Report, String> {
    let address = tokio::net::lookup_host((probe.host.as_str(), probe.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", probe.host))?
        .next()
        .ok_or_else(|| format!("{} has no address", probe.host))?;
    let local = if address.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    socket.connect(address).await.map_err(|e| e.to_string())?;
    let mut id = [0u8; 4];
    let _ = getrandom::fill(&mut id);
    let mut session = Session {
        socket,
        community: probe.community.clone(),
        id: i32::from_le_bytes(id) & 0x3fff_ffff,
    };
    let system = session
        .ask(0xa0, &[parse_oid(SYS_UPTIME)?, parse_oid(SYS_NAME)?])
        .await?;
    let mut report = Report::default();
    for (name, value) in &system {
        match oid_text(name).as_str() {
            SYS_UPTIME => report.uptime_s = value.number().map(|t| t / 100.0),
            SYS_NAME => report.name = text(value),
            _ => {}
        }
    }
    // Interfaces: walk ifDescr, then one GET per interface.
    let column = parse_oid(IF_DESCR)?;
    let mut at = column.clone();
    let mut indexes = Vec::new();
    while indexes.len() < MAX_INTERFACES {
        let binds = session.ask(0xa1, &[at.clone()]).await?;
        let Some((name, value)) = binds.into_iter().next() else {
            break;
        };
        if !name.starts_with(&column) || name.len() != column.len() + 1 || name <= at {
            break;
        }
        indexes.push((name[column.len()], text(&value)));
        at = name;
    }
    for (index, descr) in indexes {
        let col = |c: &str| -> Result<Vec<u32>, String> {
            let mut o = parse_oid(c)?;
            o.push(index);
            Ok(o)
        };
        let binds = session
            .ask(
                0xa0,
                &[
                    col("1.3.6.1.2.1.2.2.1.8")?,
                    col("1.3.6.1.2.1.2.2.1.10")?,
                    col("1.3.6.1.2.1.2.2.1.16")?,
                    col("1.3.6.1.2.1.31.1.1.1.6")?,
                    col("1.3.6.1.2.1.31.1.1.1.10")?,
                ],
            )
            .await?;
        let get = |i: usize| {
            binds
                .get(i)
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Missing)
        };
        report.interfaces.push(Interface {
            descr,
            oper_status: match get(0) {
                Value::Int(s) => Some(s),
                _ => None,
            },
            in_octets: get(3).counter().or_else(|| get(1).counter()),
            out_octets: get(4).counter().or_else(|| get(2).counter()),
        });
    }
    if !probe.oids.is_empty() {
        let oids: Result<Vec<_>, _> = probe.oids.iter().map(|o| parse_oid(o)).collect();
        for (name, value) in session.ask(0xa0, &oids?).await? {
            if let Some(n) = value.number() {
                report.values.push((oid_text(&name), n));
            }
        }
    }
    Ok(report)
}

/// The previous reading of each counter: (probe, interface, direction) →
/// (time in ms, value).
pub type Counters = HashMap<(String, String, &'static str), (i64, u64)>;

/// The points of a report: interface status, octet rates (from the
/// previous reading in `counters`, which this updates; none on the first
/// reading, after a counter wrapped or reset, or when time did not move),
/// uptime and custom values.
pub fn points(probe: &str, report: &Report, ts_ms: i64, counters: &mut Counters) -> Vec<Point> {
    if counters.len() > 4 * MAX_INTERFACES * 64 {
        counters.clear(); // many probes renamed: start over rather than grow
    }
    let mut out = Vec::new();
    let labels = |extra: &[(&str, &str)]| {
        let mut l = std::collections::BTreeMap::from([("probe".to_string(), probe.to_string())]);
        for (k, v) in extra {
            l.insert(k.to_string(), v.to_string());
        }
        l
    };
    if let Some(up) = report.uptime_s {
        out.push(Point {
            name: "snmp.uptime".into(),
            labels: labels(&[]),
            value: up,
        });
    }
    for iface in &report.interfaces {
        let l = labels(&[("interface", iface.descr.as_str())]);
        if let Some(s) = iface.oper_status {
            out.push(Point {
                name: "snmp.if.oper_status".into(),
                labels: l.clone(),
                value: s as f64,
            });
        }
        for (direction, reading) in [("in", iface.in_octets), ("out", iface.out_octets)] {
            let Some(value) = reading else { continue };
            let key = (probe.to_string(), iface.descr.clone(), direction);
            if let Some((then, before)) = counters.insert(key, (ts_ms, value))
                && ts_ms > then
                && value >= before
            {
                out.push(Point {
                    name: format!("snmp.if.{direction}.bytes_rate"),
                    labels: l.clone(),
                    value: (value - before) as f64 * 1000.0 / (ts_ms - then) as f64,
                });
            }
        }
    }
    for (oid, value) in report.values.iter().take(MAX_OIDS) {
        out.push(Point {
            name: "snmp.value".into(),
            labels: labels(&[("oid", oid)]),
            value: *value,
        });
    }
    out
}

#[cfg(test)]
#[path = "snmp_tests.rs"]
mod tests;
