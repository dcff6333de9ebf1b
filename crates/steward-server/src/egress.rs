//! Where the server may connect on a technician's behalf (webhooks, chat
//! webhooks, SMTP relays): never to loopback, private, link-local, shared
//! (CGNAT), unspecified, multicast, broadcast, documentation or otherwise
//! reserved addresses, unless the installation allows those networks
//! (`steward serve --allow-private-targets`). Names are checked on the
//! addresses they resolve to, and only checked addresses are connected to,
//! so a name that resolves differently the second time (DNS rebinding)
//! gains nothing.

pub use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// SMTP ports a relay may listen on outside the allowed networks.
pub const SMTP_PORTS: [u16; 4] = [25, 465, 587, 2525];

/// Why an address is not a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    Multicast,
    Broadcast,
    Documentation,
    Reserved,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "an unspecified address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::SharedCgnat => "a shared (carrier-grade NAT) address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Reserved => "a reserved address",
        })
    }
}

const ADVICE: &str = "Steward sends notifications only to public addresses \
     unless the server allows the network (steward serve --allow-private-targets CIDR)";

#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("{address} is {reason}; {ADVICE}")]
    Refused { address: IpAddr, reason: Refusal },
    // The address itself is not told: a refusal must not map internal DNS.
    #[error("{host} resolves to {reason}; {ADVICE}")]
    NameRefused {
        host: String,
        address: IpAddr,
        reason: Refusal,
    },
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("{host} has no address")]
    NoAddress { host: String },
    #[error(
        "SMTP port {0} is not one of 25, 465, 587 or 2525; other ports are allowed only on \
         networks the server allows (steward serve --allow-private-targets CIDR)"
    )]
    SmtpPort(u16),
    #[error("{0:?} is not a valid URL")]
    BadUrl(String),
    #[error("{0:?} is not an address or network (CIDR)")]
    BadNetwork(String),
}

/// What kind of address `ip` is, when it is not a public unicast one.
pub fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    use Refusal::*;
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => Broadcast,
        (0, ..) => Unspecified,
        (127, ..) => Loopback,
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => Private,
        (169, 254, _) => LinkLocal,
        (100, 64..=127, _) => SharedCgnat,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Documentation,
        // IETF protocol assignments, the 6to4 relay anycast, benchmarking.
        (192, 0, 0) | (192, 88, 99) | (198, 18..=19, _) => Reserved,
        (224..=239, ..) => Multicast,
        (240..=255, ..) => Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    use Refusal::*;
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address
    // they carry.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])));
    }
    if s[0] == 0x2002 {
        return classify_v4(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    }
    Some(match s[0] {
        0xff00..=0xffff => Multicast,
        0xfe80..=0xfebf => LinkLocal,
        // Unique local (fc00::/7) and the deprecated site-local fec0::/10.
        0xfc00..=0xfdff | 0xfec0..=0xfeff => Private,
        0x2001 if s[1] == 0x0db8 => Documentation,
        0x3fff if s[1] < 0x1000 => Documentation,
        // IETF protocol assignments (Teredo, benchmarking, ORCHID…).
        0x2001 if s[1] < 0x0200 => Reserved,
        // Global unicast is 2000::/3; the rest is unassigned or special
        // (IPv4-compatible ::/96, discard 100::/64, local NAT64…).
        0x2000..=0x3fff => return None,
        _ => Reserved,
    })
}

/// One network of an allowance: a CIDR (`10.0.0.0/8`) or one address.
pub fn parse_network(text: &str) -> Result<IpNet, EgressError> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| EgressError::BadNetwork(text.to_string()))
}

/// Networks written `CIDR[,CIDR]` (empty for none), as the serve flag
/// takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(pub Vec<IpNet>);

impl std::str::FromStr for Networks {
    type Err = EgressError;

    fn from_str(text: &str) -> Result<Self, EgressError> {
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(parse_network)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The address policy of one installation.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allowed: Vec<IpNet>,
}

impl EgressPolicy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Whether the installation allows `ip` whatever kind it is.
    fn allowed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed.iter().any(|net| net.contains(&ip))
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), EgressError> {
        match classify(ip) {
            Some(reason) if !self.allowed(ip) => Err(EgressError::Refused {
                address: ip,
                reason,
            }),
            _ => Ok(()),
        }
    }

    /// An SMTP relay's port: a submission or relay port, or any port on
    /// an allowed network.
    pub fn check_smtp_port(&self, ip: Option<IpAddr>, port: u16) -> Result<(), EgressError> {
        if SMTP_PORTS.contains(&port) || ip.is_some_and(|ip| self.allowed(ip)) {
            Ok(())
        } else {
            Err(EgressError::SmtpPort(port))
        }
    }

    /// What can be told from a URL's text alone: a literal address must
    /// be a target (names are checked when they are resolved).
    pub fn check_url(&self, url: &str) -> Result<(), EgressError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| EgressError::BadUrl(url.into()))?;
        // The parser has normalised literal addresses (`2130706433`,
        // `0x7f.1`) to their usual form.
        match parsed.host_str() {
            Some(host) => self.check_host(host),
            None => Err(EgressError::BadUrl(url.into())),
        }
    }

    /// A literal address in `host` (an SMTP relay's name or address).
    pub fn check_host(&self, host: &str) -> Result<(), EgressError> {
        match literal(host) {
            Some(ip) => self.check_ip(ip),
            None => Ok(()),
        }
    }

    /// Resolves `host` and keeps the addresses that are targets; refuses
    /// when none is.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        let found: Vec<SocketAddr> = match literal(host) {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|source| EgressError::Resolve {
                    host: host.to_string(),
                    source,
                })?
                .collect(),
        };
        let mut first_refusal = None;
        let mut kept = Vec::new();
        for addr in found {
            match self.check_ip(addr.ip()) {
                Ok(()) => kept.push(addr),
                Err(EgressError::Refused { address, reason }) => {
                    first_refusal.get_or_insert((address, reason));
                }
                Err(other) => return Err(other),
            }
        }
        match (kept.is_empty(), first_refusal) {
            (false, _) => Ok(kept),
            (true, Some((address, reason))) if literal(host).is_some() => {
                Err(EgressError::Refused { address, reason })
            }
            (true, Some((address, reason))) => Err(EgressError::NameRefused {
                host: host.to_string(),
                address,
                reason,
            }),
            (true, None) => Err(EgressError::NoAddress {
                host: host.to_string(),
            }),
        }
    }
}

/// `host` as an address, with or without IPv6 brackets.
pub fn literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// IPv4-mapped IPv6 addresses are matched as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A resolver for reqwest that only ever hands out checked addresses.
pub struct Resolver(pub Arc<EgressPolicy>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = policy.resolve(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_classified() {
        use Refusal::*;
        let table: &[(&str, Option<Refusal>)] = &[
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.0.0.2", Some(Loopback)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Private)),
            ("169.254.169.254", Some(LinkLocal)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("100.128.0.1", None),
            ("192.0.2.10", Some(Documentation)),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.9", Some(Documentation)),
            ("192.0.0.8", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("224.0.0.251", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("255.255.255.255", Some(Broadcast)),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.215.14", None),
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(Reserved)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("64:ff9b::808:808", None),
            ("2002:c0a8:0101::1", Some(Private)),
            ("2002:0808:0808::1", None),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fec0::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Documentation)),
            ("3fff::1", Some(Documentation)),
            ("2001::1", Some(Reserved)),
            ("100::1", Some(Reserved)),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001::200e", None),
        ];
        for (text, expected) in table {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *expected, "{text}");
        }
    }

    #[test]
    fn allowed_networks_are_targets() {
        let policy = EgressPolicy::new(vec![
            parse_network("127.0.0.0/8").unwrap(),
            parse_network("fd00::1").unwrap(),
        ]);
        let table: &[(&str, bool)] = &[
            ("127.0.0.2", true),
            ("::ffff:127.0.0.1", true),
            ("10.0.0.1", false),
            ("::1", false),
            ("fd00::1", true),
            ("fd00::2", false),
            ("8.8.8.8", true),
        ];
        for (text, ok) in table {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(policy.check_ip(ip).is_ok(), *ok, "{text}");
        }
        assert!(
            EgressPolicy::default()
                .check_ip("127.0.0.2".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn urls_with_literal_addresses_are_checked() {
        let policy = EgressPolicy::default();
        let table: &[(&str, bool)] = &[
            ("http://127.0.0.2:18080/hook", false),
            ("http://2130706433/", false),
            ("http://0x7f.1/", false),
            ("http://[::1]:80/", false),
            ("http://[::ffff:7f00:1]/", false),
            ("https://169.254.169.254/latest/meta-data", false),
            ("https://hooks.example.com/x", true),
            ("https://8.8.8.8/", true),
        ];
        for (url, ok) in table {
            assert_eq!(policy.check_url(url).is_ok(), *ok, "{url}");
        }
        let error = policy.check_url("http://127.0.0.2:18080/").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("127.0.0.2 is a loopback address; {ADVICE}")
        );
    }

    #[test]
    fn smtp_ports_are_bounded() {
        let policy = EgressPolicy::new(vec![parse_network("127.0.0.0/8").unwrap()]);
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        for port in SMTP_PORTS {
            assert!(policy.check_smtp_port(Some(public), port).is_ok());
        }
        assert!(policy.check_smtp_port(Some(public), 6379).is_err());
        assert!(policy.check_smtp_port(None, 22).is_err());
        assert!(
            policy
                .check_smtp_port(Some("127.0.0.1".parse().unwrap()), 2526)
                .is_ok()
        );
    }

    #[test]
    fn networks_parse() {
        assert_eq!(
            parse_network("10.0.0.0/8").unwrap(),
            "10.0.0.0/8".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_network(" 192.168.1.5 ").unwrap(),
            "192.168.1.5/32".parse::<IpNet>().unwrap()
        );
        assert!(parse_network("::1").is_ok());
        assert_eq!("".parse::<Networks>().unwrap(), Networks(vec![]));
        assert_eq!(
            " 127.0.0.0/8, fd00::/8".parse::<Networks>().unwrap().0,
            vec![
                "127.0.0.0/8".parse::<IpNet>().unwrap(),
                "fd00::/8".parse().unwrap()
            ]
        );
        assert!("10.0.0.0/8,nope".parse::<Networks>().is_err());
        assert!(parse_network("example.com").is_err());
        assert!(parse_network("10.0.0.0/33").is_err());
    }

    #[tokio::test]
    async fn names_are_checked_on_what_they_resolve_to() {
        let strict = EgressPolicy::default();
        let error = strict.resolve("localhost", 80).await.unwrap_err();
        assert!(
            matches!(error, EgressError::NameRefused { ref host, reason: Refusal::Loopback, .. } if host == "localhost"),
            "{error}"
        );
        assert!(
            error.to_string().starts_with("localhost resolves to "),
            "{error}"
        );
        let error = strict.resolve("127.0.0.2", 80).await.unwrap_err();
        assert!(matches!(error, EgressError::Refused { .. }), "{error}");
        let lenient = EgressPolicy::new(vec![
            parse_network("127.0.0.0/8").unwrap(),
            parse_network("::1").unwrap(),
        ]);
        let found = lenient.resolve("localhost", 80).await.unwrap();
        assert!(found.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
    }
}
