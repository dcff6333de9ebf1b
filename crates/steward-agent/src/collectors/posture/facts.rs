//! Pure parsers of what the posture gathering reads: `sshd -T` and
//! sshd_config, `nft -j list ruleset`, `iptables -S`, `ufw status`,
//! `lsblk -J`, `timedatectl show`, /etc/group and /proc/net/{tcp,udp}{,6}.
//! Each is tested on recorded output (`testdata/`); hostile text yields
//! fewer facts, never a panic.

use serde_json::Value;
use std::collections::BTreeMap;
use steward_proto::{GroupMember, ListeningPort};

/// sshd's effective settings, lowercase keys: `sshd -T` prints one
/// `key value` per line; the config files are read with the first value
/// of a key winning (sshd's rule), `Match` blocks ignored.
pub fn sshd_settings(text: &str) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    let mut in_match = false;
    for line in text.lines().take(10_000) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(2, |c: char| c.is_whitespace() || c == '=');
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let key = key.to_ascii_lowercase();
        if key == "match" {
            in_match = true;
            continue;
        }
        if in_match || key.len() > 64 {
            continue;
        }
        let value = value.trim().trim_matches('"').to_ascii_lowercase();
        settings.entry(key).or_insert(value);
    }
    settings
}

/// The firewall as nftables sees it: whether any chain hooks input, and
/// the policy of the input hook chains (the strictest of them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Firewall {
    pub active: bool,
    pub input_policy: Option<String>,
    pub rules: usize,
}

fn stricter(a: Option<String>, b: &str) -> Option<String> {
    let rank = |p: &str| match p {
        "drop" => 2,
        "reject" => 1,
        _ => 0,
    };
    match a {
        Some(a) if rank(&a) >= rank(b) => Some(a),
        _ => Some(b.to_string()),
    }
}

/// `nft -j list ruleset`.
pub fn nft(json: &[u8]) -> Option<Firewall> {
    let value: Value = serde_json::from_slice(json).ok()?;
    let items = value.get("nftables")?.as_array()?;
    let mut firewall = Firewall::default();
    for item in items {
        if let Some(chain) = item.get("chain") {
            if chain.get("hook").and_then(Value::as_str) == Some("input") {
                firewall.active = true;
                let policy = chain
                    .get("policy")
                    .and_then(Value::as_str)
                    .unwrap_or("accept");
                firewall.input_policy = stricter(firewall.input_policy, policy);
            }
        } else if item.get("rule").is_some() {
            firewall.rules += 1;
        }
    }
    // Rules in input chains count; an accept-all chain with no rule is
    // still "active" but its policy says it all.
    Some(firewall)
}

/// `iptables -S INPUT` (or `ip6tables`).
pub fn iptables(text: &str) -> Option<Firewall> {
    let mut firewall = Firewall::default();
    let mut seen = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["-P", "INPUT", policy] => {
                seen = true;
                firewall.input_policy = Some(policy.to_ascii_lowercase());
            }
            ["-A", "INPUT", ..] => firewall.rules += 1,
            _ => {}
        }
    }
    firewall.active = firewall.rules > 0 || firewall.input_policy.as_deref() != Some("accept");
    seen.then_some(firewall)
}

/// `ufw status verbose`: `Status: active`, `Default: deny (incoming), …`.
pub fn ufw(text: &str) -> Option<Firewall> {
    let mut firewall = Firewall::default();
    let mut seen = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(state) = line.strip_prefix("Status:") {
            seen = true;
            firewall.active = state.trim() == "active";
        } else if let Some(defaults) = line.strip_prefix("Default:") {
            for part in defaults.split(',') {
                if let Some(policy) = part.trim().strip_suffix("(incoming)") {
                    let policy = match policy.trim() {
                        "deny" => "drop",
                        "reject" => "reject",
                        _ => "accept",
                    };
                    firewall.input_policy = Some(policy.to_string());
                }
            }
        }
    }
    seen.then_some(firewall)
}

/// `lsblk -J -o NAME,TYPE,MOUNTPOINT` (`mountpoints` in newer versions):
/// whether `/` sits on a `crypt` device, and how many there are.
pub fn lsblk(json: &[u8]) -> Option<(bool, usize)> {
    let value: Value = serde_json::from_slice(json).ok()?;
    let devices = value.get("blockdevices")?.as_array()?;
    fn walk(node: &Value, crypt_above: bool, depth: usize, found: &mut (bool, usize)) {
        if depth > 16 {
            return;
        }
        let crypt = node.get("type").and_then(Value::as_str) == Some("crypt");
        if crypt {
            found.1 += 1;
        }
        let mounted_root = node.get("mountpoint").and_then(Value::as_str) == Some("/")
            || node
                .get("mountpoints")
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|p| p.as_str() == Some("/")));
        if mounted_root && (crypt || crypt_above) {
            found.0 = true;
        }
        for child in node
            .get("children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(child, crypt || crypt_above, depth + 1, found);
        }
    }
    // lsblk lists a device under each of its parents: walk from the
    // leaves' view by following children.
    let mut found = (false, 0);
    for device in devices {
        walk(device, false, 0, &mut found);
    }
    Some(found)
}

/// `timedatectl show`: `NTPSynchronized=yes`, `NTP=yes`.
pub fn timedatectl(text: &str) -> Option<(bool, bool)> {
    let mut synced = None;
    let mut ntp = false;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("NTPSynchronized", v)) => synced = Some(v.trim() == "yes"),
            Some(("NTP", v)) => ntp = v.trim() == "yes",
            _ => {}
        }
    }
    synced.map(|s| (s, ntp))
}

/// Members of the administrative groups in /etc/group.
pub fn admin_members(group_file: &str) -> Vec<GroupMember> {
    let mut members = Vec::new();
    for line in group_file.lines().take(100_000) {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() != 4 || !["sudo", "wheel", "admin"].contains(&fields[0]) {
            continue;
        }
        for user in fields[3]
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            members.push(GroupMember {
                group: fields[0].to_string(),
                user: super::super::clean(user, 64),
            });
        }
    }
    members.sort();
    members.dedup();
    members.truncate(steward_proto::MAX_ADMINS);
    members
}

/// A socket line of /proc/net/{tcp,udp}{,6}: the local address and port,
/// the state and the inode.
fn socket_line(line: &str, v6: bool) -> Option<(String, u16, u8, u64)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 10 {
        return None;
    }
    let (address, port) = fields[1].split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let state = u8::from_str_radix(fields[3], 16).ok()?;
    let inode = fields[9].parse().ok()?;
    let address = if v6 {
        if address.len() != 32 {
            return None;
        }
        // Four 32-bit words, each in host (little-endian) order.
        let mut bytes = [0u8; 16];
        for word in 0..4 {
            let value = u32::from_str_radix(&address[word * 8..word * 8 + 8], 16).ok()?;
            bytes[word * 4..word * 4 + 4].copy_from_slice(&value.to_le_bytes());
        }
        std::net::Ipv6Addr::from(bytes).to_string()
    } else {
        let value = u32::from_str_radix(address, 16).ok()?;
        std::net::Ipv4Addr::from(value.to_le_bytes()).to_string()
    };
    Some((address, port, state, inode))
}

/// Listening sockets of one /proc/net table: TCP in state LISTEN (0A),
/// UDP unconnected (07). Returns the ports and their inodes.
pub fn listening(table: &str, proto: &str, v6: bool) -> Vec<(ListeningPort, u64)> {
    let want = if proto == "tcp" { 0x0A } else { 0x07 };
    table
        .lines()
        .skip(1)
        .take(65_536)
        .filter_map(|line| socket_line(line, v6))
        .filter(|(_, _, state, _)| *state == want)
        .map(|(address, port, _, inode)| {
            (
                ListeningPort {
                    proto: proto.to_string(),
                    address,
                    port,
                    process: String::new(),
                },
                inode,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src/collectors/posture/testdata")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn sshd_settings_first_value_wins_and_match_blocks_are_skipped() {
        let t = sshd_settings(
            "# c\nPermitRootLogin no\nPermitRootLogin yes\nPasswordAuthentication=yes\nMatch User bob\n  PasswordAuthentication no\n",
        );
        assert_eq!(t["permitrootlogin"], "no");
        assert_eq!(t["passwordauthentication"], "yes");
        let dump = sshd_settings(&String::from_utf8(data("sshd-T.txt")).unwrap());
        assert_eq!(dump["permitrootlogin"], "without-password");
        assert_eq!(dump["passwordauthentication"], "yes");
    }

    #[test]
    fn nftables_rulesets_give_the_input_policy() {
        let fw = nft(&data("nft-drop.json")).unwrap();
        assert_eq!(
            (fw.active, fw.input_policy.as_deref()),
            (true, Some("drop"))
        );
        assert!(fw.rules >= 2);
        let empty = nft(br#"{"nftables":[{"metainfo":{"version":"1.0.6"}}]}"#).unwrap();
        assert_eq!((empty.active, empty.input_policy), (false, None));
        assert_eq!(nft(b"\x00junk"), None);
    }

    /// A real ruleset in a network namespace this test makes (`unshare
    /// -rn`, then nft); where the kernel or the machine refuses, the
    /// recorded output of the same ruleset is used instead.
    #[test]
    fn a_real_nftables_ruleset_in_a_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.nft");
        std::fs::write(
            &rules,
            "table inet filter {\n chain input { type filter hook input priority 0; policy drop;\n  iif lo accept\n  tcp dport 22 accept\n }\n}\n",
        )
        .unwrap();
        let script = format!("nft -f {} && nft -j list ruleset", rules.display());
        let output = std::process::Command::new("unshare")
            .args(["-rn", "sh", "-c", &script])
            .output();
        let json = match output {
            Ok(out) if out.status.success() => out.stdout,
            other => {
                eprintln!("no namespace with nftables here ({other:?}): using the recorded output");
                data("nft-drop.json")
            }
        };
        let fw = nft(&json).unwrap();
        assert_eq!(
            (fw.active, fw.input_policy.as_deref()),
            (true, Some("drop"))
        );
        assert!(fw.rules >= 2, "{fw:?}");
        // The same namespace with an accepting input chain.
        let open = "table inet filter { chain input { type filter hook input priority 0; policy accept; } }";
        std::fs::write(&rules, open).unwrap();
        if let Ok(out) = std::process::Command::new("unshare")
            .args(["-rn", "sh", "-c", &script])
            .output()
            && out.status.success()
        {
            let fw = nft(&out.stdout).unwrap();
            assert_eq!(
                (fw.active, fw.input_policy.as_deref()),
                (true, Some("accept"))
            );
        }
    }

    #[test]
    fn iptables_and_ufw() {
        let fw = iptables("-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n").unwrap();
        assert_eq!(
            (fw.active, fw.input_policy.as_deref(), fw.rules),
            (true, Some("drop"), 1)
        );
        let open = iptables("-P INPUT ACCEPT\n").unwrap();
        assert!(!open.active);
        assert_eq!(iptables("iptables: command not found"), None);
        let u = ufw("Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n").unwrap();
        assert_eq!((u.active, u.input_policy.as_deref()), (true, Some("drop")));
        assert!(!ufw("Status: inactive\n").unwrap().active);
    }

    #[test]
    fn lsblk_finds_an_encrypted_root() {
        assert_eq!(lsblk(&data("lsblk-luks.json")), Some((true, 1)));
        assert_eq!(
            lsblk(br#"{"blockdevices":[{"name":"vda","type":"disk","mountpoints":[null],"children":[{"name":"vda1","type":"part","mountpoints":["/"]}]}]}"#),
            Some((false, 0))
        );
    }

    #[test]
    fn timedatectl_and_groups() {
        assert_eq!(
            timedatectl("Timezone=UTC\nNTP=yes\nNTPSynchronized=no\n"),
            Some((false, true))
        );
        assert_eq!(timedatectl("junk"), None);
        let members =
            admin_members("root:x:0:\nsudo:x:27:alice,bob\nwheel:x:10:\nadm:x:4:syslog\nbroken\n");
        assert_eq!(
            members
                .iter()
                .map(|m| format!("{}:{}", m.group, m.user))
                .collect::<Vec<_>>(),
            ["sudo:alice", "sudo:bob"]
        );
    }

    #[test]
    fn proc_net_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F91 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 12346 1\n";
        let ports = listening(tcp, "tcp", false);
        assert_eq!(ports.len(), 1);
        assert_eq!(
            (ports[0].0.address.as_str(), ports[0].0.port, ports[0].1),
            ("127.0.0.1", 8080, 12345)
        );
        let tcp6 = "header\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1\n";
        let ports = listening(tcp6, "tcp", true);
        assert_eq!((ports[0].0.address.as_str(), ports[0].0.port), ("::1", 22));
        assert!(listening("header\ngarbage line\n\u{0}\u{1}", "udp", false).is_empty());
    }
}
