//! Problem records and the alert occurrences rules read (see
//! `steward_store::ProblemStore`).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, json, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn ids(row: &Row, column: &str) -> Result<Vec<Uuid>> {
    let value = json(row.get(column));
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|v| uuid(v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

fn problem(row: &Row) -> Result<ProblemRecord> {
    Ok(ProblemRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        signature: row.get("signature"),
        rule_kind: row.get("rule_kind"),
        rule: json(row.get("rule")),
        status: row.get("status"),
        count: row.get("count"),
        first_seen: row.get("first_seen"),
        last_seen: row.get("last_seen"),
        devices: ids(row, "devices")?,
        incidents: ids(row, "incidents")?,
        root_cause: row.get("root_cause"),
        workaround: row.get("workaround"),
        fix: row.get("fix"),
        known_error: row.get("known_error"),
        resolved_at: row.get("resolved_at"),
        version: row.get("version"),
    })
}

fn id_list(list: &[Uuid]) -> String {
    serde_json::Value::from(list.iter().map(Uuid::to_string).collect::<Vec<_>>()).to_string()
}

#[async_trait]
impl ProblemStore for SqlStore {
    async fn alert_occurrences(&self, since: i64) -> Result<Vec<AlertOccurrence>> {
        q(
            "SELECT a.org_id, a.monitor_id, a.device_id, a.opened_at, l.incident_id
           FROM alerts a LEFT JOIN incident_alerts l ON l.alert_id = a.id
           WHERE a.opened_at >= $1 ORDER BY a.opened_at, a.id",
        )
        .bind(since)
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| {
            let incident: Option<String> = row.get("incident_id");
            Ok(AlertOccurrence {
                org_id: uuid(row.get("org_id"))?,
                monitor_id: row.get("monitor_id"),
                device_id: uuid(row.get("device_id"))?,
                at: row.get("opened_at"),
                incident_id: incident.as_deref().map(uuid).transpose()?,
            })
        })
        .collect()
    }

    async fn save_problem(&self, p: &ProblemRecord) -> Result<()> {
        q("INSERT INTO problems (id, org_id, signature, rule_kind, rule, status, count, first_seen, last_seen, devices, incidents, root_cause, workaround, fix, known_error, resolved_at, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1)
           ON CONFLICT (org_id, signature, rule_kind) DO UPDATE SET
             rule = excluded.rule, status = excluded.status, count = excluded.count,
             first_seen = excluded.first_seen, last_seen = excluded.last_seen,
             devices = excluded.devices, incidents = excluded.incidents,
             resolved_at = excluded.resolved_at, version = problems.version + 1")
        .bind(p.id.to_string())
        .bind(p.org_id.to_string())
        .bind(&p.signature)
        .bind(&p.rule_kind)
        .bind(p.rule.to_string())
        .bind(&p.status)
        .bind(p.count)
        .bind(p.first_seen)
        .bind(p.last_seen)
        .bind(id_list(&p.devices))
        .bind(id_list(&p.incidents))
        .bind(p.root_cause.clone())
        .bind(p.workaround.clone())
        .bind(p.fix.clone())
        .bind(p.known_error)
        .bind(p.resolved_at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_problems(&self, scope: &Scope) -> Result<Vec<ProblemRecord>> {
        let sql = format!(
            "SELECT * FROM problems p WHERE {} ORDER BY p.last_seen DESC, p.id",
            self.in_org(1, "p.org_id")
        );
        self.scoped(sql, scope).await?.iter().map(problem).collect()
    }

    async fn get_problem(&self, scope: &Scope, id: Uuid) -> Result<ProblemRecord> {
        let sql = format!(
            "SELECT * FROM problems p WHERE p.id = $2 AND {}",
            self.in_org(1, "p.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(problem)
            .unwrap_or(Err(StoreError::NotFound))
    }

    async fn update_problem(
        &self,
        scope: &Scope,
        p: &ProblemRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "problems",
            "status = $4, root_cause = $5, workaround = $6, fix = $7, known_error = $8, resolved_at = $9",
            &self.in_scope(1, "org_id", None),
            (scope, &p.id.to_string(), expected),
            vec![
                p.status.as_str().arg(),
                p.root_cause.clone().arg(),
                p.workaround.clone().arg(),
                p.fix.clone().arg(),
                p.known_error.arg(),
                p.resolved_at.arg(),
            ],
        )
        .await
    }

    async fn list_problem_rules(&self, scope: &Scope) -> Result<Vec<ProblemRulesRecord>> {
        let sql = format!(
            "SELECT * FROM problem_rules r WHERE {} ORDER BY r.org_id",
            self.in_org(1, "r.org_id")
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(|row| {
                Ok(ProblemRulesRecord {
                    org_id: uuid(row.get("org_id"))?,
                    rules: json(row.get("rules")),
                    updated_by: row.get("updated_by"),
                    updated_at: row.get("updated_at"),
                    version: row.get("version"),
                })
            })
            .collect()
    }

    async fn save_problem_rules(
        &self,
        r: &ProblemRulesRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        let current: i64 = q("SELECT version FROM problem_rules WHERE org_id = $1")
            .bind(r.org_id.to_string())
            .fetch_optional(&self.db)
            .await
            .map_err(backend)?
            .map_or(0, |row| row.get("version"));
        if expected.is_some_and(|e| e != current) {
            return Err(StoreError::Stale(current));
        }
        let saved = q(
            "INSERT INTO problem_rules (org_id, rules, updated_by, updated_at, version)
                       VALUES ($1, $2, $3, $4, 1)
                       ON CONFLICT (org_id) DO UPDATE SET rules = excluded.rules,
                           updated_by = excluded.updated_by, updated_at = excluded.updated_at,
                           version = problem_rules.version + 1
                       WHERE problem_rules.version = $5
                       RETURNING version",
        )
        .bind(r.org_id.to_string())
        .bind(r.rules.to_string())
        .bind(&r.updated_by)
        .bind(r.updated_at)
        .bind(current)
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        match saved {
            Some(row) => Ok(row.get("version")),
            // Another save came between the read and the write.
            None => Err(StoreError::Stale(current + 1)),
        }
    }
}
