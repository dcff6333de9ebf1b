//! The parsers and classifiers on recorded outputs, broken ones included.

use super::*;
use std::cmp::Ordering;
use steward_proto::RepoOrigin;

/// `apt-cache policy` on a bookworm host (abridged), recorded.
const SOURCES: &str = "Package files:
 100 /var/lib/dpkg/status
     release a=now
 500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
     release v=12,o=Debian,a=stable-security,n=bookworm-security,l=Debian-Security,c=main,b=amd64
     origin deb.debian.org
 500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
     release v=12-updates,o=Debian,a=stable-updates,n=bookworm-updates,l=Debian,c=main,b=amd64
     origin deb.debian.org
 500 http://deb.debian.org/debian bookworm/main amd64 Packages
     release v=12.11,o=Debian,a=stable,n=bookworm,l=Debian,c=main,b=amd64
     origin deb.debian.org
 500 http://archive.ubuntu.com/ubuntu jammy-security/main amd64 Packages
     release v=22.04,o=Ubuntu,a=jammy-security,n=jammy,l=Ubuntu,c=main,b=amd64
     origin archive.ubuntu.com
Pinned packages:
";

const SIMULATION: &str = "NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
Reading package lists...
Building dependency tree...
Inst libssl3 [3.0.11-1~deb12u2] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12-updates/stable-updates [all])
Inst newpkg (1.0 Debian:12.11/stable [amd64])
Inst libc6:i386 [2.36-9] (2.36-9+deb12u9 Debian:12.11/stable [i386]) []
Conf libssl3 (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst broken
Inst (nothing)
";

const POLICIES: &str = "libssl3:
  Installed: 3.0.11-1~deb12u2
  Candidate: 3.0.13-1~deb12u1
  Version table:
     3.0.13-1~deb12u1 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 3.0.11-1~deb12u2 100
        100 /var/lib/dpkg/status
tzdata:
  Installed: 2024a-0+deb12u1
  Candidate: 2025b-0+deb12u1
  Version table:
     2025b-0+deb12u1 500
        500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
     2024b-0+deb12u1 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 2024a-0+deb12u1 100
        100 /var/lib/dpkg/status
     2023c-8 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
";

#[test]
fn apt_classifies_by_origin_and_finds_hidden_security_versions() {
    let upgrades = apt::parse_simulation(SIMULATION, 100);
    assert_eq!(upgrades.len(), 4, "{upgrades:?}");
    let updates = apt::pending(
        upgrades,
        &apt::parse_sources(SOURCES),
        &apt::parse_policies(POLICIES),
    );
    let by_name = |n: &str| updates.iter().find(|u| u.name == n).unwrap();
    let ssl = by_name("libssl3");
    assert!(ssl.security);
    assert_eq!(ssl.rule, "label Debian-Security");
    assert_eq!(
        ssl.origin.as_ref().unwrap(),
        &RepoOrigin {
            origin: "Debian".into(),
            label: "Debian-Security".into(),
            codename: "bookworm-security".into(),
            archive: "stable-security".into(),
            site: "deb.debian.org".into(),
        }
    );
    assert_eq!(
        (ssl.current.as_str(), ssl.available.as_str()),
        ("3.0.11-1~deb12u2", "3.0.13-1~deb12u1")
    );
    // The candidate is from -updates, but a security version lies between.
    let tz = by_name("tzdata");
    assert!(tz.security);
    assert_eq!(
        tz.rule,
        "security version 2024b-0+deb12u1 (label Debian-Security) hidden behind a newer candidate"
    );
    assert_eq!(tz.origin.as_ref().unwrap().archive, "stable-updates");
    // No policy: classified from the simulation's own release names.
    let new = by_name("newpkg");
    assert!(!new.security && new.rule.is_empty() && new.current.is_empty());
    assert_eq!(new.origin.as_ref().unwrap().archive, "stable");
    let libc = by_name("libc6:i386");
    assert_eq!((libc.arch.as_str(), libc.security), ("i386", false));
}

#[test]
fn apt_rules_cover_ubuntu_and_plain_suites() {
    let rule = |o: &str, l: &str, n: &str, a: &str| {
        apt::security_rule(&RepoOrigin {
            origin: o.into(),
            label: l.into(),
            codename: n.into(),
            archive: a.into(),
            site: String::new(),
        })
    };
    assert_eq!(
        rule("Ubuntu", "Ubuntu", "jammy", "jammy-security").as_deref(),
        Some("origin Ubuntu, archive jammy-security")
    );
    assert_eq!(rule("Ubuntu", "Ubuntu", "jammy", "jammy-updates"), None);
    assert_eq!(
        rule("Example", "Example", "bookworm-security", "stable").as_deref(),
        Some("codename bookworm-security")
    );
    assert_eq!(rule("Debian", "Debian", "bookworm", "stable"), None);
    // Ubuntu's security pocket through the simulation only (Label:archive).
    let upgrades = apt::parse_simulation(
        "Inst openssl [3.0.2-0ubuntu1.15] (3.0.2-0ubuntu1.18 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])\n",
        10,
    );
    let updates = apt::pending(upgrades, &Default::default(), &Default::default());
    assert_eq!(updates[0].rule, "archive jammy-security");
}

#[test]
fn apt_survives_hostile_and_huge_output() {
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&format!(
            "Inst lib{i}+odd.name~x [1.{i}-1] (1.{i}-2 Debian-Security:12/stable-security [amd64])\n"
        ));
    }
    text.push_str("Inst \u{1b}[31mevil\u{7} [\u{0}] (9 \u{202e}x:y/z [a])\nInst [ ( ]\nInst a (\nInst b [1 (2\n");
    text.push_str(&"x".repeat(100_000));
    let upgrades = apt::parse_simulation(&text, 100_000);
    assert_eq!(upgrades.len(), 10_001);
    let evil = &upgrades[10_000];
    assert!(!evil.name.chars().any(char::is_control));
    let updates = apt::pending(upgrades, &Default::default(), &Default::default());
    assert!(updates[..10_000].iter().all(|u| u.security));
    assert_eq!(updates[42].name, "lib42+odd.name~x");
    // Garbage where policies belong parses to nothing useful, no panic.
    let garbage = "::\n:\n  Installed:\n  Version table:\n *** \n        500\n\u{0}:\n     x\n";
    let _ = apt::parse_policies(garbage);
    let _ = apt::parse_sources(garbage);
    assert!(apt::is_locked(
        "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)"
    ));
}

#[test]
fn dnf_lists_updates_and_advisories() {
    let check = "Last metadata expiration check: 0:12:01 ago on Sun 01 Dec 2024.\n\n\
kernel.x86_64                     5.14.0-427.el9          baseos\n\
openssl.x86_64                    1:3.0.7-27.el9          baseos\n\
a-very-long-package-name-indeed.noarch\n\
                                  2.1-3.el9               appstream\n\
Obsoleting Packages\n\
grub2.noarch 1:2.06 baseos\n";
    let mut updates = dnf::parse_check_update(check, 100);
    let names: Vec<&str> = updates.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        ["kernel", "openssl", "a-very-long-package-name-indeed"]
    );
    assert_eq!(updates[2].available, "2.1-3.el9");
    // dnf4 and dnf5 advisory lists.
    let dnf4 = "RHSA-2024:1234 Important/Sec. openssl-1:3.0.7-27.el9.x86_64\nRHBA-2024:1 bugfix foo-1-1.x86_64\n";
    let dnf5 = "Name                Type     Severity  Package                      Issued\nFEDORA-2024-abc     security Moderate  kernel-5.14.0-427.el9.x86_64 2024-01-01 00:00:00\n";
    let mut advisories = dnf::parse_advisories(dnf4);
    advisories.extend(dnf::parse_advisories(dnf5));
    dnf::apply_advisories(&mut updates, &advisories);
    assert_eq!(
        updates[1].rule,
        "dnf advisory RHSA-2024:1234 severity Important"
    );
    assert_eq!(
        (updates[0].advisory.as_str(), updates[0].severity.as_str()),
        ("FEDORA-2024-abc", "Moderate")
    );
    assert!(!updates[2].security);
}

#[test]
fn needs_restarting_is_read_by_its_exit_code() {
    let text = "Core libraries or services have been updated since boot-up:\n  * kernel\n  * systemd\n\nReboot is required to fully utilize these updates.\n";
    assert_eq!(
        dnf::needs_restarting(Some(1), text),
        (
            Some(true),
            vec!["kernel".to_string(), "systemd".to_string()]
        )
    );
    // Present, exit 0: no reboot, whatever it printed (Tactical RMM read
    // "the command exists" as "reboot required").
    let none = "No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n";
    assert_eq!(dnf::needs_restarting(Some(0), none), (Some(false), vec![]));
    assert_eq!(dnf::needs_restarting(Some(0), text).0, Some(false));
    assert_eq!(dnf::needs_restarting(Some(2), text).0, None);
    assert_eq!(dnf::needs_restarting(None, "").0, None);
}

fn deb(a: &str, b: &str) -> Ordering {
    steward_proto::version::compare_debian(a, b)
}

#[test]
fn kernel_upgrade_without_the_flag_file_still_needs_a_reboot() {
    // Debian: a kernel upgrade touches no flag file.
    let evidence = reboot::Evidence {
        running_kernel: "6.1.0-25-amd64".into(),
        installed_kernels: vec![
            "6.1.0-25-amd64".into(),
            "6.1.0-26-amd64".into(),
            "6.1.0-9-amd64".into(),
            "6.1.0-99-cloud-amd64".into(),
        ],
        ..Default::default()
    };
    let state = reboot::decide(&evidence, deb);
    assert_eq!(state.required, Some(true));
    assert_eq!(state.newest_kernel, "6.1.0-26-amd64");
    assert_eq!(state.reasons[0].source, "kernel");
    assert_eq!(
        state.reasons[0].detail,
        "running kernel 6.1.0-25-amd64, newest installed 6.1.0-26-amd64"
    );
    // A kernel of another flavour is not an upgrade of this one, and a
    // running kernel with no image here (a container) proves nothing.
    let current = reboot::Evidence {
        running_kernel: "6.1.0-26-amd64".into(),
        ..evidence.clone()
    };
    assert_eq!(reboot::decide(&current, deb).required, Some(false));
    let container = reboot::Evidence {
        running_kernel: "6.8.0-45-generic".into(),
        ..evidence
    };
    assert_eq!(reboot::decide(&container, deb).required, None);
    assert_eq!(reboot::flavour("5.14.0-427.el9.x86_64"), "");
    assert_eq!(reboot::flavour("6.8.0-45-generic"), "generic");
}

#[test]
fn flag_file_and_needrestart_give_their_reasons() {
    let evidence = reboot::Evidence {
        flag: true,
        flag_packages: Some("libc6\n\nlibssl3\n".into()),
        needrestart: Some(reboot::parse_needrestart(
            "NEEDRESTART-VER: 3.6\nNEEDRESTART-KCUR: 6.1.0-25-amd64\nNEEDRESTART-KEXP: 6.1.0-26-amd64\nNEEDRESTART-KSTA: 3\nNEEDRESTART-SVC: ssh.service\nNEEDRESTART-SVC: cron.service\nNEEDRESTART-KSTA: banana\n",
        )),
        ..Default::default()
    };
    let state = reboot::decide(&evidence, deb);
    assert_eq!(state.required, Some(true));
    assert_eq!(state.packages, ["libc6", "libssl3"]);
    let sources: Vec<&str> = state.reasons.iter().map(|r| r.source.as_str()).collect();
    assert_eq!(sources, ["flag_file"]);
    // The malformed second KSTA line wins nothing: state unknown.
    let nr = reboot::parse_needrestart("NEEDRESTART-KSTA: 3\nNEEDRESTART-SVC: ssh.service\n");
    assert_eq!(nr.services, ["ssh.service"]);
    let state = reboot::decide(
        &reboot::Evidence {
            needrestart: Some(nr),
            ..Default::default()
        },
        deb,
    );
    assert_eq!(state.reasons[0].source, "needrestart");
    assert_eq!(
        reboot::decide(&reboot::Evidence::default(), deb).required,
        None
    );
}

#[test]
fn last_upgrade_comes_from_dpkg_log_in_utc() {
    let log = "2025-12-01 09:00:00 startup archives unpack\n\
2025-12-01 09:00:01 upgrade libssl3:amd64 3.0.11-1~deb12u2 3.0.13-1~deb12u1\n\
2025-12-01 09:00:02 status half-configured libssl3:amd64 3.0.13-1~deb12u1\n\
2025-12-01 09:00:03 status installed libssl3:amd64 3.0.13-1~deb12u1\n\
2025-12-01 10:00:00 install newpkg:amd64 <none> 1.0\n\
2025-12-01 10:00:01 status installed newpkg:amd64 1.0\n\
garbage \u{0} line\n";
    // Written at 10:00:01 local = 09:00:01 UTC (local time is UTC+1).
    let mtime = 1_764_579_601; // 2025-12-01T09:00:01Z
    assert_eq!(reboot::last_upgrade(log, mtime), Some(1_764_579_603 - 3600));
    assert_eq!(
        reboot::last_upgrade("2025-12-01 10:00:01 install x 1 2\n", mtime),
        None
    );
    assert_eq!(reboot::last_upgrade("", 0), None);
}

#[test]
fn proc_locks_name_the_holder() {
    let table = "1: POSIX  ADVISORY  WRITE 4242 08:01:131090 0 EOF\n1: -> POSIX  ADVISORY  WRITE 4343 08:01:131090 0 EOF\n2: FLOCK  ADVISORY  WRITE 77 00:19:12 0 EOF\n";
    assert_eq!(locks::holder(table, 8, 1, 131_090), Some(4242));
    assert_eq!(locks::holder(table, 0, 0x19, 12), Some(77));
    assert_eq!(locks::holder(table, 8, 1, 1), None);
    assert_eq!(locks::holder("garbage\n1: : : :\n", 8, 1, 1), None);
}

#[tokio::test]
async fn a_hung_package_manager_times_out_with_a_status() {
    // An apt configuration that makes apt-get run a command that never
    // ends is hard to arrange; a command that outlives the deadline shows
    // the same path.
    let deadline = Instant::now() + Duration::from_millis(300);
    let started = std::time::Instant::now();
    let failure = run("sleep", &["30"], None, deadline).await.unwrap_err();
    assert!(matches!(failure, Failure::TimedOut));
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut status = PatchStatus::default();
    failure.record("apt-get -s dist-upgrade", &mut status);
    assert_eq!(status.state, DetectionState::TimedOut);
    assert!(matches!(
        run(
            "steward-no-such-tool",
            &[],
            None,
            deadline + Duration::from_secs(5)
        )
        .await,
        Err(Failure::Missing)
    ));
}
