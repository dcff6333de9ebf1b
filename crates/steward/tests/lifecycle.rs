//! The whole life of the objects alerting and automation are configured
//! with, through the API's conventions: created, read with an ETag, edited
//! in place with If-Match (a lost update is refused with 412), disabled,
//! deleted; the change takes effect on a real agent and is audited with
//! before and after.

mod common;

use common::lives::*;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_is_edited_disabled_and_deleted_on_a_real_agent() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let mut agent = Agent::enroll(root.path(), "a1", &server.enroll_token(1));
    agent.start("1s");

    // A threshold no machine reaches: nothing fires.
    let (status, created) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "memory", "spec": memory_above(0.9999) }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["version"], 1, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/monitors/{id}");
    let (status, etag, read) = api.get_tagged(&path).await;
    assert_eq!((status, etag), (StatusCode::OK, Some(1)), "{read}");
    assert_eq!(
        (read["name"].as_str(), read["enabled"].as_bool()),
        (Some("memory"), Some(true))
    );
    let metric = format!(
        "/api/v1/devices/{}/metrics/system.memory.utilization?since=5m",
        agent.device_id
    );
    wait_until("memory samples arrive", || async {
        samples(&api, &metric).await >= 2
    })
    .await;
    assert!(alerts_of(&api, &id, "active=true").await.is_empty());

    // Edited down to a level every machine is above: it fires, at once.
    let (status, etag, edited) = api
        .patch(&path, Some(1), json!({ "spec": memory_above(0.0001) }))
        .await;
    assert_eq!((status, etag), (StatusCode::OK, Some(2)), "{edited}");
    assert_eq!(
        edited["definition"]["spec"]["threshold"]["critical"]["trigger"],
        0.0001
    );
    // A second editor who read version 1 loses, and is told why.
    let (status, _, lost) = api.patch(&path, Some(1), json!({ "name": "lost" })).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{lost}");
    assert!(
        lost["error"].as_str().unwrap().contains("version 2"),
        "{lost}"
    );
    wait_until("the edited monitor fires", || async {
        !alerts_of(&api, &id, "active=true").await.is_empty()
    })
    .await;

    // A misspelled field is refused by name, and nothing changes.
    let (status, _, refused) = api.patch(&path, None, json!({ "for": "1m" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `for`"),
        "{refused}"
    );
    let (_, etag, _) = api.get_tagged(&path).await;
    assert_eq!(etag, Some(2));

    // Disabled: what it held open is resolved, and it stays quiet.
    let (status, etag, disabled) = api.patch(&path, Some(2), json!({ "enabled": false })).await;
    assert_eq!((status, etag), (StatusCode::OK, Some(3)), "{disabled}");
    assert!(alerts_of(&api, &id, "active=true").await.is_empty());
    let resolved = alerts_of(&api, &id, "state=resolved").await;
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    let samples_now = samples(&api, &metric).await;
    wait_until("two more samples", || async {
        samples(&api, &metric).await >= samples_now + 2
    })
    .await;
    assert!(
        alerts_of(&api, &id, "active=true").await.is_empty(),
        "a disabled monitor raised an alert"
    );

    // Deleted; then gone. The deprecated alias still deletes.
    let (status, answer) = api.delete(&path).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(api.get_tagged(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&path).await.0, StatusCode::NOT_FOUND);
    let (_, other) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "other", "spec": memory_above(0.9999) }),
        )
        .await;
    let (status, _) = api
        .post(
            &format!("/api/v1/monitors/{}/delete", other["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Every change is in the audit log with the object before and after.
    let (_, audit) = api.get("/api/v1/audit?limit=500").await;
    let edits: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "PATCH /api/v1/monitors/{id}")
        .collect();
    let detail = |e: &Value| -> Value {
        serde_json::from_str(e["detail"].as_str().unwrap_or("null")).unwrap_or(e["detail"].clone())
    };
    let threshold_edit = edits
        .iter()
        .map(|e| detail(e))
        .find(|d| {
            d["status"] == 200 && d["after"]["spec"]["threshold"]["critical"]["trigger"] == 0.0001
        })
        .unwrap_or_else(|| panic!("no audited threshold edit: {edits:?}"));
    assert_eq!(
        threshold_edit["before"]["spec"]["threshold"]["critical"]["trigger"],
        0.9999
    );
    let deleted = audit
        .as_array()
        .unwrap()
        .iter()
        .map(detail)
        .find(|d| d["before"]["name"] == "memory" && d["after"].is_null())
        .expect("the deletion is audited with what was deleted");
    assert_eq!(deleted["status"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_windows_silences_and_schedules_are_edited_and_deleted() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let ok = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };

    // A channel: its secret is kept through edits and never answered.
    let channel = ok(api
        .post(
            "/api/v1/channels",
            json!({ "name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef" }),
        )
        .await);
    let path = format!("/api/v1/channels/{}", channel["id"].as_str().unwrap());
    let (status, etag, edited) = api
        .patch(
            &path,
            Some(1),
            json!({ "min_severity": "critical", "name": "ops-pager" }),
        )
        .await;
    assert_eq!((status, etag), (StatusCode::OK, Some(2)), "{edited}");
    assert_eq!(
        (edited["name"].as_str(), edited["min_severity"].as_str()),
        (Some("ops-pager"), Some("critical"))
    );
    assert!(!edited.to_string().contains("0123456789abcdef"), "{edited}");
    let (status, _, refused) = api.patch(&path, None, json!({ "url": "ftp://x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(
        api.patch(&path, Some(1), json!({ "enabled": false }))
            .await
            .0,
        StatusCode::PRECONDITION_FAILED
    );
    let (status, _, disabled) = api.patch(&path, Some(2), json!({ "enabled": false })).await;
    assert_eq!(
        (status, disabled["enabled"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{disabled}"
    );
    let second = ok(api
        .post(
            "/api/v1/channels",
            json!({ "name": "second", "kind": "webhook", "url": "http://127.0.0.1:9/b", "secret": "0123456789abcdef" }),
        )
        .await);
    let (status, _, taken) = api
        .patch(
            &format!("/api/v1/channels/{}", second["id"].as_str().unwrap()),
            None,
            json!({ "name": "ops-pager" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");
    assert!(
        taken["error"]
            .as_str()
            .unwrap()
            .contains("a channel named \"ops-pager\" already exists"),
        "{taken}"
    );
    ok(api.delete(&path).await);
    assert_eq!(api.get_tagged(&path).await.0, StatusCode::NOT_FOUND);

    // A maintenance window, moved.
    let window = ok(api
        .post(
            "/api/v1/maintenance",
            json!({ "name": "patch night", "matcher": { "sites": ["hq"] }, "schedule": { "kind": "once", "start": 0, "end": 1 } }),
        )
        .await);
    // Planned for a site with no devices yet: kept, with a warning.
    assert!(
        window["warning"]
            .as_str()
            .is_some_and(|w| w.contains("matches no device: it names sites hq")),
        "{window}"
    );
    let path = format!("/api/v1/maintenance/{}", window["id"].as_str().unwrap());
    let (status, etag, moved) = api
        .patch(
            &path,
            Some(1),
            json!({ "schedule": { "kind": "once", "start": 10, "end": 20 } }),
        )
        .await;
    assert_eq!((status, etag), (StatusCode::OK, Some(2)), "{moved}");
    assert_eq!(
        (
            moved["definition"]["name"].as_str(),
            moved["definition"]["schedule"]["end"].as_i64()
        ),
        (Some("patch night"), Some(20))
    );
    assert_eq!(
        api.patch(&path, Some(1), json!({ "name": "x" })).await.0,
        StatusCode::PRECONDITION_FAILED
    );
    ok(api.delete(&path).await);
    assert_eq!(api.get_tagged(&path).await.0, StatusCode::NOT_FOUND);

    // A silence, extended then lifted early. It covers a device (enrolled,
    // not running), named as people name it.
    let agent = Agent::enroll(root.path(), "web-01", &server.enroll_token(1));
    let silence = ok(api
        .post(
            "/api/v1/silences",
            json!({ "matcher": { "devices": ["WEB-01"] }, "duration": "1h", "reason": "migration" }),
        )
        .await);
    assert_eq!(
        silence["definition"]["matcher"]["devices"],
        json!([agent.device_id]),
        "the name is saved as the device's id: {silence}"
    );
    let listed = ok(api.get("/api/v1/silences").await);
    assert_eq!(
        (
            &listed[0]["covers"]["count"],
            &listed[0]["covers"]["devices"]
        ),
        (&json!(1), &json!(["web-01"])),
        "{listed}"
    );
    // What matches nothing is refused with the reason, never "silenced".
    for (matcher, says) in [
        (
            json!({ "devices": ["mail-01"] }),
            "no device named \"mail-01\"",
        ),
        (
            json!({ "sites": ["paris"] }),
            "this silence matches no device: it names sites paris; the organisation's sites are default; it would silence nothing",
        ),
    ] {
        let (status, refused) = api
            .post(
                "/api/v1/silences",
                json!({ "matcher": matcher, "duration": "30m", "reason": "x" }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            refused["error"].as_str().unwrap().contains(says),
            "{refused}"
        );
    }
    let (status, refused) = api
        .post(
            "/api/v1/silences",
            json!({ "matcher": { "sites": ["default"] }, "monitor": "App heartbeat", "duration": "30m", "reason": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("no monitor named \"App heartbeat\""),
        "{refused}"
    );
    let path = format!("/api/v1/silences/{}", silence["id"].as_str().unwrap());
    let until = silence["definition"]["until"].as_i64().unwrap();
    let (status, _, longer) = api.patch(&path, None, json!({ "duration": "3h" })).await;
    assert_eq!(status, StatusCode::OK, "{longer}");
    assert!(
        longer["definition"]["until"].as_i64().unwrap() > until + 3_600_000,
        "{longer}"
    );
    assert_eq!(longer["definition"]["reason"], "migration");
    ok(api.delete(&path).await);
    assert!(
        ok(api.get("/api/v1/silences").await)
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A schedule, paused and resumed.
    let schedule = ok(api
        .post(
            "/api/v1/schedules",
            json!({ "name": "nightly", "timing": { "cron": "0 3 * * *" }, "job": { "action": { "kind": "ping" }, "targets": ["all"] } }),
        )
        .await);
    let path = format!("/api/v1/schedules/{}", schedule["id"].as_str().unwrap());
    let (status, etag, paused) = api.patch(&path, Some(1), json!({ "enabled": false })).await;
    assert_eq!(
        (status, etag, paused["enabled"].as_bool()),
        (StatusCode::OK, Some(2), Some(false)),
        "{paused}"
    );
    let (status, _, weekly) = api
        .patch(
            &path,
            Some(2),
            json!({ "timing": { "every_minutes": 10080 }, "enabled": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{weekly}");
    assert_eq!(
        (
            weekly["timing"]["every_minutes"].as_i64(),
            weekly["enabled"].as_bool()
        ),
        (Some(10080), Some(true))
    );
    let (status, _, bad) = api
        .patch(&path, None, json!({ "timing": { "every_minutes": 0 } }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    ok(api.delete(&path).await);
    assert_eq!(api.get_tagged(&path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_device_leaves_the_lists_and_keeps_its_history() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let mut agent = Agent::enroll(root.path(), "old-box", &server.enroll_token(1));
    agent.start("1s");
    let (_, created) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "memory", "spec": memory_above(0.0001) }),
        )
        .await;
    let monitor = created["id"].as_str().unwrap().to_string();
    wait_until("an alert opens for the device", || async {
        !alerts_of(&api, &monitor, "active=true").await.is_empty()
    })
    .await;
    let metric = format!(
        "/api/v1/devices/{}/metrics/system.memory.utilization?since=5m",
        agent.device_id
    );
    // The alert is evaluated from the batch as it is stored; its samples
    // read back once the query sees them.
    wait_until("its samples read back", || async {
        samples(&api, &metric).await > 0
    })
    .await;
    let stored = samples(&api, &metric).await;

    let (status, answer) = api
        .delete(&format!("/api/v1/devices/{}", agent.device_id))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Gone from the lists; its alert resolved; its identity refused.
    let listed = tokio::task::block_in_place(|| server.devices());
    assert!(
        listed.iter().all(|d| d["id"] != agent.device_id.as_str()),
        "{listed:?}"
    );
    let (_, page) = api.get("/api/v1/fleet/devices?include_revoked=true").await;
    assert_eq!(page["total"], 0, "{page}");
    assert!(alerts_of(&api, &monitor, "active=true").await.is_empty());
    assert_eq!(alerts_of(&api, &monitor, "state=resolved").await.len(), 1);
    wait_until("the agent is disconnected", || async {
        api.get("/api/v1/server/stats").await.1["connected_agents"] == 0
    })
    .await;
    // What it reported stays for reports.
    assert!(samples(&api, &metric).await >= stored);
    let (status, detail) = api
        .get(&format!("/api/v1/devices/{}", agent.device_id))
        .await;
    assert_eq!(
        (status, detail["revoked"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_in_use_is_not_deleted_and_the_refusal_names_it() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let ok = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    let refused = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        body["error"].as_str().unwrap().to_string()
    };

    // An organisation: renamed; deleted only once empty.
    let org = ok(api
        .post("/api/v1/orgs", json!({ "name": "client-b" }))
        .await);
    let org_path = format!("/api/v1/orgs/{}", org["id"].as_str().unwrap());
    assert_eq!(api.get_tagged(&org_path).await.1, Some(1));
    let (status, etag, renamed) = api
        .patch(&org_path, Some(1), json!({ "name": "Client-B" }))
        .await;
    assert_eq!((status, etag), (StatusCode::OK, Some(2)), "{renamed}");
    // An edit based on what was read before that one loses.
    let (status, _, lost) = api
        .patch(&org_path, Some(1), json!({ "name": "Client-C" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{lost}");
    let (_, etag, read) = api.get_tagged(&org_path).await;
    assert_eq!((etag, read["name"].as_str()), (Some(2), Some("Client-B")));
    let token = ok(api
        .post(
            "/api/v1/enroll-tokens",
            json!({ "org": "Client-B", "site": "hq" }),
        )
        .await);
    let why = refused(api.delete(&org_path).await);
    assert!(
        why.contains("Client-B cannot be deleted: the organisation still holds 1 enrollment token (for site hq)"),
        "{why}"
    );
    ok(api
        .delete(&format!(
            "/api/v1/enroll-tokens/{}",
            token["id"].as_str().unwrap()
        ))
        .await);
    ok(api.delete(&org_path).await);
    assert_eq!(api.delete(&org_path).await.0, StatusCode::NOT_FOUND);

    // A role held by a grant.
    let role = ok(api
        .post(
            "/api/v1/roles",
            json!({ "name": "helpdesk", "permissions": ["devices.view"] }),
        )
        .await);
    let role_path = format!("/api/v1/roles/{}", role["id"].as_str().unwrap());
    let user = ok(api
        .post(
            "/api/v1/users",
            json!({ "username": "desk", "password": "a-long-test-password", "role": role["id"] }),
        )
        .await);
    let why = refused(api.delete(&role_path).await);
    assert!(
        why.contains("the role helpdesk is still held (grant of desk): revoke those grants"),
        "{why}"
    );
    assert_eq!(api.get_tagged(&role_path).await.1, Some(1));
    let (status, etag, edited) = api
        .patch(
            &role_path,
            Some(1),
            json!({ "permissions": ["devices.view", "devices.manage"] }),
        )
        .await;
    assert_eq!((status, etag), (StatusCode::OK, Some(2)), "{edited}");
    assert_eq!(edited["permissions"].as_array().unwrap().len(), 2);
    let (status, _, lost) = api
        .patch(&role_path, Some(1), json!({ "name": "desk" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{lost}");
    // A user: disabled under If-Match too.
    let user_path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    assert_eq!(api.get_tagged(&user_path).await.1, Some(1));
    let (status, etag, disabled) = api
        .patch(&user_path, Some(1), json!({ "disabled": true }))
        .await;
    assert_eq!((status, etag), (StatusCode::OK, Some(2)), "{disabled}");
    let (status, _, lost) = api
        .patch(&user_path, Some(1), json!({ "disabled": false }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{lost}");
    let (_, _, read) = api.get_tagged(&user_path).await;
    assert_eq!(read["disabled"], true, "{read}");
    let (status, _, builtin) = api
        .patch("/api/v1/roles/admin", None, json!({ "name": "x" }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{builtin}");
    ok(api
        .delete(&format!("/api/v1/users/{}", user["id"].as_str().unwrap()))
        .await);
    ok(api.delete(&role_path).await);

    // A script a schedule runs.
    let script = ok(api
        .post(
            "/api/v1/scripts",
            json!({ "file": "#!/bin/sh\n# steward: name = cleanup\necho done\n" }),
        )
        .await);
    let script_path = format!("/api/v1/scripts/{}", script["id"].as_str().unwrap());
    let schedule = ok(api
        .post(
            "/api/v1/schedules",
            json!({ "name": "nightly cleanup", "timing": { "cron": "0 3 * * *" }, "job": { "script": "cleanup", "targets": ["all"] } }),
        )
        .await);
    let why = refused(api.delete(&script_path).await);
    assert!(
        why.contains("the script cleanup is run by schedule \"nightly cleanup\""),
        "{why}"
    );
    ok(api
        .delete(&format!(
            "/api/v1/schedules/{}",
            schedule["id"].as_str().unwrap()
        ))
        .await);
    ok(api.delete(&script_path).await);
    assert_eq!(api.get_tagged(&script_path).await.0, StatusCode::NOT_FOUND);

    // Creates and deletions of each kind are audited with the object.
    let created = audited_change(&api, "POST /api/v1/orgs").await;
    assert_eq!(
        (created["before"].clone(), created["after"]["name"].clone()),
        (Value::Null, json!("client-b")),
        "{created}"
    );
    assert_eq!(
        audited_change(&api, "POST /api/v1/roles").await["after"]["name"],
        "helpdesk"
    );
    assert_eq!(
        audited_change(&api, "POST /api/v1/users").await["after"]["username"],
        "desk"
    );
    let token_gone = audited_change(&api, "DELETE /api/v1/enroll-tokens/{id}").await;
    assert_eq!(
        (
            token_gone["before"]["site"].clone(),
            token_gone["after"].clone()
        ),
        (json!("hq"), Value::Null),
        "{token_gone}"
    );
    let saved = audited_change(&api, "POST /api/v1/scripts").await;
    assert_eq!(
        (saved["before"].clone(), saved["after"]["name"].clone()),
        (Value::Null, json!("cleanup")),
        "{saved}"
    );
    let script_gone = audited_change(&api, "DELETE /api/v1/scripts/{id}").await;
    assert_eq!(script_gone["before"]["name"], "cleanup", "{script_gone}");
}

/// A paused schedule fires no more, and fires again when resumed; a second
/// schedule firing every second beside it shows the scheduler kept running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_schedule_stops_firing_and_a_resumed_one_fires_again() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let mut agent = Agent::enroll(root.path(), "s1", &server.enroll_token(1));
    agent.start("1s");
    let mut ids = Vec::new();
    for name in ["paused", "witness"] {
        let schedule = ok(api
            .post(
                "/api/v1/schedules",
                json!({ "name": name, "timing": { "cron": "* * * * * *" }, "job": { "action": { "kind": "ping" }, "targets": ["all"] } }),
            )
            .await);
        ids.push(schedule["id"].as_str().unwrap().to_string());
    }
    // How many jobs each schedule has created so far.
    let fired = async |id: &str| -> usize {
        let origin = format!("schedule:{id}");
        let (_, jobs) = api.get("/api/v1/jobs").await;
        jobs.as_array()
            .unwrap()
            .iter()
            .filter(|j| j["origin"] == origin.as_str())
            .count()
    };
    wait_until("the schedule to fire", || async {
        fired(&ids[0]).await >= 1
    })
    .await;

    let path = format!("/api/v1/schedules/{}", ids[0]);
    let (status, _, paused) = api.patch(&path, None, json!({ "enabled": false })).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    // A run the scheduler had begun before the pause may still land: count
    // after the witness fired twice more, then let it fire three more times.
    let witness = fired(&ids[1]).await;
    wait_until("the witness to fire twice", || async {
        fired(&ids[1]).await >= witness + 2
    })
    .await;
    let after_pause = fired(&ids[0]).await;
    let witness = fired(&ids[1]).await;
    wait_until("the witness to fire three more times", || async {
        fired(&ids[1]).await >= witness + 3
    })
    .await;
    assert_eq!(
        fired(&ids[0]).await,
        after_pause,
        "the paused schedule fired"
    );

    let (status, _, resumed) = api.patch(&path, None, json!({ "enabled": true })).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    wait_until("the resumed schedule to fire", || async {
        fired(&ids[0]).await > after_pause
    })
    .await;
}
