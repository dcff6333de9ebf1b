//! A site's life: listed with what names it, renamed everywhere it is
//! named (devices, enrollment tokens, grants, monitors, silences,
//! maintenance windows, schedules), merged into another; only by whoever
//! manages devices in the whole organisation.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_is_renamed_everywhere_it_is_named_and_merged() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let ok = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    let token = ok(api
        .post(
            "/api/v1/enroll-tokens",
            json!({ "site": "branch", "uses": 2 }),
        )
        .await);
    let gateway = Agent::enroll(root.path(), "gateway", token["token"].as_str().unwrap());
    let (_, whoami) = api.get("/api/v1/whoami").await;
    let org = whoami["org_id"]
        .as_str()
        .expect("the admin's organisation")
        .to_string();
    let monitor = ok(api
        .post(
            "/api/v1/monitors",
            json!({ "name": "branch offline", "spec": { "kind": "offline" }, "applies_to": { "sites": ["branch"] } }),
        )
        .await);
    ok(api
        .post(
            "/api/v1/silences",
            json!({ "matcher": { "sites": ["branch", "hq"] }, "duration": "1h", "reason": "moving racks" }),
        )
        .await);
    ok(api
        .post(
            "/api/v1/scripts",
            json!({ "name": "hello", "file": "#!/bin/sh\necho hi\n" }),
        )
        .await);
    let schedule = ok(api
        .post(
            "/api/v1/schedules",
            json!({ "name": "branch hello", "timing": { "every_minutes": 60 }, "job": { "script": "hello", "targets": ["site:branch"] } }),
        )
        .await);
    let tech = ok(api
        .post(
            "/api/v1/users",
            json!({ "username": "branch-tech", "password": "a long enough password", "role": "technician", "site": "branch" }),
        )
        .await);

    let (_, sites) = api.get("/api/v1/sites").await;
    let branch = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "branch")
        .cloned()
        .unwrap_or_else(|| panic!("no branch in {sites}"));
    assert_eq!(
        (
            &branch["devices"],
            &branch["enroll_tokens"],
            &branch["grants"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{branch}"
    );

    // A site-limited technician may not rename their own site.
    let base = common::api::Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let tech_api = base.with_token(
        &base
            .token_for("branch-tech", "a long enough password")
            .await,
    );
    let (status, _, refused) = tech_api
        .patch(
            &format!("/api/v1/orgs/{org}/sites/branch"),
            None,
            json!({ "name": "mine" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    // Nor may a technician of the whole organisation (renaming moves
    // grants: it takes every permission), nor an administrator denied
    // at the site.
    let mut refused_callers = Vec::new();
    for (name, role) in [("org-tech", "technician"), ("fenced-admin", "admin")] {
        let user = ok(api
            .post(
                "/api/v1/users",
                json!({ "username": name, "password": "a long enough password", "role": role }),
            )
            .await);
        refused_callers.push((name, user["id"].as_str().unwrap().to_string()));
    }
    ok(api
        .post(
            &format!("/api/v1/users/{}/grants", refused_callers[1].1),
            json!({ "role": "admin", "site": "branch", "deny": true }),
        )
        .await);
    for (name, _) in &refused_callers {
        let who = base.with_token(&base.token_for(name, "a long enough password").await);
        let (status, _, refused) = who
            .patch(
                &format!("/api/v1/orgs/{org}/sites/branch"),
                None,
                json!({ "name": "theirs" }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {refused}");
    }
    let (_, sites) = api.get("/api/v1/sites").await;
    assert!(
        sites
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "branch"),
        "a refused rename changed nothing: {sites}"
    );

    // Renamed: every row and definition that named it.
    let (status, _, renamed) = api
        .patch(
            &format!("/api/v1/orgs/{org}/sites/branch"),
            None,
            json!({ "name": "Branch Office" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        renamed["rows"], 4,
        "device, token, grant, the deny: {renamed}"
    );
    let mut definitions: Vec<&str> = renamed["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    definitions.sort();
    assert_eq!(
        definitions,
        [
            "monitor branch offline",
            "schedule branch hello",
            "silence silence"
        ],
        "{renamed}"
    );
    assert_eq!(server.device(&gateway.device_id)["site"], "Branch Office");
    let (_, read) = api
        .get(&format!(
            "/api/v1/monitors/{}",
            monitor["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        read["definition"]["applies_to"]["sites"],
        json!(["Branch Office"])
    );
    let (_, read) = api
        .get(&format!(
            "/api/v1/schedules/{}",
            schedule["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        read["job"]["targets"],
        json!(["site:Branch Office"]),
        "{read}"
    );
    let (_, silences) = api.get("/api/v1/silences").await;
    assert_eq!(
        silences[0]["definition"]["matcher"]["sites"],
        json!(["Branch Office", "hq"]),
        "{silences}"
    );
    let (_, grants) = api
        .get(&format!(
            "/api/v1/users/{}/grants",
            tech["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        grants
            .as_array()
            .into_iter()
            .flatten()
            .any(|g| g["site"] == "Branch Office"),
        "{grants}"
    );
    // Audited with before and after.
    let (_, audit) = api.get("/api/v1/audit?limit=50").await;
    assert!(
        audit.as_array().unwrap().iter().any(|e| {
            e["action"] == "PATCH /api/v1/orgs/{id}/sites/{site}"
                && e["detail"].as_str().is_some_and(|d| {
                    d.contains(r#""before":{"site":"branch"}"#) && d.contains("Branch Office")
                })
        }),
        "{audit}"
    );

    // Merged into hq: the silence names hq once; branch is gone.
    let (status, _, merged) = api
        .patch(
            &format!("/api/v1/orgs/{org}/sites/Branch%20Office"),
            None,
            json!({ "name": "hq" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    let (_, silences) = api.get("/api/v1/silences").await;
    assert_eq!(
        silences[0]["definition"]["matcher"]["sites"],
        json!(["hq"]),
        "{silences}"
    );
    let (_, sites) = api.get("/api/v1/sites").await;
    let names: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["hq"], "{sites}");
    // Nothing names it any more: not found.
    let (status, _, _) = api
        .patch(
            &format!("/api/v1/orgs/{org}/sites/branch"),
            None,
            json!({ "name": "again" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
