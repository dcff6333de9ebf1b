//! A representative database: [`populate`] writes something into every
//! table through the `Store` trait only, [`verify`] reads all of it back and
//! checks each value exactly. The fixtures under `fixtures/v0.1/` were
//! written by `populate` on the release that made them; the forward tests of
//! each back end open them with today's code and run `verify`, so a database
//! of that release must migrate forward and read back unchanged.
//!
//! Ids and times are fixed wherever the trait lets the caller choose them.
//! What the store chooses itself (organisation, alert and script ids,
//! notification ids, creation times of organisations and monitors) is looked
//! up by name. One value is the wall clock's: ingest records a device as last
//! seen "now", so the metrics device is then set as seen at [`SEEN_LATER`],
//! after any clock this will run under.
//!
//! `verify` spends one recovery code (to show it is still usable): run it
//! once per copy of a database.

use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use steward_proto::{
    Filesystem, Interface, Inventory, LoggedInUser, Package, PendingUpdate, Point,
};
use steward_store::*;
use uuid::Uuid;

/// The fixture's "now" at writing (seconds): 2025-06-15.
pub const T0: i64 = 1_750_000_000;
/// What `verify` reads at: later than everything written, before every expiry.
pub const NOW: i64 = T0 + 10_000;
/// Expiries that must not pass while the fixture is in use: 2100-01-01.
pub const FOREVER: i64 = 4_102_444_800;
/// When the metrics device was last seen (after any clock ingest reads).
pub const SEEN_LATER: i64 = 4_000_000_000;
/// Days since 1970 of `T0`.
pub const DAY0: i64 = T0 / 86_400;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// The first metric sample (ms), on an hour.
pub const M0: i64 = T0 * 1000 / HOUR * HOUR;
/// One-minute samples per series.
const MINUTES: i64 = 300;

pub const ACME: &str = "acme";
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";
/// The TOTP step `populate` accepts for ana.
pub const TOTP_STEP: i64 = T0 / 30;

/// The fixed ids.
pub mod ids {
    use uuid::Uuid;
    pub const ADMIN: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_1001);
    pub const ANA: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_1002);
    pub const BOB: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_1003);
    pub const GRANT_ADMIN: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_2001);
    pub const GRANT_ANA: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_2002);
    pub const GRANT_ANA_DENY: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_2003);
    pub const GRANT_BOB: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_2004);
    pub const TOKEN_CI: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_3001);
    pub const TOKEN_CLI: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_3002);
    pub const TOKEN_OLD: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_3003);
    pub const ENROLL_SPENT: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_4001);
    pub const ENROLL_REVOKED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_4002);
    pub const ENROLL_LIVE: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_4003);
    pub const WEB: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_5001);
    pub const DB: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_5002);
    pub const GW: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_5003);
    pub const LAPTOP: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_5004);
    pub const MON_DISK: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_6001);
    pub const MON_FORECAST: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_6002);
    pub const MON_OFFLINE: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_6003);
    pub const MON_DELETED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_6004);
    pub const CH_OPS: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_7001);
    pub const CH_PAGER: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_7002);
    pub const CH_LINUX: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_7003);
    pub const CH_WINDOWS: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_7004);
    pub const MAINTENANCE: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_8001);
    pub const SILENCE: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_8002);
    pub const JOB_PATCH: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9001);
    pub const JOB_RESTART: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9002);
    pub const JOB_EXPIRED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9003);
    pub const JOB_CANCELLED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9004);
    pub const JOB_FILE: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9005);
    pub const JOB_QUEUED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9006);
    pub const RUN_PATCH_WEB: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9101);
    pub const RUN_PATCH_LAPTOP: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9102);
    pub const RUN_RESTART_DB: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9201);
    pub const RUN_RESTART_GW: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9202);
    pub const RUN_EXPIRED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9301);
    pub const RUN_CANCELLED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9401);
    pub const RUN_FILE: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9501);
    pub const RUN_QUEUED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_9601);
    pub const SCHEDULE_NIGHTLY: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_a001);
    pub const SCHEDULE_WEEKLY: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_a002);
    pub const SCHEDULE_DELETED: Uuid = Uuid::from_u128(0x5157_0000_0000_0000_0000_0000_0000_a003);
}
use ids::*;

fn ok<T>(result: Result<T>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialisable")
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn web_inventory() -> Inventory {
    Inventory {
        hostname: "web-01.example.net".into(),
        os_name: "Debian GNU/Linux".into(),
        os_version: "12".into(),
        kernel_version: "6.1.0-37-amd64".into(),
        arch: "x86_64".into(),
        cpu_model: "AMD EPYC 7B13".into(),
        cpu_cores: 4,
        memory_total_bytes: 8_589_934_592,
        swap_total_bytes: 1_073_741_824,
        boot_time: T0 - 86_400,
        uptime_secs: 86_400,
        agent_version: "0.1.0".into(),
        filesystems: vec![
            Filesystem {
                mountpoint: "/".into(),
                device: "/dev/sda1".into(),
                fs_type: "ext4".into(),
                total_bytes: 42_949_672_960,
                available_bytes: 21_474_836_480,
            },
            Filesystem {
                mountpoint: "/var".into(),
                device: "/dev/sdb1".into(),
                fs_type: "xfs".into(),
                total_bytes: 107_374_182_400,
                available_bytes: 5_368_709_120,
            },
        ],
        interfaces: vec![Interface {
            name: "eth0".into(),
            mac: "52:54:00:12:34:56".into(),
            addresses: strings(&["10.0.0.11/24", "fe80::5054:ff:fe12:3456/64"]),
        }],
        users: vec![LoggedInUser {
            name: "deploy".into(),
            terminal: "pts/0".into(),
            host: "10.0.0.5".into(),
            since: "2025-06-15 14:00".into(),
        }],
        packages: vec![
            Package {
                name: "nginx".into(),
                version: "1.22.1-9".into(),
                manager: "dpkg".into(),
            },
            Package {
                name: "openssl".into(),
                version: "3.0.15-1~deb12u1".into(),
                manager: "dpkg".into(),
            },
        ],
        updates: Some(vec![
            PendingUpdate {
                name: "openssl".into(),
                current: "3.0.15-1~deb12u1".into(),
                available: "3.0.16-1~deb12u1".into(),
                security: true,
            },
            PendingUpdate {
                name: "tzdata".into(),
                current: "2024b-0+deb12u1".into(),
                available: "2025b-0+deb12u1".into(),
                security: false,
            },
        ]),
    }
}

pub fn db_inventory() -> Inventory {
    Inventory {
        hostname: "db-01.acme.lan".into(),
        os_name: "Ubuntu".into(),
        os_version: "24.04".into(),
        arch: "aarch64".into(),
        cpu_cores: 8,
        memory_total_bytes: 34_359_738_368,
        agent_version: "0.1.0".into(),
        updates: Some(Vec::new()),
        ..Default::default()
    }
}

fn device(id: Uuid, org: Uuid, site: &str, name: &str, tags: &[&str], at: i64) -> NewDevice {
    NewDevice {
        id,
        org_id: org,
        site: site.into(),
        name: name.into(),
        hostname: format!("{name}.lan"),
        tags: strings(tags),
        cert_fingerprint: format!("fp-{name}"),
        enrolled_at: at,
    }
}

/// The metric batches of the web device: one a minute for `MINUTES`
/// minutes, each with CPU (`minute % 10`), memory (0.25) and the root
/// filesystem (0.5).
fn web_batches(org: Uuid) -> Vec<IngestBatch> {
    (0..MINUTES)
        .map(|i| IngestBatch {
            device_id: WEB,
            org_id: org,
            seq: i as u64 + 1,
            ts_ms: M0 + i * MIN,
            points: vec![
                Point {
                    name: "system.cpu.utilization".into(),
                    labels: Default::default(),
                    value: (i % 10) as f64,
                },
                Point {
                    name: "system.memory.utilization".into(),
                    labels: Default::default(),
                    value: 0.25,
                },
                Point {
                    name: "system.filesystem.utilization".into(),
                    labels: [("mountpoint".to_string(), "/".to_string())].into(),
                    value: 0.5,
                },
            ],
        })
        .collect()
}

fn monitor_definitions() -> [(Uuid, &'static str, bool, Value); 4] {
    [
        (
            MON_DISK,
            "disk-full",
            false,
            json!({ "name": "disk-full", "severity": "critical", "spec": { "kind": "threshold", "metric": "system.filesystem.utilization", "above": 0.95, "for_secs": 300 } }),
        ),
        (
            MON_FORECAST,
            "disk-forecast",
            true,
            json!({ "name": "disk-forecast", "severity": "warning", "spec": { "kind": "forecast", "metric": "system.filesystem.utilization", "horizon_secs": 259_200 } }),
        ),
        (
            MON_OFFLINE,
            "offline",
            true,
            json!({ "name": "offline", "severity": "critical", "spec": { "kind": "offline", "after_secs": 300 } }),
        ),
        (
            MON_DELETED,
            "deleted-monitor",
            false,
            json!({ "spec": { "kind": "offline", "after_secs": 60 } }),
        ),
    ]
}

/// Channels: (id, in acme, name, minimum severity, tags).
fn channel_definitions() -> [(Uuid, bool, &'static str, &'static str, Value); 4] {
    [
        (CH_OPS, false, "ops-webhook", "warning", json!([])),
        (CH_PAGER, true, "acme-pager", "critical", json!([])),
        (CH_LINUX, true, "acme-linux", "warning", json!(["linux"])),
        (
            CH_WINDOWS,
            true,
            "acme-windows",
            "warning",
            json!(["windows"]),
        ),
    ]
}

fn channel_config(name: &str, tags: &Value) -> Value {
    json!({ "url": format!("https://hooks.example.net/{name}"), "secret": format!("secret-{name}"), "tags": tags })
}

fn maintenance_definition() -> Value {
    json!({ "name": "patch window", "starts_at": T0 + 3_600, "ends_at": T0 + 7_200, "sites": ["hq"], "tags": [] })
}

fn silence_definition() -> Value {
    json!({ "matchers": { "monitor": "offline", "device": GW.to_string() }, "until": FOREVER, "comment": "gateway being replaced" })
}

fn script_v1() -> Value {
    json!({ "name": "cleanup-tmp", "description": "Removes old files from /tmp", "interpreter": "sh", "body": "find /tmp -mtime +7 -delete", "params": [], "timeout_secs": 60, "run_as": null })
}

fn script_v2() -> Value {
    json!({ "name": "cleanup-tmp", "description": "Removes old files from /tmp and /var/tmp", "interpreter": "sh", "body": "find /tmp /var/tmp -mtime +7 -delete", "params": [{ "name": "days", "default": "7" }], "timeout_secs": 120, "run_as": "root" })
}

fn backup_script() -> Value {
    json!({ "name": "acme-backup", "description": "", "interpreter": "bash", "body": "pg_dumpall > /backup/all.sql", "params": [], "timeout_secs": 3600, "run_as": "postgres" })
}

fn patch_action() -> Value {
    json!({ "kind": "script", "name": "cleanup-tmp", "interpreter": "sh", "body": "find /tmp /var/tmp -mtime +7 -delete", "sha256": "9f2c", "params": { "days": "7" }, "timeout_secs": 120, "run_as": "root" })
}

fn upload_action() -> Value {
    json!({ "kind": "file_put", "path": "/etc/motd", "content_b64": "c2VjcmV0", "sha256": "2bb80d53" })
}

fn kept_upload_action() -> Value {
    json!({ "kind": "file_put", "path": "/etc/motd", "sha256": "2bb80d53", "bytes": 6 })
}

/// The jobs: (id, in acme, name, action, created_at, expires_at, state,
/// origin tag, runs (run, device, initial status, message)).
struct JobDef {
    id: Uuid,
    acme: bool,
    name: &'static str,
    action: Value,
    created_at: i64,
    expires_at: i64,
    state: &'static str,
    origin: Option<String>,
    runs: Vec<(Uuid, Uuid, &'static str, &'static str)>,
}

fn job_definitions(a1: Option<Uuid>) -> Vec<JobDef> {
    vec![
        JobDef {
            id: JOB_PATCH,
            acme: false,
            name: "cleanup-web",
            action: patch_action(),
            created_at: T0 + 700,
            expires_at: FOREVER,
            state: "active",
            origin: None,
            runs: vec![
                (RUN_PATCH_WEB, WEB, "queued", ""),
                (RUN_PATCH_LAPTOP, LAPTOP, "refused", "the device is revoked"),
            ],
        },
        JobDef {
            id: JOB_RESTART,
            acme: true,
            name: "restart-db",
            action: json!({ "kind": "restart_service", "service": "postgresql" }),
            created_at: T0 + 710,
            expires_at: FOREVER,
            state: "pending_approval",
            origin: None,
            runs: vec![
                (RUN_RESTART_DB, DB, "queued", ""),
                (RUN_RESTART_GW, GW, "queued", ""),
            ],
        },
        JobDef {
            id: JOB_EXPIRED,
            acme: true,
            name: "expired-ping",
            action: json!({ "kind": "ping" }),
            created_at: T0 + 720,
            expires_at: T0 + 800,
            state: "active",
            origin: None,
            runs: vec![(RUN_EXPIRED, DB, "queued", "")],
        },
        JobDef {
            id: JOB_CANCELLED,
            acme: true,
            name: "cancelled-reboot",
            action: json!({ "kind": "reboot" }),
            created_at: T0 + 730,
            expires_at: FOREVER,
            state: "active",
            origin: Some(format!("schedule:{SCHEDULE_NIGHTLY}")),
            runs: vec![(RUN_CANCELLED, GW, "queued", "")],
        },
        JobDef {
            id: JOB_FILE,
            acme: false,
            name: "upload-motd",
            action: upload_action(),
            created_at: T0 + 740,
            expires_at: FOREVER,
            state: "active",
            origin: a1.map(|id| format!("alert:{id}")),
            runs: vec![(RUN_FILE, WEB, "queued", "")],
        },
        JobDef {
            id: JOB_QUEUED,
            acme: true,
            name: "collect-inventory",
            action: json!({ "kind": "collect_inventory" }),
            created_at: T0 + 750,
            expires_at: FOREVER,
            state: "active",
            origin: None,
            runs: vec![(RUN_QUEUED, GW, "queued", "")],
        },
    ]
}

#[allow(clippy::too_many_arguments)]
fn change(
    org: Uuid,
    monitor: Uuid,
    monitor_name: &str,
    device: Uuid,
    subject: &str,
    severity: &str,
    at: i64,
    summary: &str,
) -> AlertChange {
    AlertChange {
        org_id: org,
        monitor_id: monitor.to_string(),
        monitor_name: monitor_name.into(),
        device_id: device,
        subject: subject.into(),
        severity: severity.into(),
        at,
        summary: summary.into(),
        notify: true,
        flapping: false,
        suppressed: None,
    }
}

fn grouped_payload(org: Uuid, alert: Uuid) -> String {
    json!({ "grouped": true, "alert_id": alert, "org_id": org, "state": "open", "severity": "warning", "devices": 2, "summary": "2 devices filling up" }).to_string()
}

fn audit_entries(default: Uuid, acme: Uuid) -> Vec<NewAuditEntry> {
    let entry = |org: Option<Uuid>, at, actor: &str, action: &str, target: &str, detail: Value| {
        NewAuditEntry {
            org_id: org,
            at,
            actor: actor.into(),
            source: if actor == "server" {
                "internal".into()
            } else {
                "10.0.0.5".into()
            },
            action: action.into(),
            target: target.into(),
            detail: detail.to_string(),
        }
    };
    vec![
        entry(
            None,
            T0 + 30,
            "server",
            "server.start",
            "",
            json!({ "version": "0.1.0" }),
        ),
        entry(
            Some(default),
            T0 + 31,
            "admin",
            "user.create",
            &format!("user:{ANA}"),
            json!({ "username": "ana", "org": ACME }),
        ),
        entry(
            Some(acme),
            T0 + 32,
            "admin",
            "org.require_totp",
            &format!("org:{acme}"),
            json!({ "before": false, "after": true }),
        ),
        entry(
            Some(acme),
            T0 + 33,
            "ana",
            "job.approve",
            &format!("job:{JOB_RESTART}"),
            json!({ "state": "active" }),
        ),
        entry(
            Some(default),
            T0 + 34,
            "admin",
            "device.revoke",
            &format!("device:{LAPTOP}"),
            json!({ "name": "old-laptop" }),
        ),
    ]
}

/// Writes the fixture into an empty, migrated store.
pub async fn populate(store: &dyn Store) {
    // --- organisations, roles, people --------------------------------
    let default = ok(store.default_org().await, "default org").id;
    let acme = ok(store.create_org(ACME).await, "create org").id;
    ok(
        store.set_org_require_totp(&Scope::all(), acme, true).await,
        "require totp",
    );
    for (id, permissions) in [
        ("owner", vec!["*"]),
        ("admin", vec!["devices.manage", "users.manage", "jobs.run"]),
        ("technician", vec!["devices.view", "jobs.run"]),
        ("read_only", vec!["devices.view"]),
    ] {
        ok(
            store
                .upsert_builtin_role(&RoleRecord {
                    id: id.into(),
                    org_id: None,
                    name: id.into(),
                    permissions: strings(&permissions),
                })
                .await,
            "built-in role",
        );
    }
    ok(
        store
            .create_role(&RoleRecord {
                id: "acme-helpdesk".into(),
                org_id: Some(acme),
                name: "helpdesk".into(),
                permissions: strings(&["devices.view", "jobs.run", "alerts.acknowledge"]),
            })
            .await,
        "custom role",
    );
    for (id, org, name, at) in [
        (ADMIN, default, "admin", T0),
        (ANA, acme, "ana", T0 + 1),
        (BOB, acme, "bob", T0 + 2),
    ] {
        ok(
            store
                .create_user(&NewUser {
                    id,
                    org_id: org,
                    username: name.into(),
                    password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$fixture${name}"),
                    created_at: at,
                })
                .await,
            "user",
        );
    }
    ok(store.set_totp(ANA, Some(TOTP_SECRET), true).await, "totp");
    // Bob started setting TOTP up and has not finished.
    ok(
        store.set_totp(BOB, Some("PENDINGSECRET234"), false).await,
        "totp",
    );
    ok(
        store
            .replace_recovery_codes(ANA, &strings(&["old-1", "old-2"]))
            .await,
        "recovery codes",
    );
    ok(
        store
            .replace_recovery_codes(ANA, &strings(&["rc-hash-1", "rc-hash-2", "rc-hash-3"]))
            .await,
        "recovery codes",
    );
    assert!(ok(
        store.use_recovery_code(ANA, "rc-hash-1", T0 + 60).await,
        "recovery code"
    ));
    assert!(ok(store.claim_totp_step(ANA, TOTP_STEP).await, "totp step"));
    for (id, user, org, site, role, deny) in [
        (GRANT_ADMIN, ADMIN, None, None, "owner", false),
        (GRANT_ANA, ANA, Some(acme), None, "acme-helpdesk", false),
        (
            GRANT_ANA_DENY,
            ANA,
            Some(acme),
            Some("vault"),
            "acme-helpdesk",
            true,
        ),
        (
            GRANT_BOB,
            BOB,
            Some(acme),
            Some("branch"),
            "read_only",
            false,
        ),
    ] {
        ok(
            store
                .create_grant(&NewGrant {
                    id,
                    user_id: user,
                    org_id: org,
                    site: site.map(String::from),
                    role_id: role.into(),
                    deny,
                })
                .await,
            "grant",
        );
    }
    for (id, user, name, at, expires, role, org, site) in [
        (
            TOKEN_CI,
            ANA,
            "ci",
            T0 + 10,
            Some(FOREVER),
            Some("acme-helpdesk"),
            Some(acme),
            Some("hq"),
        ),
        (TOKEN_CLI, ADMIN, "cli", T0 + 11, None, None, None, None),
        (TOKEN_OLD, ADMIN, "old", T0 + 12, None, None, None, None),
    ] {
        ok(
            store
                .create_api_token(&NewApiToken {
                    id,
                    user_id: user,
                    name: name.into(),
                    token_hash: format!("token-hash-{name}"),
                    created_at: at,
                    expires_at: expires,
                    role_id: role.map(String::from),
                    scope_org: org,
                    scope_site: site.map(String::from),
                })
                .await,
            "api token",
        );
    }
    ok(
        store.revoke_api_token(Some(ADMIN), TOKEN_OLD).await,
        "revoke token",
    );
    for (hash, user, mfa_done) in [
        ("session-ana", ANA, true),
        ("session-bob", BOB, false),
        ("session-admin", ADMIN, false),
        ("session-gone", ADMIN, true),
    ] {
        ok(
            store
                .create_session(&NewSession {
                    session_hash: hash.into(),
                    user_id: user,
                    created_at: T0 + 20,
                    expires_at: FOREVER,
                    mfa_done,
                })
                .await,
            "session",
        );
    }
    ok(
        store.complete_session_mfa("session-admin").await,
        "session mfa",
    );
    ok(store.delete_session("session-gone").await, "delete session");

    // --- audit ------------------------------------------------------------
    for entry in audit_entries(default, acme) {
        ok(store.append_audit(&entry).await, "audit");
    }

    // --- enrollment and devices ---------------------------------------------
    for (id, org, site, tags, secret, at, uses) in [
        (
            ENROLL_SPENT,
            default,
            "hq",
            vec!["linux", "web"],
            "enroll-spent",
            T0 + 40,
            Some(1),
        ),
        (
            ENROLL_REVOKED,
            acme,
            "branch",
            vec![],
            "enroll-revoked",
            T0 + 41,
            None,
        ),
        (
            ENROLL_LIVE,
            acme,
            "hq",
            vec!["gateway"],
            "enroll-live",
            T0 + 42,
            Some(5),
        ),
    ] {
        ok(
            store
                .create_enroll_token(&NewEnrollToken {
                    id,
                    org_id: org,
                    site: site.into(),
                    tags: strings(&tags),
                    secret_hash: secret.into(),
                    created_at: at,
                    expires_at: FOREVER,
                    uses_left: uses,
                    created_by: "admin".into(),
                })
                .await,
            "enroll token",
        );
    }
    ok(
        store.consume_enroll_token("enroll-spent", T0 + 50).await,
        "consume enroll token",
    );
    ok(
        store
            .revoke_enroll_token(&Scope::all(), ENROLL_REVOKED)
            .await,
        "revoke enroll token",
    );
    for new in [
        device(WEB, default, "hq", "web-01", &["linux", "web"], T0 + 100),
        device(DB, acme, "branch", "db-01", &["linux", "db"], T0 + 101),
        device(GW, acme, "hq", "gw-01", &["gateway"], T0 + 102),
        device(
            LAPTOP,
            default,
            "branch",
            "old-laptop",
            &["laptop"],
            T0 + 103,
        ),
    ] {
        ok(store.create_device(&new).await, "device");
    }
    // Yesterday's figures: four devices, all offline.
    ok(store.record_fleet_day(DAY0 - 1).await, "fleet day");
    ok(
        store.set_next_fingerprint(WEB, "fp-web-01-next").await,
        "next fingerprint",
    );
    ok(
        store.set_next_fingerprint(LAPTOP, "fp-old-laptop-2").await,
        "next fingerprint",
    );
    ok(store.promote_fingerprint(LAPTOP).await, "promote");
    ok(
        store.set_inventory(WEB, &web_inventory(), T0 + 150).await,
        "inventory",
    );
    ok(
        store.set_inventory(DB, &db_inventory(), T0 + 160).await,
        "inventory",
    );
    assert!(ok(
        store.set_status(WEB, Status::Online, T0 + 200).await,
        "status"
    ));
    assert!(ok(
        store.set_status(DB, Status::Online, T0 + 210).await,
        "status"
    ));
    ok(store.set_last_seen(&[(DB, T0 + 212)]).await, "last seen");
    assert!(ok(
        store.mark_offline_if_stale(DB, T0 + 220, T0 + 215).await,
        "offline"
    ));
    assert!(ok(
        store.set_status(GW, Status::Online, T0 + 230).await,
        "status"
    ));
    ok(store.set_last_seen(&[(GW, T0 + 500)]).await, "last seen");
    ok(
        store.set_upstream(&Scope::all(), DB, Some(GW)).await,
        "upstream",
    );
    ok(
        store
            .set_device_refuses(DB, &strings(&["shell", "files"]))
            .await,
        "refuses",
    );
    ok(
        store.revoke_device(&Scope::all(), LAPTOP).await,
        "revoke device",
    );

    // --- local checks -------------------------------------------------------
    ok(
        store
            .save_check_results(
                DB,
                acme,
                &[CheckResultRecord {
                    name: "ntp".into(),
                    state: "critical".into(),
                    message: "clock off by 12 s".into(),
                    long_output: String::new(),
                    perfdata: json!({ "offset": { "value": 12.0, "uom": "s" } }),
                    at: T0 + 240,
                }],
            )
            .await,
        "check results",
    );
    ok(
        store.save_check_results(DB, acme, &check_results()).await,
        "check results",
    );

    // --- metrics ----------------------------------------------------------
    let batches = web_batches(default);
    for group in batches.chunks(100) {
        let outcomes = ok(store.ingest(group).await, "ingest");
        assert!(outcomes.iter().all(|o| *o == IngestOutcome::Stored));
    }
    let again = ok(
        store.ingest(&[batches[MINUTES as usize - 1].clone()]).await,
        "ingest",
    );
    assert_eq!(again, [IngestOutcome::Duplicate]);
    let refused = IngestBatch {
        device_id: LAPTOP,
        ..batches[0].clone()
    };
    assert_eq!(
        ok(store.ingest(&[refused]).await, "ingest"),
        [IngestOutcome::Refused]
    );
    // Two retention passes leave every series with hourly means (of the
    // first two hours), 5-minute means (of the next two) and raw samples
    // (the last hour).
    const YEARS: i64 = 10 * 365 * 24 * HOUR;
    let first = ok(
        store
            .apply_retention(
                M0 + 130 * MIN,
                &Retention {
                    raw_ms: 10 * MIN,
                    five_minute_ms: 10 * MIN,
                    hourly_ms: YEARS,
                },
            )
            .await,
        "retention",
    );
    assert_eq!(
        first,
        RetentionOutcome {
            rolled_up: 3 * (120 + 24),
            dropped: 0
        }
    );
    let second = ok(
        store
            .apply_retention(
                M0 + MINUTES * MIN,
                &Retention {
                    raw_ms: 60 * MIN,
                    five_minute_ms: YEARS,
                    hourly_ms: YEARS,
                },
            )
            .await,
        "retention",
    );
    assert_eq!(
        second,
        RetentionOutcome {
            rolled_up: 3 * 120,
            dropped: 0
        }
    );
    ok(store.set_last_seen(&[(WEB, SEEN_LATER)]).await, "last seen");

    // --- monitors, channels, noise, alerts ----------------------------------
    for (id, name, in_acme, definition) in monitor_definitions() {
        ok(
            store
                .create_monitor(&MonitorRecord {
                    id,
                    org_id: if in_acme { acme } else { default },
                    name: name.into(),
                    definition,
                })
                .await,
            "monitor",
        );
    }
    ok(
        store.delete_monitor(&Scope::all(), MON_DELETED).await,
        "delete monitor",
    );
    for (id, in_acme, name, min, tags) in channel_definitions() {
        ok(
            store
                .create_channel(&ChannelRecord {
                    id,
                    org_id: if in_acme { acme } else { default },
                    name: name.into(),
                    kind: "webhook".into(),
                    config: channel_config(name, &tags),
                    min_severity: min.into(),
                    pending: 0,
                    last_error: None,
                })
                .await,
            "channel",
        );
    }
    ok(
        store
            .create_noise_rule(&NoiseRule {
                id: MAINTENANCE,
                org_id: default,
                kind: Some(NoiseKind::Maintenance),
                definition: maintenance_definition(),
                created_by: "admin".into(),
                created_at: T0 + 260,
            })
            .await,
        "maintenance",
    );
    ok(
        store
            .create_noise_rule(&NoiseRule {
                id: SILENCE,
                org_id: acme,
                kind: Some(NoiseKind::Silence),
                definition: silence_definition(),
                created_by: "ana".into(),
                created_at: T0 + 261,
            })
            .await,
        "silence",
    );
    let record = |c: AlertChange| async move {
        ok(store.record_alert_change(&c).await, "alert change").expect("an alert")
    };
    let a1 = record(change(
        default,
        MON_DISK,
        "disk-full",
        WEB,
        "/",
        "critical",
        T0 + 300,
        "/ is 97% full",
    ))
    .await;
    ok(
        store
            .append_alert_event(
                a1,
                T0 + 305,
                &json!({ "event": "remediation", "job_id": JOB_FILE, "script": "cleanup-tmp" }),
            )
            .await,
        "alert event",
    );
    let a2 = record(AlertChange {
        flapping: true,
        ..change(
            acme,
            MON_FORECAST,
            "disk-forecast",
            DB,
            "/var",
            "warning",
            T0 + 310,
            "/var full in 3 days",
        )
    })
    .await;
    ok(
        store
            .enqueue_notification(acme, a2, "warning", &grouped_payload(acme, a2), T0 + 315)
            .await,
        "grouped notification",
    );
    ok(
        store
            .acknowledge_alert(&Scope::all(), a2, "ana", T0 + 320)
            .await,
        "acknowledge",
    );
    let offline = |severity: &str, at: i64, summary: &str| {
        change(acme, MON_OFFLINE, "offline", DB, "", severity, at, summary)
    };
    let a3 = record(offline("critical", T0 + 330, "db-01 is offline")).await;
    assert_eq!(
        record(offline("warning", T0 + 335, "db-01 is flapping")).await,
        a3
    );
    assert_eq!(record(offline("ok", T0 + 340, "db-01 is back")).await, a3);
    let a4 = record(AlertChange {
        suppressed: Some("dependency".into()),
        ..change(
            acme,
            MON_OFFLINE,
            "offline",
            GW,
            "",
            "critical",
            T0 + 350,
            "gw-01 is offline",
        )
    })
    .await;
    ok(
        store
            .resolve_alert(&Scope::all(), a4, "admin", T0 + 360)
            .await,
        "resolve",
    );
    let due = ok(store.due_notifications(T0 + 400, 100).await, "due");
    assert_eq!(due.len(), 8, "notifications queued");
    let sent = due
        .iter()
        .find(|n| n.channel.name == "ops-webhook")
        .expect("the ops notification");
    ok(store.notification_sent(sent.id, T0 + 400).await, "sent");
    let failing = due
        .iter()
        .find(|n| n.channel.name == "acme-windows")
        .expect("the windows notification");
    ok(
        store
            .notification_failed(failing.id, "HTTP 500", T0 + 900)
            .await,
        "failed",
    );

    // --- automation -----------------------------------------------------
    ok(
        store
            .save_script(default, "cleanup-tmp", &script_v1(), "admin", T0 + 600)
            .await,
        "script",
    );
    ok(
        store
            .save_script(default, "cleanup-tmp", &script_v2(), "ana", T0 + 610)
            .await,
        "script",
    );
    ok(
        store
            .save_script(acme, "acme-backup", &backup_script(), "ana", T0 + 620)
            .await,
        "script",
    );
    let doomed = ok(
        store
            .save_script(acme, "deleted-script", &json!({}), "ana", T0 + 630)
            .await,
        "script",
    );
    ok(
        store.delete_script(&Scope::all(), doomed.id).await,
        "delete script",
    );
    for job in job_definitions(Some(a1)) {
        ok(
            store
                .create_job(&NewJob {
                    id: job.id,
                    org_id: if job.acme { acme } else { default },
                    name: job.name.into(),
                    action: job.action,
                    selector: json!({ "devices": job.runs.iter().map(|r| r.1).collect::<Vec<_>>() }),
                    policy: json!({ "max_concurrent": 10, "stop_after_failures": 3 }),
                    created_at: job.created_at,
                    created_by: if job.acme { "ana" } else { "admin" }.into(),
                    expires_at: job.expires_at,
                    state: job.state.into(),
                    origin: job.origin,
                    runs: job
                        .runs
                        .iter()
                        .map(|(run, dev, status, message)| {
                            (*run, *dev, status.to_string(), message.to_string())
                        })
                        .collect(),
                })
                .await,
            "job",
        );
    }
    ok(
        store
            .set_job_state(&Scope::all(), JOB_RESTART, "active", Some("admin"))
            .await,
        "approve",
    );
    ok(store.mark_sent(&[RUN_PATCH_WEB], T0 + 705).await, "sent");
    ok(
        store
            .mark_sent(&[RUN_RESTART_DB, RUN_RESTART_GW], T0 + 715)
            .await,
        "sent",
    );
    ok(store.mark_sent(&[RUN_FILE], T0 + 740).await, "sent");
    let report = |run, device, status: &str, at| RunReport {
        run_id: run,
        device_id: device,
        status: status.into(),
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
        message: String::new(),
        started_at: Some(at),
        duration_ms: None,
        at,
    };
    let outcomes = ok(
        store
            .apply_run_reports(&[
                report(RUN_PATCH_WEB, WEB, "running", T0 + 706),
                report(RUN_RESTART_DB, DB, "running", T0 + 716),
            ])
            .await,
        "reports",
    );
    assert_eq!(outcomes, [ReportOutcome::Applied, ReportOutcome::Applied]);
    let outcomes = ok(
        store
            .apply_run_reports(&[
                RunReport {
                    exit_code: Some(0),
                    stdout: "removed 3 files\n".into(),
                    started_at: None,
                    duration_ms: Some(1500),
                    ..report(RUN_PATCH_WEB, WEB, "succeeded", T0 + 708)
                },
                RunReport {
                    exit_code: Some(2),
                    stdout: "c2VjcmV0".into(),
                    stderr: "permission denied".into(),
                    truncated: true,
                    message: "exit 2".into(),
                    started_at: Some(T0 + 741),
                    duration_ms: Some(20),
                    ..report(RUN_FILE, WEB, "failed", T0 + 742)
                },
            ])
            .await,
        "reports",
    );
    assert_eq!(outcomes, [ReportOutcome::Applied, ReportOutcome::Applied]);
    ok(
        store
            .forget_file_content(JOB_FILE, &kept_upload_action(), "not kept: 8 bytes")
            .await,
        "forget",
    );
    assert_eq!(
        ok(store.expire_runs(T0 + 801).await, "expire"),
        [JOB_EXPIRED]
    );
    ok(
        store
            .set_job_state(&Scope::all(), JOB_CANCELLED, "cancelled", None)
            .await,
        "cancel",
    );
    assert_eq!(
        ok(
            store
                .cancel_queued(JOB_CANCELLED, "cancelled by ana", T0 + 735)
                .await,
            "cancel"
        ),
        1
    );
    for schedule in schedules(default, acme) {
        ok(store.create_schedule(&schedule).await, "schedule");
    }
    ok(
        store.delete_schedule(&Scope::all(), SCHEDULE_DELETED).await,
        "delete schedule",
    );
    assert!(ok(
        store
            .claim_schedule(
                SCHEDULE_NIGHTLY,
                T0 + 86_400,
                Some(T0 + 86_400),
                T0 + 2 * 86_400
            )
            .await,
        "claim"
    ));

    // --- fleet --------------------------------------------------------------
    assert_eq!(
        ok(
            store
                .change_tags(
                    &Scope::all(),
                    &[WEB, DB],
                    &strings(&["patched"]),
                    &strings(&["web"])
                )
                .await,
            "tags"
        ),
        2
    );
    ok(store.record_fleet_day(DAY0).await, "fleet day");
}

fn check_results() -> Vec<CheckResultRecord> {
    vec![
        CheckResultRecord {
            name: "disk-space".into(),
            state: "warning".into(),
            message: "/var at 91%".into(),
            long_output: "/var: 91% used\n/: 40% used".into(),
            perfdata: json!({ "/var": { "value": 91.0, "uom": "%", "warn": 90.0, "crit": 95.0 } }),
            at: T0 + 250,
        },
        CheckResultRecord {
            name: "ntp".into(),
            state: "ok".into(),
            message: "clock in sync".into(),
            long_output: String::new(),
            perfdata: json!({ "offset": { "value": 0.002, "uom": "s" } }),
            at: T0 + 251,
        },
    ]
}

fn schedules(default: Uuid, acme: Uuid) -> Vec<ScheduleRecord> {
    vec![
        ScheduleRecord {
            id: SCHEDULE_NIGHTLY,
            org_id: acme,
            name: "nightly-inventory".into(),
            timing: json!({ "cron": "0 2 * * *", "timezone": "Europe/Paris", "missed": "skip" }),
            job: json!({ "name": "inventory", "action": { "kind": "collect_inventory" }, "selector": { "sites": ["hq"] } }),
            enabled: true,
            next_run_at: T0 + 86_400,
            last_run_at: None,
            created_by: "ana".into(),
        },
        ScheduleRecord {
            id: SCHEDULE_WEEKLY,
            org_id: default,
            name: "weekly-cleanup".into(),
            timing: json!({ "every_minutes": 10_080, "timezone": "UTC", "missed": "run_once" }),
            job: json!({ "name": "cleanup", "script": "cleanup-tmp", "selector": { "tags": ["linux"] } }),
            enabled: false,
            next_run_at: T0 + 604_800,
            last_run_at: Some(T0),
            created_by: "admin".into(),
        },
        ScheduleRecord {
            id: SCHEDULE_DELETED,
            org_id: default,
            name: "deleted-schedule".into(),
            timing: json!({ "every_minutes": 5 }),
            job: json!({}),
            enabled: true,
            next_run_at: T0,
            last_run_at: None,
            created_by: "admin".into(),
        },
    ]
}

/// A summary of a device as `verify` expects it.
struct ExpectedDevice {
    id: Uuid,
    org: Uuid,
    site: &'static str,
    name: &'static str,
    hostname: &'static str,
    os: &'static str,
    tags: &'static [&'static str],
    status: Status,
    status_since: Option<i64>,
    last_seen: Option<i64>,
    revoked: bool,
    headline: (Option<f64>, Option<f64>, Option<f64>),
    refuses: &'static [&'static str],
    enrolled_at: i64,
    stored_seq: u64,
    inventory: Option<(i64, Inventory)>,
}

fn expected_devices(default: Uuid, acme: Uuid) -> Vec<ExpectedDevice> {
    vec![
        ExpectedDevice {
            id: DB,
            org: acme,
            site: "branch",
            name: "db-01",
            hostname: "db-01.acme.lan",
            os: "Ubuntu 24.04",
            tags: &["linux", "db", "patched"],
            status: Status::Offline,
            status_since: Some(T0 + 220),
            last_seen: Some(T0 + 212),
            revoked: false,
            headline: (None, None, None),
            refuses: &["shell", "files"],
            enrolled_at: T0 + 101,
            stored_seq: 0,
            inventory: Some((T0 + 160, db_inventory())),
        },
        ExpectedDevice {
            id: GW,
            org: acme,
            site: "hq",
            name: "gw-01",
            hostname: "gw-01.lan",
            os: "",
            tags: &["gateway"],
            status: Status::Online,
            status_since: Some(T0 + 230),
            last_seen: Some(T0 + 500),
            revoked: false,
            headline: (None, None, None),
            refuses: &[],
            enrolled_at: T0 + 102,
            stored_seq: 0,
            inventory: None,
        },
        ExpectedDevice {
            id: LAPTOP,
            org: default,
            site: "branch",
            name: "old-laptop",
            hostname: "old-laptop.lan",
            os: "",
            tags: &["laptop"],
            status: Status::Offline,
            status_since: None,
            last_seen: None,
            revoked: true,
            headline: (None, None, None),
            refuses: &[],
            enrolled_at: T0 + 103,
            stored_seq: 0,
            inventory: None,
        },
        ExpectedDevice {
            id: WEB,
            org: default,
            site: "hq",
            name: "web-01",
            hostname: "web-01.example.net",
            os: "Debian GNU/Linux 12",
            tags: &["linux", "patched"],
            status: Status::Online,
            status_since: Some(T0 + 200),
            last_seen: Some(SEEN_LATER),
            revoked: false,
            headline: (Some(9.0), Some(0.25), Some(0.5)),
            refuses: &[],
            enrolled_at: T0 + 100,
            stored_seq: MINUTES as u64,
            inventory: Some((T0 + 150, web_inventory())),
        },
    ]
}

fn check_summary(got: &DeviceSummary, want: &ExpectedDevice) {
    let name = want.name;
    assert_eq!(got.id, want.id, "{name}");
    assert_eq!(got.org_id, want.org, "{name}");
    assert_eq!(got.site, want.site, "{name}");
    assert_eq!(got.name, want.name);
    assert_eq!(got.hostname, want.hostname, "{name}");
    assert_eq!(got.os, want.os, "{name}");
    assert_eq!(got.tags, strings(want.tags), "{name}");
    assert_eq!(got.status, want.status, "{name}");
    assert_eq!(got.status_since, want.status_since, "{name}");
    assert_eq!(got.last_seen, want.last_seen, "{name}");
    assert_eq!(got.revoked, want.revoked, "{name}");
    assert_eq!(
        (
            got.cpu_utilization,
            got.memory_utilization,
            got.disk_utilization
        ),
        want.headline,
        "{name}"
    );
    assert_eq!(got.refuses, strings(want.refuses), "{name}");
}

/// Reads the fixture back and checks every value (see the module's note:
/// it spends one recovery code).
pub async fn verify(store: &dyn Store) {
    let all = Scope::all();

    // --- organisations, roles, people --------------------------------
    let default = ok(store.default_org().await, "default org");
    let acme = ok(store.org_by_name(&all, ACME).await, "acme");
    let orgs: Vec<(Uuid, String)> = ok(store.list_orgs(&all).await, "orgs")
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    assert_eq!(
        orgs,
        [
            (acme.id, "acme".to_string()),
            (default.id, "default".to_string())
        ]
    );
    let (default, acme) = (default.id, acme.id);
    assert_eq!(
        to_json(&ok(store.list_roles(&all).await, "roles")),
        json!([
            { "id": "admin", "org_id": null, "name": "admin", "permissions": ["devices.manage", "users.manage", "jobs.run"] },
            { "id": "owner", "org_id": null, "name": "owner", "permissions": ["*"] },
            { "id": "read_only", "org_id": null, "name": "read_only", "permissions": ["devices.view"] },
            { "id": "technician", "org_id": null, "name": "technician", "permissions": ["devices.view", "jobs.run"] },
            { "id": "acme-helpdesk", "org_id": acme, "name": "helpdesk", "permissions": ["devices.view", "jobs.run", "alerts.acknowledge"] },
        ])
    );
    assert_eq!(
        ok(store.role("acme-helpdesk").await, "role").org_id,
        Some(acme)
    );
    assert_eq!(ok(store.user_count().await, "users"), 3);
    assert_eq!(
        to_json(&ok(store.list_users(&all).await, "users")),
        json!([
            { "id": ADMIN, "org_id": default, "username": "admin", "totp_enabled": false },
            { "id": ANA, "org_id": acme, "username": "ana", "totp_enabled": true },
            { "id": BOB, "org_id": acme, "username": "bob", "totp_enabled": false },
        ])
    );
    for (name, id, org, secret, enabled, required) in [
        ("admin", ADMIN, default, None, false, false),
        ("ana", ANA, acme, Some(TOTP_SECRET), true, true),
        ("bob", BOB, acme, Some("PENDINGSECRET234"), false, true),
    ] {
        let user = ok(store.user_by_name(name).await, "user by name");
        assert_eq!(
            (
                user.id,
                user.org_id,
                user.username.as_str(),
                user.password_hash.clone(),
                user.totp_secret.as_deref(),
                user.totp_enabled,
                user.org_requires_totp
            ),
            (
                id,
                org,
                name,
                format!("$argon2id$v=19$m=19456,t=2,p=1$fixture${name}"),
                secret,
                enabled,
                required
            ),
            "{name}"
        );
        assert_eq!(ok(store.user_by_id(id).await, "user by id").username, name);
    }
    // The step accepted is remembered: it and earlier ones are refused.
    assert!(!ok(
        store.claim_totp_step(ANA, TOTP_STEP).await,
        "totp step"
    ));
    // The used recovery code stays used; the replaced ones are gone; an
    // unused one still works (spent here).
    assert!(!ok(
        store.use_recovery_code(ANA, "rc-hash-1", NOW).await,
        "rc"
    ));
    assert!(!ok(store.use_recovery_code(ANA, "old-1", NOW).await, "rc"));
    assert!(ok(
        store.use_recovery_code(ANA, "rc-hash-3", NOW).await,
        "rc"
    ));

    // Grants, through the principals (in no particular order).
    let grants = |principal: &Principal| {
        let mut list: Vec<Value> = principal.grants.iter().map(to_json).collect();
        list.sort_by_key(|g| g.to_string());
        list
    };
    let helpdesk = json!(["devices.view", "jobs.run", "alerts.acknowledge"]);
    let mut ana_grants = vec![
        json!({ "org_id": acme, "site": null, "role_id": "acme-helpdesk", "permissions": helpdesk, "deny": false }),
        json!({ "org_id": acme, "site": "vault", "role_id": "acme-helpdesk", "permissions": helpdesk, "deny": true }),
    ];
    ana_grants.sort_by_key(|g| g.to_string());
    let ci = ok(store.principal_for_token("token-hash-ci", NOW).await, "ci");
    assert_eq!(
        (ci.user_id, ci.username.as_str(), ci.org_id, ci.mfa_done),
        (ANA, "ana", acme, true)
    );
    assert_eq!(grants(&ci), ana_grants);
    let limit = ci.token.expect("a token limit");
    assert_eq!(
        (
            limit.token_id,
            limit.permissions,
            limit.org_id,
            limit.site.as_deref(),
            limit.role_id.as_deref(),
            limit.expires_at
        ),
        (
            TOKEN_CI,
            Some(strings(&["devices.view", "jobs.run", "alerts.acknowledge"])),
            Some(acme),
            Some("hq"),
            Some("acme-helpdesk"),
            Some(FOREVER)
        )
    );
    let cli = ok(
        store.principal_for_token("token-hash-cli", NOW).await,
        "cli",
    );
    assert_eq!((cli.user_id, cli.mfa_done), (ADMIN, true));
    assert_eq!(
        grants(&cli),
        [
            json!({ "org_id": null, "site": null, "role_id": "owner", "permissions": ["*"], "deny": false })
        ]
    );
    let limit = cli.token.expect("a token limit");
    assert_eq!(
        (
            limit.token_id,
            limit.permissions,
            limit.org_id,
            limit.site,
            limit.role_id,
            limit.expires_at
        ),
        (TOKEN_CLI, None, None, None, None, None)
    );
    assert!(
        store
            .principal_for_token("token-hash-old", NOW)
            .await
            .is_err()
    );
    assert!(
        store
            .principal_for_token("token-hash-ci", FOREVER)
            .await
            .is_err(),
        "expired"
    );
    assert_eq!(
        to_json(&ok(store.list_api_tokens(ADMIN).await, "tokens")),
        json!([
            { "id": TOKEN_CLI, "user_id": ADMIN, "name": "cli", "created_at": T0 + 11, "expires_at": null, "revoked": false, "role_id": null },
            { "id": TOKEN_OLD, "user_id": ADMIN, "name": "old", "created_at": T0 + 12, "expires_at": null, "revoked": true, "role_id": null },
        ])
    );
    assert_eq!(
        to_json(&ok(store.list_api_tokens(ANA).await, "tokens")),
        json!([
            { "id": TOKEN_CI, "user_id": ANA, "name": "ci", "created_at": T0 + 10, "expires_at": FOREVER, "revoked": false, "role_id": "acme-helpdesk" },
        ])
    );
    let bob = ok(store.principal_for_user(BOB).await, "bob");
    assert_eq!(
        grants(&bob),
        [
            json!({ "org_id": acme, "site": "branch", "role_id": "read_only", "permissions": ["devices.view"], "deny": false })
        ]
    );
    // Sessions: ana's presented a second factor; bob's owes one (acme
    // requires it); admin's completed one later.
    for (hash, user, mfa_done) in [
        ("session-ana", ANA, true),
        ("session-bob", BOB, false),
        ("session-admin", ADMIN, true),
    ] {
        let principal = ok(store.principal_for_session(hash, NOW).await, hash);
        assert_eq!(
            (principal.user_id, principal.mfa_done),
            (user, mfa_done),
            "{hash}"
        );
        assert!(
            store.principal_for_session(hash, FOREVER).await.is_err(),
            "{hash} expires"
        );
    }
    assert!(
        store
            .principal_for_session("session-gone", NOW)
            .await
            .is_err()
    );

    // --- audit ----------------------------------------------------------
    let entries = ok(store.audit_entries(&all, 0, 100).await, "audit");
    assert_eq!(verify_audit_chain(&entries, AUDIT_GENESIS), Ok(5));
    let written = audit_entries(default, acme);
    assert_eq!(entries.len(), written.len());
    for (got, want) in entries.iter().zip(&written) {
        assert_eq!(
            (
                got.org_id,
                got.at,
                &got.actor,
                &got.source,
                &got.action,
                &got.target,
                &got.detail
            ),
            (
                want.org_id,
                want.at,
                &want.actor,
                &want.source,
                &want.action,
                &want.target,
                &want.detail
            )
        );
    }
    let acme_recent = ok(
        store.audit_recent(&Scope::org(acme), i64::MAX, 10).await,
        "audit",
    );
    assert_eq!(acme_recent.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 3]);

    // --- enrollment -----------------------------------------------------
    assert_eq!(
        to_json(&ok(store.list_enroll_tokens(&all).await, "enroll tokens")),
        json!([
            { "id": ENROLL_SPENT, "org_id": default, "site": "hq", "tags": ["linux", "web"], "created_at": T0 + 40, "expires_at": FOREVER, "uses_left": 0, "revoked": false },
            { "id": ENROLL_REVOKED, "org_id": acme, "site": "branch", "tags": [], "created_at": T0 + 41, "expires_at": FOREVER, "uses_left": null, "revoked": true },
            { "id": ENROLL_LIVE, "org_id": acme, "site": "hq", "tags": ["gateway"], "created_at": T0 + 42, "expires_at": FOREVER, "uses_left": 5, "revoked": false },
        ])
    );
    for secret in ["enroll-spent", "enroll-revoked"] {
        assert!(
            matches!(
                store.consume_enroll_token(secret, NOW).await,
                Err(StoreError::Refused(_))
            ),
            "{secret}"
        );
    }

    // --- devices --------------------------------------------------------
    let expected = expected_devices(default, acme);
    let listed = ok(store.list_devices(&all).await, "devices");
    assert_eq!(listed.len(), expected.len());
    for (got, want) in listed.iter().zip(&expected) {
        check_summary(got, want);
        let detail = ok(store.get_device(&all, want.id).await, "device");
        check_summary(&detail.summary, want);
        assert_eq!(detail.enrolled_at, want.enrolled_at, "{}", want.name);
        assert_eq!(detail.stored_seq, want.stored_seq, "{}", want.name);
        assert_eq!(ok(store.stored_seq(want.id).await, "seq"), want.stored_seq);
        assert_eq!(
            detail.inventory_at.zip(detail.inventory),
            want.inventory.clone(),
            "{}",
            want.name
        );
    }
    let in_acme: Vec<Uuid> = ok(store.list_devices(&Scope::org(acme)).await, "devices")
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(in_acme, [DB, GW]);
    for (fingerprint, id, revoked, rotated) in [
        ("fp-web-01", WEB, false, false),
        ("fp-web-01-next", WEB, false, true),
        ("fp-old-laptop-2", LAPTOP, true, false),
        ("fp-db-01", DB, false, false),
    ] {
        let auth = ok(store.device_by_fingerprint(fingerprint).await, fingerprint);
        assert_eq!(
            (auth.id, auth.revoked, auth.rotated),
            (id, revoked, rotated),
            "{fingerprint}"
        );
    }
    assert!(
        store.device_by_fingerprint("fp-old-laptop").await.is_err(),
        "the promoted fingerprint replaced the old one"
    );
    let mut statuses = ok(store.device_statuses().await, "statuses");
    statuses.sort_by_key(|s| s.0);
    assert_eq!(
        statuses,
        [
            (WEB, Status::Online),
            (DB, Status::Offline),
            (GW, Status::Online)
        ]
    );
    assert_eq!(ok(store.stale_online(NOW).await, "stale"), [GW]);
    let history = |id| async move {
        ok(store.status_history(&Scope::all(), id).await, "history")
            .into_iter()
            .map(|c| (c.device_id, c.from, c.to, c.at))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        history(DB).await,
        [
            (DB, Status::Offline, Status::Online, T0 + 210),
            (DB, Status::Online, Status::Offline, T0 + 220)
        ]
    );
    assert_eq!(
        history(WEB).await,
        [(WEB, Status::Offline, Status::Online, T0 + 200)]
    );
    assert!(history(LAPTOP).await.is_empty());
    assert_eq!(ok(store.upstreams().await, "upstreams"), [(DB, GW)]);
    assert_eq!(
        to_json(&ok(store.check_results(&all, DB).await, "checks")),
        to_json(&check_results())
    );
    assert!(ok(store.check_results(&all, WEB).await, "checks").is_empty());

    // --- metrics ----------------------------------------------------------
    let query = |name: &str| MetricQuery {
        device_id: WEB,
        name: name.into(),
        from_ms: 0,
        to_ms: i64::MAX,
    };
    // Hourly means of the first two hours, 5-minute means of the next two,
    // raw samples of the last hour.
    let expected_samples = |value: &dyn Fn(i64) -> f64, five: [f64; 2], hourly: f64| {
        let mut samples = vec![
            (M0 + 29 * MIN + MIN / 2, hourly),
            (M0 + 89 * MIN + MIN / 2, hourly),
        ];
        samples.extend((0..24).map(|k| (M0 + 122 * MIN + k * 5 * MIN, five[(k % 2) as usize])));
        samples.extend((240..MINUTES).map(|i| (M0 + i * MIN, value(i))));
        samples
    };
    for (name, labels, samples) in [
        (
            "system.cpu.utilization",
            BTreeMap::new(),
            expected_samples(&|i| (i % 10) as f64, [2.0, 7.0], 4.5),
        ),
        (
            "system.memory.utilization",
            BTreeMap::new(),
            expected_samples(&|_| 0.25, [0.25, 0.25], 0.25),
        ),
        (
            "system.filesystem.utilization",
            [("mountpoint".to_string(), "/".to_string())].into(),
            expected_samples(&|_| 0.5, [0.5, 0.5], 0.5),
        ),
    ] {
        let series = ok(store.query_metric(&all, &query(name)).await, "query");
        assert_eq!(series.len(), 1, "{name}");
        assert_eq!(series[0].name, name);
        assert_eq!(series[0].labels, labels, "{name}");
        assert_eq!(series[0].samples, samples, "{name}");
    }
    let part = ok(
        store
            .query_metric(
                &all,
                &MetricQuery {
                    from_ms: M0 + 250 * MIN,
                    to_ms: M0 + 252 * MIN,
                    ..query("system.cpu.utilization")
                },
            )
            .await,
        "query",
    );
    assert_eq!(
        part[0].samples,
        [
            (M0 + 250 * MIN, 0.0),
            (M0 + 251 * MIN, 1.0),
            (M0 + 252 * MIN, 2.0)
        ]
    );
    assert!(
        ok(
            store
                .query_metric(&Scope::org(acme), &query("system.cpu.utilization"))
                .await,
            "query"
        )
        .is_empty(),
        "another organisation's metrics"
    );
    let stats = ok(store.storage_stats().await, "stats");
    assert_eq!(
        (stats.series, stats.chunks, stats.samples),
        (3, 9, 3 * (2 + 24 + 60)),
        "{stats:?}"
    );
    assert!(stats.chunk_bytes > 0);

    // --- monitors, noise, channels ----------------------------------------
    let monitors = ok(store.list_monitors(&all).await, "monitors");
    let defs = monitor_definitions();
    let want: Vec<Value> = [&defs[1], &defs[0], &defs[2]]
        .iter()
        .map(|(id, name, in_acme, definition)| {
            json!({ "id": id, "org_id": if *in_acme { acme } else { default }, "name": name, "definition": definition })
        })
        .collect();
    assert_eq!(to_json(&monitors), Value::Array(want));
    let rules =
        |kind| async move { ok(store.list_noise_rules(&Scope::all(), kind).await, "noise") };
    let maintenance = rules(NoiseKind::Maintenance).await;
    assert_eq!(
        to_json(&maintenance),
        json!([{ "id": MAINTENANCE, "org_id": default, "definition": maintenance_definition(), "created_by": "admin", "created_at": T0 + 260 }])
    );
    assert_eq!(maintenance[0].kind, Some(NoiseKind::Maintenance));
    let silences = rules(NoiseKind::Silence).await;
    assert_eq!(
        to_json(&silences),
        json!([{ "id": SILENCE, "org_id": acme, "definition": silence_definition(), "created_by": "ana", "created_at": T0 + 261 }])
    );
    assert_eq!(silences[0].kind, Some(NoiseKind::Silence));
    let channels = ok(store.list_channels(&all).await, "channels");
    let got: Vec<(Uuid, Uuid, &str, &str, &Value, &str, u64, Option<&str>)> = channels
        .iter()
        .map(|c| {
            (
                c.id,
                c.org_id,
                c.name.as_str(),
                c.kind.as_str(),
                &c.config,
                c.min_severity.as_str(),
                c.pending,
                c.last_error.as_deref(),
            )
        })
        .collect();
    let configs: BTreeMap<&str, Value> = channel_definitions()
        .iter()
        .map(|(_, _, name, _, tags)| (*name, channel_config(name, tags)))
        .collect();
    assert_eq!(
        got,
        [
            (
                CH_LINUX,
                acme,
                "acme-linux",
                "webhook",
                &configs["acme-linux"],
                "warning",
                5,
                None
            ),
            (
                CH_PAGER,
                acme,
                "acme-pager",
                "webhook",
                &configs["acme-pager"],
                "critical",
                1,
                None
            ),
            (
                CH_WINDOWS,
                acme,
                "acme-windows",
                "webhook",
                &configs["acme-windows"],
                "warning",
                1,
                Some("HTTP 500")
            ),
            (
                CH_OPS,
                default,
                "ops-webhook",
                "webhook",
                &configs["ops-webhook"],
                "warning",
                0,
                None
            ),
        ]
    );

    // --- alerts ------------------------------------------------------------
    let alerts = ok(store.list_alerts(&all, false).await, "alerts");
    let by_monitor = |monitor: Uuid, device: Uuid| {
        alerts
            .iter()
            .find(|a| a.monitor_id == monitor.to_string() && a.device_id == device)
            .unwrap_or_else(|| panic!("an alert of {monitor} on {device}"))
            .id
    };
    let (a1, a2, a3, a4) = (
        by_monitor(MON_DISK, WEB),
        by_monitor(MON_FORECAST, DB),
        by_monitor(MON_OFFLINE, DB),
        by_monitor(MON_OFFLINE, GW),
    );
    let alert = |id: Uuid,
                 org: Uuid,
                 monitor: Uuid,
                 monitor_name: &str,
                 device: Uuid,
                 device_name: &str,
                 subject: &str| {
        json!({ "id": id, "org_id": org, "monitor_id": monitor.to_string(), "monitor_name": monitor_name, "device_id": device, "device_name": device_name, "subject": subject })
    };
    let mut want = vec![
        alert(a4, acme, MON_OFFLINE, "offline", GW, "gw-01", ""),
        alert(a3, acme, MON_OFFLINE, "offline", DB, "db-01", ""),
        alert(a2, acme, MON_FORECAST, "disk-forecast", DB, "db-01", "/var"),
        alert(a1, default, MON_DISK, "disk-full", WEB, "web-01", "/"),
    ];
    let rest = [
        json!({ "state": "resolved", "severity": "critical", "summary": "gw-01 is offline", "opened_at": T0 + 350, "updated_at": T0 + 360, "acknowledged_by": null, "acknowledged_at": null, "resolved_at": T0 + 360, "flapping": false, "suppressed": "dependency" }),
        json!({ "state": "resolved", "severity": "warning", "summary": "db-01 is back", "opened_at": T0 + 330, "updated_at": T0 + 340, "acknowledged_by": null, "acknowledged_at": null, "resolved_at": T0 + 340, "flapping": false, "suppressed": null }),
        json!({ "state": "acknowledged", "severity": "warning", "summary": "/var full in 3 days", "opened_at": T0 + 310, "updated_at": T0 + 320, "acknowledged_by": "ana", "acknowledged_at": T0 + 320, "resolved_at": null, "flapping": true, "suppressed": null }),
        json!({ "state": "open", "severity": "critical", "summary": "/ is 97% full", "opened_at": T0 + 300, "updated_at": T0 + 300, "acknowledged_by": null, "acknowledged_at": null, "resolved_at": null, "flapping": false, "suppressed": null }),
    ];
    for (alert, rest) in want.iter_mut().zip(rest) {
        alert
            .as_object_mut()
            .expect("an object")
            .extend(rest.as_object().expect("an object").clone());
    }
    assert_eq!(to_json(&alerts), Value::Array(want.clone()));
    assert_eq!(
        to_json(&ok(store.list_alerts(&all, true).await, "alerts")),
        json!([want[2], want[3]])
    );
    assert_eq!(
        to_json(&ok(store.device_open_alerts(DB).await, "open alerts")),
        json!([want[2]])
    );
    assert_eq!(
        ok(store.suppression_counts(&all).await, "suppressed"),
        [("dependency".to_string(), 1)]
    );
    // Histories: what happened, then each notification as it stands (in
    // time order; notifications of one moment in channel order).
    let history = |id: Uuid| async move {
        let mut events = ok(
            store.alert_history(&Scope::all(), id).await,
            "alert history",
        );
        events.sort_by_key(|e| {
            (
                e.at,
                e.event["event"] == "notification",
                e.event["channel"].as_str().unwrap_or_default().to_string(),
            )
        });
        events
            .into_iter()
            .map(|e| json!([e.at, e.event]))
            .collect::<Vec<_>>()
    };
    let notification = |at: i64,
                        channel: &str,
                        state: &str,
                        status: &str,
                        attempts: u32,
                        error: Option<&str>| {
        json!([at, { "event": "notification", "channel": channel, "kind": "webhook", "state": state, "status": status, "attempts": attempts, "error": error }])
    };
    assert_eq!(
        history(a1).await,
        [
            json!([T0 + 300, { "event": "opened", "severity": "critical", "summary": "/ is 97% full", "flapping": false, "notified": true }]),
            json!([T0 + 305, { "event": "remediation", "job_id": JOB_FILE, "script": "cleanup-tmp" }]),
            notification(T0 + 400, "ops-webhook", "open", "sent", 1, None),
        ]
    );
    assert_eq!(
        history(a2).await,
        [
            json!([T0 + 310, { "event": "opened", "severity": "warning", "summary": "/var full in 3 days", "flapping": true, "notified": true }]),
            notification(T0 + 310, "acme-linux", "open", "queued", 0, None),
            notification(T0 + 315, "acme-linux", "open", "queued", 0, None),
            notification(
                T0 + 315,
                "acme-windows",
                "open",
                "retrying",
                1,
                Some("HTTP 500")
            ),
            json!([T0 + 320, { "event": "acknowledged", "by": "ana" }]),
        ]
    );
    assert_eq!(
        history(a3).await,
        [
            json!([T0 + 330, { "event": "opened", "severity": "critical", "summary": "db-01 is offline", "flapping": false, "notified": true }]),
            notification(T0 + 330, "acme-linux", "open", "queued", 0, None),
            notification(T0 + 330, "acme-pager", "open", "queued", 0, None),
            json!([T0 + 335, { "event": "severity_changed", "from": "critical", "to": "warning", "summary": "db-01 is flapping", "flapping": false, "notified": true }]),
            notification(T0 + 335, "acme-linux", "open", "queued", 0, None),
            json!([T0 + 340, { "event": "resolved", "summary": "db-01 is back", "flapping": false, "notified": true }]),
            notification(T0 + 340, "acme-linux", "resolved", "queued", 0, None),
        ]
    );
    assert_eq!(
        history(a4).await,
        [
            json!([T0 + 350, { "event": "opened", "severity": "critical", "summary": "gw-01 is offline", "flapping": false, "notified": false, "suppressed": "dependency" }]),
            json!([T0 + 360, { "event": "resolved", "by": "admin" }]),
        ]
    );
    // The outbox: what is still to send, with its payload.
    let payload = |alert: Uuid,
                   monitor: Uuid,
                   name: &str,
                   subject: &str,
                   severity: &str,
                   flapping: bool,
                   summary: &str,
                   at: i64| {
        json!({ "alert_id": alert, "org_id": acme, "monitor": name, "monitor_id": monitor.to_string(), "device_id": DB, "subject": subject, "severity": severity, "state": if severity == "ok" { "resolved" } else { "open" }, "flapping": flapping, "summary": summary, "at": at })
    };
    let grouped: Value = serde_json::from_str(&grouped_payload(acme, a2)).expect("json");
    let a2_payload = payload(
        a2,
        MON_FORECAST,
        "disk-forecast",
        "/var",
        "warning",
        true,
        "/var full in 3 days",
        T0 + 310,
    );
    let offline = |severity, summary, at| {
        payload(a3, MON_OFFLINE, "offline", "", severity, false, summary, at)
    };
    let mut due: Vec<(String, Value, u32)> = ok(store.due_notifications(NOW, 100).await, "due")
        .into_iter()
        .map(|n| {
            (
                n.channel.name,
                serde_json::from_str(&n.payload).expect("a JSON payload"),
                n.attempts,
            )
        })
        .collect();
    due.sort_by_key(|(channel, payload, _)| (channel.clone(), payload.to_string()));
    let mut want = vec![
        ("acme-linux".to_string(), a2_payload, 0),
        ("acme-linux".to_string(), grouped.clone(), 0),
        ("acme-windows".to_string(), grouped, 1),
        (
            "acme-pager".to_string(),
            offline("critical", "db-01 is offline", T0 + 330),
            0,
        ),
        (
            "acme-linux".to_string(),
            offline("critical", "db-01 is offline", T0 + 330),
            0,
        ),
        (
            "acme-linux".to_string(),
            offline("warning", "db-01 is flapping", T0 + 335),
            0,
        ),
        (
            "acme-linux".to_string(),
            offline("ok", "db-01 is back", T0 + 340),
            0,
        ),
    ];
    want.sort_by_key(|(channel, payload, _)| (channel.clone(), payload.to_string()));
    assert_eq!(due, want);
    assert_eq!(
        ok(store.due_notifications(T0 + 899, 100).await, "due").len(),
        6,
        "the failed one waits for its retry"
    );

    // --- automation -----------------------------------------------------
    let scripts = ok(store.list_scripts(&all).await, "scripts");
    let script_row = |s: &ScriptRecord| {
        (
            s.org_id,
            s.name.clone(),
            s.version,
            s.definition.clone(),
            s.updated_at,
            s.updated_by.clone(),
        )
    };
    assert_eq!(
        scripts.iter().map(script_row).collect::<Vec<_>>(),
        [
            (
                acme,
                "acme-backup".to_string(),
                1,
                backup_script(),
                T0 + 620,
                "ana".to_string()
            ),
            (
                default,
                "cleanup-tmp".to_string(),
                2,
                script_v2(),
                T0 + 610,
                "ana".to_string()
            ),
        ]
    );
    let cleanup = ok(store.get_script(&all, "cleanup-tmp").await, "script");
    assert_eq!(script_row(&cleanup), script_row(&scripts[1]));
    assert_eq!(
        ok(
            store.get_script(&all, &cleanup.id.to_string()).await,
            "script"
        )
        .name,
        "cleanup-tmp"
    );
    assert_eq!(
        to_json(&ok(
            store.script_versions(&all, cleanup.id).await,
            "versions"
        )),
        json!([
            { "version": 2, "definition": script_v2(), "created_at": T0 + 610, "created_by": "ana" },
            { "version": 1, "definition": script_v1(), "created_at": T0 + 600, "created_by": "admin" },
        ])
    );
    assert!(matches!(
        store.get_script(&all, "deleted-script").await,
        Err(StoreError::NotFound)
    ));

    let jobs = ok(store.list_jobs(&all, 100).await, "jobs");
    let definitions = job_definitions(Some(a1));
    assert_eq!(
        jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        definitions.iter().rev().map(|j| j.id).collect::<Vec<_>>(),
        "newest first"
    );
    let counts = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>()
    };
    let job_expectations: [(&[(&str, u64)], &str, Option<&str>); 6] = [
        (&[("refused", 1), ("succeeded", 1)], "active", None),
        (&[("running", 1), ("sent", 1)], "active", Some("admin")),
        (&[("expired", 1)], "active", None),
        (&[("cancelled", 1)], "cancelled", None),
        (&[("failed", 1)], "active", None),
        (&[("queued", 1)], "active", None),
    ];
    for (def, (run_counts, state, approved_by)) in definitions.iter().zip(job_expectations) {
        let job = ok(store.get_job(&all, def.id).await, "job");
        let org = if def.acme { acme } else { default };
        let action = if def.id == JOB_FILE {
            kept_upload_action()
        } else {
            def.action.clone()
        };
        assert_eq!(
            to_json(&job),
            json!({
                "id": def.id, "org_id": org, "name": def.name, "action": action,
                "selector": { "devices": def.runs.iter().map(|r| r.1).collect::<Vec<_>>() },
                "policy": { "max_concurrent": 10, "stop_after_failures": 3 },
                "created_at": def.created_at, "created_by": if def.acme { "ana" } else { "admin" },
                "expires_at": def.expires_at, "state": state, "approved_by": approved_by,
                "origin": def.origin, "counts": counts(run_counts),
            }),
            "{}",
            def.name
        );
    }
    let run = |run: Uuid, device: Uuid, name: &str, status: &str| json!({ "run_id": run, "device_id": device, "device_name": name, "status": status });
    let runs_of = |job: Uuid| async move {
        ok(store.job_runs(&Scope::all(), job).await, "runs")
            .iter()
            .map(to_json)
            .collect::<Vec<_>>()
    };
    let with = |mut base: Value, job: Uuid, rest: Value| {
        let object = base.as_object_mut().expect("an object");
        object.insert("job_id".into(), json!(job));
        object.extend(rest.as_object().expect("an object").clone());
        base
    };
    let nothing = json!({ "exit_code": null, "stdout": "", "stderr": "", "truncated": false, "message": "", "sent_at": null, "started_at": null, "finished_at": null, "duration_ms": null });
    let merge = |rest: Value| {
        let mut base = nothing.clone();
        base.as_object_mut()
            .expect("an object")
            .extend(rest.as_object().expect("an object").clone());
        base
    };
    assert_eq!(
        runs_of(JOB_PATCH).await,
        [
            with(
                run(RUN_PATCH_LAPTOP, LAPTOP, "old-laptop", "refused"),
                JOB_PATCH,
                merge(json!({ "message": "the device is revoked", "finished_at": T0 + 700 }))
            ),
            with(
                run(RUN_PATCH_WEB, WEB, "web-01", "succeeded"),
                JOB_PATCH,
                merge(
                    json!({ "exit_code": 0, "stdout": "removed 3 files\n", "sent_at": T0 + 705, "started_at": T0 + 706, "finished_at": T0 + 708, "duration_ms": 1500 })
                )
            ),
        ]
    );
    assert_eq!(
        runs_of(JOB_RESTART).await,
        [
            with(
                run(RUN_RESTART_DB, DB, "db-01", "running"),
                JOB_RESTART,
                merge(json!({ "sent_at": T0 + 715, "started_at": T0 + 716 }))
            ),
            with(
                run(RUN_RESTART_GW, GW, "gw-01", "sent"),
                JOB_RESTART,
                merge(json!({ "sent_at": T0 + 715 }))
            ),
        ]
    );
    assert_eq!(
        runs_of(JOB_EXPIRED).await,
        [with(
            run(RUN_EXPIRED, DB, "db-01", "expired"),
            JOB_EXPIRED,
            merge(
                json!({ "message": "the device did not connect before the job expired", "finished_at": T0 + 801 })
            )
        )]
    );
    assert_eq!(
        runs_of(JOB_CANCELLED).await,
        [with(
            run(RUN_CANCELLED, GW, "gw-01", "cancelled"),
            JOB_CANCELLED,
            merge(json!({ "message": "cancelled by ana", "finished_at": T0 + 735 }))
        )]
    );
    let file_run = with(
        run(RUN_FILE, WEB, "web-01", "failed"),
        JOB_FILE,
        merge(
            json!({ "exit_code": 2, "stdout": "not kept: 8 bytes", "stderr": "permission denied", "truncated": true, "message": "exit 2", "sent_at": T0 + 740, "started_at": T0 + 741, "finished_at": T0 + 742, "duration_ms": 20 }),
        ),
    );
    assert_eq!(runs_of(JOB_FILE).await, [file_run.clone()]);
    assert_eq!(
        runs_of(JOB_QUEUED).await,
        [with(
            run(RUN_QUEUED, GW, "gw-01", "queued"),
            JOB_QUEUED,
            nothing.clone()
        )]
    );
    let web_runs: Vec<Value> = ok(store.device_runs(&all, WEB, 10).await, "device runs")
        .iter()
        .map(to_json)
        .collect();
    assert_eq!(web_runs.len(), 2);
    assert_eq!(web_runs[0], file_run, "newest first");
    assert_eq!(web_runs[1]["run_id"], json!(RUN_PATCH_WEB));
    let to_send: Vec<(Uuid, Uuid, Uuid, String, i64, i64)> =
        ok(store.runs_to_send(None, None, NOW).await, "to send")
            .into_iter()
            .map(|r| {
                (
                    r.run_id,
                    r.job_id,
                    r.device_id,
                    r.status,
                    r.created_at,
                    r.expires_at,
                )
            })
            .collect();
    assert_eq!(
        to_send,
        [
            (
                RUN_RESTART_GW,
                JOB_RESTART,
                GW,
                "sent".to_string(),
                T0 + 710,
                FOREVER
            ),
            (
                RUN_QUEUED,
                JOB_QUEUED,
                GW,
                "queued".to_string(),
                T0 + 750,
                FOREVER
            ),
        ]
    );
    let pending = ok(
        store.runs_to_send(None, Some(JOB_QUEUED), NOW).await,
        "to send",
    );
    assert_eq!(
        (pending[0].action.clone(), pending[0].policy.clone()),
        (
            json!({ "kind": "collect_inventory" }),
            json!({ "max_concurrent": 10, "stop_after_failures": 3 })
        )
    );

    let schedules_now = ok(store.list_schedules(&all).await, "schedules");
    let mut want = schedules(default, acme);
    want.truncate(2);
    want[0].last_run_at = Some(T0 + 86_400);
    want[0].next_run_at = T0 + 2 * 86_400;
    assert_eq!(to_json(&schedules_now), to_json(&want));
    assert_eq!(
        to_json(&ok(store.due_schedules(T0 + 3 * 86_400).await, "due")),
        to_json(&[&want[0]])
    );

    // --- fleet --------------------------------------------------------------
    let today = FleetCounts {
        devices: 3,
        online: 2,
        offline: 1,
        alerts_critical: 1,
        alerts_warning: 1,
        forecast_full: 1,
        failing_checks: 1,
        missing_updates: 1,
        security_updates: 1,
    };
    assert_eq!(ok(store.fleet_counts(&all).await, "counts"), today);
    let yesterday = |devices| FleetCounts {
        devices,
        offline: devices,
        ..Default::default()
    };
    assert_eq!(
        ok(store.fleet_history(&all, 0).await, "fleet history"),
        [
            FleetDay {
                day: DAY0 - 1,
                counts: yesterday(4)
            },
            FleetDay {
                day: DAY0,
                counts: today
            }
        ]
    );
    assert_eq!(
        ok(
            store.fleet_history(&Scope::org(acme), DAY0).await,
            "fleet history"
        ),
        [FleetDay {
            day: DAY0,
            counts: FleetCounts {
                devices: 2,
                online: 1,
                offline: 1,
                alerts_warning: 1,
                forecast_full: 1,
                failing_checks: 1,
                ..Default::default()
            }
        }]
    );
    let page = ok(
        store
            .device_page(
                &all,
                &DeviceQuery {
                    include_revoked: true,
                    ..Default::default()
                },
            )
            .await,
        "page",
    );
    assert_eq!(page.total, 4);
    assert_eq!(
        page.items
            .iter()
            .map(|d| (d.summary.name.as_str(), d.open_alerts))
            .collect::<Vec<_>>(),
        [("db-01", 1), ("gw-01", 0), ("old-laptop", 0), ("web-01", 1)]
    );
    let updates = ok(
        store
            .device_page(
                &all,
                &DeviceQuery {
                    missing_updates: true,
                    ..Default::default()
                },
            )
            .await,
        "page",
    );
    assert_eq!(
        updates
            .items
            .iter()
            .map(|d| d.summary.id)
            .collect::<Vec<_>>(),
        [WEB]
    );
    let patched = ok(
        store
            .device_page(
                &all,
                &DeviceQuery {
                    tag: Some("patched".into()),
                    ..Default::default()
                },
            )
            .await,
        "page",
    );
    assert_eq!(patched.total, 2);
}

/// Suite check: the fixture written into a fresh store reads back.
pub async fn a_populated_store_reads_back(store: std::sync::Arc<dyn Store>) {
    populate(store.as_ref()).await;
    verify(store.as_ref()).await;
}
