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

mod data;
mod populate;
mod verify;
mod verify_work;

use serde::Serialize;
use serde_json::Value;
use steward_store::*;

pub use data::{db_inventory, web_inventory};
pub use populate::populate;
pub use verify::verify;

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

/// Suite check: the fixture written into a fresh store reads back.
pub async fn a_populated_store_reads_back(store: std::sync::Arc<dyn Store>) {
    populate(store.as_ref()).await;
    verify(store.as_ref()).await;
}
