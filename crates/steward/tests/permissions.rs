//! The permission matrix: every API route, for every role, for a role with
//! an explicit deny, for a limited token and for another tenant's admin.
//! A route added without a decision here fails this test.

mod common;

use common::api::Api;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use steward_server::api::{Access, route_table};

const PASSWORD: &str = "a-long-test-password";

#[path = "permissions/table.rs"]
mod table;
use table::expected_access;

fn access_name(access: Access) -> &'static str {
    match access {
        Access::Public => "public",
        Access::MfaPending => "mfa-pending",
        Access::SignedIn => "signed-in",
        Access::Perm(p) => p.as_str(),
    }
}

struct Who {
    name: &'static str,
    api: Api,
    /// Permissions held in organisation "acme" at site "hq" (the device's).
    perms: Vec<&'static str>,
    /// Sees acme's objects (false for the other tenant's admin).
    in_acme: bool,
    /// Holds orgs.manage everywhere.
    global: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_has_a_decision_and_enforces_it() {
    // 1. The table and this test agree, route for route.
    let table = route_table();
    let expected = expected_access();
    for route in &table {
        let key = (route.method.as_str(), route.path);
        let Some(want) = expected.get(&key) else {
            panic!(
                "route {} {} has no decision in this test: add one",
                route.method, route.path
            );
        };
        assert_eq!(
            access_name(route.access),
            *want,
            "{} {}",
            route.method,
            route.path
        );
    }
    assert_eq!(
        table.len(),
        expected.len(),
        "the test lists routes the server no longer has"
    );

    // 2. A server with two tenants and one user per role.
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let base = Api::new(&server.url(), &ca);
    let owner_all = base.with_token(&server.token);
    for org in ["acme", "other"] {
        let (status, body) = owner_all.post("/api/v1/orgs", json!({ "name": org })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let acme = owner_all
        .get("/api/v1/orgs")
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "acme")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut users = HashMap::new();
    for (name, org, role) in [
        ("owner-a", "acme", "owner"),
        ("admin-a", "acme", "admin"),
        ("tech-a", "acme", "technician"),
        ("ro-a", "acme", "read_only"),
        ("denied-a", "acme", "technician"),
        ("admin-b", "other", "admin"),
    ] {
        let (status, body) = owner_all
            .post(
                "/api/v1/users",
                json!({ "username": name, "password": PASSWORD, "org": org, "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        users.insert(name, body["id"].as_str().unwrap().to_string());
    }
    // Explicit deny: denied-a loses the technician role at site "hq".
    let (status, body) = owner_all
        .post(
            &format!("/api/v1/users/{}/grants", users["denied-a"]),
            json!({ "role": "technician", "org": "acme", "site": "hq", "deny": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A device in acme/hq, enrolled by a real agent identity.
    let (status, created) = owner_all
        .post(
            "/api/v1/enroll-tokens",
            json!({ "org": "acme", "site": "hq", "uses": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let device = steward_agent::enroll::enroll(
        &root.path().join("agent"),
        created["token"].as_str().unwrap(),
        Some("d1".into()),
    )
    .await
    .unwrap();

    let perms = |role: &str| -> Vec<&'static str> {
        let role = steward_server::authz::builtin_roles()
            .into_iter()
            .find(|r| r.id == role)
            .unwrap();
        steward_server::authz::Permission::ALL
            .into_iter()
            .map(|p| p.as_str())
            .filter(|p| role.permissions.iter().any(|q| q == p))
            .collect()
    };
    let admin_a_token = base.token_for("admin-a", PASSWORD).await;
    let limited = {
        let session = base.with_token(&admin_a_token);
        let (status, t) = session
            .post(
                "/api/v1/tokens",
                json!({ "name": "ro", "role": "read_only" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{t}");
        base.with_token(t["token"].as_str().unwrap())
    };
    let all_perms: Vec<&'static str> = steward_server::authz::Permission::ALL
        .into_iter()
        .map(|p| p.as_str())
        .collect();
    let whos = vec![
        Who {
            name: "owner-everywhere",
            api: owner_all.clone(),
            perms: all_perms.clone(),
            in_acme: true,
            global: true,
        },
        Who {
            name: "owner-a",
            api: base.with_token(&base.token_for("owner-a", PASSWORD).await),
            perms: perms("owner"),
            in_acme: true,
            global: false,
        },
        Who {
            name: "admin-a",
            api: base.with_token(&admin_a_token),
            perms: perms("admin"),
            in_acme: true,
            global: false,
        },
        Who {
            name: "tech-a",
            api: base.with_token(&base.token_for("tech-a", PASSWORD).await),
            perms: perms("technician"),
            in_acme: true,
            global: false,
        },
        Who {
            name: "ro-a",
            api: base.with_token(&base.token_for("ro-a", PASSWORD).await),
            perms: perms("read_only"),
            in_acme: true,
            global: false,
        },
        Who {
            name: "denied-a",
            api: base.with_token(&base.token_for("denied-a", PASSWORD).await),
            perms: vec![],
            in_acme: false,
            global: false,
        },
        Who {
            name: "admin-a read-only token",
            api: limited,
            perms: perms("read_only"),
            in_acme: true,
            global: false,
        },
        Who {
            name: "admin-b",
            api: base.with_token(&base.token_for("admin-b", PASSWORD).await),
            perms: vec![],
            in_acme: false,
            global: false,
        },
        Who {
            name: "nobody",
            api: base.clone(),
            perms: vec![],
            in_acme: false,
            global: false,
        },
    ];
    // What each holds anywhere (decides 403 at the door).
    let holds_anywhere = |who: &Who, perm: &str| -> bool {
        match who.name {
            "nobody" => false,
            "denied-a" => perms("technician").contains(&perm), // allowed at acme's other sites
            "admin-b" => perms("admin").contains(&perm),
            _ => who.perms.contains(&perm),
        }
    };

    // 3. Every route, every caller. Destructive routes run last.
    let mut ordered = table.clone();
    ordered.sort_by_key(|r| {
        r.path.contains("revoke")
            || (r.method == Method::DELETE && r.path == "/api/v1/devices/{id}")
    });
    for route in &ordered {
        if route.path.starts_with("/agent/") || route.path == "/api/v1/events" {
            continue; // WebSocket upgrades: covered by the gateway and events tests
        }
        // Deleting a user is tried on nobody (ro-a is needed afterwards).
        let path = if route.method == Method::DELETE && route.path == "/api/v1/users/{id}" {
            route
                .path
                .replace("/users/{id}", "/users/00000000-0000-7000-8000-000000000000")
        } else {
            route.path.to_string()
        };
        let path = path
            .replace("/devices/{id}", &format!("/devices/{device}"))
            .replace("/users/{id}", &format!("/users/{}", users["ro-a"]))
            .replace("/orgs/{id}", &format!("/orgs/{acme}"))
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{grant}", &uuid::Uuid::now_v7().to_string())
            // A site nothing names: renaming it changes nothing.
            .replace("{site}", "nowhere")
            .replace("{name}", "system.cpu.utilization");
        for who in &whos {
            let body = body_for(route.path, who.name);
            let (status, answer) = who.api.call(route.method.clone(), &path, Some(body)).await;
            let what = format!(
                "{} {} as {}: {status} {answer}",
                route.method, path, who.name
            );
            match route.access {
                Access::Public => assert_ne!(status, StatusCode::FORBIDDEN, "{what}"),
                Access::MfaPending | Access::SignedIn => {
                    if who.name == "nobody" {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    } else {
                        assert!(
                            status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                            "{what}"
                        );
                    }
                }
                Access::Perm(permission) => {
                    let perm = permission.as_str();
                    if who.name == "nobody" {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    } else if !holds_anywhere(who, perm)
                        // Creating organisations needs orgs.manage everywhere.
                        || (route.path == "/api/v1/orgs" && route.method == Method::POST && !who.global)
                        // Agent releases serve every organisation: orgs.manage everywhere.
                        || (route.path == "/api/v1/agent-releases" && route.method == Method::POST && !who.global)
                        // A rollout replaces the agent on the whole organisation, hq included.
                        || (who.name == "denied-a" && route.path == "/api/v1/agent-rollouts" && route.method == Method::POST)
                        // Installation-wide figures need audit.view everywhere.
                        || (matches!(route.path, "/metrics" | "/api/v1/server/stats") && !who.global)
                        // denied-a asks for site "hq", where its deny applies.
                        || (who.name == "denied-a" && route.path == "/api/v1/enroll-tokens" && route.method == Method::POST)
                        // An organisation-wide monitor would reach hq, where denied-a is denied.
                        || (who.name == "denied-a" && route.path == "/api/v1/monitors" && route.method == Method::POST)
                        // So would an organisation-wide patch policy or hold.
                        || (who.name == "denied-a" && matches!(route.path, "/api/v1/patching/policies" | "/api/v1/patching/holds") && route.method == Method::POST)
                        // Renaming a site moves grants: every permission in acme it takes.
                        || (route.path == "/api/v1/orgs/{id}/sites/{site}"
                            && !["owner-everywhere", "owner-a", "admin-a"].contains(&who.name))
                    {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    } else if route.path.contains("{id}")
                        && !(who.in_acme && who.perms.contains(&perm))
                    {
                        // Another tenant's object, or a denied site: not even its existence shows.
                        assert!(
                            status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                            "{what}"
                        );
                    } else {
                        assert!(
                            status != StatusCode::FORBIDDEN
                                && status != StatusCode::UNAUTHORIZED
                                && status.as_u16() < 500,
                            "{what}"
                        );
                    }
                }
            }
            assert!(status.as_u16() < 500, "{what}");
        }
    }

    // 4. Lists never leak another tenant's rows.
    for who in whos.iter().filter(|w| !w.in_acme && w.name != "nobody") {
        let (_, devices) = who.api.get("/api/v1/devices").await;
        let leaked = devices
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| d["id"] == json!(device));
        assert!(!leaked, "{} sees acme's device", who.name);
    }

    // 5. Authority that acts later or elsewhere, across the denied site
    // (denied-a is a technician of acme, denied at hq where d1 is).
    let denied = whos.iter().find(|w| w.name == "denied-a").unwrap();
    let limited_api = &whos
        .iter()
        .find(|w| w.name == "admin-a read-only token")
        .unwrap()
        .api;
    // A limited token's token is no stronger than itself.
    let (status, child) = limited_api
        .post("/api/v1/tokens", json!({ "name": "child" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{child}");
    let child = base.with_token(child["token"].as_str().unwrap());
    let (status, body) = child
        .post(
            "/api/v1/users",
            json!({ "username": "minted", "password": PASSWORD, "role": "read_only" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "child token: {body}");
    let (status, body) = limited_api
        .post("/api/v1/tokens", json!({ "role": "admin" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "stronger token: {body}");
    // A schedule for "all" by denied-a never reaches hq.
    let (status, schedule) = denied
        .api
        .post(
            "/api/v1/schedules",
            json!({ "name": "matrix", "org": "acme", "timing": { "cron": "* * * * * *" }, "job": { "action": { "kind": "ping" }, "targets": ["all"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{schedule}");
    let origin = format!("schedule:{}", schedule["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the schedule never fired"
        );
        let (_, audit) = owner_all.get("/api/v1/audit?limit=5000").await;
        let fired = audit.as_array().into_iter().flatten().find(|e| {
            e["target"] == json!(origin)
                && e["action"].as_str().unwrap_or("").starts_with("schedule.")
        });
        if let Some(entry) = fired {
            // No device of acme but d1 (at hq): nothing to run, refused.
            assert_eq!(entry["action"], "schedule.refused", "{entry}");
            assert_eq!(entry["actor"], "denied-a", "{entry}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A remediation for the whole organisation (hq included) is refused.
    let (status, script) = owner_all
        .post(
            "/api/v1/scripts",
            json!({ "org": "acme", "file": "#!/bin/sh\n# steward: name = fix\necho fix\n" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{script}");
    let (status, body) = denied
        .api
        .post(
            "/api/v1/monitors",
            json!({ "name": "fixer", "org": "acme", "spec": { "kind": "offline" }, "remediation": { "script": "fix" } }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "remediation across a deny: {body}"
    );
    // An approver denied on a target cannot approve its job (d1 was
    // revoked above: a second device at hq).
    let (status, created) = owner_all
        .post(
            "/api/v1/enroll-tokens",
            json!({ "org": "acme", "site": "hq", "uses": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    steward_agent::enroll::enroll(
        &root.path().join("agent-2"),
        created["token"].as_str().unwrap(),
        Some("d2".into()),
    )
    .await
    .unwrap();
    let (status, job) = owner_all
        .post(
            "/api/v1/jobs",
            json!({ "org": "acme", "action": { "kind": "ping" }, "targets": ["all"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let (status, body) = denied
        .api
        .post(
            &format!("/api/v1/jobs/{}/approve", job["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "approval across a deny: {status} {body}"
    );
    // denied-a edits the script an owner's schedule runs: the scheduled
    // run on d2 (at hq, denied to denied-a) is refused, not run.
    let (status, body) = denied
        .api
        .post(
            "/api/v1/scripts",
            json!({ "org": "acme", "file": "#!/bin/sh\n# steward: name = fix\necho injected\n" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "script edit: {body}");
    let (status, schedule) = owner_all
        .post(
            "/api/v1/schedules",
            json!({ "name": "fixer", "org": "acme", "timing": { "cron": "* * * * * *" }, "job": { "script": "fix", "targets": ["all"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{schedule}");
    let origin = format!("schedule:{}", schedule["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let job = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the schedule never fired"
        );
        let (_, jobs) = owner_all.get("/api/v1/jobs?limit=50").await;
        if let Some(job) = jobs
            .as_array()
            .into_iter()
            .flatten()
            .find(|j| j["origin"] == json!(origin))
        {
            break job["id"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let (_, record) = owner_all.get(&format!("/api/v1/jobs/{job}")).await;
    let runs = record["runs"].as_array().unwrap();
    assert!(!runs.is_empty(), "{record}");
    for run in runs {
        assert_eq!(run["status"], "refused", "{record}");
        assert!(
            run["message"]
                .as_str()
                .unwrap()
                .contains("last changed by denied-a"),
            "{record}"
        );
    }
}

fn body_for(path: &str, who: &str) -> Value {
    let unique = who.replace(' ', "-");
    match path {
        "/api/v1/login" => json!({ "username": "x", "password": "y" }),
        "/api/v1/me/totp/enable" => json!({ "code": "000000" }),
        "/api/v1/tokens" => json!({ "name": "matrix" }),
        "/api/v1/incidents/{id}/notes" => json!({ "text": "matrix" }),
        "/api/v1/runbooks" => json!({ "title": format!("runbook {unique}") }),
        "/api/v1/sla-targets" => json!({ "priority": "p4", "resolve_ms": 86_400_000 }),
        "/api/v1/incident-webhooks" => json!({ "name": format!("hook-{unique}") }),
        "/api/v1/otlp-tokens" => json!({ "name": format!("otlp-{unique}") }),
        "/api/v1/agentless-devices" => {
            json!({ "name": format!("ups-{unique}"), "category": "ups", "address": "127.0.0.1", "probe_agent": uuid::Uuid::now_v7() })
        }
        "/api/v1/agentless-devices/{id}/probes" => {
            json!({ "name": "matrix", "url": "tcp://127.0.0.1:9" })
        }
        "/api/v1/problem-rules" => {
            json!({ "rules": [{ "kind": "repeat", "window_ms": 3_600_000, "min_count": 5 }] })
        }
        "/api/v1/incidents/{id}/runs" => {
            json!({ "runbook": "00000000-0000-7000-8000-000000000000", "script": "matrix" })
        }
        "/api/v1/enroll-tokens" => json!({ "site": "hq" }),
        "/api/v1/orgs" => json!({ "name": format!("org-{unique}") }),
        "/api/v1/orgs/{id}/require-totp" => json!({ "require": false }),
        "/api/v1/orgs/{id}/sites/{site}" => json!({ "name": "elsewhere" }),
        "/api/v1/users" => {
            json!({ "username": format!("new-{unique}"), "password": PASSWORD, "role": "read_only" })
        }
        "/api/v1/users/{id}/grants" => json!({ "role": "read_only" }),
        "/api/v1/users/{id}" => json!({ "disabled": false }),
        "/api/v1/users/{id}/grants/{grant}" => json!({ "deny": false }),
        "/api/v1/roles" => {
            json!({ "name": format!("role-{unique}"), "permissions": ["devices.view"] })
        }
        "/api/v1/monitors" => {
            json!({ "name": format!("offline-{unique}"), "spec": { "kind": "offline" } })
        }
        "/api/v1/channels" => {
            json!({ "name": format!("hook-{unique}"), "kind": "webhook", "url": "http://127.0.0.1:9/", "secret": "0123456789abcdef" })
        }
        "/api/v1/maintenance" => {
            json!({ "name": "night", "matcher": { "sites": ["hq"] }, "schedule": { "kind": "once", "start": 0, "end": 1 } })
        }
        "/api/v1/silences" => {
            json!({ "matcher": { "sites": ["hq"] }, "duration": "1m", "reason": "matrix" })
        }
        "/api/v1/scripts" => {
            json!({ "name": format!("s-{unique}"), "file": "#!/bin/sh\necho hi\n" })
        }
        "/api/v1/jobs" => json!({ "action": { "kind": "ping" }, "targets": ["all"] }),
        "/api/v1/patching/policies" => {
            json!({ "name": format!("p-{unique}"), "scope": { "kind": "organisation" }, "install": "security", "window": { "days": [6], "start_minute": 120, "duration_minutes": 60 }, "reboot": "never" })
        }
        "/api/v1/patching/holds" => {
            json!({ "package": "openssl", "reason": "matrix" })
        }
        _ => json!({}),
    }
}
