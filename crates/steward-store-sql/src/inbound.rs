//! Inbound incident webhooks, delivery claims and external ids (see
//! `steward_store::InboundStore`).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn webhook(row: &Row) -> Result<IncidentWebhookRecord> {
    Ok(IncidentWebhookRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        name: row.get("name"),
        secret: row.get("secret"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        version: row.get("version"),
    })
}

#[async_trait]
impl InboundStore for SqlStore {
    async fn create_incident_webhook(&self, w: &IncidentWebhookRecord) -> Result<()> {
        q("INSERT INTO incident_webhooks (id, org_id, name, secret, created_by, created_at, updated_at, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 1)")
        .bind(w.id.to_string())
        .bind(w.org_id.to_string())
        .bind(&w.name)
        .bind(&w.secret)
        .bind(&w.created_by)
        .bind(w.created_at)
        .bind(w.updated_at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_incident_webhooks(&self, scope: &Scope) -> Result<Vec<IncidentWebhookRecord>> {
        let sql = format!(
            "SELECT * FROM incident_webhooks w WHERE {} ORDER BY w.org_id, w.name, w.id",
            self.in_org(1, "w.org_id")
        );
        self.scoped(sql, scope).await?.iter().map(webhook).collect()
    }

    async fn get_incident_webhook(&self, scope: &Scope, id: Uuid) -> Result<IncidentWebhookRecord> {
        let sql = format!(
            "SELECT * FROM incident_webhooks w WHERE w.id = $2 AND {}",
            self.in_org(1, "w.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(webhook)
            .unwrap_or(Err(StoreError::NotFound))
    }

    async fn update_incident_webhook(
        &self,
        scope: &Scope,
        w: &IncidentWebhookRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "incident_webhooks",
            "name = $4, updated_at = $5",
            &self.in_scope(1, "org_id", None),
            (scope, &w.id.to_string(), expected),
            vec![w.name.as_str().arg(), w.updated_at.arg()],
        )
        .await
    }

    async fn delete_incident_webhook(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM incident_webhooks WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn claim_inbound_delivery(
        &self,
        webhook: Uuid,
        signature: &str,
        at: i64,
        forget_before: i64,
    ) -> Result<bool> {
        q("DELETE FROM incident_webhook_deliveries WHERE at < $1")
            .bind(forget_before)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        let done = q("INSERT INTO incident_webhook_deliveries (webhook_id, signature, at) VALUES ($1, $2, $3)
                      ON CONFLICT (webhook_id, signature) DO NOTHING")
        .bind(webhook.to_string())
        .bind(signature)
        .bind(at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn external_incident(&self, webhook: Uuid, external_id: &str) -> Result<Option<Uuid>> {
        let row = q(
            "SELECT incident_id FROM incident_external_ids WHERE webhook_id = $1 AND external_id = $2",
        )
        .bind(webhook.to_string())
        .bind(external_id)
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        row.map(|r| uuid(r.get("incident_id"))).transpose()
    }

    async fn link_external_incident(
        &self,
        webhook: Uuid,
        external_id: &str,
        incident: Uuid,
    ) -> Result<bool> {
        let done = q("INSERT INTO incident_external_ids (webhook_id, external_id, incident_id) VALUES ($1, $2, $3)
                      ON CONFLICT (webhook_id, external_id) DO NOTHING")
        .bind(webhook.to_string())
        .bind(external_id)
        .bind(incident.to_string())
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
