//! Steward's alerting core, pure: state machines fed with samples and clock
//! readings (Unix milliseconds passed in, never read), returning what
//! changed. The server's evaluator feeds it on the ingest path and turns its
//! outputs into stored alerts and notifications.
//!
//! - [`threshold`]: metric thresholds with a duration, hysteresis and two
//!   severities;
//! - [`forecast`]: robust (Theil–Sen) linear fit and time-to-full;
//! - [`flapping`]: a condition that toggles too often;
//! - [`lifecycle`]: one alert per (monitor, device, subject), open →
//!   acknowledged → resolved, with history;
//! - [`noise`]: maintenance windows, silences, grouping, dependencies;
//! - [`plugin`]: the Nagios / Monitoring Plugins output convention.

pub mod engine;
pub mod flapping;
pub mod forecast;
pub mod lifecycle;
pub mod monitor;
pub mod noise;
pub mod plugin;
pub mod threshold;

use serde::{Deserialize, Serialize};

/// How bad a condition is. Ordered: `Ok < Warning < Critical`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Ok,
    Warning,
    Critical,
}

/// Unix time in milliseconds.
pub type Millis = i64;
