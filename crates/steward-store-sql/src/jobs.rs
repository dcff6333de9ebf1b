//! Scripts, jobs and their runs, schedules (see `steward_store::JobStore`).

use crate::db::{Bind, Kind, Row, q};
use crate::dialect;
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use std::collections::BTreeMap;
use steward_store::*;
use uuid::Uuid;

/// A `job_runs` row joined with its device's name (`device_name`).
pub(crate) fn run_record(row: &Row) -> Result<RunRecord> {
    Ok(RunRecord {
        run_id: uuid(row.get("run_id"))?,
        job_id: uuid(row.get("job_id"))?,
        device_id: uuid(row.get("device_id"))?,
        device_name: row.get("device_name"),
        status: row.get("status"),
        exit_code: row.get("exit_code"),
        stdout: row.get("stdout"),
        stderr: row.get("stderr"),
        truncated: row.get("truncated"),
        message: row.get("message"),
        sent_at: row.get("sent_at"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        duration_ms: row.get("duration_ms"),
    })
}

fn json(row: &Row, column: &str) -> serde_json::Value {
    serde_json::from_str(&row.get::<String, _>(column)).unwrap_or_default()
}

fn script(row: &Row) -> Result<ScriptRecord> {
    Ok(ScriptRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        name: row.get("name"),
        version: row.get("version"),
        definition: json(row, "definition"),
        updated_at: row.get("updated_at"),
        updated_by: row.get("updated_by"),
    })
}

fn job(row: &Row) -> Result<JobRecord> {
    let counts: BTreeMap<String, u64> = row
        .get::<Option<String>, _>("counts")
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    Ok(JobRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        name: row.get("name"),
        action: json(row, "action"),
        selector: json(row, "selector"),
        policy: json(row, "policy"),
        created_at: row.get("created_at"),
        created_by: row.get("created_by"),
        expires_at: row.get("expires_at"),
        state: row.get("state"),
        approved_by: row.get("approved_by"),
        origin: row.get("origin"),
        counts,
    })
}

fn schedule(row: &Row) -> Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        name: row.get("name"),
        timing: json(row, "timing"),
        job: json(row, "job"),
        enabled: row.get("enabled"),
        next_run_at: row.get("next_run_at"),
        last_run_at: row.get("last_run_at"),
        created_by: row.get("created_by"),
        version: row.get("version"),
    })
}

/// A job's columns with its runs counted per status: only the runs on
/// devices of the scope bound first, so counts reveal no device outside it.
fn job_columns(kind: Kind) -> String {
    format!(
        "j.*, (SELECT {} FROM (SELECT r.status AS status, COUNT(*) AS n FROM job_runs r JOIN devices d ON d.id = r.device_id WHERE r.job_id = j.id AND {} GROUP BY r.status) c) AS counts",
        dialect::json_object_agg(kind, "status", "n"),
        dialect::in_scope(kind, 1, "d.org_id", Some("d.site"))
    )
}

/// A job is visible to a scope that covers its organisation, or any device
/// it runs on.
fn job_visible(kind: Kind) -> String {
    format!(
        "({} OR EXISTS (SELECT 1 FROM job_runs r JOIN devices d ON d.id = r.device_id WHERE r.job_id = j.id AND {}))",
        dialect::in_scope(kind, 1, "j.org_id", None),
        dialect::in_scope(kind, 1, "d.org_id", Some("d.site"))
    )
}

fn is_final(status: &str) -> bool {
    steward_proto::RunStatus::parse(status).is_some_and(|s| s.is_final())
}

#[async_trait]
impl JobStore for SqlStore {
    async fn save_script(
        &self,
        org: Uuid,
        name: &str,
        definition: &serde_json::Value,
        by: &str,
        at: i64,
        expected: Option<i64>,
    ) -> Result<ScriptRecord> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let existing = q("SELECT id, version FROM scripts WHERE org_id = $1 AND name = $2")
            .bind(org.to_string())
            .bind(name)
            .fetch_optional(&mut tx)
            .await
            .map_err(backend)?;
        let text = definition.to_string();
        let (id, version) = match existing {
            Some(row) => {
                let id: String = row.get("id");
                let read = row.get::<i64, _>("version");
                if expected.is_some_and(|v| v != read) {
                    return Err(StoreError::Stale(read));
                }
                let version = read + 1;
                // Only over the version read: a save that raced this one
                // and won leaves nothing to update here.
                let done = q("UPDATE scripts SET version = $1, definition = $2, updated_at = $3, updated_by = $4 WHERE id = $5 AND version = $6")
                    .bind(version)
                    .bind(&text)
                    .bind(at)
                    .bind(by)
                    .bind(&id)
                    .bind(read)
                    .execute(&mut tx)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Stale(version));
                }
                (id, version)
            }
            None => {
                let id = Uuid::now_v7().to_string();
                q("INSERT INTO scripts (id, org_id, name, version, definition, updated_at, updated_by) VALUES ($1, $2, $3, 1, $4, $5, $6)")
                    .bind(&id)
                    .bind(org.to_string())
                    .bind(name)
                    .bind(&text)
                    .bind(at)
                    .bind(by)
                    .execute(&mut tx)
                    .await
                    .map_err(backend)?;
                (id, 1)
            }
        };
        q("INSERT INTO script_versions (script_id, version, definition, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(version)
            .bind(&text)
            .bind(at)
            .bind(by)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(ScriptRecord {
            id: uuid(&id)?,
            org_id: org,
            name: name.into(),
            version,
            definition: definition.clone(),
            updated_at: at,
            updated_by: by.into(),
        })
    }

    async fn list_scripts(&self, scope: &Scope) -> Result<Vec<ScriptRecord>> {
        let sql = format!(
            "SELECT * FROM scripts s WHERE {} ORDER BY {}, s.name, s.id",
            self.in_org(1, "s.org_id"),
            self.nocase("s.name")
        );
        self.scoped(sql, scope).await?.iter().map(script).collect()
    }

    async fn get_script(&self, scope: &Scope, id_or_name: &str) -> Result<ScriptRecord> {
        let sql = format!(
            "SELECT * FROM scripts s WHERE (s.id = $2 OR s.name = $2) AND {} LIMIT 2",
            self.in_org(1, "s.org_id")
        );
        let rows = self.scoped_by(sql, scope, id_or_name).await?;
        match rows.as_slice() {
            [] => Err(StoreError::NotFound),
            [one] => script(one),
            _ => Err(StoreError::Conflict(format!(
                "several organisations have a script called {id_or_name:?}: use its id"
            ))),
        }
    }

    async fn script_versions(&self, scope: &Scope, id: Uuid) -> Result<Vec<ScriptVersion>> {
        let sql = format!(
            "SELECT v.* FROM script_versions v JOIN scripts s ON s.id = v.script_id WHERE s.id = $2 AND {} ORDER BY v.version DESC",
            self.in_org(1, "s.org_id")
        );
        self.scoped_by(sql, scope, &id.to_string())
            .await?
            .iter()
            .map(|row| {
                Ok(ScriptVersion {
                    version: row.get("version"),
                    definition: json(row, "definition"),
                    created_at: row.get("created_at"),
                    created_by: row.get("created_by"),
                })
            })
            .collect()
    }

    async fn delete_script(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM scripts WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn create_job(&self, job: &NewJob) -> Result<()> {
        crate::retrying(|| self.create_job_once(job)).await
    }
    async fn list_jobs(&self, scope: &Scope, limit: u32) -> Result<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {} FROM jobs j WHERE {} ORDER BY j.created_at DESC, j.id DESC LIMIT {}",
            job_columns(self.kind()),
            job_visible(self.kind()),
            limit.min(10_000)
        );
        self.scoped(sql, scope).await?.iter().map(job).collect()
    }

    async fn get_job(&self, scope: &Scope, id: Uuid) -> Result<JobRecord> {
        let sql = format!(
            "SELECT {} FROM jobs j WHERE j.id = $2 AND {}",
            job_columns(self.kind()),
            job_visible(self.kind())
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        job(rows.first().ok_or(StoreError::NotFound)?)
    }

    async fn job_runs(&self, scope: &Scope, job: Uuid) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT r.*, d.name AS device_name FROM job_runs r JOIN devices d ON d.id = r.device_id
             WHERE r.job_id = $2 AND {} ORDER BY {}, r.run_id",
            self.in_scope(1, "d.org_id", Some("d.site")),
            self.nocase("d.name")
        );
        self.scoped_by(sql, scope, &job.to_string())
            .await?
            .iter()
            .map(run_record)
            .collect()
    }

    async fn set_job_state(
        &self,
        scope: &Scope,
        id: Uuid,
        state: &str,
        approved_by: Option<&str>,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE jobs SET state = $3, approved_by = COALESCE($4, approved_by) WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.one_changed(
            q(sql)
                .bind(scope_param(scope))
                .bind(id.to_string())
                .bind(state)
                .bind(approved_by),
        )
        .await
    }

    async fn runs_to_send(
        &self,
        device: Option<Uuid>,
        job: Option<Uuid>,
        now: i64,
    ) -> Result<Vec<PendingRun>> {
        q(
            "SELECT r.run_id, r.job_id, r.device_id, r.status, j.created_at, j.expires_at, j.action, j.policy
             FROM job_runs r JOIN jobs j ON j.id = r.job_id
             WHERE r.status IN ('queued', 'sent') AND j.state = 'active' AND j.expires_at > $3
               AND ($1 IS NULL OR r.device_id = $1) AND ($2 IS NULL OR r.job_id = $2)
             ORDER BY j.created_at, r.run_id",
        )
        .bind(device.map(|d| d.to_string()))
        .bind(job.map(|j| j.to_string()))
        .bind(now)
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| {
            Ok(PendingRun {
                run_id: uuid(row.get("run_id"))?,
                job_id: uuid(row.get("job_id"))?,
                device_id: uuid(row.get("device_id"))?,
                status: row.get("status"),
                created_at: row.get("created_at"),
                expires_at: row.get("expires_at"),
                action: json(row, "action"),
                policy: json(row, "policy"),
            })
        })
        .collect()
    }

    async fn mark_sent(&self, runs: &[Uuid], at: i64) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        for chunk in runs.chunks(5000) {
            let ids: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            q(format!(
                // A run whose report landed first (the agent answered
                // before this was written) keeps its status and still gets
                // its sent time.
                "UPDATE job_runs SET status = CASE WHEN status = 'queued' THEN 'sent' ELSE status END,
                 sent_at = COALESCE(sent_at, $1)
                 WHERE (status = 'queued' OR sent_at IS NULL) AND run_id IN (SELECT {} FROM {})",
                dialect::element_text(self.kind(), "e"),
                dialect::json_elements(self.kind(), "$2", None, "e")
            ))
                .bind(at)
                .bind(serde_json::to_string(&ids).unwrap_or_default())
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn apply_run_reports(&self, reports: &[RunReport]) -> Result<Vec<ReportOutcome>> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let mut outcomes = Vec::with_capacity(reports.len());
        for report in reports {
            let current: Option<String> =
                q("SELECT status FROM job_runs WHERE run_id = $1 AND device_id = $2")
                    .bind(report.run_id.to_string())
                    .bind(report.device_id.to_string())
                    .fetch_optional(&mut tx)
                    .await
                    .map_err(backend)?
                    .map(|row| row.get("status"));
            let Some(current) = current else {
                outcomes.push(ReportOutcome::Unknown);
                continue;
            };
            // The agent's word beats the server's guess that it expired.
            if is_final(&current) && current != "expired" {
                outcomes.push(ReportOutcome::AlreadyFinal);
                continue;
            }
            if report.status == "running" {
                q("UPDATE job_runs SET status = 'running', started_at = $1 WHERE run_id = $2 AND status IN ('queued', 'sent', 'expired')")
                    .bind(report.started_at)
                    .bind(report.run_id.to_string())
                    .execute(&mut tx)
                    .await
                    .map_err(backend)?;
            } else {
                q(
                    "UPDATE job_runs SET status = $1, exit_code = $2, stdout = $3, stderr = $4, truncated = $5, message = $6,
                         started_at = COALESCE($7, started_at), duration_ms = $8, finished_at = $9 WHERE run_id = $10",
                )
                .bind(&report.status)
                .bind(report.exit_code)
                .bind(&report.stdout)
                .bind(&report.stderr)
                .bind(report.truncated)
                .bind(&report.message)
                .bind(report.started_at)
                .bind(report.duration_ms)
                .bind(report.at)
                .bind(report.run_id.to_string())
                .execute(&mut tx)
                .await
                .map_err(backend)?;
            }
            outcomes.push(ReportOutcome::Applied);
        }
        tx.commit().await.map_err(backend)?;
        Ok(outcomes)
    }

    async fn expire_runs(&self, now: i64) -> Result<Vec<Uuid>> {
        // Called every second: look first without the write lock, which the
        // ingest path needs far more often.
        let any = q(
            "SELECT 1 FROM job_runs r JOIN jobs j ON j.id = r.job_id WHERE r.status = 'queued' AND j.expires_at <= $1 LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.db.begin().await.map_err(backend)?;
        let jobs: Vec<String> = q(
            "SELECT DISTINCT r.job_id FROM job_runs r JOIN jobs j ON j.id = r.job_id WHERE r.status = 'queued' AND j.expires_at <= $1",
        )
        .bind(now)
        .fetch_all(&mut tx)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| row.get("job_id"))
        .collect();
        for job in &jobs {
            q("UPDATE job_runs SET status = 'expired', finished_at = $1, message = 'the device did not connect before the job expired' WHERE job_id = $2 AND status = 'queued'")
                .bind(now)
                .bind(job)
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        jobs.iter().map(|j| uuid(j)).collect()
    }

    async fn cancel_queued(&self, job: Uuid, message: &str, at: i64) -> Result<u64> {
        let done = q("UPDATE job_runs SET status = 'cancelled', message = $1, finished_at = $2 WHERE job_id = $3 AND status = 'queued'")
            .bind(message)
            .bind(at)
            .bind(job.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn forget_file_content(
        &self,
        job: Uuid,
        action: &serde_json::Value,
        stdout: &str,
    ) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        q("UPDATE jobs SET action = $1 WHERE id = $2")
            .bind(action.to_string())
            .bind(job.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        q("UPDATE job_runs SET stdout = $1 WHERE job_id = $2")
            .bind(stdout)
            .bind(job.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn set_device_refuses(&self, device: Uuid, refuses: &[String]) -> Result<()> {
        let text = serde_json::to_string(refuses).unwrap_or_else(|_| "[]".into());
        // Every connection says it: write (and take the write lock) only
        // when it changed.
        let stored: Option<String> = q("SELECT refuses FROM devices WHERE id = $1")
            .bind(device.to_string())
            .fetch_optional(&self.db)
            .await
            .map_err(backend)?
            .map(|row| row.get(0));
        if stored.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        q("UPDATE devices SET refuses = $1 WHERE id = $2")
            .bind(text)
            .bind(device.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_schedule(&self, s: &ScheduleRecord) -> Result<()> {
        q(
            "INSERT INTO schedules (id, org_id, name, timing, job, enabled, next_run_at, last_run_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.id.to_string())
        .bind(s.org_id.to_string())
        .bind(&s.name)
        .bind(s.timing.to_string())
        .bind(s.job.to_string())
        .bind(s.enabled)
        .bind(s.next_run_at)
        .bind(s.last_run_at)
        .bind(&s.created_by)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_schedules(&self, scope: &Scope) -> Result<Vec<ScheduleRecord>> {
        let sql = format!(
            "SELECT * FROM schedules s WHERE {} ORDER BY {}, s.name, s.id",
            self.in_org(1, "s.org_id"),
            self.nocase("s.name")
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(schedule)
            .collect()
    }

    async fn get_schedule(&self, scope: &Scope, id: Uuid) -> Result<ScheduleRecord> {
        let sql = format!(
            "SELECT * FROM schedules s WHERE s.id = $2 AND {}",
            self.in_org(1, "s.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(schedule)
            .unwrap_or(Err(StoreError::NotFound))
    }

    async fn update_schedule(
        &self,
        scope: &Scope,
        s: &ScheduleRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "schedules",
            "name = $4, timing = $5, job = $6, enabled = $7, next_run_at = $8, created_by = $9",
            &self.in_scope(1, "org_id", None),
            (scope, &s.id.to_string(), expected),
            vec![
                s.name.as_str().arg(),
                s.timing.to_string().arg(),
                s.job.to_string().arg(),
                s.enabled.arg(),
                s.next_run_at.arg(),
                s.created_by.as_str().arg(),
            ],
        )
        .await
    }

    async fn delete_schedule(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM schedules WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn due_schedules(&self, now: i64) -> Result<Vec<ScheduleRecord>> {
        q("SELECT * FROM schedules WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at")
            .bind(now)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(schedule)
            .collect()
    }

    async fn claim_schedule(
        &self,
        id: Uuid,
        due_at: i64,
        ran_at: Option<i64>,
        next_run_at: i64,
    ) -> Result<bool> {
        let done = q(
            "UPDATE schedules SET last_run_at = COALESCE($1, last_run_at), next_run_at = $2 WHERE id = $3 AND next_run_at = $4",
        )
        .bind(ran_at)
        .bind(next_run_at)
        .bind(id.to_string())
        .bind(due_at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_alert_event(
        &self,
        alert: Uuid,
        at: i64,
        event: &serde_json::Value,
    ) -> Result<()> {
        q("INSERT INTO alert_events (alert_id, at, event) VALUES ($1, $2, $3)")
            .bind(alert.to_string())
            .bind(at)
            .bind(event.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

impl SqlStore {
    async fn create_job_once(&self, job: &NewJob) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        q(
            "INSERT INTO jobs (id, org_id, name, action, selector, policy, created_at, created_by, expires_at, state, origin)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(job.id.to_string())
        .bind(job.org_id.to_string())
        .bind(&job.name)
        .bind(job.action.to_string())
        .bind(job.selector.to_string())
        .bind(job.policy.to_string())
        .bind(job.created_at)
        .bind(&job.created_by)
        .bind(job.expires_at)
        .bind(&job.state)
        .bind(&job.origin)
        .execute(&mut tx)
        .await
        .map_err(backend)?;
        // Many rows per statement: a job for 10,000 devices is 20
        // statements, not 10,000.
        for chunk in job.runs.chunks(500) {
            let rows = (0..chunk.len())
                .map(|r| {
                    let p = |c: usize| format!("${}", r * 7 + c);
                    format!(
                        "({}, {}, {}, {}, {}, {}, {})",
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5),
                        p(6),
                        p(7)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO job_runs (run_id, job_id, device_id, org_id, status, message, finished_at) VALUES {rows}"
            );
            let mut query = q(sql);
            for (run, device, status, message) in chunk {
                query = query
                    .bind(run.to_string())
                    .bind(job.id.to_string())
                    .bind(device.to_string())
                    .bind(job.org_id.to_string())
                    .bind(status)
                    .bind(message)
                    .bind(is_final(status).then_some(job.created_at));
            }
            query.execute(&mut tx).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}
