//! The authority behind runs nobody starts by hand. A schedule or a
//! monitor's remediation runs as the person who set it up, looked up when
//! it runs (a grant withdrawn since, a deny added, a user gone: it no longer
//! reaches there). A script run that way is also bounded by whoever last
//! edited the script: someone who may not run scripts on a device cannot
//! get code onto it by editing a script another person's schedule runs.

use crate::AppState;
use crate::authz::{self, Permission};
use steward_store::{Principal, Scope, StoreError};

/// The person behind an automatic run, as they are now.
pub struct Owner {
    pub principal: Principal,
    /// Where they may run scripts now.
    pub scripts: Scope,
}

/// The authority of `username` now; why not, when they have none left.
pub async fn owner(state: &AppState, username: &str) -> Result<Owner, String> {
    let user = state
        .store
        .user_by_name(username)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => format!("its owner {username:?} no longer exists"),
            other => format!("cannot look up its owner {username:?}: {other}"),
        })?;
    let principal = state
        .store
        .principal_for_user(user.id)
        .await
        .map_err(|e| format!("cannot look up the grants of {username:?}: {e}"))?;
    let scripts = authz::scope_for(&principal, Permission::ScriptsRun);
    if scripts.is_empty() {
        return Err(format!("its owner {username:?} may no longer run scripts"));
    }
    Ok(Owner { principal, scripts })
}

/// Where the last editor of a script may run scripts now (nowhere, when
/// they no longer exist).
pub async fn author_scope(state: &AppState, username: &str) -> Scope {
    match owner(state, username).await {
        Ok(author) => author.scripts,
        Err(_) => Scope::none(),
    }
}

/// Whether a scope reaches every device of `org` (no site of it denied):
/// what a monitor applying to a whole organisation needs to remediate.
pub fn covers_org(scope: &Scope, org: uuid::Uuid) -> bool {
    scope.allows_org(org) && !scope.deny.iter().any(|p| p.org.is_none_or(|o| o == org))
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_store::Place;
    use uuid::Uuid;

    #[test]
    fn a_denied_site_means_the_organisation_is_not_covered() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let place = |org: Option<Uuid>, site: Option<&str>| Place {
            org,
            site: site.map(String::from),
        };
        let whole = Scope {
            allow: vec![place(Some(a), None)],
            deny: vec![],
        };
        assert!(covers_org(&whole, a));
        assert!(!covers_org(&whole, b));
        let denied = Scope {
            allow: vec![place(Some(a), None)],
            deny: vec![place(Some(a), Some("vault"))],
        };
        assert!(!covers_org(&denied, a));
        let one_site = Scope {
            allow: vec![place(Some(a), Some("hq"))],
            deny: vec![],
        };
        assert!(!covers_org(&one_site, a));
        // A deny elsewhere does not matter.
        let elsewhere = Scope {
            allow: vec![place(None, None)],
            deny: vec![place(Some(b), Some("vault"))],
        };
        assert!(covers_org(&elsewhere, a));
    }
}
