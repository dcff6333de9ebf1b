//! Alerts (one active per monitor/device/subject), their history and the
//! persistent outbox (monitors and channels: `monitors.rs`).

use crate::db::{Row, q};
use crate::{SqlStore, backend, json, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 2,
        "warning" => 1,
        _ => 0,
    }
}

/// Queues `payload` for every channel of `org` that wants it: at or above
/// its minimum severity (`rank_as`; "ok" reaches every channel), and, for a
/// channel limited to tags, only about a device with one of them.
pub(crate) async fn queue(
    tx: &mut crate::db::Tx,
    org: Uuid,
    alert: Uuid,
    rank_as: &str,
    device_tags: Option<&[String]>,
    payload: &str,
    at: i64,
) -> Result<()> {
    let channels = q("SELECT id, min_severity, config FROM channels WHERE org_id = $1 AND enabled")
        .bind(org.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    // Incident events go only to channels that asked for them (a helpdesk
    // integration); alert notifications go to every channel.
    let incident_event =
        serde_json::from_str::<serde_json::Value>(payload).is_ok_and(|p| p["kind"] == "incident");
    for ch in channels {
        if incident_event && json(ch.get("config"))["incident_events"] != true {
            continue;
        }
        let min: String = ch.get("min_severity");
        if rank_as != "ok" && rank(rank_as) < rank(&min) {
            continue;
        }
        let wanted: Vec<String> =
            serde_json::from_value(json(ch.get("config"))["tags"].clone()).unwrap_or_default();
        if let Some(tags) = device_tags
            && !wanted.is_empty()
            && !wanted.iter().any(|t| tags.contains(t))
        {
            continue;
        }
        q("INSERT INTO outbox (org_id, channel_id, alert_id, payload, created_at, next_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(org.to_string())
            .bind(ch.get::<String, _>("id"))
            .bind(alert.to_string())
            .bind(payload)
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

fn alert(row: &Row) -> Result<AlertRecord> {
    Ok(AlertRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        monitor_id: row.get("monitor_id"),
        monitor_name: row.get("monitor_name"),
        device_id: uuid(row.get("device_id"))?,
        device_name: row.try_get("device_name").unwrap_or_default(),
        subject: row.get("subject"),
        state: row.get("state"),
        severity: row.get("severity"),
        summary: row.get("summary"),
        opened_at: row.get("opened_at"),
        updated_at: row.get("updated_at"),
        acknowledged_by: row.get("acknowledged_by"),
        acknowledged_at: row.get("acknowledged_at"),
        resolved_by: row.get("resolved_by"),
        resolved_at: row.get("resolved_at"),
        flapping: row.get("flapping"),
        suppressed: row.get("suppressed"),
    })
}

#[async_trait]
impl AlertStore for SqlStore {
    /// Records one change in one transaction; what it means (open, update,
    /// nothing; the event; the ranking) is `AlertChange::step`.
    async fn record_alert_change(&self, c: &AlertChange) -> Result<Option<Uuid>> {
        // Ahead of ingest: an alert waits for no queued metric batches.
        let mut tx = self.write_gate.begin(&self.db).await.map_err(backend)?;
        let open = q(format!("SELECT id, severity FROM alerts WHERE monitor_id = $1 AND device_id = $2 AND subject = $3 AND state != 'resolved'{}", crate::dialect::for_update(self.kind())))
            .bind(&c.monitor_id)
            .bind(c.device_id.to_string())
            .bind(&c.subject)
            .fetch_optional(&mut tx)
            .await
            .map_err(backend)?
            .map(|row| Ok::<_, StoreError>((uuid(row.get("id"))?, row.get::<String, _>("severity"))))
            .transpose()?;
        let (id, event, rank_as) = match c.step(open) {
            AlertStep::Nothing(id) => return Ok(id),
            AlertStep::Open { id, event } => {
                q(
                    "INSERT INTO alerts (id, org_id, monitor_id, monitor_name, device_id, subject, state, severity, summary, opened_at, updated_at, flapping)
                     VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10, $11)",
                )
                .bind(id.to_string())
                .bind(c.org_id.to_string())
                .bind(&c.monitor_id)
                .bind(&c.monitor_name)
                .bind(c.device_id.to_string())
                .bind(&c.subject)
                .bind(&c.severity)
                .bind(&c.summary)
                .bind(c.at)
                .bind(c.at)
                .bind(c.flapping)
                .execute(&mut tx)
                .await
                .map_err(backend)?;
                (id, event, c.severity.clone())
            }
            AlertStep::Update { id, event, rank_as } => {
                q(
                    "UPDATE alerts SET severity = CASE WHEN $2 = 'ok' THEN severity ELSE $2 END, summary = $3, updated_at = $4,
                         state = CASE WHEN $2 = 'ok' THEN 'resolved' ELSE state END,
                         resolved_at = CASE WHEN $2 = 'ok' THEN $4 ELSE resolved_at END,
                         flapping = flapping OR $5
                     WHERE id = $1",
                )
                .bind(id.to_string())
                .bind(&c.severity)
                .bind(&c.summary)
                .bind(c.at)
                .bind(c.flapping)
                .execute(&mut tx)
                .await
                .map_err(backend)?;
                (id, event, rank_as)
            }
        };
        if let Some(why) = &c.suppressed {
            q("UPDATE alerts SET suppressed = $1 WHERE id = $2")
                .bind(why)
                .bind(id.to_string())
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        q("INSERT INTO alert_events (alert_id, at, event) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(c.at)
            .bind(event.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        if c.notifies() {
            let device_tags: Vec<String> = q("SELECT tags FROM devices WHERE id = $1")
                .bind(c.device_id.to_string())
                .fetch_optional(&mut tx)
                .await
                .map_err(backend)?
                .and_then(|row| serde_json::from_str(&row.get::<String, _>("tags")).ok())
                .unwrap_or_default();
            queue(
                &mut tx,
                c.org_id,
                id,
                &rank_as,
                Some(&device_tags),
                &c.payload(id),
                c.at,
            )
            .await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Some(id))
    }

    async fn list_alerts(&self, scope: &Scope, active_only: bool) -> Result<Vec<AlertRecord>> {
        let sql = format!(
            "SELECT a.*, d.name AS device_name FROM alerts a JOIN devices d ON d.id = a.device_id WHERE ($2 = false OR a.state != 'resolved') AND {} ORDER BY a.opened_at DESC LIMIT 5000",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        q(sql)
            .bind(scope_param(scope))
            .bind(active_only)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(alert)
            .collect()
    }

    async fn device_open_alerts(&self, device: Uuid) -> Result<Vec<AlertRecord>> {
        q(
            "SELECT a.*, d.name AS device_name FROM alerts a JOIN devices d ON d.id = a.device_id WHERE a.device_id = $1 AND a.state != 'resolved' ORDER BY a.opened_at",
        )
        .bind(device.to_string())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(alert)
        .collect()
    }

    async fn alert_history(&self, scope: &Scope, id: Uuid) -> Result<Vec<AlertEventRecord>> {
        self.visible_alert(scope, id).await?;
        let mut events = q("SELECT at, event FROM alert_events WHERE alert_id = $1 ORDER BY id")
            .bind(id.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| AlertEventRecord {
                at: row.get("at"),
                event: json(row.get("event")),
            })
            .collect::<Vec<_>>();
        // Each notification queued for the alert, as it stands: sent,
        // retrying (with the channel's error) or waiting.
        let notifications = q(
            "SELECT o.created_at, o.sent_at, o.abandoned_at, o.attempts, o.last_error, o.payload, c.name, c.kind
             FROM outbox o JOIN channels c ON c.id = o.channel_id WHERE o.alert_id = $1 ORDER BY o.id",
        )
        .bind(id.to_string())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?;
        for row in &notifications {
            let sent_at: Option<i64> = row.get("sent_at");
            let payload = json(row.get("payload"));
            events.push(AlertEventRecord {
                at: sent_at.unwrap_or(row.get("created_at")),
                event: serde_json::json!({
                    "event": "notification",
                    "channel": row.get::<String, _>("name"),
                    "kind": row.get::<String, _>("kind"),
                    "state": payload["state"],
                    "status": if sent_at.is_some() { "sent" } else if row.get::<Option<i64>, _>("abandoned_at").is_some() { "undelivered" } else if row.get::<i64, _>("attempts") > 0 { "retrying" } else { "queued" },
                    "attempts": row.get::<i64, _>("attempts"),
                    "error": row.get::<Option<String>, _>("last_error"),
                }),
            });
        }
        events.sort_by_key(|e| e.at);
        Ok(events)
    }

    async fn acknowledge_alert(&self, scope: &Scope, id: Uuid, by: &str, at: i64) -> Result<()> {
        let current = self.visible_alert(scope, id).await?;
        if current.state != "open" {
            return Err(StoreError::Refused(format!(
                "the alert is {}",
                current.state
            )));
        }
        q("UPDATE alerts SET state = 'acknowledged', acknowledged_by = $1, acknowledged_at = $2, updated_at = $3 WHERE id = $4 AND state = 'open'")
            .bind(by)
            .bind(at)
            .bind(at)
            .bind(id.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        self.person_event(
            id,
            at,
            serde_json::json!({ "event": "acknowledged", "by": by }),
        )
        .await
    }

    async fn resolve_alert(
        &self,
        scope: &Scope,
        id: Uuid,
        by: &str,
        at: i64,
    ) -> Result<AlertRecord> {
        let current = self.visible_alert(scope, id).await?;
        if current.state == "resolved" {
            return Err(StoreError::Refused("the alert is already resolved".into()));
        }
        q("UPDATE alerts SET state = 'resolved', resolved_at = $1, updated_at = $2, resolved_by = $3 WHERE id = $4")
            .bind(at)
            .bind(at)
            .bind(by)
            .bind(id.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        self.person_event(id, at, serde_json::json!({ "event": "resolved", "by": by }))
            .await?;
        Ok(current)
    }

    async fn due_notifications(&self, now: i64, limit: u32) -> Result<Vec<OutboxItem>> {
        q(
            "SELECT o.id AS outbox_id, o.payload, o.attempts, o.created_at AS queued_at, c.* FROM outbox o JOIN channels c ON c.id = o.channel_id
             WHERE c.enabled AND o.sent_at IS NULL AND o.abandoned_at IS NULL AND o.next_at <= $1 ORDER BY o.id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| {
            Ok(OutboxItem {
                id: row.get("outbox_id"),
                channel: crate::monitors::channel(row)?,
                payload: row.get("payload"),
                attempts: row.get::<i64, _>("attempts").max(0) as u32,
                queued_at: row.get("queued_at"),
            })
        })
        .collect()
    }

    /// Ahead of ingest, as the alert's own write: the notifier records a
    /// delivery before its next round, so on SQLite these waited behind
    /// queued metric batches (and the notifications after them).
    async fn notification_sent(&self, id: i64, at: i64) -> Result<()> {
        let mut tx = self.write_gate.begin(&self.db).await.map_err(backend)?;
        q("UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn notification_failed(
        &self,
        id: i64,
        error: &str,
        next_at: Option<i64>,
        at: i64,
    ) -> Result<()> {
        let mut tx = self.write_gate.begin(&self.db).await.map_err(backend)?;
        q("UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_at = COALESCE($2, next_at),
             abandoned_at = CASE WHEN $2 IS NULL THEN $3 END WHERE id = $4")
            .bind(error)
            .bind(next_at)
            .bind(at)
            .bind(id)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn enqueue_notification(
        &self,
        org: Uuid,
        alert: Uuid,
        severity: &str,
        device_tags: Option<&[String]>,
        payload: &str,
        at: i64,
    ) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        // A grouped notification is about many devices: no tags, no limits.
        queue(&mut tx, org, alert, severity, device_tags, payload, at).await?;
        tx.commit().await.map_err(backend)
    }

    async fn suppression_counts(&self, scope: &Scope) -> Result<Vec<(String, u64)>> {
        let sql = format!(
            "SELECT a.suppressed, COUNT(*) AS n FROM alerts a JOIN devices d ON d.id = a.device_id
             WHERE a.suppressed IS NOT NULL AND {} GROUP BY a.suppressed ORDER BY n DESC",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(|row| Ok((row.get("suppressed"), row.get::<i64, _>("n").max(0) as u64)))
            .collect()
    }
}

impl SqlStore {
    async fn visible_alert(&self, scope: &Scope, id: Uuid) -> Result<AlertRecord> {
        let sql = format!(
            "SELECT a.*, d.name AS device_name FROM alerts a JOIN devices d ON d.id = a.device_id WHERE a.id = $2 AND {}",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        alert(
            &q(sql)
                .bind(scope_param(scope))
                .bind(id.to_string())
                .fetch_one(&self.db)
                .await
                .map_err(backend)?,
        )
    }

    async fn person_event(&self, id: Uuid, at: i64, event: serde_json::Value) -> Result<()> {
        q("INSERT INTO alert_events (alert_id, at, event) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(at)
            .bind(event.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
