//! Incidents end to end: a failing check on a real agent raises a
//! critical alert, whose notification carries the runbook attached to its
//! monitor, and which opens an incident by itself (audited as decided by
//! alerting); a technician reads the runbook on the incident, runs the
//! script it offers (a real job on the agent, as them), notes,
//! acknowledges and resolves it with the CLI; the timeline shows the
//! alert, the job, the note and the status changes with who, and the KPIs
//! change (volume 1, MTTA and MTTR from none to one). The runbook keeps
//! its old version when edited.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

fn get(api: &common::api::Api, path: &str) -> Value {
    let rt = tokio::runtime::Handle::current();
    let (status, body) = rt.block_on(api.get(path));
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_opens_an_incident_that_is_worked_to_resolved() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, body) = api
        .post(
            "/api/v1/monitors",
            json!({ "name": "service broken", "spec": { "kind": "check", "check": "broken" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (url, received) = common::hooks::receiver("0123456789abcdef").await;
    let (status, body) = api
        .post(
            "/api/v1/channels",
            json!({ "name": "ops", "kind": "webhook", "url": url, "secret": "0123456789abcdef" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The fix, as a script, and the runbook that documents the monitor
    // and offers the script.
    let (status, body) = api
        .post(
            "/api/v1/scripts",
            json!({ "script": { "name": "restart-service", "interpreter": "sh", "body": "echo service restarted" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let procedure = root.path().join("runbook.md");
    std::fs::write(
        &procedure,
        "# When the service breaks\n1. Run **restart-service**\n2. Check <b>the logs</b>\n",
    )
    .unwrap();
    let runbook = tokio::task::block_in_place(|| {
        server.cli_json(&[
            "runbook",
            "create",
            "--title",
            "Service broken",
            "--body-file",
            procedure.to_str().unwrap(),
            "--monitor",
            "service broken",
            "--offer",
            "restart-service",
        ])
    });
    let runbook_id = runbook["id"].as_str().unwrap().to_string();
    assert_eq!(runbook["version"], 1, "{runbook}");
    // A runbook offering a script the organisation lacks is refused.
    let (status, body) = api
        .post(
            "/api/v1/runbooks",
            json!({ "title": "x", "offers": ["no-such-script"] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("no-such-script"), "{body}");
    // A check that always reports CRITICAL (run by sh: no file executed
    // while it may still be open for writing).
    let script = root.path().join("broken.sh");
    std::fs::write(&script, "echo 'CRITICAL - the service is broken'\nexit 2\n").unwrap();
    let token = tokio::task::block_in_place(|| server.enroll_token(1));
    let mut agent = tokio::task::block_in_place(|| Agent::enroll(root.path(), "web-1", &token));
    let check = format!("broken=/bin/sh {}", script.display());
    agent.start_with("5s", &["--check-interval", "1s", "--check", &check]);

    // The critical alert opens an incident by itself.
    let incident = tokio::task::block_in_place(|| {
        wait_for(
            "an incident from the alert",
            Duration::from_secs(30),
            || {
                let list = get(&api, "/api/v1/incidents");
                list.as_array()?
                    .iter()
                    .find(|i| i["alerts"].as_array().is_some_and(|a| !a.is_empty()))
                    .cloned()
            },
        )
    });
    let id = incident["id"].as_str().unwrap().to_string();
    assert_eq!(incident["status"], "open", "{incident}");
    assert_eq!(incident["opened_by"], "alerting", "{incident}");
    assert_eq!(incident["devices"], json!([agent.device_id]), "{incident}");
    assert!(
        incident["title"]
            .as_str()
            .unwrap()
            .contains("service broken"),
        "{incident}"
    );
    let alert_id = incident["alerts"][0].as_str().unwrap().to_string();
    // Once: the alert's later evaluations open nothing more.
    let (_, again) = api.get("/api/v1/incidents").await;
    assert_eq!(again.as_array().unwrap().len(), 1, "{again}");
    // Audited as decided by alerting, naming the rule.
    let (_, audit) = api.get("/api/v1/audit?actor=alerting").await;
    let entries = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "incident.open" && e["target"] == id.as_str()),
        "{audit}"
    );

    // The alert's notification carries the runbook: title, excerpt, link.
    let notified = tokio::task::block_in_place(|| {
        wait_for("the alert's notification", Duration::from_secs(30), || {
            received
                .lock()
                .unwrap()
                .iter()
                // The alert's own notice, not the incident's event.
                .find(|(p, _)| p["state"] == "open" && p["kind"] != "incident")
                .cloned()
        })
    });
    assert!(notified.1, "signed: {notified:?}");
    assert_eq!(
        notified.0["runbooks"][0]["title"], "Service broken",
        "{notified:?}"
    );
    assert!(
        notified.0["runbooks"][0]["excerpt"]
            .as_str()
            .unwrap()
            .contains("Run **restart-service**"),
        "{notified:?}"
    );

    // The KPIs before anyone worked it: one opened, none acknowledged or
    // resolved yet.
    let before = tokio::task::block_in_place(|| get(&api, "/api/v1/kpis"));
    assert_eq!(before["incident_volume"]["open"], 1, "{before}");
    assert_eq!(before["mtta"]["count"], 0, "{before}");
    assert_eq!(before["mttr"]["count"], 0, "{before}");

    // The incident shows the runbook; its script runs from there as the
    // technician, on the incident's device, and goes on the timeline.
    let shown = tokio::task::block_in_place(|| server.cli_json(&["incident", "runbooks", &id]));
    assert_eq!(shown[0]["id"], runbook_id.as_str(), "{shown}");
    assert_eq!(shown[0]["offers"], json!(["restart-service"]), "{shown}");
    let (status, body) = api
        .post(
            &format!("/api/v1/incidents/{id}/runs"),
            json!({ "runbook": runbook_id, "script": "rm-rf" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("does not offer"), "{body}");
    let ran = tokio::task::block_in_place(|| {
        server.cli_json(&[
            "incident",
            "run",
            &id,
            "--runbook",
            &runbook_id,
            "--script",
            "restart-service",
        ])
    });
    assert_eq!(ran["job"]["targets"], 1, "{ran}");
    let job = ran["job"]["id"].as_str().unwrap().to_string();
    let finished = tokio::task::block_in_place(|| {
        wait_for(
            "the runbook's job to finish",
            Duration::from_secs(30),
            || {
                let record = get(&api, &format!("/api/v1/jobs/{job}"));
                (record["progress"] == "completed").then_some(record)
            },
        )
    });
    let run = &finished["runs"][0];
    assert_eq!(run["status"], "succeeded", "{finished}");
    assert_eq!(run["device_id"], agent.device_id.as_str(), "{finished}");
    assert!(
        run["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("service restarted"),
        "{finished}"
    );

    // Filters: by status, by device.
    let (_, open) = api.get("/api/v1/incidents?status=open").await;
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    let (_, on_device) = api
        .get(&format!("/api/v1/incidents?devices={}", agent.device_id))
        .await;
    assert_eq!(on_device.as_array().unwrap().len(), 1, "{on_device}");
    let (_, resolved) = api.get("/api/v1/incidents?status=resolved").await;
    assert_eq!(resolved.as_array().unwrap().len(), 0, "{resolved}");

    // A technician works it from the CLI.
    let me = api.get("/api/v1/whoami").await.1["username"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::task::block_in_place(|| {
        let noted = server.cli_json(&[
            "incident",
            "note",
            &id,
            "restarted the service",
            "--minutes",
            "5",
        ]);
        assert_eq!(noted["entry"]["kind"], "note", "{noted}");
        let acked = server.cli_json(&["incident", "ack", &id]);
        assert_eq!(acked["status"], "acknowledged", "{acked}");
    });
    // Acknowledging the alert itself goes on the timeline too.
    let (status, body) = api
        .post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resolved = tokio::task::block_in_place(|| server.cli_json(&["incident", "resolve", &id]));
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    assert_eq!(resolved["time_spent_ms"], 300_000, "{resolved}");
    let shown = tokio::task::block_in_place(|| {
        String::from_utf8(server.cli(&["incident", "show", &id]).stdout).unwrap()
    });
    assert!(shown.contains("restarted the service"), "{shown}");

    // The timeline: the alert, the note, the status changes, with who.
    let (status, incident) = api.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{incident}");
    let timeline = incident["timeline"].as_array().unwrap();
    let has = |kind: &str, actor: &str, check: &dyn Fn(&Value) -> bool| {
        timeline
            .iter()
            .any(|e| e["kind"] == kind && e["actor"] == actor && check(&e["body"]))
    };
    assert!(
        has("alert", "alerting", &|b| b["state"] == "open"),
        "{incident}"
    );
    assert!(
        has("note", &me, &|b| b["text"] == "restarted the service"),
        "{incident}"
    );
    assert!(
        has("status", &me, &|b| b["to"] == "acknowledged"),
        "{incident}"
    );
    assert!(
        has("alert", &me, &|b| b["state"] == "acknowledged"),
        "{incident}"
    );
    assert!(has("status", &me, &|b| b["to"] == "resolved"), "{incident}");
    assert!(
        has("job", &me, &|b| b["job_id"] == job.as_str()
            && b["script"] == "restart-service"
            && b["runbook"] == runbook_id.as_str()),
        "{incident}"
    );
    // The job started under the technician's name.
    assert_eq!(finished["created_by"], me.as_str(), "{finished}");
    let at: Vec<i64> = timeline.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "in order: {at:?}");
    assert!(incident["acknowledged_at"].as_i64().is_some(), "{incident}");
    assert!(incident["resolved_at"].as_i64().is_some(), "{incident}");

    // A stale edit is refused; bad input gets a clear error.
    let (status, _, body) = api
        .patch(
            &format!("/api/v1/incidents/{id}"),
            Some(1),
            json!({ "priority": "p1" }),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (status, _, body) = api
        .patch(
            &format!("/api/v1/incidents/{id}"),
            None,
            json!({ "status": "done" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("status is one of"), "{body}");

    // The KPIs count it.
    let kpis = tokio::task::block_in_place(|| get(&api, "/api/v1/kpis"));
    assert_eq!(kpis["incident_volume"]["opened"], 1, "{kpis}");
    assert_eq!(kpis["incident_volume"]["open"], 0, "{kpis}");
    assert_eq!(kpis["mtta"]["count"], 1, "{kpis}");
    assert!(kpis["mtta"]["median"].as_f64().is_some(), "{kpis}");
    assert_eq!(kpis["mttr"]["count"], 1, "{kpis}");
    assert!(kpis["mttr"]["p90"].as_f64().is_some(), "{kpis}");
    assert!(
        kpis["definitions"]["mttr"]
            .as_str()
            .unwrap()
            .contains("resolution"),
        "{kpis}"
    );
    assert_eq!(kpis["backup_success"]["collected"], false, "{kpis}");
    assert_eq!(kpis["open_problems"]["open"], 0, "{kpis}");
    let devices = kpis["availability"]["devices"].as_array().unwrap();
    assert!(
        devices
            .iter()
            .any(|d| d["device_id"] == agent.device_id.as_str()),
        "{kpis}"
    );
    assert!(kpis["noise"]["alerts"].as_u64().unwrap() >= 1, "{kpis}");

    // Editing the runbook saves a new version; the old one stays readable,
    // and a stale edit is refused.
    let edited = tokio::task::block_in_place(|| {
        server.cli_json(&[
            "runbook",
            "edit",
            &runbook_id,
            "--title",
            "Service broken (v2)",
            "--version",
            "1",
        ])
    });
    assert_eq!(edited["version"], 2, "{edited}");
    assert_eq!(edited["offers"], json!(["restart-service"]), "{edited}");
    let (status, _, body) = api
        .patch(
            &format!("/api/v1/runbooks/{runbook_id}"),
            Some(1),
            json!({ "title": "late" }),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let versions =
        tokio::task::block_in_place(|| server.cli_json(&["runbook", "versions", &runbook_id]));
    let titles: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["definition"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Service broken (v2)", "Service broken"],
        "{versions}"
    );
    // Markup in a runbook is kept as text, for the console to show as text.
    assert!(
        versions[1]["definition"]["body"]
            .as_str()
            .unwrap()
            .contains("<b>the logs</b>"),
        "{versions}"
    );
}

/// Pixels of a binary PPM (what `pdftoppm` writes) within `tolerance` of
/// `rgb` in every channel.
fn pixels_near(ppm: &[u8], rgb: (u8, u8, u8), tolerance: u8) -> usize {
    // Header: P6, width, height, maxval, each after whitespace.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&ppm[start..at]).to_string());
    }
    assert_eq!(fields[0], "P6", "not a binary PPM");
    let near = |a: u8, b: u8| a.abs_diff(b) <= tolerance;
    ppm[at + 1..]
        .chunks_exact(3)
        .filter(|p| near(p[0], rgb.0) && near(p[1], rgb.1) && near(p[2], rgb.2))
        .count()
}

fn run_tool(program: &str, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (Debian's poppler-utils)"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A month's report as a PDF with charts: rendered to images by Debian's
/// poppler (pdftoppm), its text read back (pdftotext): the KPI table with
/// the figures and their definitions, and the weekly bar chart in its
/// colour. A month with nothing in it says so, in the PDF and the CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_report_is_a_pdf_with_its_kpis_and_a_chart() {
    use steward_incident::report::date;
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    // Two incidents this month, one worked to resolved.
    for title in ["mail is slow", "printer offline"] {
        let (status, body) = api
            .post("/api/v1/incidents", json!({ "title": title }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if title == "mail is slow" {
            let id = body["id"].as_str().unwrap();
            let (status, _, body) = api
                .patch(
                    &format!("/api/v1/incidents/{id}"),
                    None,
                    json!({ "status": "resolved" }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let month = date(now)[..7].to_string();

    // The JSON form: the figures with their definitions, weekly buckets.
    let (status, report) = api.get(&format!("/api/v1/reports?period={month}")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["has_data"], true, "{report}");
    let weeks = report["weeks"].as_array().unwrap();
    assert!((4..=5).contains(&weeks.len()), "{report}");
    assert_eq!(
        weeks
            .iter()
            .map(|w| w["incidents_opened"].as_u64().unwrap())
            .sum::<u64>(),
        2,
        "{report}"
    );
    assert!(
        report["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| !k["definition"].as_str().unwrap().is_empty()),
        "{report}"
    );

    // The PDF, rendered by poppler.
    let (status, pdf) = api
        .get_bytes(&format!("/api/v1/reports?period={month}&format=pdf"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let dir = root.path().join("report");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let file = file.to_str().unwrap();
    let text = String::from_utf8_lossy(&run_tool("pdftotext", &["-layout", file, "-"])).to_string();
    for part in [
        "Service report:",
        &format!("Period {month}"),
        "Key figures",
        "Availability",
        "MTTA (acknowledge)",
        "MTTR (resolve)",
        "2 opened, 1 still open at the end",
        "Incidents opened in the period",
        "Incidents opened per week",
        "Availability per week",
    ] {
        assert!(
            text.contains(part),
            "{part:?} not in the PDF's text:\n{text}"
        );
    }
    assert!(!text.contains("No data in this period"), "{text}");
    let prefix = dir.join("page");
    run_tool("pdftoppm", &["-r", "40", file, prefix.to_str().unwrap()]);
    let mut pages: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ppm"))
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 2, "{pages:?}");
    // The bars, in their colour (0.0, 0.45, 0.85), on the first page.
    let first = std::fs::read(&pages[0]).unwrap();
    let bars = pixels_near(&first, (0, 115, 217), 12);
    assert!(bars > 50, "only {bars} pixels of the bar colour on page 1");
    // The availability line's colour is not the bars'.
    assert_eq!(
        pixels_near(&std::fs::read(&pages[1]).unwrap(), (0, 115, 217), 12),
        0
    );

    // A month with nothing in it says so, without dividing by zero.
    let (status, pdf) = api
        .get_bytes("/api/v1/reports?period=2020-02&format=pdf")
        .await;
    assert_eq!(status, StatusCode::OK);
    let empty = dir.join("empty.pdf");
    std::fs::write(&empty, &pdf).unwrap();
    let text = String::from_utf8_lossy(&run_tool(
        "pdftotext",
        &["-layout", empty.to_str().unwrap(), "-"],
    ))
    .to_string();
    assert!(text.contains("No data in this period."), "{text}");
    assert!(text.contains("no data"), "{text}");
    let (status, csv) = api
        .get_bytes("/api/v1/reports?period=2020-02&format=csv")
        .await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("note,no data in this period"), "{csv}");
    assert!(!csv.contains("NaN") && !csv.contains("inf"), "{csv}");
    // The CSV of this month carries each KPI's definition.
    let csv = String::from_utf8(
        api.get_bytes(&format!("/api/v1/reports?period={month}&format=csv"))
            .await
            .1,
    )
    .unwrap();
    assert!(
        csv.contains(
            "incident_volume,Incidents,\"2 opened, 1 still open at the end\",\"Incidents opened in the period"
        ),
        "{csv}"
    );

    // The CLI: the figures as JSON, the PDF as a file.
    let shown = tokio::task::block_in_place(|| server.cli_json(&["report", "--period", &month]));
    assert_eq!(shown["period"], month.as_str(), "{shown}");
    let out = dir.join("cli.pdf");
    tokio::task::block_in_place(|| {
        server.cli(&[
            "report",
            "--period",
            &month,
            "--format",
            "pdf",
            "--out",
            out.to_str().unwrap(),
        ])
    });
    assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF-"));

    // Bad periods and formats get a clear error.
    for (query, says) in [
        ("period=2026-13", "a period is"),
        ("period=2025-W53", "ISO weeks 1 to 52"),
        ("format=docx", "format is json, csv or pdf"),
    ] {
        let (status, body) = api.get(&format!("/api/v1/reports?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.to_string().contains(says), "{query}: {body}");
    }
}

/// SLA targets per priority, set through the API, warn through the
/// organisation's channels: an incident past its time to acknowledge and
/// to resolve is warned about once per threshold, on its timeline, and
/// audited under the name of who set the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_breaches_are_warned_once_through_the_channels() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (url, received) = common::hooks::receiver("0123456789abcdef").await;
    let (status, body) = api
        .post(
            "/api/v1/channels",
            json!({ "name": "ops", "kind": "webhook", "url": url, "secret": "0123456789abcdef" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, target) = api
        .post(
            "/api/v1/sla-targets",
            json!({ "priority": "p1", "acknowledge_ms": 2000, "resolve_ms": 4000 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{target}");
    // One per priority; bad targets get a clear error.
    let (status, body) = api
        .post("/api/v1/sla-targets", json!({ "priority": "p1" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/sla-targets",
            json!({ "priority": "p9", "resolve_ms": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let target_id = target["id"].as_str().unwrap().to_string();
    let (status, _, body) = api
        .patch(
            &format!("/api/v1/sla-targets/{target_id}"),
            Some(1),
            json!({ "resolve_ms": 5000 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2, "{body}");

    let listed = tokio::task::block_in_place(|| server.cli_json(&["sla", "list"]));
    assert_eq!(listed[0]["resolve_ms"], 5000, "{listed}");
    let me = api.get("/api/v1/whoami").await.1["username"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, incident) = api
        .post(
            "/api/v1/incidents",
            json!({ "title": "mail is down", "priority": "p1" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{incident}");
    let id = incident["id"].as_str().unwrap().to_string();
    // A p3 incident has no target: never warned.
    let (_, quiet) = api
        .post("/api/v1/incidents", json!({ "title": "printer jam" }))
        .await;
    let quiet = quiet["id"].as_str().unwrap().to_string();

    let warnings = |threshold: &str| -> usize {
        received
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, signed)| {
                *signed
                    && p["kind"] == "sla"
                    && p["threshold"] == threshold
                    && p["incident_id"] == id.as_str()
            })
            .count()
    };
    tokio::task::block_in_place(|| {
        wait_for("both breach warnings", Duration::from_secs(40), || {
            (warnings("acknowledge.breached") >= 1 && warnings("resolve.breached") >= 1)
                .then_some(())
        })
    });
    // Another sweep or two: nothing more.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(warnings("acknowledge.breached"), 1);
    assert_eq!(warnings("resolve.breached"), 1);
    let sent = received.lock().unwrap().clone();
    let breach = sent
        .iter()
        .find(|(p, _)| p["threshold"] == "resolve.breached")
        .unwrap();
    assert_eq!(breach.0["severity"], "critical", "{breach:?}");
    assert_eq!(breach.0["set_by"], me.as_str(), "{breach:?}");
    assert!(
        breach.0["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#/incident/{id}")),
        "{breach:?}"
    );
    assert!(
        !sent
            .iter()
            .any(|(p, _)| p["kind"] == "sla" && p["incident_id"] == quiet.as_str()),
        "{sent:?}"
    );

    // On the timeline, and audited under the name of who set the target.
    let (_, worked) = api.get(&format!("/api/v1/incidents/{id}")).await;
    let sla: Vec<&Value> = worked["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "sla")
        .collect();
    assert!(
        sla.iter()
            .any(|e| e["body"]["threshold"] == "breached" && e["body"]["target"] == "resolve"),
        "{worked}"
    );
    let (_, audit) = api.get("/api/v1/audit?action=sla.breach").await;
    let entries = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == me.as_str() && e["target"] == id.as_str()),
        "{audit}"
    );
}
