//! Scheduled reports (see `steward_store::ReportScheduleStore`).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, json, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn schedule(row: &Row) -> Result<ReportScheduleRecord> {
    let recipients: String = row.get("recipients");
    Ok(ReportScheduleRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        site: row.get("site"),
        cadence: row.get("cadence"),
        channel_id: uuid(row.get("channel_id"))?,
        recipients: serde_json::from_value(json(&recipients))
            .map_err(|e| StoreError::Corrupt(format!("report recipients: {e}")))?,
        created_by: row.get("created_by"),
        next_run_at: row.get("next_run_at"),
        last_sent_at: row.get("last_sent_at"),
        last_period: row.get("last_period"),
        last_error: row.get("last_error"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        version: row.get("version"),
    })
}

fn recipients(s: &ReportScheduleRecord) -> String {
    serde_json::to_string(&s.recipients).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl ReportScheduleStore for SqlStore {
    async fn create_report_schedule(&self, s: &ReportScheduleRecord) -> Result<()> {
        q("INSERT INTO report_schedules (id, org_id, site, cadence, channel_id, recipients, created_by, next_run_at, created_at, updated_at, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)")
        .bind(s.id.to_string())
        .bind(s.org_id.to_string())
        .bind(&s.site)
        .bind(&s.cadence)
        .bind(s.channel_id.to_string())
        .bind(recipients(s))
        .bind(&s.created_by)
        .bind(s.next_run_at)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_report_schedules(&self, scope: &Scope) -> Result<Vec<ReportScheduleRecord>> {
        let sql = format!(
            "SELECT * FROM report_schedules r WHERE {} ORDER BY r.org_id, r.created_at, r.id",
            self.in_org(1, "r.org_id")
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(schedule)
            .collect()
    }

    async fn get_report_schedule(&self, scope: &Scope, id: Uuid) -> Result<ReportScheduleRecord> {
        let sql = format!(
            "SELECT * FROM report_schedules r WHERE r.id = $2 AND {}",
            self.in_org(1, "r.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(schedule)
            .unwrap_or(Err(StoreError::NotFound))
    }

    async fn update_report_schedule(
        &self,
        scope: &Scope,
        s: &ReportScheduleRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "report_schedules",
            "site = $4, cadence = $5, channel_id = $6, recipients = $7, created_by = $8, next_run_at = $9, updated_at = $10",
            &self.in_scope(1, "org_id", None),
            (scope, &s.id.to_string(), expected),
            vec![
                s.site.clone().arg(),
                s.cadence.as_str().arg(),
                s.channel_id.to_string().arg(),
                recipients(s).arg(),
                s.created_by.as_str().arg(),
                s.next_run_at.arg(),
                s.updated_at.arg(),
            ],
        )
        .await
    }

    async fn delete_report_schedule(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM report_schedules WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn due_report_schedules(&self, now: i64) -> Result<Vec<ReportScheduleRecord>> {
        q("SELECT * FROM report_schedules WHERE next_run_at <= $1 ORDER BY next_run_at, id")
            .bind(now)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(schedule)
            .collect()
    }

    async fn claim_report_schedule(&self, id: Uuid, due_at: i64, next: i64) -> Result<bool> {
        let done =
            q("UPDATE report_schedules SET next_run_at = $1 WHERE id = $2 AND next_run_at = $3")
                .bind(next)
                .bind(id.to_string())
                .bind(due_at)
                .execute(&self.db)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_report_sent(
        &self,
        id: Uuid,
        at: i64,
        outcome: std::result::Result<&str, &str>,
    ) -> Result<()> {
        let query = match outcome {
            Ok(period) => q(
                "UPDATE report_schedules SET last_sent_at = $1, last_period = $2, last_error = NULL WHERE id = $3",
            )
            .bind(at)
            .bind(period),
            Err(error) => q("UPDATE report_schedules SET last_error = $2 WHERE id = $3 AND $1 IS NOT NULL")
                .bind(at)
                .bind(error),
        };
        query
            .bind(id.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
