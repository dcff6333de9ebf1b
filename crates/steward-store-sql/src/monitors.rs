//! What alerting is configured with: monitors, notification channels and
//! noise rules (maintenance windows, silences), each edited in place under
//! a version (see [`SqlStore::versioned_edit`]).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, json, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn monitor(row: &Row) -> Result<MonitorRecord> {
    Ok(MonitorRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        name: row.get("name"),
        definition: json(row.get("definition")),
        enabled: row.get("enabled"),
        version: row.get("version"),
    })
}

pub(crate) fn channel(row: &Row) -> Result<ChannelRecord> {
    Ok(ChannelRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        name: row.get("name"),
        kind: row.get("kind"),
        config: json(row.get("config")),
        min_severity: row.get("min_severity"),
        enabled: row.get("enabled"),
        version: row.get("version"),
        pending: row.try_get::<i64, _>("pending").unwrap_or(0).max(0) as u64,
        undelivered: row.try_get::<i64, _>("undelivered").unwrap_or(0).max(0) as u64,
        last_error: row.try_get("last_error").unwrap_or(None),
    })
}

fn noise_table(kind: NoiseKind) -> &'static str {
    match kind {
        NoiseKind::Silence => "silences",
        NoiseKind::Maintenance => "maintenance_windows",
    }
}

fn noise_rule(row: &Row, kind: NoiseKind) -> Result<NoiseRule> {
    Ok(NoiseRule {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        kind: Some(kind),
        definition: json(row.get("definition")),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        version: row.get("version"),
    })
}

/// The first row or "not found".
fn one<T>(rows: Vec<Row>, map: impl Fn(&Row) -> Result<T>) -> Result<T> {
    rows.first().map(map).unwrap_or(Err(StoreError::NotFound))
}

/// The channels query with each channel's waiting notifications and its
/// latest delivery error; `filter` follows the scope test.
fn channels_sql(store: &SqlStore, filter: &str) -> String {
    format!(
        "SELECT c.*,
             (SELECT COUNT(*) FROM outbox o WHERE o.channel_id = c.id AND o.sent_at IS NULL AND o.abandoned_at IS NULL) AS pending,
             (SELECT COUNT(*) FROM outbox o WHERE o.channel_id = c.id AND o.abandoned_at > {since}) AS undelivered,
             (SELECT o.last_error FROM outbox o WHERE o.channel_id = c.id AND o.sent_at IS NULL AND o.last_error IS NOT NULL
                  AND (o.abandoned_at IS NULL OR o.abandoned_at > {since}) ORDER BY o.id DESC LIMIT 1) AS last_error
         FROM channels c WHERE {}{filter} ORDER BY {}, c.name, c.id",
        store.in_scope(1, "c.org_id", None),
        store.nocase("c.name"),
        since = "COALESCE((SELECT MAX(s.sent_at) FROM outbox s WHERE s.channel_id = c.id), 0)",
    )
}

#[async_trait]
impl MonitorStore for SqlStore {
    async fn create_monitor(&self, m: &MonitorRecord) -> Result<()> {
        q("INSERT INTO monitors (id, org_id, name, definition, created_at, enabled) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(m.id.to_string())
            .bind(m.org_id.to_string())
            .bind(&m.name)
            .bind(m.definition.to_string())
            .bind(crate::now_secs())
            .bind(m.enabled)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_monitors(&self, scope: &Scope) -> Result<Vec<MonitorRecord>> {
        let sql = format!(
            "SELECT * FROM monitors WHERE {} ORDER BY {}, name, id",
            self.in_scope(1, "org_id", None),
            self.nocase("name")
        );
        self.scoped(sql, scope).await?.iter().map(monitor).collect()
    }

    async fn get_monitor(&self, scope: &Scope, id: Uuid) -> Result<MonitorRecord> {
        let sql = format!(
            "SELECT * FROM monitors WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        one(self.scoped_by(sql, scope, &id.to_string()).await?, monitor)
    }

    async fn update_monitor(
        &self,
        scope: &Scope,
        m: &MonitorRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "monitors",
            "name = $4, definition = $5, enabled = $6",
            &self.in_scope(1, "org_id", None),
            (scope, &m.id.to_string(), expected),
            vec![
                m.name.as_str().arg(),
                m.definition.to_string().arg(),
                m.enabled.arg(),
            ],
        )
        .await
    }

    async fn delete_monitor(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM monitors WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn create_noise_rule(&self, rule: &NoiseRule) -> Result<()> {
        let table = noise_table(rule.kind.unwrap_or(NoiseKind::Maintenance));
        let sql = format!(
            "INSERT INTO {table} (id, org_id, definition, created_by, created_at) VALUES ($1, $2, $3, $4, $5)"
        );
        q(sql)
            .bind(rule.id.to_string())
            .bind(rule.org_id.to_string())
            .bind(rule.definition.to_string())
            .bind(&rule.created_by)
            .bind(rule.created_at)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_noise_rules(&self, scope: &Scope, kind: NoiseKind) -> Result<Vec<NoiseRule>> {
        let sql = format!(
            "SELECT * FROM {} WHERE {} ORDER BY created_at, id",
            noise_table(kind),
            self.in_scope(1, "org_id", None)
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(|row| noise_rule(row, kind))
            .collect()
    }

    async fn get_noise_rule(&self, scope: &Scope, kind: NoiseKind, id: Uuid) -> Result<NoiseRule> {
        let sql = format!(
            "SELECT * FROM {} WHERE id = $2 AND {}",
            noise_table(kind),
            self.in_scope(1, "org_id", None)
        );
        one(self.scoped_by(sql, scope, &id.to_string()).await?, |row| {
            noise_rule(row, kind)
        })
    }

    async fn update_noise_rule(
        &self,
        scope: &Scope,
        kind: NoiseKind,
        id: Uuid,
        definition: &serde_json::Value,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            noise_table(kind),
            "definition = $4",
            &self.in_scope(1, "org_id", None),
            (scope, &id.to_string(), expected),
            vec![definition.to_string().arg()],
        )
        .await
    }

    async fn delete_noise_rule(&self, scope: &Scope, kind: NoiseKind, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM {} WHERE id = $2 AND {}",
            noise_table(kind),
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn create_channel(&self, c: &ChannelRecord) -> Result<()> {
        q("INSERT INTO channels (id, org_id, name, kind, config, min_severity, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(c.id.to_string())
            .bind(c.org_id.to_string())
            .bind(&c.name)
            .bind(&c.kind)
            .bind(c.config.to_string())
            .bind(&c.min_severity)
            .bind(c.enabled)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_channels(&self, scope: &Scope) -> Result<Vec<ChannelRecord>> {
        let sql = channels_sql(self, "");
        self.scoped(sql, scope).await?.iter().map(channel).collect()
    }

    async fn get_channel(&self, scope: &Scope, id: Uuid) -> Result<ChannelRecord> {
        let sql = channels_sql(self, " AND c.id = $2");
        one(self.scoped_by(sql, scope, &id.to_string()).await?, channel)
    }

    async fn update_channel(
        &self,
        scope: &Scope,
        c: &ChannelRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "channels",
            "name = $4, kind = $5, config = $6, min_severity = $7, enabled = $8",
            &self.in_scope(1, "org_id", None),
            (scope, &c.id.to_string(), expected),
            vec![
                c.name.as_str().arg(),
                c.kind.as_str().arg(),
                c.config.to_string().arg(),
                c.min_severity.as_str().arg(),
                c.enabled.arg(),
            ],
        )
        .await
    }

    async fn delete_channel(&self, scope: &Scope, id: Uuid) -> Result<u64> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let visible = format!(
            "SELECT id FROM channels WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        let found = q(visible)
            .bind(crate::scope_param(scope))
            .bind(id.to_string())
            .fetch_optional(&mut tx)
            .await
            .map_err(backend)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        let dropped = q("DELETE FROM outbox WHERE channel_id = $1 AND sent_at IS NULL")
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?
            .rows_affected();
        // Sent notifications go with it: the alerts' own history keeps
        // what happened.
        q("DELETE FROM outbox WHERE channel_id = $1")
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        q("DELETE FROM channels WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(dropped)
    }
}
