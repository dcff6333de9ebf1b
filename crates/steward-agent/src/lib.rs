//! The Steward endpoint agent as a library; the `steward-agent` binary is a
//! thin shell over [`cli_main`].
//!
//! Data path: [`collectors`] read the host every interval → the batch is
//! appended to the on-disk [`spool`] with a sequence number → [`connection`]
//! sends spooled batches oldest first over the mutual-TLS WebSocket → the
//! server acks after a durable commit → the spool forgets acked batches.
//! OS-specific code lives in [`os`], one module per OS.

pub mod budget;
pub mod checks;
pub mod cli;
pub mod collectors;
pub mod command;
pub mod connection;
pub mod enroll;
pub mod jobs;
pub mod memory;
pub mod notify;
pub mod os;
pub mod probes;
pub mod spool;
pub mod state;
pub mod transport;
pub mod update;

pub use cli::cli_main;

pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
