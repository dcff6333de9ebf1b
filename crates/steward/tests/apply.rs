//! Configuration as code against a live server: `steward apply --dry-run`
//! changes nothing, `apply` converges, a second `apply` finds nothing to
//! do, `export` round-trips without a change, `apply --prune` deletes what
//! the files dropped, and one object is edited, disabled and deleted by
//! name from the command line.

mod common;

use common::api::Api;
use common::*;
use serde_json::Value;

fn stdout(out: std::process::Output) -> String {
    String::from_utf8(out.stdout).unwrap()
}

const MONITORS: &str = r#"
monitors:
  - name: disk
    spec:
      kind: threshold
      metric: system.filesystem.utilization
      threshold:
        direction: above
        critical: { trigger: 0.9, clear: 0.8 }
        for_ms: 60000
  - name: offline
    spec: { kind: offline }
    applies_to: { sites: [hq] }
maintenance:
  - name: patch night
    matcher: { sites: [hq] }
    schedule: { kind: once, start: 0, end: 1 }
"#;

const CHANNELS: &str = r#"
channels:
  - name: ops
    kind: webhook
    url: http://127.0.0.1:9/hook
    secret: 0123456789abcdef
    min_severity: critical
schedules:
  - name: nightly ping
    timing: { cron: "0 3 * * *", timezone: Europe/Paris }
    job: { action: { kind: ping }, targets: [all] }
"#;

const ACCESS: &str = r#"
roles:
  - name: helpdesk
    permissions: [devices.view, scripts.run]
scripts:
  - name: cleanup
    interpreter: sh
    body: "echo cleaning\n"
    timeout_secs: 30
schedules:
  - name: nightly cleanup
    timing: { cron: "0 4 * * *" }
    job: { script: cleanup, targets: [all] }
"#;

async fn names(api: &Api, path: &str) -> Vec<String> {
    let (_, list) = api.get(path).await;
    list.as_array()
        .into_iter()
        .flatten()
        .map(|o| o["fields"]["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_of_yaml_is_planned_applied_exported_and_pruned() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let dir = root.path().join("config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("monitors.yaml"), MONITORS).unwrap();
    std::fs::write(dir.join("channels.yml"), CHANNELS).unwrap();
    std::fs::write(dir.join("access.yaml"), ACCESS).unwrap();
    std::fs::write(dir.join("README.md"), "not configuration").unwrap();
    let config = dir.to_str().unwrap();
    let cli = |args: &[&str]| stdout(tokio::task::block_in_place(|| server.cli(args)));

    // The plan, and nothing changed.
    let plan = cli(&["apply", "-f", config, "--dry-run"]);
    for line in [
        "+ channel \"ops\" (create)",
        "+ monitor \"disk\" (create)",
        "+ monitor \"offline\" (create)",
        "+ maintenance window \"patch night\" (create)",
        "+ schedule \"nightly ping\" (create)",
        "+ role \"helpdesk\" (create)",
        "+ script \"cleanup\" (create)",
        "+ schedule \"nightly cleanup\" (create)",
        "Plan: 8 to create, 0 to change, 0 to delete, 0 unchanged.",
    ] {
        assert!(plan.contains(line), "{line:?} not in:\n{plan}");
    }
    assert!(names(&api, "/api/v1/monitors").await.is_empty());
    let planned: Value =
        serde_json::from_str(&cli(&["apply", "-f", config, "--dry-run", "--json"])).unwrap();
    assert_eq!(planned["steps"].as_array().unwrap().len(), 8, "{planned}");

    // Applied; then applying again finds nothing to do.
    let applied = cli(&["apply", "-f", config]);
    assert!(applied.contains("Applied: 8 changes."), "{applied}");
    assert_eq!(names(&api, "/api/v1/monitors").await, ["disk", "offline"]);
    assert_eq!(names(&api, "/api/v1/channels").await, ["ops"]);
    // Listings are tables by default and JSON with --json.
    let table = cli(&["channel", "list"]);
    assert!(
        table.starts_with("ID") && table.contains("ops") && table.contains("webhook"),
        "{table}"
    );
    assert_eq!(server.cli_json(&["channel", "list"])[0]["name"], "ops");
    assert_eq!(names(&api, "/api/v1/maintenance").await, ["patch night"]);
    assert_eq!(
        names(&api, "/api/v1/schedules").await,
        ["nightly cleanup", "nightly ping"]
    );
    assert_eq!(names(&api, "/api/v1/scripts").await, ["cleanup"]);
    // Built-in roles are not the files' to manage: only the own one.
    let (_, roles) = api.get("/api/v1/roles").await;
    let own: Vec<&Value> = roles
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["org_id"].is_null())
        .collect();
    assert_eq!(own.len(), 1, "{roles}");
    assert_eq!(
        own[0]["permissions"],
        serde_json::json!(["devices.view", "scripts.run"])
    );
    let again = cli(&["apply", "-f", config]);
    assert!(
        again.contains("Plan: 0 to create, 0 to change, 0 to delete, 8 unchanged."),
        "{again}"
    );

    // Exported, the same configuration: applying the export changes nothing.
    let exported = cli(&["export"]);
    assert!(
        exported.contains("name: disk")
            && exported.contains("trigger: 0.9")
            && exported.contains("name: helpdesk")
            && exported.contains("echo cleaning"),
        "{exported}"
    );
    assert!(
        !exported.contains("0123456789abcdef"),
        "a secret was exported:\n{exported}"
    );
    let copy = root.path().join("exported.yaml");
    std::fs::write(&copy, &exported).unwrap();
    let round = cli(&[
        "apply",
        "-f",
        copy.to_str().unwrap(),
        "--dry-run",
        "--prune",
    ]);
    assert!(
        round.contains("Plan: 0 to create, 0 to change, 0 to delete, 8 unchanged."),
        "{round}"
    );

    // The role's permissions change; the script and the schedule that runs
    // it leave the files: --prune deletes the schedule before the script
    // (the server refuses to delete a script something runs).
    std::fs::write(
        dir.join("access.yaml"),
        "roles:\n  - name: helpdesk\n    permissions: [devices.view]\nscripts: []\n",
    )
    .unwrap();
    let access = cli(&["apply", "-f", config, "--prune"]);
    for line in [
        "~ role \"helpdesk\": permissions changes",
        "- script \"cleanup\" (delete)",
        "- schedule \"nightly cleanup\" (delete)",
        "Applied: 3 changes.",
    ] {
        assert!(access.contains(line), "{line:?} not in:\n{access}");
    }
    assert!(names(&api, "/api/v1/scripts").await.is_empty());
    assert_eq!(names(&api, "/api/v1/schedules").await, ["nightly ping"]);
    // A script edited in place is its next version.
    let script = api
        .post(
            "/api/v1/scripts",
            serde_json::json!({ "script": { "name": "tidy", "interpreter": "sh", "body": "true\n" } }),
        )
        .await
        .1;
    let path = format!("/api/v1/scripts/{}", script["id"].as_str().unwrap());
    let (status, etag, edited) = api
        .patch(&path, Some(1), serde_json::json!({ "body": "echo tidy\n" }))
        .await;
    assert_eq!(
        (status.as_u16(), etag, edited["fields"]["body"].as_str()),
        (200, Some(2), Some("echo tidy\n")),
        "{edited}"
    );
    let (status, _, lost) = api
        .patch(&path, Some(1), serde_json::json!({ "timeout_secs": 5 }))
        .await;
    assert_eq!(status.as_u16(), 412, "{lost}");
    let (status, _, renamed) = api
        .patch(&path, None, serde_json::json!({ "name": "other" }))
        .await;
    assert_eq!(status.as_u16(), 400, "{renamed}");
    // A technician limited to one site runs scripts but does not rewrite
    // what runs organisation-wide.
    let (status, tech) = api
        .post(
            "/api/v1/users",
            serde_json::json!({ "username": "tech", "password": "a-long-test-password", "role": "technician", "site": "hq" }),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{tech}");
    let anonymous = Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let tech = api.with_token(&anonymous.token_for("tech", "a-long-test-password").await);
    let (status, _, refused) = tech
        .patch(&path, None, serde_json::json!({ "body": "rm -rf /\n" }))
        .await;
    assert_eq!(status.as_u16(), 403, "{refused}");
    assert_eq!(api.get(&path).await.1["fields"]["body"], "echo tidy\n");
    let (status, _, unknown) = api
        .patch(&path, None, serde_json::json!({ "timeout": 5 }))
        .await;
    assert!(
        status.as_u16() == 400 && unknown["error"].as_str().unwrap().contains("`timeout`"),
        "{unknown}"
    );
    api.delete(&path).await;

    // A threshold changed and a monitor dropped from the files: --prune
    // deletes it, and only it.
    std::fs::write(
        dir.join("monitors.yaml"),
        MONITORS
            .replace("trigger: 0.9, clear: 0.8", "trigger: 0.95, clear: 0.85")
            .replace(
                "  - name: offline\n    spec: { kind: offline }\n    applies_to: { sites: [hq] }\n",
                "",
            ),
    )
    .unwrap();
    let kept = cli(&["apply", "-f", config, "--dry-run"]);
    assert!(kept.contains("~ monitor \"disk\": spec changes"), "{kept}");
    assert!(
        !kept.contains("(delete)"),
        "without --prune nothing is deleted:\n{kept}"
    );
    let pruned = cli(&["apply", "-f", config, "--prune"]);
    assert!(
        pruned.contains("- monitor \"offline\" (delete)"),
        "{pruned}"
    );
    assert_eq!(names(&api, "/api/v1/monitors").await, ["disk"]);
    let (_, monitors) = api.get("/api/v1/monitors").await;
    assert_eq!(
        monitors[0]["fields"]["spec"]["threshold"]["critical"]["trigger"],
        0.95
    );
    // --prune reaches only the sections the files name.
    let only = root.path().join("only-monitors.yaml");
    std::fs::write(&only, "monitors: []\n").unwrap();
    let narrow = cli(&[
        "apply",
        "-f",
        only.to_str().unwrap(),
        "--dry-run",
        "--prune",
    ]);
    assert!(
        narrow.contains("- monitor \"disk\" (delete)")
            && !narrow.contains("- role")
            && !narrow.contains("- channel")
            && !narrow.contains("- schedule"),
        "{narrow}"
    );

    // One object by name: edited, disabled, deleted.
    let edited = cli(&["edit", "schedule", "nightly ping", "--set", "name=nightly"]);
    assert!(
        edited.contains("Schedule \"nightly ping\" changed."),
        "{edited}"
    );
    cli(&["disable", "monitor", "disk"]);
    let (_, monitors) = api.get("/api/v1/monitors").await;
    assert_eq!(monitors[0]["enabled"], false);
    let gone = server.cli_json(&["delete", "channel", "ops"]);
    assert!(gone["deleted"].is_string(), "{gone}");
    assert!(names(&api, "/api/v1/channels").await.is_empty());
    let missing = tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
            .args(["delete", "monitor", "nope"])
            .env("STEWARD_URL", server.url())
            .env("STEWARD_TOKEN", &server.token)
            .env("STEWARD_CA", server.ca())
            .output()
            .unwrap()
    });
    assert!(!missing.status.success());
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(
        error.contains("no monitor named \"nope\" (there are: disk)"),
        "{error}"
    );
}
