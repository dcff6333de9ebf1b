//! Periodic work that every replica runs on the same clock (the problem
//! scan, …) but that must happen once per period: the period's slot is
//! claimed by a conditional write, so one replica does the work.

use crate::Result;
use async_trait::async_trait;

#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Claims slot `slot` (a period's number, e.g. the minute) of `task`:
    /// true for the first caller of a slot later than any claimed before,
    /// false for every other (the same slot again, or an earlier one).
    async fn claim_task_slot(&self, task: &str, slot: i64) -> Result<bool>;
}
