//! Inbound email routes and Message-ID claims (see
//! `steward_store::InboundEmailStore`).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, json, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn route(row: &Row) -> Result<InboundEmailRouteRecord> {
    let senders: String = row.get("senders");
    Ok(InboundEmailRouteRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        name: row.get("name"),
        secret: row.get("secret"),
        senders: serde_json::from_value(json(&senders))
            .map_err(|e| StoreError::Corrupt(format!("email route senders: {e}")))?,
        priority: row.get("priority"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        version: row.get("version"),
    })
}

fn senders(r: &InboundEmailRouteRecord) -> String {
    serde_json::to_string(&r.senders).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl InboundEmailStore for SqlStore {
    async fn create_email_route(&self, r: &InboundEmailRouteRecord) -> Result<()> {
        q("INSERT INTO inbound_email_routes (id, org_id, name, secret, senders, priority, created_by, created_at, updated_at, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)")
        .bind(r.id.to_string())
        .bind(r.org_id.to_string())
        .bind(&r.name)
        .bind(&r.secret)
        .bind(senders(r))
        .bind(&r.priority)
        .bind(&r.created_by)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_email_routes(&self, scope: &Scope) -> Result<Vec<InboundEmailRouteRecord>> {
        let sql = format!(
            "SELECT * FROM inbound_email_routes r WHERE {} ORDER BY r.org_id, r.name, r.id",
            self.in_org(1, "r.org_id")
        );
        self.scoped(sql, scope).await?.iter().map(route).collect()
    }

    async fn get_email_route(&self, scope: &Scope, id: Uuid) -> Result<InboundEmailRouteRecord> {
        let sql = format!(
            "SELECT * FROM inbound_email_routes r WHERE r.id = $2 AND {}",
            self.in_org(1, "r.org_id")
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first().map(route).unwrap_or(Err(StoreError::NotFound))
    }

    async fn update_email_route(
        &self,
        scope: &Scope,
        r: &InboundEmailRouteRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "inbound_email_routes",
            "name = $4, senders = $5, priority = $6, updated_at = $7",
            &self.in_scope(1, "org_id", None),
            (scope, &r.id.to_string(), expected),
            vec![
                r.name.as_str().arg(),
                senders(r).arg(),
                r.priority.as_str().arg(),
                r.updated_at.arg(),
            ],
        )
        .await
    }

    async fn delete_email_route(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM inbound_email_routes WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn claim_email_message(
        &self,
        route: Uuid,
        message_id: &str,
        at: i64,
        forget_before: i64,
    ) -> Result<bool> {
        q("DELETE FROM inbound_email_messages WHERE at < $1")
            .bind(forget_before)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        let done = q(
            "INSERT INTO inbound_email_messages (route_id, message_id, at) VALUES ($1, $2, $3)
                      ON CONFLICT (route_id, message_id) DO NOTHING",
        )
        .bind(route.to_string())
        .bind(message_id)
        .bind(at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
