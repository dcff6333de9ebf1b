//! People after they are created: a grant changed in place (role, site,
//! effect) takes effect at once, on open terminals too, and is held to
//! what the editor may grant; a lost update is refused; a user's full name
//! and email are edited, checked and audited.

mod common;

use common::lives::*;
use common::shell::Shell;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "a-long-test-password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_changed_in_place_takes_effect_at_once() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let anon = server.anon();
    let admin = anon.with_token(&server.token);
    let agent = tokio::task::block_in_place(|| server.online_agent(root.path(), "box", "5s"));
    let user = ok(admin
        .post(
            "/api/v1/users",
            json!({ "username": "tech", "password": PASSWORD, "role": "technician" }),
        )
        .await);
    let user_path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let grants = ok(admin.get(&format!("{user_path}/grants")).await);
    let grant_path = format!("{user_path}/grants/{}", grants[0]["id"].as_str().unwrap());
    let (status, etag, grant) = admin.get_tagged(&grant_path).await;
    assert_eq!((status, etag), (StatusCode::OK, Some(1)), "{grant}");
    assert_eq!(grant["role_id"], "technician");

    // The technician's terminal closes when the grant becomes read-only,
    // and the API refuses what read-only may not do.
    let tech_token = anon.token_for("tech", PASSWORD).await;
    let tech = anon.with_token(&tech_token);
    let mut shell = Shell::open(&server, &tech_token, &agent.device_id);
    shell.type_line("echo before-$((20+22))");
    shell.wait_for_output("before-42");
    let (status, etag, edited) = admin
        .patch(&grant_path, Some(1), json!({ "role": "read_only" }))
        .await;
    assert_eq!((status, etag), (StatusCode::OK, Some(2)), "{edited}");
    assert_eq!(
        (edited["id"].clone(), edited["role_id"].clone()),
        (grant["id"].clone(), json!("read_only"))
    );
    assert!(
        tokio::task::block_in_place(|| shell.ended_within(Duration::from_secs(3))),
        "the terminal outlived the grant's old role"
    );
    assert_eq!(tech.get("/api/v1/devices").await.0, StatusCode::OK);
    let (status, _) = tech
        .post(
            "/api/v1/jobs",
            json!({ "action": { "kind": "ping" }, "targets": ["all"] }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let change = audited_change(&admin, "PATCH /api/v1/users/{id}/grants/{grant}").await;
    assert_eq!(
        (
            change["before"]["role"].clone(),
            change["after"]["role"].clone()
        ),
        (json!("technician"), json!("read_only")),
        "{change}"
    );

    // A second editor who read version 1 loses, and nothing changes.
    let (status, _, lost) = admin
        .patch(&grant_path, Some(1), json!({ "role": "admin" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{lost}");
    assert_eq!(ok(admin.get(&grant_path).await)["role_id"], "read_only");

    // Limited to a site: the user sees only that site's devices.
    let (status, _, sited) = admin
        .patch(&grant_path, None, json!({ "site": "vault" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{sited}");
    let (_, devices) = tech.get("/api/v1/devices").await;
    assert_eq!(devices, json!([]), "the device at another site is seen");
    let (_, _, whole) = admin
        .patch(&grant_path, None, json!({ "site": null }))
        .await;
    assert_eq!(whole["site"], Value::Null, "{whole}");
    assert_eq!(
        ok(tech.get("/api/v1/devices").await)
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // An administrator cannot raise a grant above what they hold, nor take
    // from someone holding more.
    ok(admin
        .post(
            "/api/v1/users",
            json!({ "username": "deputy", "password": PASSWORD, "role": "admin" }),
        )
        .await);
    let deputy = anon.with_token(&anon.token_for("deputy", PASSWORD).await);
    let (status, _, refused) = deputy
        .patch(&grant_path, None, json!({ "role": "owner" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let boss = ok(admin
        .post(
            "/api/v1/users",
            json!({ "username": "boss", "password": PASSWORD, "role": "owner" }),
        )
        .await);
    let boss_path = format!("/api/v1/users/{}", boss["id"].as_str().unwrap());
    let boss_grant = ok(admin.get(&format!("{boss_path}/grants")).await)[0]["id"].clone();
    let (status, _, refused) = deputy
        .patch(
            &format!("{boss_path}/grants/{}", boss_grant.as_str().unwrap()),
            None,
            json!({ "role": "read_only" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    // Unknown fields and unknown roles are refused by name.
    let (status, _, refused) = admin
        .patch(&grant_path, None, json!({ "org": "elsewhere" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `org`"),
        "{refused}"
    );
    let (status, _, refused) = admin
        .patch(&grant_path, None, json!({ "role": "wizard" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("wizard"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_full_name_and_email_are_edited_and_checked() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let admin = server.api();
    let user = ok(admin
        .post(
            "/api/v1/users",
            json!({ "username": "ana", "password": PASSWORD, "full_name": "Ana Lima", "email": "ana@example.com" }),
        )
        .await);
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let (status, etag, read) = admin.get_tagged(&path).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(
        (read["full_name"].as_str(), read["email"].as_str()),
        (Some("Ana Lima"), Some("ana@example.com"))
    );
    let version = etag.unwrap();

    // A malformed address changes nothing.
    for bad in ["ana", "ana@localhost", "an a@example.com", "@example.com"] {
        let (status, _, refused) = admin
            .patch(&path, None, json!({ "email": bad, "disabled": true }))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {refused}");
    }
    let (_, etag, unchanged) = admin.get_tagged(&path).await;
    assert_eq!(etag, Some(version), "{unchanged}");
    assert_eq!(unchanged["disabled"], false);

    let (status, etag, edited) = admin
        .patch(
            &path,
            Some(version),
            json!({ "full_name": "Ana Lima Souza", "email": "ana.souza@example.com" }),
        )
        .await;
    assert_eq!(
        (status, etag),
        (StatusCode::OK, Some(version + 1)),
        "{edited}"
    );
    assert_eq!(edited["username"], "ana", "the username stays");
    let change = audited_change(&admin, "PATCH /api/v1/users/{id}").await;
    assert_eq!(
        (
            change["before"]["email"].clone(),
            change["after"]["email"].clone()
        ),
        (json!("ana@example.com"), json!("ana.souza@example.com")),
        "{change}"
    );
    // A lost update is refused; null clears.
    let (status, _, _) = admin
        .patch(&path, Some(version), json!({ "full_name": "Old" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, cleared) = admin.patch(&path, None, json!({ "email": null })).await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    let listed = ok(admin.get("/api/v1/users").await);
    let ana = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ana")
        .unwrap();
    assert_eq!(
        (ana["full_name"].as_str(), ana["email"].clone()),
        (Some("Ana Lima Souza"), Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_edits_users_and_their_grants() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let cli = |args: &[&str]| tokio::task::block_in_place(|| server.cli_json(args));
    let created = tokio::task::block_in_place(|| {
        let out = run(server
            .cli_command(&[
                "user",
                "create",
                "bea",
                "--role",
                "technician",
                "--full-name",
                "Bea Dias",
                "--json",
            ])
            .env("STEWARD_NEW_PASSWORD", PASSWORD));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    });
    assert_eq!(created["full_name"], "Bea Dias", "{created}");
    let edited = cli(&[
        "user",
        "edit",
        "bea",
        "--email",
        "bea@example.com",
        "--disable",
    ]);
    assert_eq!(
        (edited["email"].as_str(), edited["disabled"].as_bool()),
        (Some("bea@example.com"), Some(true)),
        "{edited}"
    );
    let shown = cli(&["user", "show", "bea"]);
    let grant = shown["grants"][0]["id"].as_str().unwrap().to_string();
    let changed = cli(&[
        "user",
        "regrant",
        "bea",
        &grant,
        "--role",
        "read_only",
        "--site",
        "hq",
    ]);
    assert_eq!(
        (
            changed["role_id"].as_str(),
            changed["site"].as_str(),
            changed["version"].as_i64()
        ),
        (Some("read_only"), Some("hq"), Some(2)),
        "{changed}"
    );
    let cleared = cli(&["user", "edit", "bea", "--email", "", "--enable"]);
    assert_eq!(
        (cleared["email"].clone(), cleared["disabled"].as_bool()),
        (Value::Null, Some(false))
    );
    cli(&["user", "revoke", "bea", &grant]);
    assert_eq!(cli(&["user", "show", "bea"])["grants"], json!([]));
    cli(&["user", "delete", "bea"]);
    let out = tokio::task::block_in_place(|| server.cli_unchecked(&["user", "show", "bea"]));
    assert!(!out.status.success());
}

/// What the security review climbed with, each refused: another
/// organisation's role named in a grant here, an organisation-wide grant
/// handed out by someone denied at one of its sites, a deny lifted by its
/// holder, and an owner's grant revoked by an administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_cannot_be_used_to_climb() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let anon = server.anon();
    let owner = anon.with_token(&server.token);
    let user = |name: &str, role: &str| {
        let owner = owner.clone();
        let name = name.to_string();
        let role = role.to_string();
        async move {
            ok(owner
                .post(
                    "/api/v1/users",
                    json!({ "username": name, "password": PASSWORD, "role": role }),
                )
                .await)["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let carol_id = user("carol", "admin").await;
    let olivia_id = user("olivia", "owner").await;
    ok(owner.post("/api/v1/orgs", json!({ "name": "orgb" })).await);
    ok(owner
        .post(
            &format!("/api/v1/users/{carol_id}/grants"),
            json!({ "role": "owner", "org": "orgb" }),
        )
        .await);
    ok(owner
        .post(
            &format!("/api/v1/users/{carol_id}/grants"),
            json!({ "role": "technician", "site": "hq", "deny": true }),
        )
        .await);
    let carol = anon.with_token(&anon.token_for("carol", PASSWORD).await);
    let grants_of = |id: &str| {
        let owner = owner.clone();
        let id = id.to_string();
        async move { ok(owner.get(&format!("/api/v1/users/{id}/grants")).await) }
    };
    let carol_grants = grants_of(&carol_id).await;
    let grant_id = |grants: &Value, role: &str, deny: bool| {
        grants
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["role_id"] == role && g["deny"] == deny)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // 1. A role of orgb, named in a grant in the default organisation.
    let copy = ok(carol
        .post(
            "/api/v1/roles",
            json!({ "name": "admin-copy", "org": "orgb", "permissions": ["devices.view", "users.manage"] }),
        )
        .await);
    let copy_id = copy["id"].as_str().unwrap();
    let admin_grant = grant_id(&carol_grants, "admin", false);
    let (status, _, refused) = carol
        .patch(
            &format!("/api/v1/users/{carol_id}/grants/{admin_grant}"),
            None,
            json!({ "role": copy_id }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("no role"),
        "{refused}"
    );
    let (status, refused) = carol
        .post(
            &format!("/api/v1/users/{carol_id}/grants"),
            json!({ "role": copy_id }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, refused) = carol
        .post(
            "/api/v1/users",
            json!({ "username": "puppet", "password": PASSWORD, "role": copy_id }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // 2. Denied technician at hq, carol hands technician out organisation-wide:
    // by creating a user, or by widening a site-limited grant.
    let (status, refused) = carol
        .post(
            "/api/v1/users",
            json!({ "username": "puppet2", "password": PASSWORD, "role": "technician" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let puppet = ok(carol
        .post(
            "/api/v1/users",
            json!({ "username": "puppet3", "password": PASSWORD, "role": "read_only", "site": "x" }),
        )
        .await);
    let puppet_id = puppet["id"].as_str().unwrap().to_string();
    let puppet_grant = grant_id(&grants_of(&puppet_id).await, "read_only", false);
    let (status, _, refused) = carol
        .patch(
            &format!("/api/v1/users/{puppet_id}/grants/{puppet_grant}"),
            None,
            json!({ "site": null, "role": "technician" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    // 3. Carol's own deny, revoked by carol; 4. olivia's owner grant.
    let deny = grant_id(&carol_grants, "technician", true);
    let (status, refused) = carol
        .delete(&format!("/api/v1/users/{carol_id}/grants/{deny}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let olivia_grant = grant_id(&grants_of(&olivia_id).await, "owner", false);
    let (status, refused) = carol
        .delete(&format!("/api/v1/users/{olivia_id}/grants/{olivia_grant}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(grants_of(&olivia_id).await.as_array().unwrap().len(), 1);
    assert_eq!(grants_of(&carol_id).await.as_array().unwrap().len(), 3);
    // 5. Where an owner is reached is not an administrator's to change.
    let (status, _, refused) = carol
        .patch(
            &format!("/api/v1/users/{olivia_id}"),
            None,
            json!({ "email": "carol@evil.example" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    // The owner may do both.
    ok(owner
        .delete(&format!("/api/v1/users/{carol_id}/grants/{deny}"))
        .await);
}
