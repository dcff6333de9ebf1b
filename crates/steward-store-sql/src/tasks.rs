//! Periodic task slots (see `steward_store::TaskStore`).

use crate::db::q;
use crate::{SqlStore, backend};
use async_trait::async_trait;
use steward_store::*;

#[async_trait]
impl TaskStore for SqlStore {
    async fn claim_task_slot(&self, task: &str, slot: i64) -> Result<bool> {
        // One statement: a new task inserts; a later slot moves it; the
        // same or an earlier slot changes no row, so the caller lost.
        let done = q("INSERT INTO task_slots (task, slot) VALUES ($1, $2)
                      ON CONFLICT (task) DO UPDATE SET slot = excluded.slot
                      WHERE task_slots.slot < excluded.slot")
        .bind(task)
        .bind(slot)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
