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

/// The grants of `username` now, when they still manage the devices of the
/// whole of `org` (what setting up an organisation-wide integration, report
/// or target needs); why not, naming what they set up (`what`: "the
/// webhook", "the report", …).
pub async fn org_manager(
    store: &dyn steward_store::Store,
    username: &str,
    org: uuid::Uuid,
    what: &str,
) -> Result<Principal, String> {
    let user = store
        .user_by_name(username)
        .await
        .map_err(|_| format!("{username:?} who set up {what} no longer exists"))?;
    let principal = store
        .principal_for_user(user.id)
        .await
        .map_err(|e| format!("cannot look up the grants of {username:?}: {e}"))?;
    if covers_org(
        &authz::scope_for(&principal, Permission::DevicesManage),
        org,
    ) {
        Ok(principal)
    } else {
        Err(format!(
            "{username:?} who set up {what} no longer manages the whole organisation's devices"
        ))
    }
}

/// Where the last editor of a script may run scripts now (nowhere, when
/// they no longer exist).
pub async fn author_scope(state: &AppState, username: &str) -> Scope {
    match owner(state, username).await {
        Ok(author) => author.scripts,
        Err(_) => Scope::none(),
    }
}

/// Whether a device matcher (a monitor's `applies_to`) stays within
/// `scope` in `org`: it names only sites, each in scope, or the scope
/// covers the whole organisation. Tags, devices and operating systems
/// match at any site (the parts are alternatives), so they need the whole
/// organisation.
pub fn matcher_within(
    scope: &Scope,
    org: uuid::Uuid,
    matcher: &steward_alert::noise::Matcher,
) -> bool {
    let sites_only = matcher.devices.is_empty()
        && matcher.tags.is_empty()
        && matcher.os.is_empty()
        && !matcher.sites.is_empty();
    (sites_only
        && matcher
            .sites
            .iter()
            .all(|site| scope.allows(org, Some(site))))
        || covers_org(scope, org)
}

/// Refuses a credential that may not set up work that runs later as its
/// user: a token limited to a role, a place or a lifetime would leave
/// behind something running with the user's whole authority after it is
/// revoked or expires.
pub fn may_leave_standing_work(principal: &Principal) -> Result<(), String> {
    match &principal.token {
        Some(token) if token.is_restricted() => Err(
            "schedules and remediations run later with your whole authority: set them up signed in, or with a token that has no role, place or expiry limit".into(),
        ),
        _ => Ok(()),
    }
}

/// `scope` narrowed to one organisation (a schedule or remediation of
/// `org` reaches nothing elsewhere, whatever else its owner may reach).
pub fn within_org(scope: &Scope, org: uuid::Uuid) -> Scope {
    let narrow = |places: &[steward_store::Place]| {
        places
            .iter()
            .filter(|p| p.org.is_none_or(|o| o == org))
            .map(|p| steward_store::Place {
                org: Some(org),
                site: p.site.clone(),
            })
            .collect()
    };
    Scope {
        allow: narrow(&scope.allow),
        deny: narrow(&scope.deny),
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
    fn matchers_beyond_sites_need_the_whole_organisation() {
        use steward_alert::noise::Matcher;
        let a = Uuid::now_v7();
        let denied = Scope {
            allow: vec![Place {
                org: Some(a),
                site: None,
            }],
            deny: vec![Place {
                org: Some(a),
                site: Some("vault".into()),
            }],
        };
        let m = |sites: &[&str], tags: &[&str]| Matcher {
            sites: sites.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            ..Matcher::default()
        };
        assert!(matcher_within(&denied, a, &m(&["hq"], &[])));
        assert!(!matcher_within(&denied, a, &m(&["vault"], &[])));
        assert!(!matcher_within(&denied, a, &m(&[], &[])));
        assert!(!matcher_within(&denied, a, &m(&["hq"], &["prod"])));
        let whole = Scope::org(a);
        assert!(matcher_within(&whole, a, &m(&["hq"], &["prod"])));
        // Narrowed to one organisation, a global scope keeps its deny there.
        let global = Scope {
            allow: vec![Place {
                org: None,
                site: None,
            }],
            deny: vec![Place {
                org: Some(a),
                site: Some("vault".into()),
            }],
        };
        let narrowed = within_org(&global, a);
        assert!(narrowed.allows(a, Some("hq")));
        assert!(!narrowed.allows(a, Some("vault")));
        assert!(!narrowed.allows(Uuid::now_v7(), Some("hq")));
    }

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
