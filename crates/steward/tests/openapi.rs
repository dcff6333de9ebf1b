//! The OpenAPI document describes what the server answers: a real server
//! with an enrolled agent is called route by route (objects of every kind
//! created, read, listed, edited and deleted), and each answer is checked
//! against the document's schema for its operation, strictly: wrong types,
//! missing required fields and fields the schema does not describe fail.
//! (A small check of the keywords the document uses, rather than the
//! `jsonschema` crate: no new dev-dependency to build, and the "every field
//! described" rule is ours, not JSON Schema's.)

mod common;
mod openapi_check;

use common::*;
use openapi_check::{Checked, check, id};
use serde_json::{Value, json};
use std::time::Duration;

#[test]
fn the_check_fails_on_a_wrong_shape() {
    let doc = json!({ "components": { "schemas": { "X": {
        "type": "object", "properties": { "a": { "type": ["integer", "null"] } }, "required": ["a"],
    } } } });
    let x = json!({ "$ref": "#/components/schemas/X" });
    let errors = |value: Value| {
        let mut e = Vec::new();
        check(&doc, &x, &value, "v", &mut e);
        e
    };
    assert!(errors(json!({ "a": 1 })).is_empty());
    assert!(errors(json!({ "a": null })).is_empty());
    assert_eq!(errors(json!({ "a": "1" })).len(), 1);
    assert_eq!(errors(json!({})).len(), 1);
    assert_eq!(
        errors(json!({ "a": 1, "b": 2 })).len(),
        1,
        "undescribed field"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_the_openapi_document() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = server.enroll_token(1);
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "web-01", &token));
    // One backup job (a script hook), so the backup answers have rows.
    let backups = root.path().join("backups.json");
    let hook = r#"t=$(date +%s)000; printf '{"result":"ok","reason":"dumped","last_run_ms":%s,"newest_good_ms":%s,"size_bytes":4096,"file_count":2,"duration_ms":1500}' $t $t"#;
    std::fs::write(
        &backups,
        serde_json::json!({ "jobs": [{ "name": "dump", "kind": "script", "command": hook }] })
            .to_string(),
    )
    .unwrap();
    // A smartctl stand-in, so the aging answers have disks.
    let smartctl = smartctl::install(&root.path().join("smartctl"));
    agent.start_with(
        "1s",
        &[
            "--smart-interval",
            "1s",
            "--smartctl",
            smartctl.to_str().unwrap(),
            "--backup-interval",
            "1s",
            "--backup-config",
            backups.to_str().unwrap(),
        ],
    );
    let device = agent.device_id.clone();
    let (_, doc) = server.api().get("/api/v1/openapi.json").await;
    let mut c = Checked {
        api: server.api(),
        doc,
        checked: 0,
    };

    // Session, health, the document itself.
    c.get("/api/v1/health", "/api/v1/health").await;
    c.get("/api/v1/ready", "/api/v1/ready").await;
    c.get("/api/v1/openapi.json", "/api/v1/openapi.json").await;
    c.get("/api/v1/whoami", "/api/v1/whoami").await;
    c.post(
        "/api/v1/login",
        "/api/v1/login",
        json!({ "username": "admin", "password": ADMIN_PASSWORD }),
    )
    .await;
    c.get("/api/v1/job-keys", "/api/v1/job-keys").await;
    c.get("/api/v1/server/stats", "/api/v1/server/stats").await;

    // The device, once it has reported.
    let one = "/api/v1/devices/{id}";
    let at = format!("/api/v1/devices/{device}");
    let api = c.api.clone();
    let path = at.clone();
    let reported = tokio::task::block_in_place(|| {
        let runtime = tokio::runtime::Handle::current();
        wait_for("the device's inventory", Duration::from_secs(30), || {
            let (_, d) = runtime.block_on(api.get(&path));
            (!d["inventory"].is_null() && d["status"] == "online").then_some(d)
        })
    });
    assert_eq!(reported["name"], "web-01");
    c.get("/api/v1/devices", "/api/v1/devices").await;
    c.get(one, &at).await;
    c.get("/api/v1/fleet/devices", "/api/v1/fleet/devices")
        .await;
    c.get("/api/v1/fleet/summary", "/api/v1/fleet/summary")
        .await;
    c.get("/api/v1/devices/{id}/checks", &format!("{at}/checks"))
        .await;
    c.get("/api/v1/devices/{id}/updates", &format!("{at}/updates"))
        .await;
    c.get("/api/v1/software", "/api/v1/software?name=bash&below=99")
        .await;
    c.get(
        "/api/v1/patching/compliance",
        "/api/v1/patching/compliance?days=7",
    )
    .await;
    let backups_path = format!("{at}/backups");
    let api = c.api.clone();
    tokio::task::block_in_place(|| {
        let runtime = tokio::runtime::Handle::current();
        wait_for("the device's backup job", Duration::from_secs(30), || {
            let (_, b) = runtime.block_on(api.get(&backups_path));
            (b["runs"].as_array().is_some_and(|r| !r.is_empty())).then_some(())
        })
    });
    c.get("/api/v1/devices/{id}/backups", &backups_path).await;
    c.get(
        "/api/v1/backups/summary",
        "/api/v1/backups/summary?since=400d",
    )
    .await;
    let posture_path = format!("{at}/posture");
    tokio::task::block_in_place(|| {
        let runtime = tokio::runtime::Handle::current();
        wait_for("the device's posture", Duration::from_secs(60), || {
            let (_, p) = runtime.block_on(api.get(&posture_path));
            (p["checks"].as_array().is_some_and(|c| !c.is_empty())).then_some(())
        })
    });
    c.get("/api/v1/devices/{id}/posture", &posture_path).await;
    c.get("/api/v1/posture", "/api/v1/posture").await;
    let aging_path = format!("{at}/aging");
    tokio::task::block_in_place(|| {
        let runtime = tokio::runtime::Handle::current();
        wait_for("the device's aging view", Duration::from_secs(60), || {
            let (_, a) = runtime.block_on(api.get(&aging_path));
            (a["disks"].as_array().is_some_and(|d| d.len() == 2)).then_some(())
        })
    });
    c.get("/api/v1/devices/{id}/aging", &aging_path).await;
    c.get("/api/v1/aging", "/api/v1/aging").await;
    let policy = c
        .post("/api/v1/patching/policies", "/api/v1/patching/policies", json!({
            "name": "servers", "scope": { "kind": "site", "site": "default" }, "install": "security",
            "deferral_days": 2, "pilot_tags": ["pilot"], "ring_delay_days": 3,
            "window": { "days": [5, 6], "start_minute": 120, "duration_minutes": 180 },
            "catch_up": "at_once", "reboot": "when_required", "timezone": "Europe/Berlin",
        }))
        .await;
    let policy_at = format!("/api/v1/patching/policies/{}", id(&policy));
    c.get("/api/v1/patching/policies", "/api/v1/patching/policies")
        .await;
    c.get(
        "/api/v1/devices/{id}/patch-plan",
        &format!("{at}/patch-plan"),
    )
    .await;
    c.get("/api/v1/patching/policies/{id}", &policy_at).await;
    c.patch(
        "/api/v1/patching/policies/{id}",
        &policy_at,
        json!({ "install": "approval", "approved": [{ "name": "bash", "version": "5.2-1" }] }),
    )
    .await;
    c.delete("/api/v1/patching/policies/{id}", &policy_at).await;
    let hold = c
        .post(
            "/api/v1/patching/holds",
            "/api/v1/patching/holds",
            json!({
                "package": "openssl", "version": "3.0.15-1", "reason": "breaks the billing app",
            }),
        )
        .await;
    let hold_at = format!("/api/v1/patching/holds/{}", id(&hold));
    c.get("/api/v1/patching/holds", "/api/v1/patching/holds")
        .await;
    c.get("/api/v1/patching/holds/{id}", &hold_at).await;
    c.patch(
        "/api/v1/patching/holds/{id}",
        &hold_at,
        json!({ "version": null, "scope": { "kind": "tag", "tag": "db" } }),
    )
    .await;
    c.delete("/api/v1/patching/holds/{id}", &hold_at).await;
    c.get(
        "/api/v1/devices/{id}/status-history",
        &format!("{at}/status-history"),
    )
    .await;
    let series = c
        .get(
            "/api/v1/devices/{id}/metrics/{name}",
            &format!("{at}/metrics/system.cpu.utilization?since=1h"),
        )
        .await;
    assert!(series.is_array(), "{series}");
    let insight = c
        .get(
            "/api/v1/devices/{id}/metrics/{name}/insight",
            &format!("{at}/metrics/system.cpu.utilization/insight?since=1h"),
        )
        .await;
    assert!(insight.is_array(), "{insight}");
    c.get("/api/v1/fleet/outliers", "/api/v1/fleet/outliers")
        .await;
    c.get("/api/v1/capacity", "/api/v1/capacity?within=90d")
        .await;
    c.patch(one, &at, json!({ "name": "web-01b" })).await;
    c.post(
        "/api/v1/devices/tags",
        "/api/v1/devices/tags",
        json!({ "devices": [device], "add": ["web"] }),
    )
    .await;
    c.post(
        "/api/v1/devices/{id}/upstream",
        &format!("{at}/upstream"),
        json!({ "upstream": null }),
    )
    .await;

    // Organisations, roles, users, grants.
    let org = c
        .post("/api/v1/orgs", "/api/v1/orgs", json!({ "name": "acme" }))
        .await;
    let org_at = format!("/api/v1/orgs/{}", id(&org));
    c.get("/api/v1/orgs", "/api/v1/orgs").await;
    c.get("/api/v1/orgs/{id}", &org_at).await;
    c.patch("/api/v1/orgs/{id}", &org_at, json!({ "name": "acme2" }))
        .await;
    c.post(
        "/api/v1/orgs/{id}/require-totp",
        &format!("{org_at}/require-totp"),
        json!({ "require": false }),
    )
    .await;
    let role = c
        .post(
            "/api/v1/roles",
            "/api/v1/roles",
            json!({ "name": "watchers", "permissions": ["devices.view"] }),
        )
        .await;
    let role_at = format!("/api/v1/roles/{}", id(&role));
    c.get("/api/v1/roles", "/api/v1/roles").await;
    c.get("/api/v1/roles/{id}", &role_at).await;
    c.patch("/api/v1/roles/{id}", &role_at, json!({ "name": "lookers" }))
        .await;
    let user = c
        .post(
            "/api/v1/users",
            "/api/v1/users",
            json!({ "username": "ann", "password": "a long enough password" }),
        )
        .await;
    let user_at = format!("/api/v1/users/{}", id(&user));
    c.get("/api/v1/users", "/api/v1/users").await;
    c.post(
        "/api/v1/users/{id}/grants",
        &format!("{user_at}/grants"),
        json!({ "role": id(&role) }),
    )
    .await;
    let shown = c.get("/api/v1/users/{id}", &user_at).await;
    let grant = shown["grants"][0]["id"].as_str().unwrap().to_string();
    c.patch("/api/v1/users/{id}", &user_at, json!({ "disabled": true }))
        .await;
    c.delete(
        "/api/v1/users/{id}/grants/{grant}",
        &format!("{user_at}/grants/{grant}"),
    )
    .await;
    c.delete("/api/v1/users/{id}", &user_at).await;
    c.delete("/api/v1/roles/{id}", &role_at).await;
    c.delete("/api/v1/orgs/{id}", &org_at).await;

    // API and enrollment tokens.
    let created = c
        .post(
            "/api/v1/tokens",
            "/api/v1/tokens",
            json!({ "name": "ci", "expires_in": "1h" }),
        )
        .await;
    let token_at = format!("/api/v1/tokens/{}", id(&created));
    c.get("/api/v1/tokens", "/api/v1/tokens").await;
    c.get("/api/v1/tokens/{id}", &token_at).await;
    c.post(
        "/api/v1/tokens/{id}/revoke",
        &format!("{token_at}/revoke"),
        json!({}),
    )
    .await;
    c.delete("/api/v1/tokens/{id}", &token_at).await;
    let enroll = c
        .post(
            "/api/v1/enroll-tokens",
            "/api/v1/enroll-tokens",
            json!({ "uses": 2 }),
        )
        .await;
    let enroll_at = format!("/api/v1/enroll-tokens/{}", id(&enroll));
    c.get("/api/v1/enroll-tokens", "/api/v1/enroll-tokens")
        .await;
    c.get("/api/v1/enroll-tokens/{id}", &enroll_at).await;
    c.post(
        "/api/v1/enroll-tokens/{id}/revoke",
        &format!("{enroll_at}/revoke"),
        json!({}),
    )
    .await;
    c.delete("/api/v1/enroll-tokens/{id}", &enroll_at).await;

    // Monitors, channels, maintenance windows, silences, alerts.
    let monitor = c
        .post(
            "/api/v1/monitors",
            "/api/v1/monitors",
            json!({
                "name": "cpu", "spec": { "kind": "threshold", "metric": "system.cpu.utilization",
                "threshold": { "direction": "above", "critical": { "trigger": 0.99 } } },
                "applies_to": { "tags": ["web"] },
            }),
        )
        .await;
    let monitor_at = format!("/api/v1/monitors/{}", id(&monitor));
    c.post(
        "/api/v1/monitors",
        "/api/v1/monitors",
        json!({ "name": "gone", "spec": { "kind": "offline" } }),
    )
    .await;
    c.get("/api/v1/monitors", "/api/v1/monitors").await;
    c.get("/api/v1/monitors/{id}", &monitor_at).await;
    let warned = c.patch("/api/v1/monitors/{id}", &monitor_at, json!({ "spec": { "kind": "forecast", "metric": "cpu", "horizon_ms": 60000, "window_ms": 60000 } })).await;
    assert!(warned["warning"].is_string(), "{warned}");
    c.delete("/api/v1/monitors/{id}", &monitor_at).await;
    let channel = c
        .post(
            "/api/v1/channels",
            "/api/v1/channels",
            json!({
                "name": "ops", "kind": "webhook", "url": "https://hooks.example.com/steward",
                "secret": "a signing secret of some length",
            }),
        )
        .await;
    let channel_at = format!("/api/v1/channels/{}", id(&channel));
    c.get("/api/v1/channels", "/api/v1/channels").await;
    c.get("/api/v1/channels/{id}", &channel_at).await;
    c.patch(
        "/api/v1/channels/{id}",
        &channel_at,
        json!({ "enabled": false }),
    )
    .await;
    c.delete("/api/v1/channels/{id}", &channel_at).await;
    let window = c
        .post("/api/v1/maintenance", "/api/v1/maintenance", json!({
            "name": "patching", "matcher": { "devices": ["web-01b"] },
            "schedule": { "kind": "weekly", "days": [6], "start_minute": 120, "duration_minutes": 60, "timezone": "UTC" },
        }))
        .await;
    let window_at = format!("/api/v1/maintenance/{}", id(&window));
    c.get("/api/v1/maintenance", "/api/v1/maintenance").await;
    c.get("/api/v1/maintenance/{id}", &window_at).await;
    c.patch(
        "/api/v1/maintenance/{id}",
        &window_at,
        json!({ "schedule": { "kind": "once", "start": 0, "end": 1 } }),
    )
    .await;
    c.delete("/api/v1/maintenance/{id}", &window_at).await;
    let silence = c
        .post("/api/v1/silences", "/api/v1/silences", json!({
            "matcher": { "sites": ["default"] }, "monitor": "gone", "duration": "1h", "reason": "moving racks",
        }))
        .await;
    let silence_at = format!("/api/v1/silences/{}", id(&silence));
    c.get("/api/v1/silences", "/api/v1/silences").await;
    c.get("/api/v1/silences/{id}", &silence_at).await;
    c.patch(
        "/api/v1/silences/{id}",
        &silence_at,
        json!({ "reason": "still moving" }),
    )
    .await;
    c.delete("/api/v1/silences/{id}", &silence_at).await;
    // An alert that opens at once (any CPU use is critical), acknowledged
    // and resolved by hand.
    let hot = c
        .post(
            "/api/v1/monitors",
            "/api/v1/monitors",
            json!({
                "name": "hot", "spec": { "kind": "threshold", "metric": "system.cpu.utilization",
                "threshold": { "direction": "above", "critical": { "trigger": -1.0 } } },
            }),
        )
        .await;
    let api = c.api.clone();
    let alert = tokio::task::block_in_place(|| {
        let runtime = tokio::runtime::Handle::current();
        wait_for("an alert", Duration::from_secs(30), || {
            let (_, alerts) = runtime.block_on(api.get("/api/v1/alerts"));
            alerts.as_array()?.first().map(id)
        })
    });
    c.get("/api/v1/alerts", "/api/v1/alerts").await;
    c.get(
        "/api/v1/alerts/{id}/history",
        &format!("/api/v1/alerts/{alert}/history"),
    )
    .await;
    c.post(
        "/api/v1/alerts/{id}/acknowledge",
        &format!("/api/v1/alerts/{alert}/acknowledge"),
        json!({}),
    )
    .await;
    c.post(
        "/api/v1/alerts/{id}/resolve",
        &format!("/api/v1/alerts/{alert}/resolve"),
        json!({}),
    )
    .await;
    c.get("/api/v1/alerts/suppressed", "/api/v1/alerts/suppressed")
        .await;
    // Incidents: the one the alert opened, one opened by hand, the KPIs.
    c.get("/api/v1/incidents", "/api/v1/incidents").await;
    let incident = c
        .post(
            "/api/v1/incidents",
            "/api/v1/incidents",
            json!({ "title": "mail is slow", "priority": "p2", "assignee": "admin", "devices": [device] }),
        )
        .await;
    let incident_at = format!("/api/v1/incidents/{}", id(&incident));
    c.get("/api/v1/incidents/{id}", &incident_at).await;
    c.post(
        "/api/v1/incidents/{id}/notes",
        &format!("{incident_at}/notes"),
        json!({ "text": "queue drained", "time_spent_ms": 60000 }),
    )
    .await;
    c.patch(
        "/api/v1/incidents/{id}",
        &incident_at,
        json!({ "status": "resolved" }),
    )
    .await;
    c.get("/api/v1/kpis", "/api/v1/kpis").await;
    c.get("/api/v1/problems", "/api/v1/problems").await;
    c.delete("/api/v1/incidents/{id}", &incident_at).await;
    c.post(
        "/api/v1/monitors/{id}/delete",
        &format!("/api/v1/monitors/{}/delete", id(&hot)),
        json!({}),
    )
    .await;

    // Scripts, jobs and their runs, schedules.
    let script = c
        .post("/api/v1/scripts", "/api/v1/scripts", json!({
            "script": { "name": "hello", "interpreter": "sh", "body": "echo hello", "params": [{ "name": "who", "kind": "string" }] },
        }))
        .await;
    let script_at = format!("/api/v1/scripts/{}", id(&script));
    c.get("/api/v1/scripts", "/api/v1/scripts").await;
    c.get("/api/v1/scripts/{id}", &script_at).await;
    c.patch(
        "/api/v1/scripts/{id}",
        &script_at,
        json!({ "description": "says hello" }),
    )
    .await;
    c.get(
        "/api/v1/scripts/{id}/versions",
        &format!("{script_at}/versions"),
    )
    .await;
    let job = c
        .post(
            "/api/v1/jobs",
            "/api/v1/jobs",
            json!({ "script": "hello", "targets": [format!("device:{device}")] }),
        )
        .await;
    let job_at = format!("/api/v1/jobs/{}", id(&job));
    let api = c.api.clone();
    let path = job_at.clone();
    tokio::task::block_in_place(|| {
        let runtime = tokio::runtime::Handle::current();
        wait_for("the job's run", Duration::from_secs(30), || {
            let (_, j) = runtime.block_on(api.get(&path));
            (j["progress"] == "completed").then_some(())
        })
    });
    c.get("/api/v1/jobs", "/api/v1/jobs").await;
    c.get("/api/v1/jobs/{id}", &job_at).await;
    c.get("/api/v1/devices/{id}/runs", &format!("{at}/runs"))
        .await;
    c.post(
        "/api/v1/jobs/{id}/cancel",
        &format!("{job_at}/cancel"),
        json!({}),
    )
    .await;
    // Runbooks: one offering the script, run from an incident by hand.
    let runbook = c
        .post(
            "/api/v1/runbooks",
            "/api/v1/runbooks",
            json!({ "title": "Say hello", "body": "1. run **hello**", "alert_kinds": ["threshold"], "offers": ["hello"] }),
        )
        .await;
    let runbook_at = format!("/api/v1/runbooks/{}", id(&runbook));
    c.get("/api/v1/runbooks", "/api/v1/runbooks").await;
    c.get("/api/v1/runbooks/{id}", &runbook_at).await;
    c.patch(
        "/api/v1/runbooks/{id}",
        &runbook_at,
        json!({ "body": "1. run **hello** again" }),
    )
    .await;
    c.get(
        "/api/v1/runbooks/{id}/versions",
        &format!("{runbook_at}/versions"),
    )
    .await;
    let worked = c
        .post(
            "/api/v1/incidents",
            "/api/v1/incidents",
            json!({ "title": "say hello", "devices": [device] }),
        )
        .await;
    let worked_at = format!("/api/v1/incidents/{}", id(&worked));
    c.get(
        "/api/v1/incidents/{id}/runbooks",
        &format!("{worked_at}/runbooks"),
    )
    .await;
    c.post(
        "/api/v1/incidents/{id}/runs",
        &format!("{worked_at}/runs"),
        json!({ "runbook": id(&runbook), "script": "hello", "params": { "who": "incident" } }),
    )
    .await;
    c.delete("/api/v1/runbooks/{id}", &runbook_at).await;
    // An SLA target; the month's report.
    let target = c
        .post(
            "/api/v1/sla-targets",
            "/api/v1/sla-targets",
            json!({ "priority": "p2", "acknowledge_ms": 900000 }),
        )
        .await;
    let target_at = format!("/api/v1/sla-targets/{}", id(&target));
    c.get("/api/v1/sla-targets", "/api/v1/sla-targets").await;
    c.get("/api/v1/sla-targets/{id}", &target_at).await;
    c.patch(
        "/api/v1/sla-targets/{id}",
        &target_at,
        json!({ "resolve_ms": 14400000 }),
    )
    .await;
    c.delete("/api/v1/sla-targets/{id}", &target_at).await;
    // The organisation's problem rules: the defaults, then its own.
    c.get("/api/v1/problem-rules", "/api/v1/problem-rules")
        .await;
    c.patch(
        "/api/v1/problem-rules",
        "/api/v1/problem-rules",
        json!({ "rules": [{ "kind": "spread", "window_ms": 3600000, "min_count": 4, "min_devices": 2 }] }),
    )
    .await;
    c.get("/api/v1/problem-rules", "/api/v1/problem-rules")
        .await;
    // An inbound incident webhook (its secret answered once).
    let hook = c
        .post(
            "/api/v1/incident-webhooks",
            "/api/v1/incident-webhooks",
            json!({ "name": "helpdesk" }),
        )
        .await;
    let hook_at = format!("/api/v1/incident-webhooks/{}", id(&hook));
    c.get("/api/v1/incident-webhooks", "/api/v1/incident-webhooks")
        .await;
    c.get("/api/v1/incident-webhooks/{id}", &hook_at).await;
    c.patch(
        "/api/v1/incident-webhooks/{id}",
        &hook_at,
        json!({ "name": "zendesk" }),
    )
    .await;
    c.delete("/api/v1/incident-webhooks/{id}", &hook_at).await;
    c.get("/api/v1/reports", "/api/v1/reports?period=2026-W45")
        .await;
    let schedule = c
        .post(
            "/api/v1/schedules",
            "/api/v1/schedules",
            json!({
                "name": "nightly", "timing": { "cron": "0 3 * * *" },
                "job": { "script": "hello", "targets": ["all"] },
            }),
        )
        .await;
    let schedule_at = format!("/api/v1/schedules/{}", id(&schedule));
    c.get("/api/v1/schedules", "/api/v1/schedules").await;
    c.get("/api/v1/schedules/{id}", &schedule_at).await;
    c.patch(
        "/api/v1/schedules/{id}",
        &schedule_at,
        json!({ "enabled": false }),
    )
    .await;
    c.delete("/api/v1/schedules/{id}", &schedule_at).await;
    c.delete("/api/v1/scripts/{id}", &script_at).await;
    let again = c
        .post(
            "/api/v1/scripts",
            "/api/v1/scripts",
            json!({ "script": { "name": "again", "interpreter": "sh", "body": "true" } }),
        )
        .await;
    c.post(
        "/api/v1/scripts/{id}/delete",
        &format!("/api/v1/scripts/{}/delete", id(&again)),
        json!({}),
    )
    .await;

    // Files up to the device and back.
    let file = root.path().join("pushed.txt");
    let file = file.to_str().unwrap();
    let put = c
        .post(
            "/api/v1/devices/{id}/files/put",
            &format!("{at}/files/put"),
            json!({ "path": file, "content_b64": "aGVsbG8=" }),
        )
        .await;
    assert_eq!(put["status"], "succeeded", "{put}");
    let got = c
        .post(
            "/api/v1/devices/{id}/files/get",
            &format!("{at}/files/get"),
            json!({ "path": file }),
        )
        .await;
    assert_eq!(got["content_b64"], "aGVsbG8=", "{got}");

    // Device actions last, and the record of it all.
    c.post(
        "/api/v1/devices/{id}/rotate",
        &format!("{at}/rotate"),
        json!({}),
    )
    .await;
    c.post(
        "/api/v1/devices/{id}/revoke",
        &format!("{at}/revoke"),
        json!({}),
    )
    .await;
    c.delete(one, &at).await;
    c.get("/api/v1/audit", "/api/v1/audit").await;
    c.post("/api/v1/me/totp/setup", "/api/v1/me/totp/setup", json!({}))
        .await;
    c.post("/api/v1/logout", "/api/v1/logout", json!({})).await;
    assert!(c.checked >= 90, "only {} answers checked", c.checked);
}
