//! OTLP ingestion tokens and the devices an OTLP resource may name (see
//! `steward_store::OtlpStore`).

use crate::db::{Row, q};
use crate::{SqlStore, backend, dialect, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn token(row: &Row) -> Result<OtlpTokenRecord> {
    Ok(OtlpTokenRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        name: row.get("name"),
        secret_hash: row.get("secret_hash"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
    })
}

/// Most devices one lookup answers (a request names far fewer).
const MAX_DEVICES: i64 = 1_000;

#[async_trait]
impl OtlpStore for SqlStore {
    async fn create_otlp_token(&self, t: &OtlpTokenRecord) -> Result<()> {
        q(
            "INSERT INTO otlp_tokens (id, org_id, name, secret_hash, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(t.id.to_string())
        .bind(t.org_id.to_string())
        .bind(&t.name)
        .bind(&t.secret_hash)
        .bind(&t.created_by)
        .bind(t.created_at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_otlp_tokens(&self, scope: &Scope) -> Result<Vec<OtlpTokenRecord>> {
        let sql = format!(
            "SELECT * FROM otlp_tokens t WHERE {} ORDER BY t.org_id, t.name, t.id",
            self.in_org(1, "t.org_id")
        );
        self.scoped(sql, scope).await?.iter().map(token).collect()
    }

    async fn revoke_otlp_token(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM otlp_tokens WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn otlp_token_by_hash(&self, secret_hash: &str) -> Result<Option<OtlpTokenRecord>> {
        let row = q("SELECT * FROM otlp_tokens WHERE secret_hash = $1")
            .bind(secret_hash)
            .fetch_optional(&self.db)
            .await
            .map_err(backend)?;
        row.as_ref().map(token).transpose()
    }

    async fn otlp_devices(
        &self,
        org: Uuid,
        ids: &[Uuid],
        hostnames: &[String],
    ) -> Result<Vec<OtlpDevice>> {
        if ids.is_empty() && hostnames.is_empty() {
            return Ok(Vec::new());
        }
        let kind = self.kind();
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let names: Vec<String> = hostnames.iter().map(|h| h.to_ascii_lowercase()).collect();
        let sql = format!(
            "SELECT id, org_id, hostname FROM devices d
             WHERE d.org_id = $1 AND NOT d.revoked AND d.retired_at IS NULL
               AND (d.id IN (SELECT {id} FROM {ids_src})
                    OR lower(d.hostname) IN (SELECT {name} FROM {names_src}))
             ORDER BY d.id LIMIT {MAX_DEVICES}",
            id = dialect::element_text(kind, "i"),
            ids_src = dialect::json_elements(kind, "$2", None, "i"),
            name = dialect::element_text(kind, "n"),
            names_src = dialect::json_elements(kind, "$3", None, "n"),
        );
        let rows = q(sql)
            .bind(org.to_string())
            .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
            .bind(serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()))
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(OtlpDevice {
                    id: uuid(r.get("id"))?,
                    org_id: uuid(r.get("org_id"))?,
                    hostname: r.get("hostname"),
                })
            })
            .collect()
    }
}
