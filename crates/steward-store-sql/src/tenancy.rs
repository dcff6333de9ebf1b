//! Organisations: the tenancy tree's top. An organisation is deleted only
//! once it holds nothing; it then leaves every list, and its row stays for
//! the audit trail that names it.

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, now_secs, scope_param, uuid};

/// The root organisation's name.
const DEFAULT_ORG: &str = "default";
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

pub(crate) fn org(row: &Row) -> Result<Org> {
    Ok(Org {
        id: uuid(row.get("id"))?,
        name: row.get("name"),
        version: row.get("version"),
    })
}

/// What keeps an organisation from being deleted: each table, as people
/// name what it holds (one, many).
const CONTENTS: [(&str, &str, &str); 13] = [
    ("device", "devices", "devices WHERE retired_at IS NULL"),
    (
        "retired device (with its history)",
        "retired devices (with their history)",
        "devices WHERE retired_at IS NOT NULL",
    ),
    ("user", "users", "users"),
    ("role", "roles", "roles"),
    ("monitor", "monitors", "monitors"),
    ("alert", "alerts", "alerts"),
    ("channel", "channels", "channels"),
    (
        "maintenance window",
        "maintenance windows",
        "maintenance_windows",
    ),
    ("silence", "silences", "silences"),
    ("script", "scripts", "scripts"),
    ("job", "jobs", "jobs"),
    ("schedule", "schedules", "schedules"),
    ("enrollment token", "enrollment tokens", "enroll_tokens"),
];

/// How each kind of [`CONTENTS`] is named to people (None: it has no
/// name of its own).
fn name_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "devices" | "retired devices (with their history)" => "name",
        "users" => "username",
        "roles" | "monitors" | "channels" | "scripts" | "schedules" | "jobs" => "name",
        "enrollment tokens" => "'for site ' || site",
        _ => return None,
    })
}

impl SqlStore {
    /// " (web-01, web-02 and 3 more)": the first names of what `org` holds
    /// of `kind` (`n` of them), for a refusal that names its dependants.
    async fn some_names(&self, org: Uuid, kind: &str, n: u64) -> Result<String> {
        let (Some(name), Some((_, _, source))) = (
            name_of(kind),
            CONTENTS.iter().find(|(_, many, _)| *many == kind),
        ) else {
            return Ok(String::new());
        };
        let joiner = if source.contains(" WHERE ") {
            "AND"
        } else {
            "WHERE"
        };
        let names: Vec<String> = q(format!(
            "SELECT {name} AS n FROM {source} {joiner} org_id = $1 ORDER BY 1 LIMIT 3"
        ))
        .bind(org.to_string())
        .fetch_all(&self.db)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| row.get::<String, _>("n"))
        .collect();
        let more = n.saturating_sub(names.len() as u64);
        Ok(match more {
            0 => format!(" ({})", names.join(", ")),
            _ => format!(" ({} and {more} more)", names.join(", ")),
        })
    }
}

/// "1 device", "2 devices".
fn counted(kind: &str, n: u64) -> String {
    let (one, _, _) = CONTENTS
        .iter()
        .find(|(_, many, _)| *many == kind)
        .copied()
        .unwrap_or((kind, kind, ""));
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {kind}")
    }
}

#[async_trait]
impl TenancyStore for SqlStore {
    async fn default_org(&self) -> Result<Org> {
        q("INSERT INTO orgs (id, name, is_root, created_at) VALUES ($1, $2, true, $3) ON CONFLICT (name) DO NOTHING")
            .bind(Uuid::now_v7().to_string())
            .bind(DEFAULT_ORG)
            .bind(now_secs())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        self.org_by_name(&Scope::all(), DEFAULT_ORG).await
    }

    async fn create_org(&self, name: &str) -> Result<Org> {
        let id = Uuid::now_v7();
        q("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(name)
            .bind(now_secs())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(Org {
            id,
            name: name.to_string(),
            version: 1,
        })
    }

    async fn org_by_name(&self, scope: &Scope, name: &str) -> Result<Org> {
        let sql = format!(
            "SELECT id, name, version FROM orgs WHERE name = $2 AND deleted_at IS NULL AND {}",
            self.in_scope(1, "orgs.id", None)
        );
        let row = q(sql)
            .bind(scope_param(scope))
            .bind(name)
            .fetch_one(&self.db)
            .await
            .map_err(backend)?;
        org(&row)
    }

    async fn list_orgs(&self, scope: &Scope) -> Result<Vec<Org>> {
        let sql = format!(
            "SELECT id, name, version FROM orgs WHERE deleted_at IS NULL AND {} ORDER BY {}, orgs.name",
            self.in_scope(1, "orgs.id", None),
            self.nocase("orgs.name")
        );
        self.scoped(sql, scope).await?.iter().map(org).collect()
    }

    async fn set_org_require_totp(&self, scope: &Scope, org: Uuid, require: bool) -> Result<()> {
        let sql = format!(
            "UPDATE orgs SET require_totp = $3 WHERE id = $2 AND {}",
            self.in_scope(1, "orgs.id", None)
        );
        self.one_changed(
            q(sql)
                .bind(scope_param(scope))
                .bind(org.to_string())
                .bind(require),
        )
        .await
    }

    async fn rename_org(
        &self,
        scope: &Scope,
        org: Uuid,
        name: &str,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "orgs",
            "name = $4",
            &format!(
                "deleted_at IS NULL AND {}",
                self.in_scope(1, "orgs.id", None)
            ),
            (scope, &org.to_string(), expected),
            vec![name.arg()],
        )
        .await
    }

    async fn org_contents(&self, org: Uuid) -> Result<Vec<(String, u64)>> {
        let mut held = Vec::new();
        for (_, what, source) in CONTENTS {
            let joiner = if source.contains(" WHERE ") {
                "AND"
            } else {
                "WHERE"
            };
            let row = q(format!(
                "SELECT COUNT(*) AS n FROM {source} {joiner} org_id = $1"
            ))
            .bind(org.to_string())
            .fetch_one(&self.db)
            .await
            .map_err(backend)?;
            let n = row.get::<i64, _>("n").max(0) as u64;
            if n > 0 {
                held.push((what.to_string(), n));
            }
        }
        Ok(held)
    }

    async fn delete_org(&self, scope: &Scope, org: Uuid) -> Result<()> {
        let held = self.org_contents(org).await?;
        if !held.is_empty() {
            let mut list = Vec::with_capacity(held.len());
            for (what, n) in &held {
                list.push(format!(
                    "{}{}",
                    counted(what, *n),
                    self.some_names(org, what, *n).await?
                ));
            }
            return Err(StoreError::Refused(format!(
                "the organisation still holds {}: delete or move them first",
                list.join(", ")
            )));
        }
        // The audit trail is append-only and names the organisation: the
        // row stays, marked, out of every list, its name freed for reuse.
        let sql = format!(
            "UPDATE orgs SET deleted_at = $3, name = name || ' (deleted ' || id || ')'
             WHERE id = $2 AND NOT is_root AND deleted_at IS NULL AND {}",
            self.in_scope(1, "orgs.id", None)
        );
        self.one_changed(
            q(sql)
                .bind(scope_param(scope))
                .bind(org.to_string())
                .bind(now_secs()),
        )
        .await
    }

    async fn list_sites(&self, scope: &Scope) -> Result<Vec<SiteRecord>> {
        self.sites(scope).await
    }

    async fn rename_site(&self, scope: &Scope, org: Uuid, from: &str, to: &str) -> Result<u64> {
        self.move_site(scope, org, from, to).await
    }
}
