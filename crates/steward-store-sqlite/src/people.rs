//! Organisations, users, API tokens, sessions and enrollment tokens.

use crate::{SqliteStore, backend, now_secs, scope_param, uuid};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use steward_store::*;
use uuid::Uuid;

const DEFAULT_ORG: &str = "default";

fn principal(row: &SqliteRow) -> Result<Principal> {
    let org_id = uuid(row.get("org_id"))?;
    let role =
        Role::parse(row.get("role")).ok_or_else(|| StoreError::Corrupt("unknown role".into()))?;
    let is_root: bool = row.get("is_root");
    // Admins of the root (service provider) organisation see every tenant.
    let scope = if is_root && role == Role::Admin {
        Scope::All
    } else {
        Scope::Orgs(vec![org_id])
    };
    Ok(Principal {
        user_id: uuid(row.get("user_id"))?,
        username: row.get("username"),
        org_id,
        role,
        scope,
    })
}

fn enroll_token(row: &SqliteRow) -> Result<EnrollTokenRecord> {
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

const PRINCIPAL_COLUMNS: &str = "u.id AS user_id, u.username, u.org_id, u.role, o.is_root FROM users u JOIN orgs o ON o.id = u.org_id";

impl SqliteStore {
    pub(crate) async fn default_org_impl(&self) -> Result<Org> {
        sqlx::query("INSERT INTO orgs (id, name, is_root, created_at) VALUES (?, ?, 1, ?) ON CONFLICT (name) DO NOTHING")
            .bind(Uuid::now_v7().to_string())
            .bind(DEFAULT_ORG)
            .bind(now_secs())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        self.org_by_name_impl(&Scope::All, DEFAULT_ORG).await
    }

    pub(crate) async fn org_by_name_impl(&self, scope: &Scope, name: &str) -> Result<Org> {
        let row = sqlx::query(
            "SELECT id, name FROM orgs WHERE name = ?1 AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2)))",
        )
        .bind(name)
        .bind(scope_param(scope))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Org {
            id: uuid(row.get("id"))?,
            name: row.get("name"),
        })
    }

    pub(crate) async fn user_count_impl(&self) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?
            .get(0);
        Ok(n as u64)
    }

    pub(crate) async fn create_user_impl(&self, user: &NewUser) -> Result<Uuid> {
        sqlx::query("INSERT INTO users (id, org_id, username, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(user.id.to_string())
            .bind(user.org_id.to_string())
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(user.created_at)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(user.id)
    }

    pub(crate) async fn user_by_name_impl(&self, username: &str) -> Result<UserRecord> {
        let row = sqlx::query(
            "SELECT id, org_id, username, password_hash, role FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(UserRecord {
            id: uuid(row.get("id"))?,
            org_id: uuid(row.get("org_id"))?,
            username: row.get("username"),
            password_hash: row.get("password_hash"),
            role: Role::parse(row.get("role"))
                .ok_or_else(|| StoreError::Corrupt("unknown role".into()))?,
        })
    }

    pub(crate) async fn create_api_token_impl(&self, token: &NewApiToken) -> Result<Uuid> {
        sqlx::query(
            "INSERT INTO api_tokens (id, org_id, user_id, name, token_hash, created_at, expires_at)
             SELECT ?1, org_id, id, ?2, ?3, ?4, ?5 FROM users WHERE id = ?6",
        )
        .bind(token.id.to_string())
        .bind(&token.name)
        .bind(&token.token_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.user_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(backend)
        .and_then(|r| {
            if r.rows_affected() == 1 {
                Ok(token.id)
            } else {
                Err(StoreError::NotFound)
            }
        })
    }

    pub(crate) async fn principal_for_token_impl(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Principal> {
        let sql = format!(
            "SELECT {PRINCIPAL_COLUMNS} JOIN api_tokens t ON t.user_id = u.id
             WHERE t.token_hash = ?1 AND t.revoked = 0 AND (t.expires_at IS NULL OR t.expires_at > ?2)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        principal(&row)
    }

    pub(crate) async fn create_session_impl(&self, session: &NewSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (session_hash, org_id, user_id, created_at, expires_at)
             SELECT ?1, org_id, id, ?2, ?3 FROM users WHERE id = ?4",
        )
        .bind(&session.session_hash)
        .bind(session.created_at)
        .bind(session.expires_at)
        .bind(session.user_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn principal_for_session_impl(
        &self,
        session_hash: &str,
        now: i64,
    ) -> Result<Principal> {
        let sql = format!(
            "SELECT {PRINCIPAL_COLUMNS} JOIN sessions s ON s.user_id = u.id
             WHERE s.session_hash = ?1 AND s.expires_at > ?2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(session_hash)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        principal(&row)
    }

    pub(crate) async fn delete_session_impl(&self, session_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE session_hash = ?")
            .bind(session_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn create_enroll_token_impl(&self, token: &NewEnrollToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO enroll_tokens (id, org_id, site, tags, secret_hash, created_at, expires_at, uses_left, created_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn consume_enroll_token_impl(
        &self,
        secret_hash: &str,
        now: i64,
    ) -> Result<EnrollTokenRecord> {
        // One statement: check and spend atomically, so two agents racing for
        // the last use cannot both win.
        let row = sqlx::query(
            "UPDATE enroll_tokens SET uses_left = uses_left - 1
             WHERE secret_hash = ?1 AND revoked = 0 AND expires_at > ?2 AND (uses_left IS NULL OR uses_left > 0)
             RETURNING id, org_id, site, tags, created_at, expires_at, uses_left, revoked",
        )
        .bind(secret_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        match row {
            Some(row) => enroll_token(&row),
            None => Err(StoreError::Refused(
                "enrollment token is unknown, expired, revoked or used up".into(),
            )),
        }
    }

    pub(crate) async fn list_enroll_tokens_impl(
        &self,
        scope: &Scope,
    ) -> Result<Vec<EnrollTokenRecord>> {
        sqlx::query(
            "SELECT id, org_id, site, tags, created_at, expires_at, uses_left, revoked FROM enroll_tokens
             WHERE (?1 IS NULL OR org_id IN (SELECT value FROM json_each(?1))) ORDER BY created_at",
        )
        .bind(scope_param(scope))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(enroll_token)
        .collect()
    }

    pub(crate) async fn revoke_enroll_token_impl(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let done = sqlx::query(
            "UPDATE enroll_tokens SET revoked = 1
             WHERE id = ?1 AND (?2 IS NULL OR org_id IN (SELECT value FROM json_each(?2)))",
        )
        .bind(id.to_string())
        .bind(scope_param(scope))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
