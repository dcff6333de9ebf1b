//! Patch policies and holds end to end, real parts only: two real agents
//! detect against their own isolated apt roots (v1 installed, v2 published
//! as Debian-Security). A hold on v2 for the second device's tag (its
//! audit names who set it), then a policy (security only, no deferral, a
//! window open now): the server's policy loop sends patch-a a signed
//! install_updates job that installs v2 into its root (dpkg-query says
//! so), the verification scan clears the update, and patch-b stays on v1,
//! its plan saying which hold and who; a third device whose repository
//! lost the package fails the install and gets a critical alert saying
//! so. Edits follow the lifecycle
//! (If-Match, 412); a person limited to one site cannot hold a package
//! organisation-wide. The hold lifted, patch-b is patched too and
//! compliance reaches 100 %. A policy's restart warns logged-in users and
//! waits its grace (the agent's restart and notice commands are stand-ins
//! here). The temporary roots go with the test.

mod common;

#[path = "../../steward-agent/tests/fixture/apt.rs"]
mod apt_fixture;

use apt_fixture::{AptRoot, SECURITY};
use common::lives::{alerts_of, audited_change, ok};
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A root with stwd-demo 1.0-1 installed and 2.0-1 published as security.
fn apt_root() -> AptRoot {
    let apt = AptRoot::new();
    let v1 = apt.package("stwd-demo", "1.0-1");
    let v2 = apt.package("stwd-demo", "2.0-1");
    apt.install(&v1);
    apt.publish("security", &[&v2], &SECURITY);
    apt.update();
    apt
}

fn agent_on(root: &std::path::Path, server: &Server, name: &str, apt: &AptRoot) -> Agent {
    let token = server.enroll_token(1);
    let mut agent = Agent::enroll(root, name, &token);
    let apt_config = apt.apt_config.display().to_string();
    let patch_root = apt.root.display().to_string();
    agent.start_with(
        "1s",
        &[
            "--apt-config",
            &apt_config,
            "--patch-root",
            &patch_root,
            "--patch-interval",
            "1h",
        ],
    );
    agent
}

/// The device's plan once `done` holds for it (60 s at most).
async fn plan_when(api: &api::Api, device: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/api/v1/devices/{device}/patch-plan");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let plan = ok(api.get(&path).await);
        if done(&plan) {
            return plan;
        }
        assert!(Instant::now() < deadline, "{device}: {plan}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls (60 s at most) until `done` answers something.
async fn until<T>(what: &str, mut done: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(value) = done().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn installed(apt: &AptRoot) -> String {
    apt.installed_version("stwd-demo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_deploy_the_security_update_and_a_hold_stops_it() {
    let (apt_a, apt_b, apt_c) = (apt_root(), apt_root(), apt_root());
    // patch-c's repository loses the package after apt read its index: the
    // install will fail to fetch it.
    std::fs::remove_file(
        apt_c
            .dir
            .path()
            .join("repos/security/stwd-demo_2.0-1_all.deb"),
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let (a, b, c) = tokio::task::block_in_place(|| {
        (
            agent_on(root.path(), &server, "patch-a", &apt_a),
            agent_on(root.path(), &server, "patch-b", &apt_b),
            agent_on(root.path(), &server, "patch-c", &apt_c),
        )
    });
    let (a, b, c) = (
        a.device_id.clone(),
        b.device_id.clone(),
        c.device_id.clone(),
    );
    let api = server.api();

    // Reported, but no policy yet: nothing installs, and it says so.
    for device in [&a, &b, &c] {
        let plan = plan_when(&api, device, |p| {
            p["waiting"].as_array().is_some_and(|w| !w.is_empty())
        })
        .await;
        assert_eq!(plan["waiting"][0]["kind"], "no_policy", "{plan}");
        assert_eq!(plan["policy"], Value::Null);
    }
    // A malformed install is refused before it is signed.
    let (status, body) = api
        .post(
            "/api/v1/jobs",
            json!({ "action": { "kind": "install_updates", "packages": [{ "name": "-o", "version": "1" }], "timeout_secs": 300 }, "targets": [format!("device:{a}")] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A hold on v2 for devices tagged db: patch-b only.
    ok(api
        .post(
            "/api/v1/devices/tags",
            json!({ "devices": [b], "add": ["db"] }),
        )
        .await);
    let hold = ok(api
        .post(
            "/api/v1/patching/holds",
            json!({ "package": "stwd-demo", "version": "2.0-1", "scope": { "kind": "tag", "tag": "db" }, "reason": "breaks the billing app" }),
        )
        .await);
    let setter = hold["definition"]["set_by"].as_str().unwrap().to_string();
    assert!(!setter.is_empty(), "{hold}");
    assert_eq!(hold["created_by"], json!(setter));
    let audited = audited_change(&api, "POST /api/v1/patching/holds").await;
    assert_eq!(
        audited["after"]["reason"], "breaks the billing app",
        "{audited}"
    );
    assert_eq!(audited["after"]["set_by"], json!(setter));
    let (_, audit) = api.get("/api/v1/audit?limit=500").await;
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "POST /api/v1/patching/holds")
        .expect("the hold is audited");
    assert_eq!(entry["actor"], json!(setter), "{entry}");

    // A policy the core would refuse is refused, with the reason.
    let (status, body) = api
        .post(
            "/api/v1/patching/policies",
            json!({
                "name": "nowhere", "scope": { "kind": "organisation" }, "install": "all",
                "window": { "days": [7], "start_minute": 0, "duration_minutes": 60 }, "reboot": "never",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("days"), "{body}");

    // Security only, no deferral, a window open all week: the policy loop
    // installs v2 on patch-a, as a signed job, and its scan confirms it.
    let policy = ok(api
        .post(
            "/api/v1/patching/policies",
            json!({
                "name": "everyone", "scope": { "kind": "organisation" }, "install": "security",
                "window": { "days": [0, 1, 2, 3, 4, 5, 6], "start_minute": 0, "duration_minutes": 1440 },
                "reboot": "never",
            }),
        )
        .await);
    assert_eq!(policy["version"], 1);
    until("v2 installed on patch-a", async || {
        (installed(&apt_a) == "2.0-1").then_some(())
    })
    .await;
    let done = plan_when(&api, &a, |p| {
        p["install"] == json!([]) && p["waiting"] == json!([])
    })
    .await;
    assert_eq!(done["policy"], "everyone", "{done}");
    let (_, audit) = api.get("/api/v1/audit?limit=500").await;
    let deployed = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "patch.deploy")
        .expect("the deployment is audited")
        .clone();
    assert_eq!(deployed["actor"], json!(setter), "{deployed}");
    let job = until("patch-a's install run", async || {
        let jobs = ok(api.get("/api/v1/jobs").await);
        for job in jobs
            .as_array()?
            .iter()
            .filter(|j| j["name"] == "patch: everyone")
        {
            let shown = ok(api
                .get(&format!("/api/v1/jobs/{}", job["id"].as_str()?))
                .await);
            let run = shown["runs"][0].clone();
            if run["device_id"] == json!(a) && run["status"] == "succeeded" {
                return Some(run);
            }
        }
        None
    })
    .await;
    assert!(
        job["stdout"]
            .as_str()
            .unwrap_or("")
            .contains("stwd-demo=2.0-1: installed"),
        "{job}"
    );

    // patch-b: held, and it says by whom; still on v1.
    let held = plan_when(&api, &b, |p| p["policy"] == "everyone").await;
    let waiting = &held["waiting"][0];
    assert_eq!(
        (
            &waiting["name"],
            &waiting["kind"],
            &waiting["held_version"],
            &waiting["reason"],
            &waiting["set_by"]
        ),
        (
            &json!("stwd-demo"),
            &json!("held"),
            &json!("2.0-1"),
            &json!("breaks the billing app"),
            &json!(setter)
        ),
        "{held}"
    );
    assert_eq!(held["install"], json!([]));
    assert_eq!(installed(&apt_b), "1.0-1");
    // patch-c's install failed: a critical alert says what, and it is
    // still on v1.
    let failed = until("the failed install's alert", async || {
        alerts_of(&api, "patching", "")
            .await
            .into_iter()
            .find(|a| a["device_id"] == json!(c) && a["state"] == "open")
    })
    .await;
    assert_eq!(failed["severity"], "critical", "{failed}");
    assert!(
        failed["summary"]
            .as_str()
            .unwrap_or("")
            .contains("stwd-demo=2.0-1: failed"),
        "{failed}"
    );
    assert!(
        alerts_of(&api, "patching", "")
            .await
            .iter()
            .all(|a| a["device_id"] == json!(c))
    );
    assert_eq!(installed(&apt_c), "1.0-1");
    let figures = ok(api.get("/api/v1/patching/compliance?days=0").await);
    assert_eq!(figures["total"]["compliant"], 1, "{figures}");

    // Edits follow the lifecycle: a stale version loses with 412.
    let hold_at = format!("/api/v1/patching/holds/{}", hold["id"].as_str().unwrap());
    let (status, version, _) = api.get_tagged(&hold_at).await;
    assert_eq!((status, version), (StatusCode::OK, Some(1)));
    let (status, version, widened) = api
        .patch(
            &hold_at,
            Some(1),
            json!({ "scope": { "kind": "organisation" } }),
        )
        .await;
    assert_eq!((status, version), (StatusCode::OK, Some(2)), "{widened}");
    let (status, _, body) = api
        .patch(&hold_at, Some(1), json!({ "reason": "late" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let audited = audited_change(&api, "PATCH /api/v1/patching/holds/{id}").await;
    assert_eq!(audited["before"]["scope"]["kind"], "tag", "{audited}");
    assert_eq!(audited["after"]["scope"]["kind"], "organisation");

    // Someone limited to one site cannot hold a package everywhere.
    ok(api
        .post(
            "/api/v1/users",
            json!({ "username": "tech", "password": "a-long-test-password", "role": "technician", "site": "hq" }),
        )
        .await);
    let anonymous = api::Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let tech = api.with_token(&anonymous.token_for("tech", "a-long-test-password").await);
    let (status, body) = tech
        .post(
            "/api/v1/patching/holds",
            json!({ "package": "stwd-demo", "reason": "mine" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let holds = ok(api.get("/api/v1/patching/holds").await);
    assert_eq!(holds.as_array().map(Vec::len), Some(1), "{holds}");

    // Lifted: patch-b is patched too, and every device is compliant.
    ok(api.delete(&hold_at).await);
    until("v2 installed on patch-b", async || {
        (installed(&apt_b) == "2.0-1").then_some(())
    })
    .await;
    // patch-c is retired; every device left is compliant.
    ok(api.delete(&format!("/api/v1/devices/{c}")).await);
    until("compliance at 100 %", async || {
        let figures = ok(api.get("/api/v1/patching/compliance?days=0").await);
        (figures["total"]["share"] == 1.0).then_some(())
    })
    .await;
    ok(api
        .delete(&format!(
            "/api/v1/patching/policies/{}",
            policy["id"].as_str().unwrap()
        ))
        .await);
    let plan = plan_when(&api, &b, |p| p["policy"].is_null()).await;
    assert_eq!(plan["install"], json!([]), "{plan}");
}

/// A stand-in for a system command: records its arguments (one a line)
/// and its standard input under `dir`.
fn recorder(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let out = dir.join(format!("{name}.args"));
    let input = dir.join(format!("{name}.stdin"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > {}\ncat > {}\n",
            out.display(),
            input.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The reboot policy end to end, never restarting this machine: the agent's
/// restart and notice commands are stand-ins that record what they were
/// given. A device that needs a reboot under a `never` policy says it is
/// deferred; edited to `always` with 3 minutes' grace, the loop installs
/// v2, warns the logged-in users with the notice, then schedules the
/// restart 3 minutes out with the same words, and the run says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_restart_warns_users_first_then_waits_its_grace() {
    let apt = apt_root();
    std::fs::write(apt.root.join("run/reboot-required"), "").unwrap();
    let tools = tempfile::tempdir().unwrap();
    let shutdown = recorder(tools.path(), "shutdown");
    let wall = recorder(tools.path(), "wall");
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "patch-r", &token));
    let apt_config = apt.apt_config.display().to_string();
    let patch_root = apt.root.display().to_string();
    agent.start_with(
        "1s",
        &[
            "--apt-config",
            &apt_config,
            "--patch-root",
            &patch_root,
            "--patch-interval",
            "1h",
            "--reboot-command",
            shutdown.to_str().unwrap(),
            "--notice-command",
            wall.to_str().unwrap(),
        ],
    );
    let device = agent.device_id.clone();
    let api = server.api();
    plan_when(&api, &device, |p| {
        p["waiting"].as_array().is_some_and(|w| !w.is_empty())
    })
    .await;

    // Never: nothing restarts, and the plan says the reboot waits.
    let policy = ok(api
        .post(
            "/api/v1/patching/policies",
            json!({
                "name": "restarts", "scope": { "kind": "organisation" }, "install": "approval",
                "window": { "days": [0, 1, 2, 3, 4, 5, 6], "start_minute": 0, "duration_minutes": 1440 },
                "reboot": "never",
            }),
        )
        .await);
    assert_eq!(policy["fields"]["reboot_grace_minutes"], 5, "{policy}");
    let plan = plan_when(&api, &device, |p| p["policy"] == "restarts").await;
    assert_eq!(plan["reboot"], "deferred", "{plan}");
    let figures = ok(api.get("/api/v1/patching/compliance").await);
    assert_eq!(figures["devices"][0]["reboot_required"], true, "{figures}");
    // A grace beyond two hours is refused.
    let at = format!(
        "/api/v1/patching/policies/{}",
        policy["id"].as_str().unwrap()
    );
    let (status, _, body) = api
        .patch(&at, None, json!({ "reboot_grace_minutes": 121 }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Always, 3 minutes' notice: installed, warned, then scheduled.
    let (status, _, body) = api
        .patch(
            &at,
            None,
            json!({ "install": "security", "reboot": "always", "reboot_grace_minutes": 3 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    until("the restart scheduled", async || {
        std::fs::read_to_string(tools.path().join("shutdown.args")).ok()
    })
    .await;
    assert_eq!(installed(&apt), "2.0-1");
    let args = std::fs::read_to_string(tools.path().join("shutdown.args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    let notice = std::fs::read_to_string(tools.path().join("wall.stdin")).unwrap();
    assert_eq!(args[..2], ["-r", "+3"], "{args:?}");
    assert_eq!(args[2], notice);
    assert_eq!(
        notice,
        "Steward: this computer restarts in 3 minutes to finish installing updates (stwd-demo). Please save your work."
    );
    let run = until("the install run", async || {
        let jobs = ok(api.get("/api/v1/jobs").await);
        let job = jobs
            .as_array()?
            .iter()
            .find(|j| j["name"] == "patch: restarts")?
            .clone();
        let shown = ok(api
            .get(&format!("/api/v1/jobs/{}", job["id"].as_str()?))
            .await);
        let run = shown["runs"][0].clone();
        (run["status"] == "succeeded").then_some(run)
    })
    .await;
    let stdout = run["stdout"].as_str().unwrap_or("");
    assert!(
        stdout.contains("stwd-demo=2.0-1: installed\nnotice: sent"),
        "{run}"
    );
    assert!(stdout.ends_with("reboot: scheduled in 3 min\n"), "{run}");
}
