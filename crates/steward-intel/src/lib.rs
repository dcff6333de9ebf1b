//! Steward's proactive intelligence, pure: anomaly detection on metric
//! series and the benchmark that measures it. No I/O: callers pass text
//! and samples in and get scores back.
//!
//! - [`nab`]: the Numenta Anomaly Benchmark's scoring, written from its
//!   specification, and its corpus files parsed from text;
//! - [`detector`]: a streaming anomaly detector (one pass, a few hundred
//!   bytes per series, no look-ahead) giving a score in [0, 1] and what
//!   was unusual;
//! - [`forecast`]: time to threshold for a gauge with a confidence band,
//!   seasonal-aware and robust to level shifts;
//! - [`chart`]: what a metric chart draws from both (the expected range,
//!   anomalies, the projection with its band);
//! - [`peers`]: fleet baselines, each device against its peer group;
//! - [`capacity`]: which series reach a level within a horizon;
//! - [`logs`]: log lines mined into templates online, and a new template's
//!   burst across devices as one signal;
//! - [`aging`]: aging infrastructure: OS end of life (a table of vendors'
//!   dates), uptime, disks whose SMART counters rise.

pub mod aging;
pub mod capacity;
pub mod chart;
pub mod detector;
pub mod forecast;
pub mod logs;
pub mod nab;
pub mod peers;

/// What can go wrong scoring or reading a corpus.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("anomaly score {score} at row {row} is outside [0, 1]")]
    ScoreOutOfRange { row: usize, score: f64 },
    #[error("window rows {start}..={end} are not sorted, disjoint and within {rows} rows")]
    BadWindow {
        start: usize,
        end: usize,
        rows: usize,
    },
    #[error("parse error: {0}")]
    Parse(String),
    #[error("mismatch: {0}")]
    Mismatch(String),
    #[error("cannot read {0}")]
    Read(String),
}
