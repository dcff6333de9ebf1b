//! People and access: users, roles, grants, API tokens, sessions, second
//! factors and enrollment tokens (organisations: `tenancy.rs`).

use crate::*;
use async_trait::async_trait;
use uuid::Uuid;

/// What the store keeps of people and their access.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    async fn user_count(&self) -> Result<u64>;
    async fn create_user(&self, user: &NewUser) -> Result<Uuid>;
    async fn user_by_name(&self, username: &str) -> Result<UserRecord>;
    async fn user_by_id(&self, id: Uuid) -> Result<UserRecord>;
    async fn list_users(&self, scope: &Scope) -> Result<Vec<UserSummary>>;
    /// Disables (or enables again) a user in scope: a disabled user signs
    /// in no more and no credential of theirs resolves; disabling also
    /// ends their sessions. Only while the user's version is still
    /// `expected` (any when None); returns the new version.
    async fn set_user_disabled(
        &self,
        scope: &Scope,
        user: Uuid,
        disabled: bool,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// Sets what a user in scope is called and where to reach them (None
    /// clears), while their version is still `expected` (any when None);
    /// returns the new version.
    async fn set_user_profile(
        &self,
        scope: &Scope,
        user: Uuid,
        full_name: Option<&str>,
        email: Option<&str>,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// Deletes a user in scope with their grants, tokens, sessions and
    /// recovery codes (what they did stays in the audit trail by name).
    async fn delete_user(&self, scope: &Scope, user: Uuid) -> Result<()>;
    /// The user's grants, with their ids.
    async fn user_grants(&self, user: Uuid) -> Result<Vec<Grant>>;
    /// Changes a grant of a user in scope in place (its role, site and
    /// effect; the organisation stays), while its version is still
    /// `expected` (any when None); returns the new version.
    async fn update_grant(
        &self,
        scope: &Scope,
        grant: Uuid,
        role_id: &str,
        site: Option<&str>,
        deny: bool,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// Removes one grant of a user in scope.
    async fn delete_grant(&self, scope: &Scope, user: Uuid, grant: Uuid) -> Result<()>;
    async fn set_totp(&self, user: Uuid, secret: Option<&str>, enabled: bool) -> Result<()>;
    /// Replaces a user's password hash and ends their browser sessions but
    /// `keep_session` (the one that changed it); API tokens stay.
    async fn set_password(&self, user: Uuid, hash: &str, keep_session: Option<&str>) -> Result<()>;
    async fn replace_recovery_codes(&self, user: Uuid, code_hashes: &[String]) -> Result<()>;
    /// Spends a recovery code; false if unknown or used.
    async fn use_recovery_code(&self, user: Uuid, code_hash: &str, now: i64) -> Result<bool>;
    /// Accepts TOTP time step `step` for `user` if it is later than the
    /// last one accepted (and records it); false for that step or an
    /// earlier one: a code is good once. Conditional, so of replicas
    /// seeing the same code at once only one accepts it.
    async fn claim_totp_step(&self, user: Uuid, step: i64) -> Result<bool>;
    /// Creates or updates a built-in role (organisation-less).
    async fn upsert_builtin_role(&self, role: &RoleRecord) -> Result<()>;
    async fn create_role(&self, role: &RoleRecord) -> Result<()>;
    async fn list_roles(&self, scope: &Scope) -> Result<Vec<RoleRecord>>;
    async fn role(&self, id: &str) -> Result<RoleRecord>;
    /// Renames an organisation's own role and replaces its permissions
    /// (built-in roles are not changed here).
    /// Only while its version is still `expected` (any when None); returns
    /// the new version.
    async fn update_role(
        &self,
        scope: &Scope,
        role: &RoleRecord,
        expected: Option<i64>,
    ) -> Result<i64>;
    /// Who holds the role: each holder's username and the hold as people
    /// name it (`grant of desk`, `API token "ci" of desk`, a deny grant
    /// says so; revoked tokens too: their rows still refer to it), sorted.
    async fn role_holders(&self, id: &str) -> Result<Vec<(String, String)>>;
    /// Deletes an organisation's own role in scope.
    async fn delete_role(&self, scope: &Scope, id: &str) -> Result<()>;
    async fn create_grant(&self, grant: &NewGrant) -> Result<()>;
    async fn create_api_token(&self, token: &NewApiToken) -> Result<Uuid>;
    async fn list_api_tokens(&self, user: Uuid) -> Result<Vec<ApiTokenSummary>>;
    /// Revokes a token of `user` (or any token when `user` is None).
    async fn revoke_api_token(&self, user: Option<Uuid>, id: Uuid) -> Result<()>;
    /// Removes a token of `user` for good (it resolves no more; the audit
    /// trail keeps its history).
    async fn delete_api_token(&self, user: Uuid, id: Uuid) -> Result<()>;
    /// The principal behind a token hash, if the token is live at `now`.
    /// Its `mfa_done` is false while the user's organisation requires two
    /// factors and the user has not turned TOTP on (the server refuses
    /// such a token).
    async fn principal_for_token(&self, token_hash: &str, now: i64) -> Result<Principal>;
    /// A user's authority as it is now (grants, no token limit): what a
    /// schedule or remediation they set up runs with, looked up at run time.
    async fn principal_for_user(&self, user: Uuid) -> Result<Principal>;
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// The principal behind a session; `mfa_done` is false for a session
    /// that owes its second factor: its user's organisation requires two
    /// factors and the session presented none (decided at every call, so
    /// a requirement applies at once to sessions on every replica).
    async fn principal_for_session(&self, session_hash: &str, now: i64) -> Result<Principal>;
    async fn complete_session_mfa(&self, session_hash: &str) -> Result<()>;
    async fn delete_session(&self, session_hash: &str) -> Result<()>;

    // --- enrollment -----------------------------------------------------
    async fn create_enroll_token(&self, token: &NewEnrollToken) -> Result<()>;
    /// Spends one use of a live token; refuses expired, revoked and used-up
    /// tokens.
    async fn consume_enroll_token(&self, secret_hash: &str, now: i64) -> Result<EnrollTokenRecord>;
    async fn list_enroll_tokens(&self, scope: &Scope) -> Result<Vec<EnrollTokenRecord>>;
    async fn revoke_enroll_token(&self, scope: &Scope, id: Uuid) -> Result<()>;
    /// Removes an enrollment token's record (devices it enrolled stay).
    async fn delete_enroll_token(&self, scope: &Scope, id: Uuid) -> Result<()>;
}
