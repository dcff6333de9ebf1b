//! Database probes: connect, sign in and run one query, timing each phase
//! (`dns`, `connect`, `auth`, `query`), and the query's first value when
//! it is a number (`probe.db.value`).
//!
//! - `postgres://USER[:PASSWORD]@HOST[:5432]/DB?query=select+1`: through
//!   `tokio-postgres` (trust, password, MD5 and SCRAM sign-in; plain TCP).
//! - `mysql://USER[:PASSWORD]@HOST[:3306]/DB?query=select+1` (MySQL and
//!   MariaDB): the client protocol's handshake, `mysql_native_password`
//!   and `caching_sha2_password` (its fast path; a full authentication,
//!   which needs TLS or RSA, is reported, not attempted) and one
//!   `COM_QUERY`, written here with every read bounded: a packet at most
//!   [`MAX_PACKET`] bytes, a result at most [`MAX_ROWS`] rows.
//!
//! `password_file=PATH` reads the password from a file instead of the
//! command line.

use super::net::{add_phase, connect, seconds};
use super::{DbTarget, Outcome, Probe};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Largest MySQL packet read (a probe's query answers little).
pub const MAX_PACKET: usize = 1 << 20;
/// Most rows of a result read before the probe gives up on it.
pub const MAX_ROWS: usize = 10_000;

impl DbTarget {
    fn password(&self) -> Result<String, String> {
        match (&self.password_file, &self.password) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map(|p| p.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| format!("cannot read the password file {}: {e}", path.display())),
            (None, Some(p)) => Ok(p.clone()),
            (None, None) => Ok(String::new()),
        }
    }
}

/// A query's first value as a number, if it is one.
fn number(text: Option<&str>) -> Option<f64> {
    text?.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

pub async fn postgres(probe: &Probe, outcome: &mut Outcome) -> Result<(), String> {
    let target = probe.db.as_ref().ok_or("not a database probe")?;
    let stream = connect(&probe.host, probe.port, outcome).await?;
    let started = Instant::now();
    let mut config = tokio_postgres::Config::new();
    config
        .user(&target.user)
        .dbname(&target.database)
        .application_name("steward-probe");
    let password = target.password()?;
    if !password.is_empty() {
        config.password(password);
    }
    let (client, connection) = config
        .connect_raw(stream, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("PostgreSQL refused the sign-in: {}", describe(&e)))?;
    let driver = tokio::spawn(connection);
    add_phase(outcome, "auth", seconds(started));
    let started = Instant::now();
    let answer = client.simple_query(&target.query).await;
    add_phase(outcome, "query", seconds(started));
    drop(client);
    driver.abort();
    let messages = answer.map_err(|e| format!("the query failed: {}", describe(&e)))?;
    let first = messages.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
        _ => None,
    });
    outcome.db_value = number(first.flatten().as_deref());
    Ok(())
}

/// The server's own words when it sent an error, else the client's.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

// --- MySQL and MariaDB ------------------------------------------------------

const CLIENT_LONG_PASSWORD: u32 = 1;
const CLIENT_CONNECT_WITH_DB: u32 = 8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
const NATIVE: &str = "mysql_native_password";
const CACHING_SHA2: &str = "caching_sha2_password";

struct Conn {
    stream: TcpStream,
    seq: u8,
}

impl Conn {
    async fn read(&mut self) -> Result<Vec<u8>, String> {
        let mut header = [0u8; 4];
        self.stream
            .read_exact(&mut header)
            .await
            .map_err(|e| format!("reading the server's packet: {e}"))?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        if len > MAX_PACKET {
            return Err(format!("the server sent a packet over {MAX_PACKET} bytes"));
        }
        self.seq = header[3].wrapping_add(1);
        let mut payload = vec![0u8; len];
        self.stream
            .read_exact(&mut payload)
            .await
            .map_err(|e| format!("reading the server's packet: {e}"))?;
        Ok(payload)
    }

    async fn write(&mut self, payload: &[u8]) -> Result<(), String> {
        let len = payload.len() as u32;
        let mut packet = len.to_le_bytes()[..3].to_vec();
        packet.push(self.seq);
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.stream
            .write_all(&packet)
            .await
            .map_err(|e| format!("writing to the server: {e}"))
    }
}

/// What the server's greeting says.
#[derive(Debug, PartialEq)]
pub struct Greeting {
    pub version: String,
    pub capabilities: u32,
    pub scramble: Vec<u8>,
    pub plugin: String,
}

fn cstr(data: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let end = data
        .iter()
        .position(|b| *b == 0)
        .ok_or("a text without its end in the server's packet")?;
    Ok((&data[..end], &data[end + 1..]))
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if data.len() < n {
        return Err("the server's packet is cut short".into());
    }
    let (head, rest) = data.split_at(n);
    *data = rest;
    Ok(head)
}

/// An ERR packet's text.
pub fn error_text(packet: &[u8]) -> String {
    let code = packet
        .get(1..3)
        .map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
    let mut message = packet.get(3..).unwrap_or(&[]);
    if message.first() == Some(&b'#') && message.len() >= 6 {
        message = &message[6..];
    }
    let text: String = String::from_utf8_lossy(message).chars().take(200).collect();
    format!("error {code}: {text}")
}

/// Reads the initial handshake packet (protocol 10).
pub fn greeting(packet: &[u8]) -> Result<Greeting, String> {
    match packet.first() {
        Some(10) => {}
        Some(0xff) => return Err(format!("the server refused: {}", error_text(packet))),
        _ => return Err("not a MySQL or MariaDB server (no protocol 10 greeting)".into()),
    }
    let (version, rest) = cstr(&packet[1..])?;
    let mut rest = rest;
    take(&mut rest, 4)?; // connection id
    let mut scramble = take(&mut rest, 8)?.to_vec();
    take(&mut rest, 1)?;
    let low = take(&mut rest, 2)?;
    let mut capabilities = u32::from(u16::from_le_bytes([low[0], low[1]]));
    let mut plugin = NATIVE.to_string();
    if !rest.is_empty() {
        take(&mut rest, 3)?; // character set, status
        let high = take(&mut rest, 2)?;
        capabilities |= u32::from(u16::from_le_bytes([high[0], high[1]])) << 16;
        let data_len = take(&mut rest, 1)?[0] as usize;
        take(&mut rest, 10)?;
        if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let n = data_len.saturating_sub(8).max(13);
            let available = rest.len();
            let part = take(&mut rest, n.min(available))?;
            scramble.extend(part.iter().take_while(|b| **b != 0));
        }
        if capabilities & CLIENT_PLUGIN_AUTH != 0 && !rest.is_empty() {
            let name = rest.split(|b| *b == 0).next().unwrap_or(&[]);
            plugin = String::from_utf8_lossy(name).into_owned();
        }
    }
    Ok(Greeting {
        version: String::from_utf8_lossy(version).chars().take(64).collect(),
        capabilities,
        scramble,
        plugin,
    })
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// The scrambled password a plugin sends (empty for no password).
pub fn scramble(plugin: &str, password: &str, nonce: &[u8]) -> Result<Vec<u8>, String> {
    if password.is_empty() {
        return Ok(Vec::new());
    }
    let nonce = &nonce[..nonce.len().min(20)];
    match plugin {
        NATIVE => {
            let once = Sha1::digest(password.as_bytes());
            let twice = Sha1::digest(once);
            let mix = Sha1::new()
                .chain_update(nonce)
                .chain_update(twice)
                .finalize();
            Ok(xor(&once, &mix))
        }
        CACHING_SHA2 => {
            let once = Sha256::digest(password.as_bytes());
            let twice = Sha256::digest(once);
            let mix = Sha256::new()
                .chain_update(twice)
                .chain_update(nonce)
                .finalize();
            Ok(xor(&once, &mix))
        }
        other => Err(format!(
            "the server asks for sign-in plugin {other:?}, which the probe does not speak"
        )),
    }
}

/// The handshake response (protocol 4.1).
fn handshake_response(target: &DbTarget, plugin: &str, auth: &[u8], server: u32) -> Vec<u8> {
    let mut caps = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH;
    if !target.database.is_empty() {
        caps |= CLIENT_CONNECT_WITH_DB;
    }
    caps &= server | CLIENT_CONNECT_WITH_DB;
    let mut out = caps.to_le_bytes().to_vec();
    out.extend_from_slice(&(MAX_PACKET as u32).to_le_bytes());
    out.push(45); // utf8mb4
    out.extend_from_slice(&[0; 23]);
    out.extend_from_slice(target.user.as_bytes());
    out.push(0);
    out.push(auth.len() as u8);
    out.extend_from_slice(auth);
    if !target.database.is_empty() {
        out.extend_from_slice(target.database.as_bytes());
        out.push(0);
    }
    out.extend_from_slice(plugin.as_bytes());
    out.push(0);
    out
}

/// A length-encoded integer.
fn lenenc(data: &mut &[u8]) -> Result<u64, String> {
    let first = take(data, 1)?[0];
    Ok(match first {
        0xfc => u64::from(u16::from_le_bytes(
            take(data, 2)?.try_into().unwrap_or([0; 2]),
        )),
        0xfd => {
            let b = take(data, 3)?;
            u64::from(u32::from_le_bytes([b[0], b[1], b[2], 0]))
        }
        0xfe => u64::from_le_bytes(take(data, 8)?.try_into().unwrap_or([0; 8])),
        0xfb => 0, // NULL
        n => u64::from(n),
    })
}

fn is_eof(packet: &[u8]) -> bool {
    packet.first() == Some(&0xfe) && packet.len() < 9
}

pub async fn mysql(probe: &Probe, outcome: &mut Outcome) -> Result<(), String> {
    let target = probe.db.as_ref().ok_or("not a database probe")?;
    let stream = connect(&probe.host, probe.port, outcome).await?;
    let started = Instant::now();
    let mut conn = Conn { stream, seq: 0 };
    let greeting = greeting(&conn.read().await?)?;
    if greeting.capabilities & CLIENT_PROTOCOL_41 == 0 {
        return Err(format!(
            "{}: a server older than protocol 4.1",
            greeting.version
        ));
    }
    let password = target.password()?;
    let mut plugin = match greeting.plugin.as_str() {
        CACHING_SHA2 => CACHING_SHA2.to_string(),
        _ => NATIVE.to_string(),
    };
    let auth = scramble(&plugin, &password, &greeting.scramble)?;
    conn.write(&handshake_response(
        target,
        &plugin,
        &auth,
        greeting.capabilities,
    ))
    .await?;
    let mut signed_in = false;
    for _ in 0..4 {
        let packet = conn.read().await?;
        match packet.first() {
            Some(0x00) => {
                signed_in = true;
                break;
            }
            Some(0xff) => {
                return Err(format!(
                    "the server refused the sign-in: {}",
                    error_text(&packet)
                ));
            }
            Some(0xfe) => {
                // Switch to another plugin, with a new nonce.
                let (name, data) = cstr(&packet[1..]).unwrap_or((&packet[1..], &[]));
                plugin = String::from_utf8_lossy(name).into_owned();
                let nonce: Vec<u8> = data.iter().copied().take_while(|b| *b != 0).collect();
                let auth = scramble(&plugin, &password, &nonce)?;
                conn.write(&auth).await?;
            }
            // caching_sha2_password's fast path: an OK follows.
            Some(0x01) if plugin == CACHING_SHA2 && packet.get(1) == Some(&3) => {}
            Some(0x01) if plugin == CACHING_SHA2 => {
                return Err(
                    "caching_sha2_password wants a full authentication (TLS or RSA), which the probe does not do: sign in once with the mysql client, or use mysql_native_password".into(),
                );
            }
            _ => return Err("an unexpected answer to the sign-in".into()),
        }
    }
    if !signed_in {
        return Err("the sign-in did not finish".into());
    }
    add_phase(outcome, "auth", seconds(started));
    let started = Instant::now();
    conn.seq = 0;
    let mut command = vec![0x03];
    command.extend_from_slice(target.query.as_bytes());
    conn.write(&command).await?;
    let first = conn.read().await?;
    let value = match first.first() {
        Some(0xff) => return Err(format!("the query failed: {}", error_text(&first))),
        Some(0x00) => None, // no result set
        _ => {
            let columns = lenenc(&mut &first[..])?;
            if columns == 0 || columns > 4096 {
                return Err(format!("a result of {columns} columns"));
            }
            for _ in 0..columns {
                conn.read().await?;
            }
            let eof = conn.read().await?;
            if !is_eof(&eof) {
                return Err("the column definitions did not end".into());
            }
            let mut value = None;
            for row in 0..=MAX_ROWS {
                let packet = conn.read().await?;
                if is_eof(&packet) {
                    break;
                }
                if packet.first() == Some(&0xff) {
                    return Err(format!("the query failed: {}", error_text(&packet)));
                }
                if row == MAX_ROWS {
                    return Err(format!("the query answered over {MAX_ROWS} rows"));
                }
                if row == 0 && packet.first() != Some(&0xfb) {
                    let mut data = &packet[..];
                    let len = lenenc(&mut data)? as usize;
                    value = data
                        .get(..len)
                        .map(|v| String::from_utf8_lossy(v).into_owned());
                }
            }
            value
        }
    };
    add_phase(outcome, "query", seconds(started));
    // COM_QUIT: a polite goodbye, not waited for.
    conn.seq = 0;
    let _ = conn.write(&[0x01]).await;
    outcome.db_value = number(value.as_deref());
    Ok(())
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
