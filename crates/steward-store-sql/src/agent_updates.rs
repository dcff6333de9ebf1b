//! Agent releases, rollouts and answers (see `steward_store::AgentUpdateStore`).

use crate::db::{Row, q};
use crate::{SqlStore, backend, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

const RELEASE_COLUMNS: &str =
    "id, target, version, sha256, size, key_id, signature, created_by, created_at";

fn release(row: &Row) -> Result<AgentReleaseRecord> {
    Ok(AgentReleaseRecord {
        id: uuid(row.get("id"))?,
        target: row.get("target"),
        version: row.get("version"),
        sha256: row.get("sha256"),
        size: row.get("size"),
        key_id: row.get("key_id"),
        signature: row.get("signature"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
    })
}

fn rollout(row: &Row) -> Result<AgentRolloutRecord> {
    let tags: String = row.get("pilot_tags");
    Ok(AgentRolloutRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        release_id: uuid(row.get("release_id"))?,
        pilot_tags: serde_json::from_str(&tags).unwrap_or_default(),
        ring_delay_ms: row.get("ring_delay_ms"),
        max_failures: row.get("max_failures"),
        state: row.get("state"),
        reason: row.get("reason"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

#[async_trait]
impl AgentUpdateStore for SqlStore {
    async fn create_agent_release(&self, r: &AgentReleaseRecord, content: &[u8]) -> Result<()> {
        let done = q(format!(
            "INSERT INTO agent_releases ({RELEASE_COLUMNS}, content)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (target, version) DO NOTHING"
        ))
        .bind(r.id.to_string())
        .bind(&r.target)
        .bind(&r.version)
        .bind(&r.sha256)
        .bind(r.size)
        .bind(&r.key_id)
        .bind(&r.signature)
        .bind(&r.created_by)
        .bind(r.created_at)
        .bind(content)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "{} already has a release {}: releases are never replaced, give this one a new version",
                r.target, r.version
            )));
        }
        Ok(())
    }

    async fn list_agent_releases(&self) -> Result<Vec<AgentReleaseRecord>> {
        q(format!(
            "SELECT {RELEASE_COLUMNS} FROM agent_releases ORDER BY created_at DESC, id"
        ))
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(release)
        .collect()
    }

    async fn get_agent_release(&self, id: Uuid) -> Result<AgentReleaseRecord> {
        q(format!(
            "SELECT {RELEASE_COLUMNS} FROM agent_releases WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .first()
        .map(release)
        .unwrap_or(Err(StoreError::NotFound))
    }

    async fn agent_release_chunk(&self, id: Uuid, offset: i64, len: i64) -> Result<Vec<u8>> {
        // substr counts from 1 on both databases, on BLOB and BYTEA alike.
        let rows = q(
            "SELECT substr(content, CAST($2 AS INTEGER), CAST($3 AS INTEGER)) AS part
                      FROM agent_releases WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(offset.max(0) + 1)
        .bind(len.max(0))
        .fetch_all(&self.db)
        .await
        .map_err(backend)?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        let part: Option<Vec<u8>> = row.get("part");
        Ok(part.unwrap_or_default())
    }

    async fn create_agent_rollout(&self, r: &AgentRolloutRecord) -> Result<()> {
        q("INSERT INTO agent_rollouts (id, org_id, release_id, pilot_tags, ring_delay_ms, max_failures,
                                       state, reason, created_by, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(r.id.to_string())
        .bind(r.org_id.to_string())
        .bind(r.release_id.to_string())
        .bind(serde_json::to_string(&r.pilot_tags).unwrap_or_else(|_| "[]".into()))
        .bind(r.ring_delay_ms)
        .bind(r.max_failures)
        .bind(&r.state)
        .bind(&r.reason)
        .bind(&r.created_by)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_agent_rollouts(
        &self,
        scope: &Scope,
        active_only: bool,
    ) -> Result<Vec<AgentRolloutRecord>> {
        let sql = format!(
            "SELECT * FROM agent_rollouts r WHERE {} {} ORDER BY r.created_at DESC, r.id",
            self.in_org(1, "r.org_id"),
            if active_only {
                "AND r.state = 'active'"
            } else {
                ""
            }
        );
        self.scoped(sql, scope).await?.iter().map(rollout).collect()
    }

    async fn get_agent_rollout(&self, scope: &Scope, id: Uuid) -> Result<AgentRolloutRecord> {
        let sql = format!(
            "SELECT * FROM agent_rollouts r WHERE r.id = $2 AND {}",
            self.in_org(1, "r.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(rollout)
            .unwrap_or(Err(StoreError::NotFound))
    }

    async fn finish_agent_rollout(
        &self,
        scope: &Scope,
        id: Uuid,
        state: &str,
        reason: &str,
        at: i64,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE agent_rollouts SET state = $3, reason = $4, updated_at = $5
             WHERE id = $2 AND state = 'active' AND {}",
            self.in_org(1, "org_id")
        );
        let done = q(sql)
            .bind(crate::scope_param(scope))
            .bind(id.to_string())
            .bind(state)
            .bind(reason)
            .bind(at)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_agent_offer(&self, rollout: Uuid, device: Uuid, at: i64) -> Result<()> {
        q(
            "INSERT INTO agent_updates (rollout_id, device_id, offered_at) VALUES ($1, $2, $3)
           ON CONFLICT (rollout_id, device_id) DO UPDATE SET offered_at = excluded.offered_at",
        )
        .bind(rollout.to_string())
        .bind(device.to_string())
        .bind(at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn record_agent_answer(
        &self,
        rollout: Uuid,
        device: Uuid,
        outcome: &str,
        detail: &str,
        at: i64,
    ) -> Result<()> {
        q("INSERT INTO agent_updates (rollout_id, device_id, outcome, detail, answered_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (rollout_id, device_id) DO UPDATE
           SET outcome = excluded.outcome, detail = excluded.detail, answered_at = excluded.answered_at")
        .bind(rollout.to_string())
        .bind(device.to_string())
        .bind(outcome)
        .bind(detail)
        .bind(at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_agent_updates(&self, rollout: Uuid) -> Result<Vec<AgentUpdateRecord>> {
        q("SELECT * FROM agent_updates WHERE rollout_id = $1 ORDER BY device_id")
            .bind(rollout.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| {
                Ok(AgentUpdateRecord {
                    rollout_id: uuid(row.get("rollout_id"))?,
                    device_id: uuid(row.get("device_id"))?,
                    offered_at: row.get("offered_at"),
                    outcome: row.get("outcome"),
                    detail: row.get("detail"),
                    answered_at: row.get("answered_at"),
                })
            })
            .collect()
    }

    async fn set_agent_version(
        &self,
        device: Uuid,
        version: &str,
        target: &str,
        at: i64,
    ) -> Result<()> {
        let stored = q("SELECT version, target FROM agent_versions WHERE device_id = $1")
            .bind(device.to_string())
            .fetch_optional(&self.db)
            .await
            .map_err(backend)?
            .map(|row| -> (String, String) { (row.get(0), row.get(1)) });
        if stored.is_some_and(|(v, t)| v == version && t == target) {
            return Ok(());
        }
        q("INSERT INTO agent_versions (device_id, version, target, seen_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (device_id) DO UPDATE
           SET version = excluded.version, target = excluded.target, seen_at = excluded.seen_at")
        .bind(device.to_string())
        .bind(version)
        .bind(target)
        .bind(at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn agent_versions(&self, org: Uuid) -> Result<Vec<AgentVersionRecord>> {
        q(
            "SELECT v.* FROM agent_versions v JOIN devices d ON d.id = v.device_id
           WHERE d.org_id = $1 ORDER BY v.device_id",
        )
        .bind(org.to_string())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| {
            Ok(AgentVersionRecord {
                device_id: uuid(row.get("device_id"))?,
                version: row.get("version"),
                target: row.get("target"),
                seen_at: row.get("seen_at"),
            })
        })
        .collect()
    }
}
