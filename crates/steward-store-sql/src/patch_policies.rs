//! Patch policies and holds, edited in place under a version (see
//! [`SqlStore::versioned_edit`]).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, json, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn table(kind: PatchRuleKind) -> &'static str {
    match kind {
        PatchRuleKind::Policy => "patch_policies",
        PatchRuleKind::Hold => "patch_holds",
    }
}

fn rule(row: &Row, kind: PatchRuleKind) -> Result<PatchRule> {
    Ok(PatchRule {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        kind,
        definition: json(row.get("definition")),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        version: row.get("version"),
    })
}

#[async_trait]
impl PatchPolicyStore for SqlStore {
    async fn create_patch_rule(&self, r: &PatchRule) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (id, org_id, definition, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
            table(r.kind)
        );
        q(sql)
            .bind(r.id.to_string())
            .bind(r.org_id.to_string())
            .bind(r.definition.to_string())
            .bind(&r.created_by)
            .bind(r.created_at)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_patch_rules(&self, scope: &Scope, kind: PatchRuleKind) -> Result<Vec<PatchRule>> {
        let sql = format!(
            "SELECT * FROM {} WHERE {} ORDER BY created_at, id",
            table(kind),
            self.in_scope(1, "org_id", None)
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(|row| rule(row, kind))
            .collect()
    }

    async fn get_patch_rule(
        &self,
        scope: &Scope,
        kind: PatchRuleKind,
        id: Uuid,
    ) -> Result<PatchRule> {
        let sql = format!(
            "SELECT * FROM {} WHERE id = $2 AND {}",
            table(kind),
            self.in_scope(1, "org_id", None)
        );
        let rows = self.scoped_by(sql, scope, &id.to_string()).await?;
        rows.first()
            .map(|row| rule(row, kind))
            .unwrap_or(Err(StoreError::NotFound))
    }

    async fn update_patch_rule(
        &self,
        scope: &Scope,
        kind: PatchRuleKind,
        (id, definition, by): (Uuid, &serde_json::Value, &str),
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            table(kind),
            "definition = $4, created_by = $5",
            &self.in_scope(1, "org_id", None),
            (scope, &id.to_string(), expected),
            vec![definition.to_string().arg(), by.to_string().arg()],
        )
        .await
    }

    async fn delete_patch_rule(&self, scope: &Scope, kind: PatchRuleKind, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM {} WHERE id = $2 AND {}",
            table(kind),
            self.in_scope(1, "org_id", None)
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn claim_patch_deployment(&self, device: Uuid, plan: &str, at: i64) -> Result<bool> {
        let done = q(
            "INSERT INTO patch_deployments (device_id, plan, claimed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(device.to_string())
        .bind(plan)
        .bind(at)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
