//! The job model, pure: scripts and typed parameters ([`script`]), which
//! devices a job reaches ([`target`]), how far a job got and what to send
//! next ([`progress`]), and when a schedule fires ([`schedule`]).
//! The server's `jobs` module is the I/O shell around it.

pub mod progress;
pub mod schedule;
pub mod script;
pub mod target;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobError(pub String);

pub(crate) fn err<T>(message: impl Into<String>) -> Result<T, JobError> {
    Err(JobError(message.into()))
}
