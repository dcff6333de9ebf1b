//! Sites: a site is a name that devices, enrollment tokens, grants and API
//! token limits carry; it exists while something names it. Listed with
//! what names it, renamed (or merged) where the rows name it.

use crate::db::q;
use crate::{SqlStore, backend, scope_param, uuid};
use std::collections::BTreeMap;
use steward_store::{Result, Scope, SiteRecord, StoreError};
use uuid::Uuid;

/// Where rows name a site: table, site column, organisation column, and
/// the counter of [`SiteRecord`] they add to (None: renamed, not counted).
const NAMED_BY: [(&str, &str, &str, Option<usize>); 4] = [
    ("devices", "site", "org_id", Some(0)),
    ("enroll_tokens", "site", "org_id", Some(1)),
    ("grants", "site", "org_id", Some(2)),
    ("api_tokens", "scope_site", "scope_org", None),
];

impl SqlStore {
    pub(crate) async fn sites(&self, scope: &Scope) -> Result<Vec<SiteRecord>> {
        let mut sites: BTreeMap<(Uuid, String), [u64; 3]> = BTreeMap::new();
        for (table, site, org, counter) in NAMED_BY {
            let Some(counter) = counter else { continue };
            // Retired devices keep their site for reports, not the site.
            let live = if table == "devices" {
                " AND retired_at IS NULL"
            } else {
                ""
            };
            let sql = format!(
                "SELECT {org} AS org_id, {site} AS site, COUNT(*) AS n FROM {table}
                 WHERE {site} IS NOT NULL{live} AND {}
                 GROUP BY {org}, {site}",
                self.in_scope(1, org, Some(site))
            );
            for row in self.scoped(sql, scope).await? {
                let key = (uuid(row.get("org_id"))?, row.get::<String, _>("site"));
                sites.entry(key).or_default()[counter] += row.get::<i64, _>("n").max(0) as u64;
            }
        }
        let mut out: Vec<SiteRecord> = sites
            .into_iter()
            .map(
                |((org_id, name), [devices, enroll_tokens, grants])| SiteRecord {
                    org_id,
                    name,
                    devices,
                    enroll_tokens,
                    grants,
                },
            )
            .collect();
        out.sort_by(|a, b| {
            (a.org_id, a.name.to_lowercase(), &a.name).cmp(&(
                b.org_id,
                b.name.to_lowercase(),
                &b.name,
            ))
        });
        Ok(out)
    }

    pub(crate) async fn move_site(
        &self,
        scope: &Scope,
        org: Uuid,
        from: &str,
        to: &str,
    ) -> Result<u64> {
        if from == to {
            return Err(StoreError::Refused(format!(
                "the site is already named {to:?}"
            )));
        }
        let mut tx = self.db.begin().await.map_err(backend)?;
        let mut changed = 0;
        for (table, site, org_col, _) in NAMED_BY {
            let bump = if table == "devices" {
                ", version = version + 1"
            } else {
                ""
            };
            let sql = format!(
                "UPDATE {table} SET {site} = $4{bump} WHERE {org_col} = $2 AND {site} = $3 AND {}",
                self.in_scope(1, org_col, Some(site))
            );
            changed += q(sql)
                .bind(scope_param(scope))
                .bind(org.to_string())
                .bind(from)
                .bind(to)
                .execute(&mut tx)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(backend)?;
        Ok(changed)
    }
}
