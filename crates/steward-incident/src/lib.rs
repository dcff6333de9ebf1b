//! What incident and problem management decide, and the figures IT leads
//! track, as pure functions over plain data (times are Unix milliseconds):
//!
//! - [`span`]: half-open time intervals, merged and intersected;
//! - [`kpi`]: availability with maintenance excluded, MTTA/MTTR as
//!   medians and 90th percentiles beside means, alert noise; each KPI
//!   carries its definition in words ([`kpi::DEFINITIONS`]);
//! - [`problems`]: recurring incidents found as problems (the same
//!   signature across many devices, or on one device again and again),
//!   and what to do with a problem already on record;
//! - [`grouping`]: which open incident a new alert joins;
//! - [`sla`]: an incident's standing against its priority's targets;
//! - [`status`]: the times an incident's status changes stamp;
//! - [`report`]: report periods (months, ISO weeks), weekly buckets and
//!   the CSV form of a report;
//! - [`email`]: inbound email decided: sender rules, HTML made text, the
//!   incident a reply names, open or note;
//! - [`runbooks`]: what a runbook holds, which apply to an incident or an
//!   alert, and a notification's excerpt of one.
//!
//! The server stores incidents and problems and calls these; nothing here
//! reads a clock or a database, so every rule is tested with plain data.

pub mod email;
pub mod grouping;
pub mod kpi;
pub mod problems;
pub mod report;
pub mod runbooks;
pub mod sla;
pub mod span;
pub mod status;
