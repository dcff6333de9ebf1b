//! `steward user …`: people and their grants, by username or id.

use crate::client::{Client, Remote};
use crate::names::{self, Kind};
use crate::{answered, output, print_json, print_text};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user with a role in an organisation (password from
    /// STEWARD_NEW_PASSWORD).
    Create {
        username: String,
        /// The organisation's NAME or ID (default: your own).
        #[arg(long)]
        org: Option<String>,
        #[arg(long, default_value = "read_only")]
        role: String,
        #[arg(long)]
        site: Option<String>,
        #[arg(long, env = "STEWARD_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        /// What people call them.
        #[arg(long)]
        full_name: Option<String>,
        /// Where to reach them.
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// A user with their grants.
    Show {
        /// The user's NAME or ID.
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a user's full name or email, or disable or enable them (a
    /// disabled user's sessions, tokens and terminals end at once).
    Edit {
        /// The user's NAME or ID.
        user: String,
        /// A new full name ("" clears it).
        #[arg(long)]
        full_name: Option<String>,
        /// A new email address ("" clears it).
        #[arg(long)]
        email: Option<String>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a user (refused while schedules or self-healing run as them).
    Delete {
        /// The user's NAME or ID.
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Grant (or with --deny, explicitly deny) a role to a user.
    Grant {
        /// The user's NAME or ID.
        user: String,
        role: String,
        /// The organisation's NAME or ID.
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        deny: bool,
        #[arg(long)]
        json: bool,
    },
    /// Change one of a user's grants in place (see `user show` for ids).
    Regrant {
        /// The user's NAME or ID.
        user: String,
        /// The grant's id.
        grant: String,
        #[arg(long)]
        role: Option<String>,
        /// Limit the grant to this site.
        #[arg(long, conflicts_with = "everywhere")]
        site: Option<String>,
        /// The whole organisation instead of one site.
        #[arg(long)]
        everywhere: bool,
        #[arg(long, conflicts_with = "allow")]
        deny: bool,
        #[arg(long)]
        allow: bool,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one of a user's grants (see `user show` for ids).
    Revoke {
        /// The user's NAME or ID.
        user: String,
        /// The grant's id.
        grant: String,
        #[arg(long)]
        json: bool,
    },
}

/// `""` clears a field: JSON null.
fn or_null(value: Option<String>) -> Option<Value> {
    value.map(|v| if v.is_empty() { Value::Null } else { json!(v) })
}

/// The body of `user edit`: only what was asked for.
pub(crate) fn edit_body(
    full_name: Option<String>,
    email: Option<String>,
    disable: bool,
    enable: bool,
) -> Value {
    let mut body = serde_json::Map::new();
    if let Some(name) = or_null(full_name) {
        body.insert("full_name".into(), name);
    }
    if let Some(email) = or_null(email) {
        body.insert("email".into(), email);
    }
    if disable || enable {
        body.insert("disabled".into(), json!(disable));
    }
    Value::Object(body)
}

fn grants_table(grants: &Value) -> String {
    let mut rows = vec![vec![
        "GRANT".into(),
        "ROLE".into(),
        "WHERE".into(),
        "EFFECT".into(),
    ]];
    for g in grants.as_array().into_iter().flatten() {
        rows.push(vec![
            g["id"].as_str().unwrap_or("").into(),
            g["role_id"].as_str().unwrap_or("").into(),
            g["site"]
                .as_str()
                .map_or("whole organisation".into(), |s| format!("site {s}")),
            if g["deny"] == true { "deny" } else { "allow" }.into(),
        ]);
    }
    output::table(&rows)
}

pub async fn run(command: UserCommand, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        UserCommand::Create {
            username,
            org,
            role,
            site,
            password,
            full_name,
            email,
            json,
        } => {
            let org = names::org_name(&client, org).await?;
            answered(
                json,
                &client
                    .post(
                        "/api/v1/users",
                        &json!({ "username": username, "password": password, "org": org, "role": role, "site": site, "full_name": full_name, "email": email }),
                    )
                    .await?,
                format!("User {username:?} created with role {role}."),
            )
        }
        UserCommand::List { json } => {
            let users = client.get("/api/v1/users").await?;
            if json {
                return print_json(&users);
            }
            let mut rows = vec![vec![
                "USERNAME".into(),
                "FULL NAME".into(),
                "EMAIL".into(),
                "STATE".into(),
                "2FA".into(),
            ]];
            for u in users.as_array().into_iter().flatten() {
                rows.push(vec![
                    u["username"].as_str().unwrap_or("").into(),
                    u["full_name"].as_str().unwrap_or("-").into(),
                    u["email"].as_str().unwrap_or("-").into(),
                    if u["disabled"] == true {
                        "disabled"
                    } else {
                        "active"
                    }
                    .into(),
                    if u["totp_enabled"] == true {
                        "on"
                    } else {
                        "off"
                    }
                    .into(),
                ]);
            }
            print_text(output::table(&rows))
        }
        UserCommand::Show { user, json } => {
            let id = names::id_of(&client, Kind::User, &user).await?;
            let found = client.get(&format!("/api/v1/users/{id}")).await?;
            if json {
                return print_json(&found);
            }
            print_text(format!(
                "{}{}{}\n{}\n{}",
                found["username"].as_str().unwrap_or(""),
                found["full_name"]
                    .as_str()
                    .map_or(String::new(), |n| format!(" ({n})")),
                found["email"]
                    .as_str()
                    .map_or(String::new(), |e| format!(" <{e}>")),
                if found["disabled"] == true {
                    "Disabled: signs in no more."
                } else {
                    "Active."
                },
                grants_table(&found["grants"])
            ))
        }
        UserCommand::Edit {
            user,
            full_name,
            email,
            disable,
            enable,
            json,
        } => {
            let body = edit_body(full_name, email, disable, enable);
            if body.as_object().is_some_and(|b| b.is_empty()) {
                bail!("nothing to change: give --full-name, --email, --disable or --enable");
            }
            let id = names::id_of(&client, Kind::User, &user).await?;
            answered(
                json,
                &client
                    .patch(&format!("/api/v1/users/{id}"), &body, None)
                    .await?,
                format!("User {user} changed."),
            )
        }
        UserCommand::Delete { user, json } => {
            let id = names::id_of(&client, Kind::User, &user).await?;
            answered(
                json,
                &client.delete(&format!("/api/v1/users/{id}")).await?,
                format!("User {user} deleted (what they did stays in the audit trail)."),
            )
        }
        UserCommand::Grant {
            user,
            role,
            org,
            site,
            deny,
            json,
        } => {
            let id = names::id_of(&client, Kind::User, &user).await?;
            let org = names::org_name(&client, org).await?;
            answered(
                json,
                &client
                    .post(
                        &format!("/api/v1/users/{id}/grants"),
                        &json!({ "role": role, "org": org, "site": site, "deny": deny }),
                    )
                    .await?,
                format!(
                    "{} {role} to user {user}.",
                    if deny { "Denied" } else { "Granted" }
                ),
            )
        }
        UserCommand::Regrant {
            user,
            grant,
            role,
            site,
            everywhere,
            deny,
            allow,
            json,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(role) = role {
                body.insert("role".into(), json!(role));
            }
            if everywhere {
                body.insert("site".into(), Value::Null);
            } else if let Some(site) = site {
                body.insert("site".into(), json!(site));
            }
            if deny || allow {
                body.insert("deny".into(), json!(deny));
            }
            if body.is_empty() {
                bail!("nothing to change: give --role, --site, --everywhere, --deny or --allow");
            }
            let id = names::id_of(&client, Kind::User, &user).await?;
            answered(
                json,
                &client
                    .patch(
                        &format!("/api/v1/users/{id}/grants/{grant}"),
                        &Value::Object(body),
                        None,
                    )
                    .await?,
                format!("Grant {grant} of user {user} changed."),
            )
        }
        UserCommand::Revoke { user, grant, json } => {
            let id = names::id_of(&client, Kind::User, &user).await?;
            answered(
                json,
                &client
                    .delete(&format!("/api/v1/users/{id}/grants/{grant}"))
                    .await?,
                format!("Grant {grant} of user {user} revoked."),
            )
        }
    }
}
