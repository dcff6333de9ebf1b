//! HTTP(S) probes: `GET PATH` over HTTP/1.1 (`Connection: close`), the
//! status (2xx unless `status=` says which), a text the body must contain
//! (`match=`, looked for in the first [`MAX_BODY`] bytes), redirects
//! followed up to `redirects=` (default 0), time by phase (dns, connect,
//! tls, first byte, summed over redirects). Everything the server sends
//! is read bounded: lines of 4 KiB, [`MAX_HEADERS`] header lines, the body
//! up to [`MAX_BODY`] whatever its length says.

use super::net::{self, add_phase, read_line, seconds};
use super::{Kind, Outcome, Probe};
use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::Instant;

pub const MAX_BODY: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// The next target from a `Location` header: absolute (`http(s)://…`),
/// absolute path, or relative to the current path.
pub fn follow(from: &Target, location: &str) -> Result<Target, String> {
    let location = location.trim();
    if let Some((scheme, rest)) = location.split_once("://") {
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(format!("a redirect to {:?}", net::clip(location))),
        };
        if !rest.chars().all(|c| c.is_ascii_graphic()) {
            return Err(format!("a redirect to {:?}", net::clip(location)));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = super::host_port(authority)?;
        return Ok(Target {
            tls,
            host,
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            path: path.to_string(),
        });
    }
    // What goes into our request line must stay one line.
    if !location.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!("a redirect to {:?}", net::clip(location)));
    }
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let base = from.path.rsplit_once('/').map_or("", |(b, _)| b);
        format!("{base}/{location}")
    };
    Ok(Target {
        path,
        ..from.clone()
    })
}

/// What came back.
struct Response {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

pub async fn execute(probe: &Probe, outcome: &mut Outcome) -> Result<(), String> {
    let mut target = Target {
        tls: probe.kind == Kind::Https,
        host: probe.host.clone(),
        port: probe.port,
        path: probe.path.clone(),
    };
    let mut hops = 0;
    loop {
        let stream = net::connect(&target.host, target.port, outcome).await?;
        let response = if target.tls {
            let started = Instant::now();
            let (tls, cert) = net::tls_connect(probe, &target.host, stream).await?;
            add_phase(outcome, "tls", seconds(started));
            outcome.cert = Some(cert);
            exchange(&target, BufReader::new(tls), outcome).await?
        } else {
            exchange(&target, BufReader::new(stream), outcome).await?
        };
        outcome.http_status = Some(response.status);
        if (300..400).contains(&response.status) && hops < probe.redirects {
            let location = response
                .location
                .ok_or_else(|| format!("a {} without a Location", response.status))?;
            target = follow(&target, &location)?;
            hops += 1;
            continue;
        }
        let expected = match probe.expect_status {
            Some(code) => response.status == code,
            None => (200..300).contains(&response.status),
        };
        if !expected {
            return Err(format!("HTTP status {}", response.status));
        }
        if let Some(text) = &probe.body_match
            && !contains(&response.body, text.as_bytes())
        {
            return Err(format!(
                "the body (first {} bytes) does not contain {:?}",
                response.body.len(),
                net::clip(text)
            ));
        }
        return Ok(());
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

async fn exchange<S>(
    target: &Target,
    mut reader: BufReader<S>,
    outcome: &mut Outcome,
) -> Result<Response, String>
where
    S: tokio::io::AsyncRead + AsyncWrite + Unpin,
{
    let default_port = if target.tls { 443 } else { 80 };
    let host = if target.port == default_port {
        target.host.clone()
    } else if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: steward-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path
    );
    let started = Instant::now();
    reader
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    let status_line = read_line(&mut reader).await?;
    add_phase(outcome, "first_byte", seconds(started));
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP response: {:?}", net::clip(&status_line)))?;
    let (mut length, mut chunked, mut location) = (None, false, None);
    let mut headers = 0;
    loop {
        let line = read_line(&mut reader).await?;
        if line.is_empty() {
            break;
        }
        headers += 1;
        if headers > MAX_HEADERS {
            return Err(format!("over {MAX_HEADERS} header lines"));
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<u64>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "location" => location = Some(value.to_string()),
            _ => {}
        }
    }
    let body = if chunked {
        dechunk(&mut reader).await?
    } else {
        let cap = length.map_or(MAX_BODY as u64, |l| l.min(MAX_BODY as u64));
        let mut body = Vec::new();
        (&mut reader)
            .take(cap)
            .read_to_end(&mut body)
            .await
            .map_err(|e| format!("reading the body: {e}"))?;
        body
    };
    Ok(Response {
        status,
        location,
        body,
    })
}

/// A chunked body, its first [`MAX_BODY`] bytes.
async fn dechunk<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        let line = read_line(reader).await?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| format!("a bad chunk size {:?}", net::clip(&line)))?;
        if size == 0 {
            break;
        }
        let want = size.min((MAX_BODY - body.len()) as u64);
        let before = body.len();
        reader
            .take(want)
            .read_to_end(&mut body)
            .await
            .map_err(|e| format!("reading the body: {e}"))?;
        if ((body.len() - before) as u64) < want {
            return Err("the body ended inside a chunk".into());
        }
        if want < size {
            break; // enough read
        }
        read_line(reader).await?; // the CR LF after the chunk
    }
    Ok(body)
}
