//! The thin I/O shell of the posture checks: runs the tools (through the
//! backup collector's bounded runner: a timeout, capped output, the whole
//! process group killed) and reads the files the parsers in `facts.rs`
//! understand, into [`Facts`]. A tool that is missing, hangs or prints junk
//! leaves its facts out (its checks answer "not applicable").

use super::facts;
use super::rules::Facts;
use crate::command::{Cmd, run};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, SystemTime};
use steward_proto::{GroupMember, ListeningPort};

/// Longest any one tool may take.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_OUTPUT: usize = 1024 * 1024;

async fn tool(program: &str, args: &[&str]) -> Option<Vec<u8>> {
    let mut cmd = Cmd::new(program);
    for arg in args {
        cmd = cmd.arg(arg);
    }
    let out = run(&cmd, TOOL_TIMEOUT, MAX_OUTPUT).await;
    (out.code == Some(0) && !out.truncated).then_some(out.stdout)
}

fn exists(path: &str) -> bool {
    Path::new(path).exists()
}

/// `/etc/ssh/sshd_config` then its `sshd_config.d/*.conf` in name order
/// (Debian's Include is at the top, so the drop-ins win: read them first).
fn sshd_files(root: &Path) -> String {
    let mut text = String::new();
    let dir = root.join("etc/ssh/sshd_config.d");
    let mut drop_ins: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    drop_ins.sort();
    for path in drop_ins.iter().take(64) {
        text.push_str(&read_bounded(path, 256 * 1024));
        text.push('\n');
    }
    text.push_str(&read_bounded(&root.join("etc/ssh/sshd_config"), 256 * 1024));
    text
}

fn read_bounded(path: &Path, max: u64) -> String {
    use std::io::Read;
    let mut text = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(max).read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

async fn ssh(facts: &mut Facts) {
    let installed = exists("/usr/sbin/sshd") || exists("/etc/ssh/sshd_config");
    facts.insert("ssh.server".into(), json!(installed));
    if !installed {
        return;
    }
    let settings = match tool("sshd", &["-T"]).await {
        Some(out) => facts::sshd_settings(&String::from_utf8_lossy(&out)),
        None => facts::sshd_settings(&sshd_files(Path::new("/"))),
    };
    // sshd's defaults when the files say nothing.
    let root = settings
        .get("permitrootlogin")
        .map_or("prohibit-password", String::as_str);
    let password = settings
        .get("passwordauthentication")
        .map_or("yes", String::as_str);
    facts.insert("ssh.permitrootlogin".into(), json!(root));
    facts.insert("ssh.passwordauthentication".into(), json!(password));
}

async fn firewall(facts: &mut Facts) {
    let mut found = None;
    if let Some(out) = tool("nft", &["-j", "list", "ruleset"]).await {
        found = facts::nft(&out).map(|f| ("nftables", f));
    }
    if found.as_ref().is_none_or(|(_, f)| !f.active)
        && let Some(out) = tool("ufw", &["status", "verbose"]).await
        && let Some(f) = facts::ufw(&String::from_utf8_lossy(&out))
        && f.active
    {
        found = Some(("ufw", f));
    }
    if found.as_ref().is_none_or(|(_, f)| !f.active)
        && let Some(out) = tool("iptables", &["-S", "INPUT"]).await
        && let Some(f) = facts::iptables(&String::from_utf8_lossy(&out))
    {
        found = Some(("iptables", f));
    }
    if let Some((tool, f)) = found {
        facts.insert("firewall.tool".into(), json!(tool));
        facts.insert("firewall.active".into(), json!(f.active));
        facts.insert(
            "firewall.input_policy".into(),
            json!(f.input_policy.unwrap_or_else(|| "none".into())),
        );
    }
}

async fn disks(facts: &mut Facts) {
    if let Some(out) = tool("lsblk", &["-J", "-o", "NAME,TYPE,MOUNTPOINTS"]).await
        && let Some((root, crypt)) = facts::lsblk(&out)
    {
        facts.insert("disk.root_encrypted".into(), json!(root));
        facts.insert("disk.crypt_devices".into(), json!(crypt));
        return;
    }
    // No lsblk: device-mapper targets named CRYPT-… are LUKS volumes.
    let crypt = std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| read_bounded(&e.path().join("dm/uuid"), 256).starts_with("CRYPT-"))
        .count();
    facts.insert("disk.crypt_devices".into(), json!(crypt));
}

/// Names of running processes (from /proc/*/comm).
fn running(names: &[&str]) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| names.contains(&read_bounded(&e.path().join("comm"), 64).trim()))
}

fn clamav(facts: &mut Facts, now: SystemTime) {
    let installed = exists("/usr/bin/clamscan") || exists("/usr/sbin/clamd");
    facts.insert("clamav.installed".into(), json!(installed));
    if !installed {
        return;
    }
    facts.insert(
        "clamav.running".into(),
        json!(running(&["clamd", "freshclam"])),
    );
    let newest = ["daily.cld", "daily.cvd"]
        .iter()
        .filter_map(|f| std::fs::metadata(Path::new("/var/lib/clamav").join(f)).ok())
        .filter_map(|m| m.modified().ok())
        .max();
    if let Some(newest) = newest {
        let hours = now
            .duration_since(newest)
            .map_or(0.0, |d| d.as_secs_f64() / 3600.0);
        facts.insert(
            "clamav.signature_age_hours".into(),
            json!((hours * 10.0).round() / 10.0),
        );
    } else {
        facts.insert("clamav.signature_age_hours".into(), json!(1e9));
    }
}

fn updates(facts: &mut Facts) {
    if let Some(detection) = crate::collectors::patching::latest()
        && let Some(updates) = detection.updates
    {
        let security = updates.iter().filter(|u| u.security).count();
        facts.insert("updates.security_pending".into(), json!(security));
    }
}

async fn time(facts: &mut Facts) {
    if let Some(out) = tool("timedatectl", &["show"]).await
        && let Some((synced, ntp)) = facts::timedatectl(&String::from_utf8_lossy(&out))
    {
        facts.insert("time.synchronized".into(), json!(synced));
        facts.insert("time.ntp".into(), json!(ntp));
    } else if running(&["chronyd", "ntpd", "systemd-timesyn"]) {
        // No timedatectl answer (no systemd): a running daemon is the best
        // we can tell.
        facts.insert("time.synchronized".into(), json!(true));
    }
}

/// The administrative groups' members.
pub fn admins() -> Vec<GroupMember> {
    facts::admin_members(&read_bounded(Path::new("/etc/group"), 4 * 1024 * 1024))
}

/// Listening sockets, each with its owning process's name where /proc lets
/// us read it (root sees all; others see their own).
pub fn ports() -> Vec<ListeningPort> {
    let mut found = Vec::new();
    for (file, proto, v6) in [
        ("tcp", "tcp", false),
        ("tcp6", "tcp", true),
        ("udp", "udp", false),
        ("udp6", "udp", true),
    ] {
        let table = read_bounded(&Path::new("/proc/net").join(file), 16 * 1024 * 1024);
        found.extend(facts::listening(&table, proto, v6));
    }
    let mut owners = std::collections::HashMap::new();
    if !found.is_empty() {
        let wanted: std::collections::HashSet<u64> = found.iter().map(|(_, i)| *i).collect();
        'procs: for entry in std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .take(65_536)
        {
            let name = entry.file_name();
            if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten().take(65_536) {
                let Ok(target) = std::fs::read_link(fd.path()) else {
                    continue;
                };
                let target = target.to_string_lossy();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|t| t.strip_suffix(']'))
                    .and_then(|t| t.parse::<u64>().ok())
                    && wanted.contains(&inode)
                {
                    let comm = read_bounded(&entry.path().join("comm"), 64);
                    owners.insert(inode, super::super::clean(comm.trim(), 64));
                    if owners.len() == wanted.len() {
                        break 'procs;
                    }
                }
            }
        }
    }
    let mut ports: Vec<ListeningPort> = found
        .into_iter()
        .map(|(mut port, inode)| {
            port.process = owners.get(&inode).cloned().unwrap_or_default();
            port
        })
        .collect();
    ports.sort();
    ports.dedup();
    ports.truncate(steward_proto::MAX_PORTS);
    ports
}

/// Every fact the built-in checks read.
pub async fn gather(admins: &[GroupMember], ports: &[ListeningPort]) -> Facts {
    let mut facts = Facts::new();
    if cfg!(unix) {
        ssh(&mut facts).await;
    }
    if cfg!(target_os = "linux") {
        firewall(&mut facts).await;
        disks(&mut facts).await;
        clamav(&mut facts, SystemTime::now());
        time(&mut facts).await;
    }
    super::platform::gather(&mut facts).await;
    updates(&mut facts);
    facts.insert("admins.count".into(), json!(admins.len()));
    facts.insert(
        "admins.members".into(),
        Value::Array(
            admins
                .iter()
                .map(|m| json!(format!("{}:{}", m.group, m.user)))
                .collect(),
        ),
    );
    facts.insert("ports.count".into(), json!(ports.len()));
    facts
}
