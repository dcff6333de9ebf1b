//! Agentless devices and the probes assigned to them (see
//! `steward_store::AgentlessStore`).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn probe(row: &Row) -> Result<ProbeRecord> {
    Ok(ProbeRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        device_id: uuid(row.get("device_id"))?,
        name: row.get("name"),
        url: row.get("url"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
    })
}

impl SqlStore {
    /// The probing agent must be an enrolled, unrevoked agent of `org`.
    async fn check_probe_agent(&self, org: Uuid, agent: Uuid) -> Result<()> {
        let rows = q("SELECT id FROM devices WHERE id = $1 AND org_id = $2 AND kind = 'agent' AND NOT revoked AND retired_at IS NULL")
            .bind(agent.to_string())
            .bind(org.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The organisation of an agentless device in scope.
    async fn agentless_org(&self, scope: &Scope, id: Uuid) -> Result<Uuid> {
        let sql = format!(
            "SELECT org_id FROM devices WHERE id = $2 AND kind = 'agentless' AND retired_at IS NULL AND {}",
            self.in_scope(1, "org_id", Some("site"))
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(|row| uuid(row.get("org_id")))
            .unwrap_or(Err(StoreError::NotFound))
    }
}

#[async_trait]
impl AgentlessStore for SqlStore {
    async fn create_agentless(&self, device: &NewDevice, fields: &AgentlessFields) -> Result<()> {
        self.check_probe_agent(device.org_id, fields.probe_agent)
            .await?;
        q("INSERT INTO devices (id, org_id, site, name, hostname, tags, cert_fingerprint, enrolled_at, kind, category, address, probe_agent_id, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'agentless', $9, $10, $11, 'unknown')")
        .bind(device.id.to_string())
        .bind(device.org_id.to_string())
        .bind(&device.site)
        .bind(&device.name)
        .bind(&device.hostname)
        .bind(serde_json::to_string(&device.tags).unwrap_or_else(|_| "[]".into()))
        .bind(format!("agentless:{}", device.id))
        .bind(device.enrolled_at)
        .bind(&fields.category)
        .bind(&fields.address)
        .bind(fields.probe_agent.to_string())
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn edit_agentless(
        &self,
        scope: &Scope,
        id: Uuid,
        name: &str,
        fields: &AgentlessFields,
        expected: Option<i64>,
    ) -> Result<i64> {
        let org = self.agentless_org(scope, id).await?;
        self.check_probe_agent(org, fields.probe_agent).await?;
        let condition = format!(
            "kind = 'agentless' AND {}",
            self.in_scope(1, "org_id", Some("site"))
        );
        self.versioned_edit(
            "devices",
            "name = $4, hostname = $5, address = $5, category = $6, probe_agent_id = $7",
            &condition,
            (scope, &id.to_string(), expected),
            vec![
                name.arg(),
                fields.address.as_str().arg(),
                fields.category.as_str().arg(),
                fields.probe_agent.to_string().arg(),
            ],
        )
        .await
    }

    async fn add_probe(&self, scope: &Scope, p: &ProbeRecord) -> Result<()> {
        let org = self.agentless_org(scope, p.device_id).await?;
        if org != p.org_id {
            return Err(StoreError::NotFound);
        }
        q(
            "INSERT INTO device_probes (id, org_id, device_id, name, url, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.id.to_string())
        .bind(p.org_id.to_string())
        .bind(p.device_id.to_string())
        .bind(&p.name)
        .bind(&p.url)
        .bind(&p.created_by)
        .bind(p.created_at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn device_probes(&self, scope: &Scope, device: Uuid) -> Result<Vec<ProbeRecord>> {
        let sql = format!(
            "SELECT p.* FROM device_probes p JOIN devices d ON d.id = p.device_id
             WHERE p.device_id = $2 AND {} ORDER BY p.name",
            self.in_scope(1, "d.org_id", Some("d.site"))
        );
        self.scoped_by(sql, scope, &device.to_string())
            .await?
            .iter()
            .map(probe)
            .collect()
    }

    async fn delete_probe(&self, scope: &Scope, device: Uuid, id: Uuid) -> Result<()> {
        self.agentless_org(scope, device).await?;
        self.one_changed(
            q("DELETE FROM device_probes WHERE id = $1 AND device_id = $2")
                .bind(id.to_string())
                .bind(device.to_string()),
        )
        .await
    }

    async fn probes_for_agent(&self, agent: Uuid) -> Result<Vec<AssignedProbe>> {
        q("SELECT p.*, d.site FROM device_probes p JOIN devices d ON d.id = p.device_id
           WHERE d.probe_agent_id = $1 AND d.kind = 'agentless' AND d.retired_at IS NULL AND d.org_id = p.org_id
           ORDER BY p.device_id, p.name")
        .bind(agent.to_string())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| {
            Ok(AssignedProbe {
                probe: probe(row)?,
                site: row.get("site"),
            })
        })
        .collect()
    }

    async fn agentless_of(&self, agent: Uuid) -> Result<Vec<Uuid>> {
        q("SELECT id FROM devices WHERE probe_agent_id = $1 AND kind = 'agentless' AND retired_at IS NULL ORDER BY id")
            .bind(agent.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| uuid(row.get("id")))
            .collect()
    }
}
