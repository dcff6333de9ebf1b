//! Authorisation: permissions, built-in roles, and turning a principal's
//! grants (and its token's limit) into a yes/no and a [`Scope`] per
//! permission. Pure: no I/O.

use steward_store::{Grant, Place, Principal, RoleRecord, Scope};

/// Every action permission. Routes name the one they need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    DevicesView,
    DevicesManage,
    EnrollManage,
    ScriptsRun,
    ShellOpen,
    MonitorsManage,
    UsersManage,
    RolesManage,
    OrgsManage,
    AuditView,
}

impl Permission {
    pub const ALL: [Permission; 10] = [
        Permission::DevicesView,
        Permission::DevicesManage,
        Permission::EnrollManage,
        Permission::ScriptsRun,
        Permission::ShellOpen,
        Permission::MonitorsManage,
        Permission::UsersManage,
        Permission::RolesManage,
        Permission::OrgsManage,
        Permission::AuditView,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::DevicesView => "devices.view",
            Permission::DevicesManage => "devices.manage",
            Permission::EnrollManage => "enroll.manage",
            Permission::ScriptsRun => "scripts.run",
            Permission::ShellOpen => "shell.open",
            Permission::MonitorsManage => "monitors.manage",
            Permission::UsersManage => "users.manage",
            Permission::RolesManage => "roles.manage",
            Permission::OrgsManage => "orgs.manage",
            Permission::AuditView => "audit.view",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// The built-in roles: owner (everything), admin (everything but managing
/// organisations), technician (operate devices), read-only (look).
pub fn builtin_roles() -> Vec<RoleRecord> {
    use Permission::*;
    let role = |id: &str, perms: &[Permission]| RoleRecord {
        id: id.into(),
        org_id: None,
        name: id.into(),
        permissions: perms.iter().map(|p| p.as_str().to_string()).collect(),
        version: 1,
    };
    vec![
        role("owner", &Permission::ALL),
        role(
            "admin",
            &[
                DevicesView,
                DevicesManage,
                EnrollManage,
                ScriptsRun,
                ShellOpen,
                MonitorsManage,
                UsersManage,
                RolesManage,
                AuditView,
            ],
        ),
        role(
            "technician",
            &[
                DevicesView,
                DevicesManage,
                EnrollManage,
                ScriptsRun,
                ShellOpen,
                MonitorsManage,
            ],
        ),
        role("read_only", &[DevicesView]),
    ]
}

fn place(grant: &Grant) -> Place {
    Place {
        org: grant.org_id,
        site: grant.site.clone(),
    }
}

/// Where `principal` may exercise `permission`: allowed places minus denied
/// ones, narrowed to the token's role and place when it called with a token.
pub fn scope_for(principal: &Principal, permission: Permission) -> Scope {
    let name = permission.as_str();
    let has = |g: &&Grant| g.permissions.iter().any(|p| p == name);
    let mut scope = Scope {
        allow: principal
            .grants
            .iter()
            .filter(|g| !g.deny)
            .filter(has)
            .map(place)
            .collect(),
        deny: principal
            .grants
            .iter()
            .filter(|g| g.deny)
            .filter(has)
            .map(place)
            .collect(),
    };
    if let Some(token) = &principal.token {
        if token
            .permissions
            .as_ref()
            .is_some_and(|perms| !perms.iter().any(|p| p == name))
        {
            return Scope::none();
        }
        if let Some(token_org) = token.org_id {
            scope.allow = scope
                .allow
                .into_iter()
                .filter(|p| p.org.is_none_or(|o| o == token_org))
                .filter_map(|p| match (&p.site, &token.site) {
                    (Some(a), Some(b)) if a != b => None,
                    (site, token_site) => Some(Place {
                        org: Some(token_org),
                        site: token_site.clone().or(site.clone()),
                    }),
                })
                .collect();
        }
    }
    scope
}

/// Whether `principal` holds `permission` at all of (org, site) (for
/// checks that a grant or role it hands out or takes away does not exceed
/// its own rights there): for a whole organisation, also at every one of
/// its sites (a deny at one site is a part it does not hold).
pub fn holds_at(
    principal: &Principal,
    permission: Permission,
    org: uuid::Uuid,
    site: Option<&str>,
) -> bool {
    scope_for(principal, permission).allows_all_of(org, site)
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_store::TokenLimit;
    use uuid::Uuid;

    fn grant(org: Option<Uuid>, site: Option<&str>, role: &str, deny: bool) -> Grant {
        let role = builtin_roles().into_iter().find(|r| r.id == role).unwrap();
        Grant {
            id: Uuid::now_v7(),
            org_id: org,
            site: site.map(String::from),
            role_id: role.id,
            permissions: role.permissions,
            deny,
            version: 1,
        }
    }

    fn who(grants: Vec<Grant>, token: Option<TokenLimit>) -> Principal {
        Principal {
            user_id: Uuid::nil(),
            username: "u".into(),
            org_id: Uuid::nil(),
            grants,
            token,
            mfa_done: true,
        }
    }

    /// Checks whether `principal` may use `permission` at (org, site).
    fn check(
        principal: &Principal,
        permission: Permission,
        org: Uuid,
        site: Option<&str>,
        expect: bool,
    ) {
        assert_eq!(
            scope_for(principal, permission).allows(org, site),
            expect,
            "{permission:?} at {org}/{site:?}"
        );
    }

    #[test]
    fn a_deny_at_one_site_means_the_whole_organisation_is_not_held() {
        let (org, other) = (Uuid::now_v7(), Uuid::now_v7());
        let p = who(
            vec![
                grant(Some(org), None, "admin", false),
                grant(Some(other), None, "admin", false),
                grant(Some(org), Some("hq"), "technician", true),
            ],
            None,
        );
        assert!(holds_at(&p, Permission::UsersManage, org, None));
        assert!(holds_at(&p, Permission::ScriptsRun, org, Some("branch")));
        assert!(!holds_at(&p, Permission::ScriptsRun, org, Some("hq")));
        // Handing out scripts.run organisation-wide hands it out at hq too.
        assert!(!holds_at(&p, Permission::ScriptsRun, org, None));
        // A deny in one organisation does not reach another.
        assert!(holds_at(&p, Permission::ScriptsRun, other, None));
    }

    #[test]
    fn grants_denies_and_tokens() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let tech = who(
            vec![
                grant(Some(a), None, "technician", false),
                grant(Some(a), Some("vault"), "technician", true),
            ],
            None,
        );
        check(&tech, Permission::DevicesView, a, Some("hq"), true);
        check(&tech, Permission::DevicesView, a, Some("vault"), false); // explicit deny wins
        check(&tech, Permission::DevicesView, b, Some("hq"), false); // other tenant
        check(&tech, Permission::UsersManage, a, None, false); // not in the role
        let owner = who(vec![grant(None, None, "owner", false)], None);
        check(&owner, Permission::OrgsManage, b, None, true);
        // A read-only token of the owner, limited to org a.
        let token = TokenLimit {
            token_id: Uuid::nil(),
            permissions: Some(vec!["devices.view".into()]),
            org_id: Some(a),
            site: None,
            role_id: Some("read_only".into()),
            expires_at: None,
        };
        let limited = who(owner.grants.clone(), Some(token));
        check(&limited, Permission::DevicesView, a, Some("hq"), true);
        check(&limited, Permission::DevicesView, b, Some("hq"), false);
        check(&limited, Permission::DevicesManage, a, Some("hq"), false);
    }
}
