//! Incidents, their links and timelines (see `steward_store::IncidentStore`).

use crate::db::{Bind, Row, Tx, q};
use crate::{SqlStore, backend, json, scope_param, uuid};
use async_trait::async_trait;
use std::collections::HashMap;
use steward_store::*;
use uuid::Uuid;

fn incident(row: &Row) -> Result<IncidentRecord> {
    Ok(IncidentRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        title: row.get("title"),
        status: row.get("status"),
        priority: row.get("priority"),
        assignee: row.get("assignee"),
        devices: Vec::new(),
        alerts: Vec::new(),
        time_spent_ms: row.get("time_spent_ms"),
        opened_at: row.get("opened_at"),
        opened_by: row.get("opened_by"),
        acknowledged_at: row.get("acknowledged_at"),
        resolved_at: row.get("resolved_at"),
        closed_at: row.get("closed_at"),
        last_activity: row.get("last_activity"),
        version: row.get("version"),
    })
}

pub(crate) async fn insert_event(tx: &mut Tx, incident: &str, entry: &TimelineEntry) -> Result<()> {
    q("INSERT INTO incident_events (incident_id, at, actor, kind, body) VALUES ($1, $2, $3, $4, $5)")
        .bind(incident)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.kind)
        .bind(entry.body.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn link_device(tx: &mut Tx, incident: &str, device: Uuid) -> Result<()> {
    q("INSERT INTO incident_devices (incident_id, device_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(incident)
        .bind(device.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn insert_incident(tx: &mut Tx, i: &IncidentRecord) -> Result<()> {
    q("INSERT INTO incidents (id, org_id, title, status, priority, assignee, time_spent_ms, opened_at, opened_by, acknowledged_at, resolved_at, closed_at, last_activity, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1)")
        .bind(i.id.to_string())
        .bind(i.org_id.to_string())
        .bind(&i.title)
        .bind(&i.status)
        .bind(&i.priority)
        .bind(i.assignee.clone())
        .bind(i.time_spent_ms)
        .bind(i.opened_at)
        .bind(&i.opened_by)
        .bind(i.acknowledged_at)
        .bind(i.resolved_at)
        .bind(i.closed_at)
        .bind(i.last_activity)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    for device in &i.devices {
        link_device(tx, &i.id.to_string(), *device).await?;
    }
    Ok(())
}

impl SqlStore {
    /// Fills in the linked devices and alerts of `incidents` (two queries
    /// over the ids, whatever their number).
    async fn with_links(&self, mut incidents: Vec<IncidentRecord>) -> Result<Vec<IncidentRecord>> {
        if incidents.is_empty() {
            return Ok(incidents);
        }
        let ids: Vec<String> = incidents.iter().map(|i| i.id.to_string()).collect();
        let list = serde_json::Value::from(ids).to_string();
        let within = format!(
            "SELECT {} FROM {}",
            crate::dialect::element_text(self.kind(), "e"),
            crate::dialect::json_elements(self.kind(), "$1", None, "e")
        );
        let mut devices: HashMap<String, Vec<Uuid>> = HashMap::new();
        let mut alerts: HashMap<String, Vec<Uuid>> = HashMap::new();
        for row in q(format!(
            "SELECT incident_id, device_id FROM incident_devices WHERE incident_id IN ({within}) ORDER BY device_id"
        ))
        .bind(list.as_str())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        {
            devices
                .entry(row.get("incident_id"))
                .or_default()
                .push(uuid(row.get("device_id"))?);
        }
        for row in q(format!(
            "SELECT incident_id, alert_id FROM incident_alerts WHERE incident_id IN ({within}) ORDER BY linked_at, alert_id"
        ))
        .bind(list.as_str())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        {
            alerts
                .entry(row.get("incident_id"))
                .or_default()
                .push(uuid(row.get("alert_id"))?);
        }
        for i in &mut incidents {
            let id = i.id.to_string();
            i.devices = devices.remove(&id).unwrap_or_default();
            i.alerts = alerts.remove(&id).unwrap_or_default();
        }
        Ok(incidents)
    }
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn create_incident(
        &self,
        incident: &IncidentRecord,
        timeline: &[TimelineEntry],
    ) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        insert_incident(&mut tx, incident).await?;
        for entry in timeline {
            insert_event(&mut tx, &incident.id.to_string(), entry).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn list_incidents(
        &self,
        scope: &Scope,
        filter: &IncidentFilter,
    ) -> Result<Vec<IncidentRecord>> {
        let sql = format!(
            "SELECT * FROM incidents i WHERE {}
               AND ($2 IS NULL OR i.status = $2) AND ($3 IS NULL OR i.priority = $3)
               AND ($4 IS NULL OR EXISTS (SELECT 1 FROM incident_devices d WHERE d.incident_id = i.id AND d.device_id = $4))
             ORDER BY i.opened_at DESC, i.id",
            self.in_org(1, "i.org_id")
        );
        let rows = q(sql)
            .bind(scope_param(scope))
            .bind(filter.status.clone())
            .bind(filter.priority.clone())
            .bind(filter.device.map(|d| d.to_string()))
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        let incidents = rows.iter().map(incident).collect::<Result<Vec<_>>>()?;
        self.with_links(incidents).await
    }

    async fn get_incident(&self, scope: &Scope, id: Uuid) -> Result<IncidentRecord> {
        let sql = format!(
            "SELECT * FROM incidents i WHERE i.id = $2 AND {}",
            self.in_org(1, "i.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        let found = rows.first().map(incident).ok_or(StoreError::NotFound)??;
        let mut linked = self.with_links(vec![found]).await?;
        linked.pop().ok_or(StoreError::NotFound)
    }

    async fn update_incident(
        &self,
        scope: &Scope,
        i: &IncidentRecord,
        expected: Option<i64>,
        timeline: &[TimelineEntry],
    ) -> Result<i64> {
        let version = self
            .versioned_edit(
                "incidents",
                "title = $4, status = $5, priority = $6, assignee = $7, time_spent_ms = $8, acknowledged_at = $9, resolved_at = $10, closed_at = $11, last_activity = $12",
                &self.in_scope(1, "org_id", None),
                (scope, &i.id.to_string(), expected),
                vec![
                    i.title.as_str().arg(),
                    i.status.as_str().arg(),
                    i.priority.as_str().arg(),
                    i.assignee.clone().arg(),
                    i.time_spent_ms.arg(),
                    i.acknowledged_at.arg(),
                    i.resolved_at.arg(),
                    i.closed_at.arg(),
                    i.last_activity.arg(),
                ],
            )
            .await?;
        let mut tx = self.db.begin().await.map_err(backend)?;
        for device in &i.devices {
            link_device(&mut tx, &i.id.to_string(), *device).await?;
        }
        for entry in timeline {
            insert_event(&mut tx, &i.id.to_string(), entry).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(version)
    }

    async fn delete_incident(&self, scope: &Scope, id: Uuid) -> Result<()> {
        // The scope test first: links and timeline go only with an
        // incident the caller may delete.
        let mut tx = self.db.begin().await.map_err(backend)?;
        let found = q(format!(
            "SELECT id FROM incidents WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        ))
        .bind(scope_param(scope))
        .bind(id.to_string())
        .fetch_optional(&mut tx)
        .await
        .map_err(backend)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        for table in ["incident_events", "incident_alerts", "incident_devices"] {
            q(format!("DELETE FROM {table} WHERE incident_id = $1"))
                .bind(id.to_string())
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        q("DELETE FROM incidents WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn append_timeline(&self, scope: &Scope, id: Uuid, entry: &TimelineEntry) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let touched = q(format!(
            "UPDATE incidents SET last_activity = CASE WHEN last_activity > $3 THEN last_activity ELSE $3 END WHERE id = $2 AND {}",
            self.in_org(1, "org_id")
        ))
        .bind(scope_param(scope))
        .bind(id.to_string())
        .bind(entry.at)
        .execute(&mut tx)
        .await
        .map_err(backend)?;
        if touched.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &id.to_string(), entry).await?;
        tx.commit().await.map_err(backend)
    }

    async fn incident_timeline(&self, scope: &Scope, id: Uuid) -> Result<Vec<TimelineEntry>> {
        self.get_incident(scope, id).await?;
        q("SELECT at, actor, kind, body FROM incident_events WHERE incident_id = $1 ORDER BY at, seq")
            .bind(id.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| {
                Ok(TimelineEntry {
                    at: row.get("at"),
                    actor: row.get("actor"),
                    kind: row.get("kind"),
                    body: json(row.get("body")),
                })
            })
            .collect()
    }

    async fn grouping_candidates(&self, org: Uuid, since: i64) -> Result<Vec<GroupingCandidate>> {
        let open = q("SELECT id, last_activity FROM incidents WHERE org_id = $1 AND status IN ('open', 'acknowledged') AND last_activity >= $2 ORDER BY id")
            .bind(org.to_string())
            .bind(since)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        let mut candidates = Vec::with_capacity(open.len());
        for row in &open {
            let id: String = row.get("id");
            let mut candidate = GroupingCandidate {
                id: uuid(&id)?,
                devices: Vec::new(),
                monitors: Vec::new(),
                groups: Vec::new(),
                last_activity: row.get("last_activity"),
            };
            for d in q("SELECT device_id FROM incident_devices WHERE incident_id = $1")
                .bind(id.as_str())
                .fetch_all(&self.db)
                .await
                .map_err(backend)?
            {
                candidate.devices.push(uuid(d.get("device_id"))?);
            }
            for a in q(
                "SELECT DISTINCT monitor_id, group_key FROM incident_alerts WHERE incident_id = $1",
            )
            .bind(id.as_str())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            {
                let monitor: String = a.get("monitor_id");
                if !candidate.monitors.contains(&monitor) {
                    candidate.monitors.push(monitor);
                }
                let group: Option<String> = a.get("group_key");
                if let Some(g) = group.filter(|g| !candidate.groups.contains(g)) {
                    candidate.groups.push(g);
                }
            }
            candidates.push(candidate);
        }
        Ok(candidates)
    }

    async fn link_alert(
        &self,
        incident: Uuid,
        link: &AlertLink,
        new: Option<&IncidentRecord>,
        entry: &TimelineEntry,
    ) -> Result<bool> {
        let id = incident.to_string();
        let mut tx = self.db.begin().await.map_err(backend)?;
        if let Some(new) = new {
            insert_incident(&mut tx, new).await?;
        }
        let claimed = q("INSERT INTO incident_alerts (alert_id, incident_id, device_id, monitor_id, group_key, linked_at)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")
            .bind(link.alert_id.to_string())
            .bind(id.as_str())
            .bind(link.device_id.to_string())
            .bind(&link.monitor_id)
            .bind(link.group_key.clone())
            .bind(entry.at)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        if claimed.rows_affected() == 0 {
            // Dropped without commit: rolled back, the new incident too.
            return Ok(false);
        }
        link_device(&mut tx, &id, link.device_id).await?;
        let touched = q("UPDATE incidents SET last_activity = CASE WHEN last_activity > $2 THEN last_activity ELSE $2 END WHERE id = $1")
            .bind(id.as_str())
            .bind(entry.at)
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        if touched.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &id, entry).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn incident_of_alert(&self, alert: Uuid) -> Result<Option<Uuid>> {
        q("SELECT incident_id FROM incident_alerts WHERE alert_id = $1")
            .bind(alert.to_string())
            .fetch_optional(&self.db)
            .await
            .map_err(backend)?
            .map(|row| uuid(row.get("incident_id")))
            .transpose()
    }
}
