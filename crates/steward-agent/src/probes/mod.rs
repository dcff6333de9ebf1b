//! Probes: this agent checks other hosts on its network (agentless
//! monitoring). `--probe NAME=URL` (repeatable), run every
//! `--check-interval` beside the local checks:
//!
//! - `tcp://HOST:PORT`: a TCP connect;
//! - `tls://HOST:PORT` (also `https://`, `smtps://`, `imaps://`): a TLS
//!   handshake, the certificate's trust and days left;
//! - `smtp://HOST[:25]` and `imap://HOST[:143]`: STARTTLS, then as `tls://`;
//! - `postgres://USER@HOST[:5432]/DB?query=select+1` and
//!   `mysql://USER@HOST[:3306]/DB?query=…` (MySQL, MariaDB): sign in and
//!   time a query (`db.rs`; the `db-probes` feature, on by default).
//! - `icmp://HOST?count=3`: echo requests, loss and round-trip time
//!   (`icmp.rs`: unprivileged where the kernel allows);
//! - `dns://SERVER[:53]?name=NAME&type=A&expect=10.0.0.1,10.0.0.2`: a
//!   resolution and its expected answers (`dns.rs`).
//!
//! Options as a query: `timeout=10s`, `warn_days=21`, `crit_days=7`,
//! `ca=/path/ca.pem` (trusted besides the system's roots),
//! `verify=false` (an untrusted chain is not a failure), `servername=NAME`.
//!
//! Each run is a check `probe.NAME` (Monitoring Plugins convention, so the
//! check monitors and alerts work on it unchanged) and metric points
//! (`probe.success`, `probe.duration{phase}`, `probe.tls.cert.days_left`,
//! labelled `probe=NAME`) sent with the next metric batch. What is decided
//! from an outcome is pure ([`judge`]); the I/O is in `net.rs`. Probes run
//! at most [`PARALLEL`] at a time, each within its timeout, in their own
//! task: a probed host that never answers cannot hold up heartbeats.

pub mod assigned;
#[cfg(feature = "db-probes")]
mod db;
pub mod dns;
mod http;
pub mod icmp;
mod net;
pub mod snmp;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use steward_proto::{CheckRun, Point};

/// Probes running at once, at most.
pub const PARALLEL: usize = 16;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TIMEOUT: Duration = Duration::from_secs(60);
const DAY_MS: f64 = 86_400_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Tls,
    /// SMTP, then STARTTLS.
    Smtp,
    /// IMAP, then STARTTLS.
    Imap,
    Http,
    Https,
    /// SNMP v2c: system, interfaces, custom OIDs.
    Snmp,
    /// PostgreSQL: sign in, one query.
    Postgres,
    /// MySQL or MariaDB: sign in, one query.
    Mysql,
    /// ICMP echo: loss and round-trip time.
    Icmp,
    /// A DNS question and its expected answers.
    Dns,
}

/// A database probe's sign-in and query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DbTarget {
    pub user: String,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub database: String,
    pub query: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub name: String,
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
    pub warn_days: f64,
    pub crit_days: f64,
    pub ca: Option<PathBuf>,
    pub verify: bool,
    /// The name the certificate must carry (default: the host).
    pub server_name: Option<String>,
    /// HTTP: the path asked for, the status expected (else any 2xx), a
    /// text the body must contain, how many redirects are followed.
    pub path: String,
    pub expect_status: Option<u16>,
    pub body_match: Option<String>,
    pub redirects: u8,
    /// SNMP: the community and custom OIDs read.
    pub community: String,
    pub oids: Vec<String>,
    /// Database probes: who signs in where, and the query.
    pub db: Option<DbTarget>,
    /// ICMP: echoes per run.
    pub count: u8,
    /// DNS: the name asked, the record type, the answers expected.
    pub dns_name: String,
    pub dns_type: u16,
    pub expect: Vec<String>,
}

/// Parses `NAME=URL` (see the module's documentation).
pub fn parse(spec: &str) -> Result<Probe, String> {
    let (name, url) = spec
        .split_once('=')
        .ok_or_else(|| format!("{spec:?}: expected NAME=URL"))?;
    let name = name.trim();
    if !steward_proto::validate::is_metric_name(name, 48) {
        return Err(format!(
            "{name:?}: a probe's NAME is lowercase letters, digits, _ or . (48 at most)"
        ));
    }
    let (scheme, rest) = url
        .trim()
        .split_once("://")
        .ok_or_else(|| format!("{url:?}: expected SCHEME://HOST:PORT"))?;
    let (kind, default_port) = match scheme {
        "tcp" => (Kind::Tcp, None),
        "tls" => (Kind::Tls, None),
        "http" => (Kind::Http, Some(80)),
        "https" => (Kind::Https, Some(443)),
        "smtps" => (Kind::Tls, Some(465)),
        "imaps" => (Kind::Tls, Some(993)),
        "smtp" => (Kind::Smtp, Some(25)),
        "imap" => (Kind::Imap, Some(143)),
        "snmp" => (Kind::Snmp, Some(161)),
        "postgres" | "postgresql" => (Kind::Postgres, Some(5432)),
        "mysql" | "mariadb" => (Kind::Mysql, Some(3306)),
        "icmp" => (Kind::Icmp, Some(7)),
        "dns" => (Kind::Dns, Some(53)),
        other => {
            return Err(format!(
                "{other:?}: a probe is tcp, tls, http, https, smtp, smtps, imap, imaps, snmp, icmp, dns, postgres or mysql"
            ));
        }
    };
    let db_kind = matches!(kind, Kind::Postgres | Kind::Mysql);
    if db_kind && !cfg!(feature = "db-probes") {
        return Err(format!(
            "{scheme}: this agent was built without database probes (the db-probes feature)"
        ));
    }
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, q),
        None => (rest, ""),
    };
    let (authority, path) = match authority.find('/') {
        Some(i) => (&authority[..i], &authority[i..]),
        None => (authority, "/"),
    };
    if !path.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "{path:?}: a path is printable ASCII without spaces"
        ));
    }
    // USER[:PASSWORD]@ before the host (database probes).
    let (userinfo, authority) = match authority.rsplit_once('@') {
        Some((u, a)) if db_kind => (Some(u), a),
        Some(_) => return Err(format!("{url:?}: only database probes take USER@")),
        None => (None, authority),
    };
    let (host, port) = host_port(authority)?;
    let port = match (port, default_port) {
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => return Err(format!("{url:?}: a {scheme} probe needs a port")),
    };
    let mut probe = Probe {
        name: name.to_string(),
        kind,
        host,
        port,
        timeout: DEFAULT_TIMEOUT,
        warn_days: 21.0,
        crit_days: 7.0,
        ca: None,
        verify: true,
        server_name: None,
        path: path.to_string(),
        expect_status: None,
        body_match: None,
        redirects: 0,
        community: "public".into(),
        oids: Vec::new(),
        db: None,
        count: 3,
        dns_name: String::new(),
        dns_type: 1,
        expect: Vec::new(),
    };
    if db_kind {
        let (user, password) = match userinfo.map(|u| u.split_once(':')) {
            Some(Some((u, p))) => (unescape(u), Some(unescape(p))),
            Some(None) => (unescape(userinfo.unwrap_or_default()), None),
            None => (String::new(), None),
        };
        if user.is_empty() || user.len() > 64 || user.chars().any(char::is_control) {
            return Err(format!("{scheme}: a database probe needs USER@HOST"));
        }
        let database = unescape(path.trim_start_matches('/'));
        if database.len() > 64 || database.contains('/') {
            return Err(format!("{database:?}: a database name, at most 64 bytes"));
        }
        probe.path = "/".into();
        probe.db = Some(DbTarget {
            user,
            password,
            database,
            query: "SELECT 1".into(),
            ..DbTarget::default()
        });
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let days = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|d| d.is_finite() && (0.0..=3650.0).contains(d))
                .ok_or_else(|| format!("{key}={v:?}: expected days (0 to 3650)"))
        };
        match key {
            "timeout" => {
                let t = humantime::parse_duration(value)
                    .map_err(|e| format!("timeout={value:?}: {e}"))?;
                if t.is_zero() || t > MAX_TIMEOUT {
                    return Err(format!("timeout={value:?}: between 1ms and 60s"));
                }
                probe.timeout = t;
            }
            "warn_days" => probe.warn_days = days(value)?,
            "crit_days" => probe.crit_days = days(value)?,
            "ca" if !value.is_empty() => probe.ca = Some(PathBuf::from(value)),
            "verify" => {
                probe.verify = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("verify={value:?}: true or false")),
                }
            }
            "servername" if !value.is_empty() => probe.server_name = Some(value.to_string()),
            "status" => {
                probe.expect_status = Some(
                    value
                        .parse::<u16>()
                        .ok()
                        .filter(|s| (100..600).contains(s))
                        .ok_or_else(|| format!("status={value:?}: an HTTP status"))?,
                )
            }
            "match" if !value.is_empty() => probe.body_match = Some(unescape(value)),
            "community" if !value.is_empty() && value.len() <= 64 => {
                probe.community = unescape(value)
            }
            "oids" => {
                for oid in value.split(',').filter(|o| !o.is_empty()) {
                    snmp::parse_oid(oid)?;
                    probe.oids.push(oid.trim_start_matches('.').to_string());
                }
                if probe.oids.len() > 16 {
                    return Err("oids: 16 at most".into());
                }
            }
            "query" if db_kind && !value.is_empty() => {
                let query = unescape(value);
                if query.len() > 4096 || query.contains('\0') {
                    return Err("query: at most 4096 bytes, no NUL".into());
                }
                if let Some(db) = probe.db.as_mut() {
                    db.query = query;
                }
            }
            "password_file" if db_kind && !value.is_empty() => {
                if let Some(db) = probe.db.as_mut() {
                    db.password_file = Some(PathBuf::from(unescape(value)));
                }
            }
            "redirects" => {
                probe.redirects = value
                    .parse::<u8>()
                    .ok()
                    .filter(|r| *r <= 10)
                    .ok_or_else(|| format!("redirects={value:?}: 0 to 10"))?
            }
            "count" => {
                probe.count = value
                    .parse::<u8>()
                    .ok()
                    .filter(|c| (1..=icmp::MAX_COUNT).contains(c))
                    .ok_or_else(|| format!("count={value:?}: 1 to {}", icmp::MAX_COUNT))?
            }
            "name" if !value.is_empty() => {
                dns::query(0, value, 1)?;
                probe.dns_name = value.to_string();
            }
            "type" => {
                probe.dns_type = dns::type_named(value)
                    .ok_or_else(|| format!("type={value:?}: A, AAAA, CNAME, MX, NS, PTR or TXT"))?
            }
            "expect" => {
                probe.expect = value
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(unescape)
                    .collect();
                if probe.expect.len() > 16 {
                    return Err("expect: 16 answers at most".into());
                }
            }
            _ => return Err(format!("{pair:?}: unknown probe option")),
        }
    }
    if probe.kind == Kind::Dns && probe.dns_name.is_empty() {
        return Err(format!("{url:?}: a dns probe needs name=NAME"));
    }
    Ok(probe)
}

/// `%XX` escapes and `+` (a space) of a query value.
fn unescape(value: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `host:port`, `[v6]:port`, or a host alone.
fn host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let bad = || format!("{authority:?}: expected HOST:PORT");
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let valid_host = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    if !valid_host {
        return Err(bad());
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?),
        None => None,
    };
    Ok((host.to_string(), port))
}

/// What the server's certificate was.
#[derive(Debug, Clone, PartialEq)]
pub struct Cert {
    pub not_after_ms: i64,
    /// Whether the chain is trusted for the name, and if not why.
    pub trusted: Result<(), String>,
}

/// What one run of a probe found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Why it failed; `None` when the target answered as expected.
    pub error: Option<String>,
    /// Time per phase (dns, connect, starttls, tls), in seconds.
    pub phases: Vec<(&'static str, f64)>,
    pub cert: Option<Cert>,
    /// HTTP: the last response's status.
    pub http_status: Option<u16>,
    /// SNMP: what the agent answered (its points need the previous
    /// counters: [`snmp::points`]).
    pub snmp: Option<snmp::Report>,
    /// A database probe's first value, when a number.
    pub db_value: Option<f64>,
    /// ICMP: echoes sent and answered.
    pub ping: Option<icmp::Report>,
    /// DNS: the answers.
    pub dns: Option<Vec<String>>,
}

/// Turns an outcome into the check run and the metric points: the pure
/// core of a probe.
pub fn judge(probe: &Probe, outcome: &Outcome, now_ms: i64) -> (CheckRun, Vec<Point>) {
    let label = |extra: Option<(&str, &str)>| {
        let mut labels = BTreeMap::from([("probe".to_string(), probe.name.clone())]);
        if let Some((k, v)) = extra {
            labels.insert(k.to_string(), v.to_string());
        }
        labels
    };
    let point = |name: &str, extra, value| Point {
        name: name.into(),
        labels: label(extra),
        value,
    };
    let total: f64 = outcome.phases.iter().map(|(_, s)| s).sum();
    let mut points = vec![point(
        "probe.success",
        None,
        if outcome.error.is_none() { 1.0 } else { 0.0 },
    )];
    for (phase, seconds) in &outcome.phases {
        points.push(point("probe.duration", Some(("phase", phase)), *seconds));
    }
    if let Some(value) = outcome.db_value {
        points.push(point("probe.db.value", None, value));
    }
    if let Some(status) = outcome.http_status {
        points.push(point("probe.http.status_code", None, f64::from(status)));
    }
    if let Some(ping) = &outcome.ping {
        points.push(point("probe.icmp.loss_ratio", None, ping.loss()));
        if let Some(rtt) = ping.mean_rtt() {
            points.push(point("probe.icmp.rtt", None, rtt));
        }
    }
    if let Some(answers) = &outcome.dns {
        points.push(point("probe.dns.answers", None, answers.len() as f64));
    }
    let target = match probe.kind {
        Kind::Icmp => probe.host.clone(),
        Kind::Dns => format!("{} at {}:{}", probe.dns_name, probe.host, probe.port),
        _ => format!("{}:{}", probe.host, probe.port),
    };
    let mut perf = format!("time={total:.6}s");
    let (mut code, mut message) = match &outcome.error {
        Some(error) => (2, format!("PROBE CRITICAL - {target}: {error}")),
        None => match &outcome.snmp {
            Some(report) => (
                0,
                format!(
                    "PROBE OK - {target}: {:?} up {:.0} s, {} interfaces ({} up)",
                    report.name,
                    report.uptime_s.unwrap_or(0.0),
                    report.interfaces.len(),
                    report
                        .interfaces
                        .iter()
                        .filter(|i| i.oper_status == Some(1))
                        .count()
                ),
            ),
            None => match (&outcome.ping, &outcome.dns) {
                (Some(ping), _) => {
                    let rtt = ping.mean_rtt().unwrap_or(0.0);
                    let _ = std::fmt::Write::write_fmt(
                        &mut perf,
                        format_args!(" rtt={rtt:.6}s loss={:.0}%", ping.loss() * 100.0),
                    );
                    (
                        if ping.received < ping.sent { 1 } else { 0 },
                        format!(
                            "PROBE {} - {target}: {}/{} replies, {:.0}% loss, rtt {:.3} ms",
                            if ping.received < ping.sent {
                                "WARNING"
                            } else {
                                "OK"
                            },
                            ping.received,
                            ping.sent,
                            ping.loss() * 100.0,
                            rtt * 1000.0
                        ),
                    )
                }
                (_, Some(answers)) => (0, format!("PROBE OK - {target}: {}", answers.join(", "))),
                _ => (0, format!("PROBE OK - {target} answered in {total:.3} s")),
            },
        },
    };
    if let (Some(cert), None) = (&outcome.cert, &outcome.error) {
        let days = (cert.not_after_ms - now_ms) as f64 / DAY_MS;
        points.push(point("probe.tls.cert.days_left", None, days));
        let _ = std::fmt::Write::write_fmt(
            &mut perf,
            format_args!(
                " days_left={days:.2};{};{}",
                probe.warn_days, probe.crit_days
            ),
        );
        let trusted = if probe.verify {
            cert.trusted.clone()
        } else {
            Ok(())
        };
        (code, message) = if days <= 0.0 {
            (
                2,
                format!("PROBE CRITICAL - {target}: the certificate has expired"),
            )
        } else if let Err(why) = trusted {
            (
                2,
                format!("PROBE CRITICAL - {target}: the certificate is not trusted: {why}"),
            )
        } else if days < probe.crit_days {
            (
                2,
                format!("PROBE CRITICAL - {target}: the certificate expires in {days:.1} days"),
            )
        } else if days < probe.warn_days {
            (
                1,
                format!("PROBE WARNING - {target}: the certificate expires in {days:.1} days"),
            )
        } else {
            (
                0,
                format!("PROBE OK - {target}: the certificate expires in {days:.0} days"),
            )
        };
    }
    let run = CheckRun {
        name: format!("probe.{}", probe.name),
        ts_ms: now_ms,
        exit_code: code,
        output: format!("{message}|{perf}\n"),
        device: None,
    };
    (run, points)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs one probe within its timeout.
pub async fn run_one(probe: &Probe) -> Outcome {
    match tokio::time::timeout(probe.timeout, net::execute(probe)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome {
            error: Some(format!("no answer within {} ms", probe.timeout.as_millis())),
            ..Outcome::default()
        },
    }
}

/// Runs every probe once, [`PARALLEL`] at a time (each in its own task):
/// their check runs, in order, and their points; `counters` keeps the
/// SNMP counters' readings from one run to the next (for rates).
pub async fn run_all(
    probes: &[Probe],
    counters: &mut snmp::Counters,
) -> (Vec<CheckRun>, Vec<Point>) {
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, probe) in probes.iter().cloned().enumerate() {
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let outcome = run_one(&probe).await;
            (i, probe, outcome, now_ms())
        });
    }
    let mut done = Vec::with_capacity(probes.len());
    while let Some(joined) = tasks.join_next().await {
        if let Ok(one) = joined {
            done.push(one);
        }
    }
    done.sort_by_key(|(i, ..)| *i);
    let mut runs = Vec::with_capacity(done.len());
    let mut points = Vec::new();
    for (_, probe, outcome, at) in done {
        let (run, p) = judge(&probe, &outcome, at);
        runs.push(run);
        points.extend(p);
        if let Some(report) = &outcome.snmp {
            points.extend(snmp::points(&probe.name, report, at, counters));
        }
    }
    (runs, points)
}

#[cfg(test)]
mod tests;
