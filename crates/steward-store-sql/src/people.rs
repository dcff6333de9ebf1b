//! Users, roles and grants, API tokens, sessions,
//! two-factor secrets and enrollment tokens (organisations: `tenancy.rs`).

use crate::db::{Bind, Row, q};
use crate::{SqlStore, backend, scope_param, uuid};
use async_trait::async_trait;
use steward_store::*;
use uuid::Uuid;

fn opt_uuid(text: Option<String>) -> Result<Option<Uuid>> {
    text.as_deref().map(uuid).transpose()
}

fn perms(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn user(row: &Row) -> Result<UserRecord> {
    Ok(UserRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        username: row.get("username"),
        password_hash: row.get("password_hash"),
        totp_secret: row.get("totp_secret"),
        totp_enabled: row.get("totp_enabled"),
        org_requires_totp: row.get("require_totp"),
        disabled: row.get("disabled"),
    })
}

fn role(row: &Row) -> Result<RoleRecord> {
    Ok(RoleRecord {
        id: row.get("id"),
        org_id: opt_uuid(row.get("org_id"))?,
        name: row.get("name"),
        permissions: perms(row.get("permissions")),
        version: row.get("version"),
    })
}

fn enroll_token(row: &Row) -> Result<EnrollTokenRecord> {
    let tags: String = row.get("tags");
    let uses: Option<i64> = row.get("uses_left");
    Ok(EnrollTokenRecord {
        id: uuid(row.get("id"))?,
        org_id: uuid(row.get("org_id"))?,
        site: row.get("site"),
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
        uses_left: uses.map(|u| u.max(0) as u32),
        revoked: row.get("revoked"),
    })
}

const USER_COLUMNS: &str = "u.id, u.org_id, u.username, u.password_hash, u.totp_secret, u.totp_enabled, u.disabled, o.require_totp FROM users u JOIN orgs o ON o.id = u.org_id";

#[async_trait]
impl PeopleStore for SqlStore {
    async fn user_count(&self) -> Result<u64> {
        let n: i64 = q("SELECT COUNT(*) FROM users")
            .fetch_one(&self.db)
            .await
            .map_err(backend)?
            .get(0);
        Ok(n as u64)
    }

    async fn create_user(&self, user: &NewUser) -> Result<Uuid> {
        q("INSERT INTO users (id, org_id, username, password_hash, role, created_at, full_name, email) VALUES ($1, $2, $3, $4, '', $5, $6, $7)")
            .bind(user.id.to_string())
            .bind(user.org_id.to_string())
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.created_at)
            .bind(&user.full_name)
            .bind(&user.email)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(user.id)
    }

    async fn user_by_name(&self, username: &str) -> Result<UserRecord> {
        let sql = format!("SELECT {USER_COLUMNS} WHERE u.username = $1");
        user(
            &q(sql)
                .bind(username)
                .fetch_one(&self.db)
                .await
                .map_err(backend)?,
        )
    }

    async fn user_by_id(&self, id: Uuid) -> Result<UserRecord> {
        let sql = format!("SELECT {USER_COLUMNS} WHERE u.id = $1");
        user(
            &q(sql)
                .bind(id.to_string())
                .fetch_one(&self.db)
                .await
                .map_err(backend)?,
        )
    }

    async fn list_users(&self, scope: &Scope) -> Result<Vec<UserSummary>> {
        let sql = format!(
            "SELECT id, org_id, username, totp_enabled, disabled, version, full_name, email FROM users WHERE {} ORDER BY {}, username",
            self.in_scope(1, "org_id", None),
            self.nocase("username")
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(|row| {
                Ok(UserSummary {
                    id: uuid(row.get("id"))?,
                    org_id: uuid(row.get("org_id"))?,
                    username: row.get("username"),
                    totp_enabled: row.get("totp_enabled"),
                    disabled: row.get("disabled"),
                    version: row.get("version"),
                    full_name: row.get("full_name"),
                    email: row.get("email"),
                })
            })
            .collect()
    }

    async fn set_user_profile(
        &self,
        scope: &Scope,
        user: Uuid,
        full_name: Option<&str>,
        email: Option<&str>,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "users",
            "full_name = $4, email = $5",
            &self.in_scope(1, "org_id", None),
            (scope, &user.to_string(), expected),
            vec![full_name.arg(), email.arg()],
        )
        .await
    }

    async fn set_user_disabled(
        &self,
        scope: &Scope,
        user: Uuid,
        disabled: bool,
        expected: Option<i64>,
    ) -> Result<i64> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let condition = self.in_scope(1, "org_id", None);
        let sql = format!(
            "UPDATE users SET disabled = $3, version = version + 1
             WHERE id = $2 AND {condition} AND ($4 IS NULL OR version = $4) RETURNING version"
        );
        let done = q(sql)
            .bind(scope_param(scope))
            .bind(user.to_string())
            .bind(disabled)
            .bind(expected)
            .fetch_optional(&mut tx)
            .await
            .map_err(backend)?;
        let Some(done) = done else {
            let current = q(format!(
                "SELECT version FROM users WHERE id = $2 AND {condition}"
            ))
            .bind(scope_param(scope))
            .bind(user.to_string())
            .fetch_optional(&mut tx)
            .await
            .map_err(backend)?;
            return Err(match current {
                Some(row) => StoreError::Stale(row.get("version")),
                None => StoreError::NotFound,
            });
        };
        if disabled {
            q("DELETE FROM sessions WHERE user_id = $1")
                .bind(user.to_string())
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(done.get("version"))
    }

    async fn delete_user(&self, scope: &Scope, user: Uuid) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let sql = format!(
            "SELECT id FROM users WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", None)
        );
        let found = q(sql)
            .bind(scope_param(scope))
            .bind(user.to_string())
            .fetch_optional(&mut tx)
            .await
            .map_err(backend)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        for table in ["recovery_codes", "sessions", "api_tokens", "grants"] {
            q(format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user.to_string())
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        q("DELETE FROM users WHERE id = $1")
            .bind(user.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn user_grants(&self, user: Uuid) -> Result<Vec<Grant>> {
        self.grants_of(user, false).await
    }

    async fn update_grant(
        &self,
        scope: &Scope,
        grant: Uuid,
        role_id: &str,
        site: Option<&str>,
        deny: bool,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "grants",
            "role_id = $4, site = $5, effect = $6",
            &format!(
                "user_id IN (SELECT id FROM users WHERE {})",
                self.in_scope(1, "org_id", None)
            ),
            (scope, &grant.to_string(), expected),
            vec![
                role_id.arg(),
                site.arg(),
                if deny { "deny" } else { "allow" }.arg(),
            ],
        )
        .await
    }

    async fn delete_grant(&self, scope: &Scope, user: Uuid, grant: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM grants WHERE id = $2 AND user_id = $3
             AND user_id IN (SELECT id FROM users WHERE {})",
            self.in_scope(1, "org_id", None)
        );
        self.one_changed(
            q(sql)
                .bind(scope_param(scope))
                .bind(grant.to_string())
                .bind(user.to_string()),
        )
        .await
    }

    async fn set_password(&self, user: Uuid, hash: &str, keep_session: Option<&str>) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        let changed = q("UPDATE users SET password_hash = $1, version = version + 1 WHERE id = $2")
            .bind(hash)
            .bind(user.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        q("DELETE FROM sessions WHERE user_id = $1 AND session_hash != $2")
            .bind(user.to_string())
            .bind(keep_session.unwrap_or(""))
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn set_totp(&self, user: Uuid, secret: Option<&str>, enabled: bool) -> Result<()> {
        q("UPDATE users SET totp_secret = $1, totp_enabled = $2 WHERE id = $3")
            .bind(secret)
            .bind(enabled)
            .bind(user.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn replace_recovery_codes(&self, user: Uuid, code_hashes: &[String]) -> Result<()> {
        let mut tx = self.db.begin().await.map_err(backend)?;
        q("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut tx)
            .await
            .map_err(backend)?;
        for hash in code_hashes {
            q("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user.to_string())
                .bind(hash)
                .execute(&mut tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn use_recovery_code(&self, user: Uuid, code_hash: &str, now: i64) -> Result<bool> {
        let done = q("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(now)
            .bind(user.to_string())
            .bind(code_hash)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_totp_step(&self, user: Uuid, step: i64) -> Result<bool> {
        let done = q("UPDATE users SET totp_last_step = $2
             WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)")
        .bind(user.to_string())
        .bind(step)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn upsert_builtin_role(&self, role: &RoleRecord) -> Result<()> {
        q(
            "INSERT INTO roles (id, org_id, name, permissions) VALUES ($1, NULL, $2, $3)
             ON CONFLICT (id) DO UPDATE SET name = $2, permissions = $3",
        )
        .bind(&role.id)
        .bind(&role.name)
        .bind(serde_json::to_string(&role.permissions).unwrap_or_else(|_| "[]".into()))
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn create_role(&self, role: &RoleRecord) -> Result<()> {
        q("INSERT INTO roles (id, org_id, name, permissions) VALUES ($1, $2, $3, $4)")
            .bind(&role.id)
            .bind(role.org_id.map(|o| o.to_string()))
            .bind(&role.name)
            .bind(serde_json::to_string(&role.permissions).unwrap_or_else(|_| "[]".into()))
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_roles(&self, scope: &Scope) -> Result<Vec<RoleRecord>> {
        let sql = format!(
            "SELECT id, org_id, name, permissions, version FROM roles WHERE org_id IS NULL OR {} ORDER BY org_id IS NOT NULL, {}, name, id",
            self.in_scope(1, "org_id", None),
            self.nocase("name")
        );
        self.scoped(sql, scope).await?.iter().map(role).collect()
    }

    async fn role(&self, id: &str) -> Result<RoleRecord> {
        role(
            &q("SELECT id, org_id, name, permissions, version FROM roles WHERE id = $1")
                .bind(id)
                .fetch_one(&self.db)
                .await
                .map_err(backend)?,
        )
    }

    async fn create_grant(&self, grant: &NewGrant) -> Result<()> {
        q("INSERT INTO grants (id, user_id, org_id, site, role_id, effect) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(grant.id.to_string())
            .bind(grant.user_id.to_string())
            .bind(grant.org_id.map(|o| o.to_string()))
            .bind(&grant.site)
            .bind(&grant.role_id)
            .bind(if grant.deny { "deny" } else { "allow" })
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_api_token(&self, token: &NewApiToken) -> Result<Uuid> {
        let done = q(
            "INSERT INTO api_tokens (id, org_id, user_id, name, token_hash, created_at, expires_at, role_id, scope_org, scope_site)
             SELECT $1, org_id, id, $2, $3, $4, $5, $7, $8, $9 FROM users WHERE id = $6",
        )
        .bind(token.id.to_string())
        .bind(&token.name)
        .bind(&token.token_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.user_id.to_string())
        .bind(&token.role_id)
        .bind(token.scope_org.map(|o| o.to_string()))
        .bind(&token.scope_site)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 1 {
            Ok(token.id)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn list_api_tokens(&self, user: Uuid) -> Result<Vec<ApiTokenSummary>> {
        q("SELECT id, user_id, name, created_at, expires_at, revoked, role_id FROM api_tokens WHERE user_id = $1 ORDER BY created_at")
            .bind(user.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| {
                Ok(ApiTokenSummary {
                    id: uuid(row.get("id"))?,
                    user_id: uuid(row.get("user_id"))?,
                    name: row.get("name"),
                    created_at: row.get("created_at"),
                    expires_at: row.get("expires_at"),
                    revoked: row.get("revoked"),
                    role_id: row.get("role_id"),
                })
            })
            .collect()
    }

    async fn revoke_api_token(&self, user: Option<Uuid>, id: Uuid) -> Result<()> {
        self.one_changed(q(
            "UPDATE api_tokens SET revoked = true WHERE id = $1 AND ($2 IS NULL OR user_id = $2)",
        )
        .bind(id.to_string())
        .bind(user.map(|u| u.to_string()))).await
    }

    async fn delete_api_token(&self, user: Uuid, id: Uuid) -> Result<()> {
        self.one_changed(
            q("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
                .bind(id.to_string())
                .bind(user.to_string()),
        )
        .await
    }

    async fn principal_for_token(&self, token_hash: &str, now: i64) -> Result<Principal> {
        let row = q(
            "SELECT u.id AS user_id, u.username, u.org_id, t.id AS token_id, t.scope_org, t.scope_site, t.expires_at AS token_expires_at, t.role_id AS token_role, r.permissions AS token_permissions,
             (u.totp_enabled OR NOT o.require_totp) AS mfa_done
             FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org_id LEFT JOIN roles r ON r.id = t.role_id
             WHERE t.token_hash = $1 AND NOT t.revoked AND NOT u.disabled AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_one(&self.db)
        .await
        .map_err(backend)?;
        let limit = TokenLimit {
            token_id: uuid(row.get("token_id"))?,
            permissions: row
                .get::<Option<String>, _>("token_permissions")
                .map(|p| perms(&p)),
            org_id: opt_uuid(row.get("scope_org"))?,
            site: row.get("scope_site"),
            role_id: row.get("token_role"),
            expires_at: row.get("token_expires_at"),
        };
        let mfa_done: bool = row.get("mfa_done");
        self.principal(&row, Some(limit), mfa_done).await
    }

    async fn principal_for_user(&self, user: Uuid) -> Result<Principal> {
        let row =
            q("SELECT id AS user_id, username, org_id FROM users WHERE id = $1 AND NOT disabled")
                .bind(user.to_string())
                .fetch_one(&self.db)
                .await
                .map_err(backend)?;
        self.principal(&row, None, true).await
    }

    async fn create_session(&self, session: &NewSession) -> Result<()> {
        q(
            "INSERT INTO sessions (session_hash, org_id, user_id, created_at, expires_at, mfa_done)
             SELECT $1, org_id, id, $2, $3, $5 FROM users WHERE id = $4",
        )
        .bind(&session.session_hash)
        .bind(session.created_at)
        .bind(session.expires_at)
        .bind(session.user_id.to_string())
        .bind(session.mfa_done)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn principal_for_session(&self, session_hash: &str, now: i64) -> Result<Principal> {
        let row = q("SELECT u.id AS user_id, u.username, u.org_id,
                    (NOT o.require_totp OR (s.mfa_done AND u.totp_enabled)) AS mfa_done
             FROM sessions s JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id
             WHERE s.session_hash = $1 AND s.expires_at > $2 AND NOT u.disabled")
        .bind(session_hash)
        .bind(now)
        .fetch_one(&self.db)
        .await
        .map_err(backend)?;
        let mfa_done: bool = row.get("mfa_done");
        self.principal(&row, None, mfa_done).await
    }

    async fn complete_session_mfa(&self, session_hash: &str) -> Result<()> {
        q("UPDATE sessions SET mfa_done = true WHERE session_hash = $1")
            .bind(session_hash)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn update_role(
        &self,
        scope: &Scope,
        role: &RoleRecord,
        expected: Option<i64>,
    ) -> Result<i64> {
        self.versioned_edit(
            "roles",
            "name = $4, permissions = $5",
            &format!(
                "org_id IS NOT NULL AND {}",
                self.in_scope(1, "org_id", None)
            ),
            (scope, &role.id, expected),
            vec![
                role.name.as_str().arg(),
                serde_json::to_string(&role.permissions)
                    .unwrap_or_else(|_| "[]".into())
                    .arg(),
            ],
        )
        .await
    }

    async fn role_holders(&self, id: &str) -> Result<Vec<(String, String)>> {
        let rows = q("SELECT u.username, g.effect AS what, '' AS token FROM grants g JOIN users u ON u.id = g.user_id WHERE g.role_id = $1
             UNION ALL
             SELECT u.username, 'token' AS what, t.name AS token FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.role_id = $1")
            .bind(id)
            .fetch_all(&self.db)
            .await
            .map_err(backend)?;
        let mut holders: Vec<(String, String)> = rows
            .iter()
            .map(|row| {
                let user: String = row.get("username");
                let hold = match row.get::<String, _>("what").as_str() {
                    "token" => format!("API token {:?} of {user}", row.get::<String, _>("token")),
                    "deny" => format!("deny grant of {user}"),
                    _ => format!("grant of {user}"),
                };
                (user, hold)
            })
            .collect();
        holders.sort();
        Ok(holders)
    }

    async fn delete_role(&self, scope: &Scope, id: &str) -> Result<()> {
        let sql = format!(
            "DELETE FROM roles WHERE id = $2 AND org_id IS NOT NULL AND {}",
            self.in_scope(1, "org_id", None)
        );
        self.one_changed(q(sql).bind(scope_param(scope)).bind(id))
            .await
    }

    async fn delete_session(&self, session_hash: &str) -> Result<()> {
        q("DELETE FROM sessions WHERE session_hash = $1")
            .bind(session_hash)
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_enroll_token(&self, token: &NewEnrollToken) -> Result<()> {
        q(
            "INSERT INTO enroll_tokens (id, org_id, site, tags, secret_hash, created_at, expires_at, uses_left, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(token.id.to_string())
        .bind(token.org_id.to_string())
        .bind(&token.site)
        .bind(serde_json::to_string(&token.tags).unwrap_or_else(|_| "[]".into()))
        .bind(&token.secret_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.uses_left.map(i64::from))
        .bind(&token.created_by)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn consume_enroll_token(&self, secret_hash: &str, now: i64) -> Result<EnrollTokenRecord> {
        // One statement: check and spend atomically, so two agents racing for
        // the last use cannot both win.
        let row = q(
            "UPDATE enroll_tokens SET uses_left = uses_left - 1
             WHERE secret_hash = $1 AND NOT revoked AND expires_at > $2 AND (uses_left IS NULL OR uses_left > 0)
             RETURNING id, org_id, site, tags, created_at, expires_at, uses_left, revoked",
        )
        .bind(secret_hash)
        .bind(now)
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        match row {
            Some(row) => enroll_token(&row),
            None => Err(StoreError::Refused(
                "enrollment token is unknown, expired, revoked or used up".into(),
            )),
        }
    }

    async fn list_enroll_tokens(&self, scope: &Scope) -> Result<Vec<EnrollTokenRecord>> {
        let sql = format!(
            "SELECT id, org_id, site, tags, created_at, expires_at, uses_left, revoked FROM enroll_tokens
             WHERE {} ORDER BY created_at",
            self.in_scope(1, "org_id", Some("site"))
        );
        self.scoped(sql, scope)
            .await?
            .iter()
            .map(enroll_token)
            .collect()
    }

    async fn revoke_enroll_token(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "UPDATE enroll_tokens SET revoked = true WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", Some("site"))
        );
        self.scoped_change(sql, scope, id).await
    }

    async fn delete_enroll_token(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let sql = format!(
            "DELETE FROM enroll_tokens WHERE id = $2 AND {}",
            self.in_scope(1, "org_id", Some("site"))
        );
        self.scoped_change(sql, scope, id).await
    }
}

impl SqlStore {
    /// A user's grants; `effective`: only those that count. An allowing
    /// grant counts only with a built-in role or its own organisation's: a
    /// grant made before that rule, naming another organisation's role,
    /// would follow that organisation's edits. It stays listed (so it can be
    /// seen and removed) but grants nothing; a denial always counts.
    async fn grants_of(&self, user: Uuid, effective: bool) -> Result<Vec<Grant>> {
        let sql = if effective {
            "SELECT g.id, g.org_id, g.site, g.role_id, g.effect, g.version, r.permissions FROM grants g JOIN roles r ON r.id = g.role_id WHERE g.user_id = $1 AND (g.effect = 'deny' OR r.org_id IS NULL OR r.org_id = g.org_id) ORDER BY g.id"
        } else {
            "SELECT g.id, g.org_id, g.site, g.role_id, g.effect, g.version, r.permissions FROM grants g JOIN roles r ON r.id = g.role_id WHERE g.user_id = $1 ORDER BY g.id"
        };
        q(sql)
            .bind(user.to_string())
            .fetch_all(&self.db)
            .await
            .map_err(backend)?
            .iter()
            .map(|row| {
                Ok(Grant {
                    id: uuid(row.get("id"))?,
                    org_id: opt_uuid(row.get("org_id"))?,
                    site: row.get("site"),
                    role_id: row.get("role_id"),
                    permissions: perms(row.get("permissions")),
                    deny: row.get::<String, _>("effect") == "deny",
                    version: row.get("version"),
                })
            })
            .collect()
    }

    async fn principal(
        &self,
        row: &Row,
        token: Option<TokenLimit>,
        mfa_done: bool,
    ) -> Result<Principal> {
        let user_id = uuid(row.get("user_id"))?;
        Ok(Principal {
            user_id,
            username: row.get("username"),
            org_id: uuid(row.get("org_id"))?,
            grants: self.grants_of(user_id, true).await?,
            token,
            mfa_done,
        })
    }
}
