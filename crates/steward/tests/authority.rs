//! Authority, as the security review attacked it: a restricted token cannot
//! mint a stronger one; schedules, remediations and script edits run with
//! the authority of whoever set them up, re-checked when they run; an
//! approver answers for every target; a revoked credential closes its
//! terminal at once; nothing leaks across tenants; audit entries land in
//! the organisation acted in.

mod common;

use common::api::Api;
use common::shell::Shell;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PASSWORD: &str = "a-long-test-password";

async fn poll<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ok((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A server (approval above one device) with devices at sites hq and vault
/// of the root organisation, and an admin token.
struct World {
    root: tempfile::TempDir,
    _server: Server,
    anon: Api,
    admin: Api,
    hq: String,
    vault: String,
}

async fn world(env: &[(&str, &str)]) -> World {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch_with_env(root.path(), env));
    let anon = Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let admin = anon.with_token(&server.token);
    let mut ids = Vec::new();
    for site in ["hq", "vault"] {
        let created = ok(admin
            .post("/api/v1/enroll-tokens", json!({ "site": site, "uses": 1 }))
            .await);
        let id = steward_agent::enroll::enroll(
            &root.path().join(format!("agent-{site}")),
            created["token"].as_str().unwrap(),
            Some(format!("{site}-1")),
        )
        .await
        .unwrap();
        ids.push(id.to_string());
    }
    let script = "#!/bin/sh\n# steward: name = hello\necho hello\n";
    ok(admin
        .post("/api/v1/scripts", json!({ "file": script }))
        .await);
    World {
        vault: ids.pop().unwrap(),
        hq: ids.pop().unwrap(),
        root,
        _server: server,
        anon,
        admin,
    }
}

impl World {
    /// A user of the root organisation with `role`; denied on `deny_site`.
    async fn user(&self, name: &str, role: &str, deny_site: Option<&str>) -> Api {
        let user = ok(self
            .admin
            .post(
                "/api/v1/users",
                json!({ "username": name, "password": PASSWORD, "role": role }),
            )
            .await);
        if let Some(site) = deny_site {
            ok(self
                .admin
                .post(
                    &format!("/api/v1/users/{}/grants", user["id"].as_str().unwrap()),
                    json!({ "role": role, "site": site, "deny": true }),
                )
                .await);
        }
        self.anon
            .with_token(&self.anon.token_for(name, PASSWORD).await)
    }

    /// The runs of a job: (device id, status, message).
    async fn runs(&self, job: &str) -> Vec<(String, String, String)> {
        let body = ok(self.admin.get(&format!("/api/v1/jobs/{job}")).await);
        body["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["device_id"].as_str().unwrap().to_string(),
                    r["status"].as_str().unwrap().to_string(),
                    r["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The first job a schedule created.
    async fn job_of_schedule(&self, schedule: &str) -> Value {
        let origin = format!("schedule:{schedule}");
        poll(
            "the schedule to fire",
            Duration::from_secs(20),
            async || {
                let (_, jobs) = self.admin.get("/api/v1/jobs").await;
                jobs.as_array()?
                    .iter()
                    .find(|j| j["origin"] == json!(origin))
                    .cloned()
            },
        )
        .await
    }
}

fn every_second(job: Value) -> Value {
    json!({ "name": "nightly", "timing": { "cron": "* * * * * *" }, "job": job })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_token_mints_nothing_stronger_and_manages_only_itself() {
    let w = world(&[]).await;
    let ok_token = |v: Value| v["token"].as_str().unwrap().to_string();
    let admin_tokens = ok(w.admin.get("/api/v1/tokens").await);
    let limited = w.anon.with_token(&ok_token(ok(w
        .admin
        .post(
            "/api/v1/tokens",
            json!({ "name": "ro", "role": "read_only", "org": "default", "site": "hq", "expires_in": "1h" }),
        )
        .await)));
    // A token with no limits asked for: it inherits every limit.
    let child = ok(limited
        .post("/api/v1/tokens", json!({ "name": "child" }))
        .await);
    let child_api = w.anon.with_token(&ok_token(child.clone()));
    let expires = child["expires_at"].as_i64().expect("the child expires");
    assert!(expires <= crate_now() + 3600 + 5, "{child}");
    let (status, body) = child_api
        .post(
            "/api/v1/users",
            json!({ "username": "mallory", "password": PASSWORD, "role": "admin" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = child_api
        .post(
            "/api/v1/jobs",
            json!({ "action": { "kind": "ping" }, "targets": ["all"] }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, devices) = child_api.get("/api/v1/devices").await;
    let seen: Vec<&str> = devices
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["site"].as_str().unwrap())
        .collect();
    assert_eq!(seen, vec!["hq"], "{devices}");
    // Stronger, wider or longer-lived: refused with the reason.
    for (body, reason) in [
        (json!({ "role": "admin" }), "role"),
        (json!({ "site": "vault" }), "site"),
        (json!({ "expires_in": "30d" }), "outlives"),
    ] {
        let (status, answer) = limited.post("/api/v1/tokens", body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body} -> {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(reason),
            "{answer}"
        );
    }
    // Nothing that runs later can be left behind by a token that is
    // limited or expires: it would outlive the token with the user's
    // whole authority.
    let expiring = w.anon.with_token(&ok_token(ok(w
        .admin
        .post(
            "/api/v1/tokens",
            json!({ "name": "1h", "expires_in": "1h" }),
        )
        .await)));
    let (status, body) = expiring
        .post(
            "/api/v1/schedules",
            every_second(json!({ "action": { "kind": "ping" }, "targets": ["all"] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("signed in"),
        "{body}"
    );
    // It sees and revokes only itself, not its user's other tokens.
    let (_, listed) = limited.get("/api/v1/tokens").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let other = admin_tokens.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = limited
        .post(&format!("/api/v1/tokens/{other}/revoke"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    ok(w.admin.get("/api/v1/tokens").await);
    let own = listed[0]["id"].as_str().unwrap();
    ok(limited
        .post(&format!("/api/v1/tokens/{own}/revoke"), json!({}))
        .await);
    assert_eq!(
        limited.get("/api/v1/devices").await.0,
        StatusCode::UNAUTHORIZED
    );
}

fn crate_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_run_with_their_owners_authority_and_wait_for_approval() {
    let w = world(&[("STEWARD_APPROVAL_THRESHOLD", "1")]).await;
    // A technician denied on vault schedules a job for "all".
    let tech = w.user("tech", "technician", Some("vault")).await;
    let schedule = ok(tech
        .post(
            "/api/v1/schedules",
            every_second(json!({ "action": { "kind": "ping" }, "targets": ["all"] })),
        )
        .await);
    let job = w.job_of_schedule(schedule["id"].as_str().unwrap()).await;
    let runs = w.runs(job["id"].as_str().unwrap()).await;
    let devices: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(devices, vec![w.hq.as_str()], "the vault device was reached");
    assert_eq!(job["created_by"], "tech", "{job}");
    ok(tech
        .post(
            &format!(
                "/api/v1/schedules/{}/delete",
                schedule["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await);
    // The admin's schedule reaches both devices: more than the threshold,
    // so its job waits for a second person like a job made by hand.
    let schedule = ok(w
        .admin
        .post(
            "/api/v1/schedules",
            every_second(json!({ "action": { "kind": "ping" }, "targets": ["all"] })),
        )
        .await);
    let id = schedule["id"].as_str().unwrap().to_string();
    let job = w.job_of_schedule(&id).await;
    assert_eq!(job["state"], "pending_approval", "{job}");
    ok(w.admin
        .post(&format!("/api/v1/schedules/{id}/delete"), json!({}))
        .await);
    // The audit trail names the person behind the automatic run.
    let audit = ok(w.admin.get("/api/v1/audit?limit=5000").await);
    let run = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "schedule.run" && e["actor"] == "tech")
        .unwrap_or_else(|| panic!("no schedule.run entry naming tech: {audit}"));
    assert_eq!(run["source"], "schedule", "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_script_runs_only_where_its_editor_may_run_scripts() {
    let w = world(&[]).await;
    // The admin's schedule runs "hello" everywhere; a technician denied on
    // vault edits the script.
    let tech = w.user("tech", "technician", Some("vault")).await;
    ok(tech
        .post(
            "/api/v1/scripts",
            json!({ "file": "#!/bin/sh\n# steward: name = hello\necho pwned > /tmp/x\n" }),
        )
        .await);
    let schedule = ok(w
        .admin
        .post(
            "/api/v1/schedules",
            every_second(json!({ "script": "hello", "targets": ["all"] })),
        )
        .await);
    let id = schedule["id"].as_str().unwrap().to_string();
    let job = w.job_of_schedule(&id).await;
    ok(w.admin
        .post(&format!("/api/v1/schedules/{id}/delete"), json!({}))
        .await);
    let runs = w.runs(job["id"].as_str().unwrap()).await;
    let vault = runs.iter().find(|r| r.0 == w.vault).expect("a vault run");
    assert_eq!(vault.1, "refused", "{runs:?}");
    assert!(vault.2.contains("last changed by tech"), "{runs:?}");
    let hq = runs.iter().find(|r| r.0 == w.hq).expect("an hq run");
    assert_ne!(hq.1, "refused", "{runs:?}");
    // The admin saves it again (re-approves it): it reaches vault again.
    ok(w.admin
        .post(
            "/api/v1/scripts",
            json!({ "file": "#!/bin/sh\n# steward: name = hello\necho hello\n" }),
        )
        .await);
    let schedule = ok(w
        .admin
        .post(
            "/api/v1/schedules",
            every_second(json!({ "script": "hello", "targets": ["all"] })),
        )
        .await);
    let id = schedule["id"].as_str().unwrap().to_string();
    let job = w.job_of_schedule(&id).await;
    ok(w.admin
        .post(&format!("/api/v1/schedules/{id}/delete"), json!({}))
        .await);
    let runs = w.runs(job["id"].as_str().unwrap()).await;
    assert!(runs.iter().all(|r| r.1 != "refused"), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remediation_needs_scripts_run_wherever_the_monitor_reaches() {
    let w = world(&[]).await;
    let monitor = |name: &str, applies_to: Value| {
        json!({
            "name": name,
            "spec": { "kind": "offline" },
            "applies_to": applies_to,
            "remediation": { "script": "hello", "owner": "admin" },
        })
    };
    // A custom role with monitors.manage but not scripts.run.
    let role = ok(w
        .admin
        .post(
            "/api/v1/roles",
            json!({ "name": "watcher", "permissions": ["monitors.manage", "devices.view"] }),
        )
        .await);
    let watcher = w.user("watcher", role["id"].as_str().unwrap(), None).await;
    let (status, body) = watcher
        .post("/api/v1/monitors", monitor("fix-all", json!({})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("scripts.run"),
        "{body}"
    );
    // A technician denied on vault: not for vault, not for the whole
    // organisation (it includes vault); for hq it may.
    let tech = w.user("tech", "technician", Some("vault")).await;
    for applies_to in [json!({ "sites": ["vault"] }), json!({})] {
        let (status, body) = tech
            .post("/api/v1/monitors", monitor("fix", applies_to.clone()))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{applies_to}: {body}");
    }
    let created = ok(tech
        .post(
            "/api/v1/monitors",
            monitor("fix-hq", json!({ "sites": ["hq"] })),
        )
        .await);
    // The owner is whoever made it, whatever the request claimed.
    assert_eq!(
        created["monitor"]["remediation"]["owner"], "tech",
        "{created}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_answers_for_every_target_and_counts_hide_the_rest() {
    let w = world(&[("STEWARD_APPROVAL_THRESHOLD", "1")]).await;
    let created = ok(w
        .admin
        .post(
            "/api/v1/jobs",
            json!({ "action": { "kind": "ping" }, "targets": ["all"] }),
        )
        .await);
    assert_eq!(created["state"], "pending_approval", "{created}");
    let job = created["id"].as_str().unwrap();
    let tech = w.user("tech", "technician", Some("vault")).await;
    let seen = ok(tech.get(&format!("/api/v1/jobs/{job}")).await);
    let counted: u64 = seen["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 1, "the counts reveal the vault run: {seen}");
    let (_, listed) = tech.get("/api/v1/jobs").await;
    let listed_counts: u64 = listed[0]["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(listed_counts, 1, "{listed}");
    let (status, body) = tech
        .post(&format!("/api/v1/jobs/{job}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let other = w.user("other-admin", "admin", None).await;
    ok(other
        .post(&format!("/api/v1/jobs/{job}/approve"), json!({}))
        .await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_leaks_across_tenants_and_audit_lands_where_the_change_was() {
    let w = world(&[]).await;
    for org in ["acme", "globex"] {
        ok(w.admin.post("/api/v1/orgs", json!({ "name": org })).await);
    }
    let admin_b = {
        ok(w
            .admin
            .post(
                "/api/v1/users",
                json!({ "username": "admin-b", "password": PASSWORD, "org": "globex", "role": "admin" }),
            )
            .await);
        w.anon
            .with_token(&w.anon.token_for("admin-b", PASSWORD).await)
    };
    // A taken username: said in words, not with the database's message.
    let (status, body) = admin_b
        .post(
            "/api/v1/users",
            json!({ "username": "admin", "password": PASSWORD, "role": "read_only" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("is taken") && !message.contains("UNIQUE"),
        "{body}"
    );
    // Another tenant's organisation name answers as an unknown one.
    let (known, a) = admin_b
        .post("/api/v1/tokens", json!({ "org": "acme" }))
        .await;
    let (unknown, b) = admin_b
        .post("/api/v1/tokens", json!({ "org": "no-such-org" }))
        .await;
    assert_eq!(
        (known, unknown),
        (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST),
        "{a} {b}"
    );
    // Installation-wide figures are not an organisation admin's.
    assert_eq!(
        admin_b.get("/api/v1/server/stats").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(admin_b.get("/metrics").await.0, StatusCode::FORBIDDEN);
    ok(w.admin.get("/api/v1/server/stats").await);
    // The installation's admin makes a change inside globex: globex's
    // admin finds it in their audit log.
    ok(w.admin
        .post(
            "/api/v1/monitors",
            json!({ "name": "globex offline", "org": "globex", "spec": { "kind": "offline" } }),
        )
        .await);
    // A failed sign-in of globex's user is globex's to see.
    let (status, _, _) = w.anon.login("admin-b", "not the password", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let audit = ok(admin_b.get("/api/v1/audit?limit=5000").await);
    let entries = audit.as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == "admin" && e["action"] == "POST /api/v1/monitors"),
        "{audit}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == "admin-b" && e["action"] == "login.failed"),
        "{audit}"
    );
    let _ = &w.root;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_token_or_a_grant_closes_its_terminal_at_once() {
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
    let user_id = user["id"].as_str().unwrap().to_string();

    // 1. The token that opened the terminal is revoked.
    let tech_token = anon.token_for("tech", PASSWORD).await;
    let tech = anon.with_token(&tech_token);
    let mut shell = Shell::open(&server, &tech_token, &agent.device_id);
    shell.type_line("echo before-$((20+22))");
    shell.wait_for_output("before-42");
    let (_, tokens) = tech.get("/api/v1/tokens").await;
    let id = tokens[0]["id"].as_str().unwrap().to_string();
    let revoked_at = Instant::now();
    ok(tech
        .post(&format!("/api/v1/tokens/{id}/revoke"), json!({}))
        .await);
    assert!(
        tokio::task::block_in_place(|| shell.ended_within(Duration::from_secs(3))),
        "the terminal outlived its token"
    );
    eprintln!(
        "terminal closed {:?} after the revocation",
        revoked_at.elapsed()
    );

    // 2. A deny of the user's role is granted: the terminal closes too.
    let tech_token = anon.token_for("tech", PASSWORD).await;
    let mut shell = Shell::open(&server, &tech_token, &agent.device_id);
    shell.type_line("echo again-$((20+22))");
    shell.wait_for_output("again-42");
    ok(admin
        .post(
            &format!("/api/v1/users/{user_id}/grants"),
            json!({ "role": "technician", "deny": true }),
        )
        .await);
    assert!(
        tokio::task::block_in_place(|| shell.ended_within(Duration::from_secs(3))),
        "the terminal outlived the user's grant"
    );

    // 3. The deny is revoked: access is back at once; then the allowing
    // grant is revoked: the terminal closes and the API refuses.
    let grants = ok(admin.get(&format!("/api/v1/users/{user_id}")).await)["grants"].clone();
    let grant_id = |deny: bool| {
        grants
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["deny"] == deny)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    ok(admin
        .delete(&format!(
            "/api/v1/users/{user_id}/grants/{}",
            grant_id(true)
        ))
        .await);
    let tech_token = anon.token_for("tech", PASSWORD).await;
    let tech = anon.with_token(&tech_token);
    assert_eq!(tech.get("/api/v1/devices").await.0, StatusCode::OK);
    let mut shell = Shell::open(&server, &tech_token, &agent.device_id);
    shell.type_line("echo granted-$((20+22))");
    shell.wait_for_output("granted-42");
    ok(admin
        .delete(&format!(
            "/api/v1/users/{user_id}/grants/{}",
            grant_id(false)
        ))
        .await);
    assert!(
        tokio::task::block_in_place(|| shell.ended_within(Duration::from_secs(3))),
        "the terminal outlived the revoked grant"
    );
    assert_eq!(tech.get("/api/v1/devices").await.0, StatusCode::FORBIDDEN);

    // 4. Disabled: terminal, token and sign-in all stop at once.
    ok(admin
        .post(
            &format!("/api/v1/users/{user_id}/grants"),
            json!({ "role": "technician" }),
        )
        .await);
    let tech_token = anon.token_for("tech", PASSWORD).await;
    let tech = anon.with_token(&tech_token);
    let mut shell = Shell::open(&server, &tech_token, &agent.device_id);
    shell.type_line("echo enabled-$((20+22))");
    shell.wait_for_output("enabled-42");
    let (status, _, answer) = admin
        .patch(
            &format!("/api/v1/users/{user_id}"),
            None,
            json!({ "disabled": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        tokio::task::block_in_place(|| shell.ended_within(Duration::from_secs(3))),
        "the terminal outlived the disabled account"
    );
    assert_eq!(
        tech.get("/api/v1/devices").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = anon
        .post(
            "/api/v1/login",
            json!({ "username": "tech", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, users) = admin.get("/api/v1/users").await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "tech" && u["disabled"] == true)
    );
    // An admin does not lock out someone holding more (an owner).
    let boss = ok(admin
        .post(
            "/api/v1/users",
            json!({ "username": "boss", "password": PASSWORD, "role": "owner" }),
        )
        .await);
    let boss_path = format!("/api/v1/users/{}", boss["id"].as_str().unwrap());
    ok(admin
        .post(
            "/api/v1/users",
            json!({ "username": "deputy", "password": PASSWORD, "role": "admin" }),
        )
        .await);
    let deputy = anon.with_token(&anon.token_for("deputy", PASSWORD).await);
    let (status, _, refused) = deputy
        .patch(&boss_path, None, json!({ "disabled": true }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("boss holds"),
        "{refused}"
    );
    assert_eq!(deputy.delete(&boss_path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        anon.with_token(&anon.token_for("boss", PASSWORD).await)
            .get("/api/v1/devices")
            .await
            .0,
        StatusCode::OK
    );
    // Nobody disables or deletes themselves.
    let (_, me) = admin.get("/api/v1/whoami").await;
    let (status, _, refused) = admin
        .patch(
            &format!("/api/v1/users/{}", me["user_id"].as_str().unwrap_or("")),
            None,
            json!({ "disabled": true }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // 5. Enabled again it works; deleted while a schedule runs as it, it
    // is refused with the schedule named; once that is gone, deleted.
    let (status, _, _) = admin
        .patch(
            &format!("/api/v1/users/{user_id}"),
            None,
            json!({ "disabled": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let tech_token = anon.token_for("tech", PASSWORD).await;
    let tech = anon.with_token(&tech_token);
    let schedule = ok(tech
        .post(
            "/api/v1/schedules",
            json!({ "name": "tech nightly", "timing": { "cron": "0 3 * * *" }, "job": { "action": { "kind": "ping" }, "targets": ["all"] } }),
        )
        .await);
    let (status, refused) = admin.delete(&format!("/api/v1/users/{user_id}")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("schedule \"tech nightly\""),
        "{refused}"
    );
    ok(admin
        .delete(&format!(
            "/api/v1/schedules/{}",
            schedule["id"].as_str().unwrap()
        ))
        .await);
    ok(admin.delete(&format!("/api/v1/users/{user_id}")).await);
    assert_eq!(
        tech.get("/api/v1/devices").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin.get(&format!("/api/v1/users/{user_id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

/// A job names its script; the name is looked up in the job's organisation
/// only. Another organisation's script of the same name is neither run
/// there nor a conflict, and a script only another organisation has is not
/// found (it used to be run: found by an operator who sees both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_its_own_organisations_script_only() {
    let w = world(&[]).await;
    ok(w.admin
        .post("/api/v1/orgs", json!({ "name": "other" }))
        .await);
    for (name, body) in [("hello", "echo OTHER"), ("only-other", "echo OTHER")] {
        let file = format!("#!/bin/sh\n# steward: name = {name}\n{body}\n");
        ok(w.admin
            .post("/api/v1/scripts", json!({ "org": "other", "file": file }))
            .await);
    }
    let job = ok(w
        .admin
        .post(
            "/api/v1/jobs",
            json!({ "script": "hello", "targets": [format!("device:{}", w.hq)] }),
        )
        .await);
    let id = job["id"].as_str().unwrap();
    let stored = ok(w.admin.get(&format!("/api/v1/jobs/{id}")).await);
    let body = stored["action"]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("echo hello") && !body.contains("OTHER"),
        "{stored}"
    );
    let (status, body) = w
        .admin
        .post(
            "/api/v1/jobs",
            json!({ "script": "only-other", "targets": [format!("device:{}", w.hq)] }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
