//! Reports by email and incidents by email, end to end against a real
//! server and a real SMTP server (aiosmtpd from PyPI, run as a process:
//! tests/fixture/smtp_sink.py):
//!
//! - a scheduled report is set up, checked, edited; "send now" and the
//!   schedule's own run each deliver a mail with the PDF and the CSV
//!   attached; the run is audited under the name of who set it up, and
//!   once they lose the organisation it is refused (audited, nothing sent);
//! - raw RFC 822 messages posted to an inbound email route open an
//!   incident (HTML made text, attachments not kept) and a reply naming
//!   it adds a note; a wrong key, an unknown sender, a replayed
//!   Message-ID, an oversized or malformed message each get a clear 4xx
//!   and change nothing.

mod common;

use base64::Engine;
use common::*;
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PASSWORD: &str = "a-long-test-password";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// aiosmtpd on a free loopback port, keeping each message in `dir`.
struct Sink {
    _proc: Proc,
    port: u16,
    dir: PathBuf,
}

impl Sink {
    fn start(dir: &Path) -> Option<Self> {
        let ready = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !ready {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the report mail test needs aiosmtpd (pip install aiosmtpd)"
            );
            eprintln!(
                "\n!!! SKIPPED report mail test: aiosmtpd is missing (pip install aiosmtpd)\n"
            );
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("smtp_sink.py said {line:?}"));
        Some(Self {
            _proc: Proc(child),
            port,
            dir: dir.to_path_buf(),
        })
    }

    /// The messages received so far, oldest first.
    fn mails(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<(u32, PathBuf)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| {
                let path = e.ok()?.path();
                let n = path
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".eml")?
                    .parse()
                    .ok()?;
                Some((n, path))
            })
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|(_, p)| std::fs::read(p).unwrap())
            .collect()
    }

    fn wait_for_mail(&self, count: usize) -> Vec<u8> {
        wait_for("a mail", Duration::from_secs(75), || {
            let mails = self.mails();
            (mails.len() >= count).then(|| mails[count - 1].clone())
        })
    }
}

/// Checks a received report mail: its recipients, a PDF (rendered by
/// the server: `%PDF`) and a CSV with the KPI rows attached.
fn check_report_mail(raw: &[u8], to: &str) -> String {
    let text = String::from_utf8_lossy(raw).to_string();
    assert!(text.starts_with(&format!("X-Envelope-To: {to}")), "{text}");
    let message = MessageParser::default().parse(raw).expect("a mail");
    let subject = message.subject().unwrap_or_default().to_string();
    assert!(subject.starts_with("Steward report: "), "{subject}");
    let attachments: Vec<_> = message.attachments().collect();
    let pdf = attachments
        .iter()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".pdf")))
        .unwrap_or_else(|| panic!("no PDF attached:\n{text}"));
    assert!(pdf.contents().starts_with(b"%PDF-"), "the PDF attachment");
    assert!(pdf.contents().len() > 1000, "a PDF of a few KiB");
    let csv = attachments
        .iter()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".csv")))
        .unwrap_or_else(|| panic!("no CSV attached:\n{text}"));
    let csv = String::from_utf8_lossy(csv.contents());
    assert!(csv.contains("kpi,name,value,definition"), "{csv}");
    assert!(csv.contains("availability,Availability,"), "{csv}");
    let body = message.body_text(0).unwrap_or_default();
    assert!(body.contains("Incidents:"), "{body}");
    subject
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_mailed_now_and_on_schedule_as_their_setter() {
    let root = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(&root.path().join("mail")) else {
        return;
    };
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    let (status, channel) = api
        .post(
            "/api/v1/channels",
            json!({ "name": "mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": sink.port, "tls": "none", "from": "steward@example.org", "to": ["ops@example.org"], "min_severity": "critical" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{channel}");
    let channel_id = channel["id"].as_str().unwrap().to_string();
    let (status, hook) = api
        .post(
            "/api/v1/channels",
            json!({ "name": "hook", "kind": "webhook", "url": "https://127.0.0.1:9/x", "secret": "0123456789abcdef" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    // The IT lead who sets the report up.
    let (status, user) = api
        .post(
            "/api/v1/users",
            json!({ "username": "lead", "password": PASSWORD, "role": "admin" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let anonymous = common::api::Api {
        bearer: None,
        cookie: None,
        ..api.clone()
    };
    let lead = api.with_token(&anonymous.token_for("lead", PASSWORD).await);

    // Bad schedules get a clear 400.
    let good = json!({ "cadence": "monthly", "channel": channel_id, "recipients": ["client@example.com"] });
    for (change, says) in [
        (json!({ "cadence": "daily" }), "weekly or monthly"),
        (json!({ "recipients": [] }), "recipients"),
        (
            json!({ "recipients": ["not an address"] }),
            "not an email address",
        ),
        (json!({ "channel": hook["id"] }), "not an email channel"),
        (json!({ "channel": "nope" }), "not a channel id"),
        (json!({ "next_run_at": 1 }), "next_run_at"),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = lead.post("/api/v1/report-schedules", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(says),
            "{change}: {answer}"
        );
    }
    let (status, schedule) = lead.post("/api/v1/report-schedules", good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{schedule}");
    assert_eq!(schedule["created_by"], "lead", "{schedule}");
    assert!(
        schedule["next_run_at"].as_i64().unwrap() > now_ms(),
        "{schedule}"
    );
    let id = schedule["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/report-schedules/{id}");
    let (status, _, edited) = lead
        .patch(
            &path,
            Some(1),
            json!({ "cadence": "weekly", "recipients": ["client@example.com", "boss@example.com"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["cadence"], "weekly", "{edited}");
    let (status, _, stale) = lead
        .patch(&path, Some(1), json!({ "cadence": "monthly" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{stale}");
    let (status, listed) = api.get("/api/v1/report-schedules").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // Send now: the last full week, both files attached.
    let (status, sent) = lead.post(&format!("{path}/send"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let period = sent["period"].as_str().unwrap().to_string();
    assert!(period.contains("-W"), "{sent}");
    let mail = tokio::task::block_in_place(|| sink.wait_for_mail(1));
    let subject = check_report_mail(&mail, "client@example.com, boss@example.com");
    assert!(subject.ends_with(&period), "{subject}");
    let (_, read) = api.get(&path).await;
    assert_eq!(read["last_period"], period.as_str(), "{read}");

    // On schedule: due now, the sweep sends it as lead and audits that.
    let (status, _, due) = lead
        .patch(&path, None, json!({ "next_run_at": now_ms() }))
        .await;
    assert_eq!(status, StatusCode::OK, "{due}");
    let mail = tokio::task::block_in_place(|| sink.wait_for_mail(2));
    check_report_mail(&mail, "client@example.com, boss@example.com");
    let audited = |action: &'static str| {
        let api = api.clone();
        let id = id.clone();
        async move {
            let (_, audit) = api.get(&format!("/api/v1/audit?action={action}")).await;
            let entries = audit["entries"]
                .as_array()
                .or(audit.as_array())
                .cloned()
                .unwrap_or_default();
            entries.into_iter().find(|e| e["target"] == id.as_str())
        }
    };
    let entry = tokio::task::block_in_place(|| {
        wait_for("the report.sent audit", Duration::from_secs(20), || {
            tokio::runtime::Handle::current().block_on(audited("report.sent"))
        })
    });
    assert_eq!(entry["actor"], "lead", "{entry}");
    let (_, read) = api.get(&path).await;
    assert!(read["next_run_at"].as_i64().unwrap() > now_ms(), "{read}");

    // Lead loses the organisation: the next run is refused, audited,
    // nothing sent.
    let (status, _, due) = lead
        .patch(&path, None, json!({ "next_run_at": now_ms() + 2_000 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{due}");
    let (_, orgs) = api.get("/api/v1/orgs").await;
    let org = orgs[0]["name"].as_str().unwrap().to_string();
    let (status, body) = api
        .post(
            &format!("/api/v1/users/{}/grants", user["id"].as_str().unwrap()),
            json!({ "role": "admin", "org": org, "deny": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = tokio::task::block_in_place(|| {
        wait_for("the report.refused audit", Duration::from_secs(75), || {
            tokio::runtime::Handle::current().block_on(audited("report.refused"))
        })
    });
    assert_eq!(entry["actor"], "lead", "{entry}");
    assert!(entry["detail"].to_string().contains("lead"), "{entry}");
    let (_, read) = api.get(&path).await;
    assert!(
        read["last_error"].as_str().unwrap().contains("no longer"),
        "{read}"
    );
    assert_eq!(sink.mails().len(), 2, "nothing sent after the refusal");

    // Removed.
    let (status, body) = api.delete(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = api.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A raw message: `headers` then a body, CRLF line ends.
fn message(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = String::new();
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body.replace('\n', "\r\n"));
    out.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_email_opens_and_notes_incidents_and_refuses_hostile_mail() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let api = server.api();
    for bad in [
        json!({ "name": "support", "senders": [] }),
        json!({ "name": "support", "senders": ["client.example"] }),
        json!({ "name": "", "senders": ["@client.example"] }),
        json!({ "name": "support", "senders": ["@client.example"], "priority": "urgent" }),
    ] {
        let (status, body) = api.post("/api/v1/email-routes", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, route) = api
        .post(
            "/api/v1/email-routes",
            json!({ "name": "support", "senders": ["@Client.example", "boss@elsewhere.example"], "priority": "p2" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{route}");
    let key = route["secret"].as_str().unwrap().to_string();
    let route_id = route["id"].as_str().unwrap().to_string();
    assert_eq!(
        route["senders"],
        json!(["@client.example", "boss@elsewhere.example"])
    );
    let (_, read) = api.get(&format!("/api/v1/email-routes/{route_id}")).await;
    assert!(
        !read.to_string().contains(&key),
        "the key is shown once: {read}"
    );
    let url = format!("{}{}", server.url(), route["url"].as_str().unwrap());
    let http = api.http.clone();
    let post = |raw: Vec<u8>, key: Option<String>| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let mut request = http
                .post(&url)
                .header("content-type", "message/rfc822")
                .body(raw);
            if let Some(key) = key {
                request = request.header("x-steward-key", key);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let count = || async {
        let (_, list) = api.get("/api/v1/incidents").await;
        list.as_array().unwrap().len()
    };

    // 1. A customer's HTML mail with a script and an attachment opens an
    //    incident: text only, the attachment noted, not kept.
    let photo = base64::engine::general_purpose::STANDARD.encode(vec![0xAB; 10_000]);
    let first = message(
        &[
            ("From", "Anna <anna@client.example>"),
            ("To", "support@msp.example"),
            ("Subject", "Printer on floor 3 is down"),
            ("Message-ID", "<m1@client.example>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "multipart/mixed; boundary=\"b1\""),
        ],
        &format!(
            "--b1\nContent-Type: text/html; charset=utf-8\n\n<p>Nothing prints &amp; the tray blinks</p><script>alert('x')</script><img src=x onerror=alert(2)>\n--b1\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename=\"tray.jpg\"\nContent-Transfer-Encoding: base64\n\n{photo}\n--b1--\n"
        ),
    );
    let (status, opened) = post(first.clone(), Some(key.clone())).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["created"], true, "{opened}");
    let id = opened["incident_id"].as_str().unwrap().to_string();
    let (_, incident) = api.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(
        incident["title"], "Printer on floor 3 is down",
        "{incident}"
    );
    assert_eq!(incident["priority"], "p2", "{incident}");
    assert_eq!(incident["opened_by"], "admin", "{incident}");
    let note = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "note")
        .unwrap_or_else(|| panic!("no note: {incident}"))["body"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("Nothing prints & the tray blinks"), "{note}");
    assert!(note.contains("anna@client.example"), "{note}");
    assert!(note.contains("tray.jpg (10000 bytes)"), "{note}");
    for hostile in ["<script", "alert", "onerror", "<p>", &photo[..40]] {
        assert!(!note.contains(hostile), "{hostile} kept: {note}");
    }
    assert_eq!(count().await, 1);

    // 2. Hostile or wrong deliveries: a clear 4xx each, nothing created.
    let (status, body) = post(first.clone(), Some(key.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "replay: {body}");
    assert!(
        body["error"].as_str().unwrap().contains("replayed"),
        "{body}"
    );
    let fresh = |n: u32, from: &str| {
        message(
            &[
                ("From", from),
                ("Subject", "hello"),
                ("Message-ID", &format!("<x{n}@client.example>")),
            ],
            "text\n",
        )
    };
    let (status, body) = post(fresh(1, "anna@client.example"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no key: {body}");
    let (status, body) = post(fresh(2, "anna@client.example"), Some("wrong".into())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong key: {body}");
    let (status, body) = post(fresh(3, "mallory@evil.example"), Some(key.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "unknown sender: {body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("mallory@evil.example"),
        "{body}"
    );
    let (status, body) = post(fresh(4, "x@sub.client.example"), Some(key.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a subdomain: {body}");
    let huge = message(
        &[
            ("From", "anna@client.example"),
            ("Message-ID", "<big@client.example>"),
        ],
        &"x".repeat(300 * 1024),
    );
    let (status, body) = post(huge, Some(key.clone())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "oversized: {body}");
    let no_id = message(&[("From", "anna@client.example"), ("Subject", "s")], "b\n");
    let (status, body) = post(no_id, Some(key.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no Message-ID: {body}");
    for garbage in [
        Vec::new(),
        b"\x00\xff\xfe garbage with no header at all".to_vec(),
        message(
            &[
                ("From", "<<<@>>>"),
                ("Message-ID", "<g@x>"),
                ("Content-Type", "multipart/mixed; boundary=\"never-closed\""),
            ],
            "--never-closed\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!\n",
        ),
    ] {
        let (status, body) = post(garbage, Some(key.clone())).await;
        assert!(status.is_client_error(), "malformed: {status} {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    assert_eq!(count().await, 1);
    let (_, audit) = api.get("/api/v1/audit?action=inbound_email.refused").await;
    assert!(
        audit.to_string().contains("mallory@evil.example"),
        "the unknown sender is audited: {audit}"
    );

    // 3. A reply naming the incident adds a note to it; one naming an
    //    incident the organisation does not have is refused.
    let reply = message(
        &[
            ("From", "boss@elsewhere.example"),
            (
                "Subject",
                &format!("Re: [incident {id}] Printer on floor 3 is down"),
            ),
            ("Message-ID", "<m2@elsewhere.example>"),
            ("In-Reply-To", "<m1@client.example>"),
        ],
        "Still down after the restart.\n",
    );
    let (status, noted) = post(reply, Some(key.clone())).await;
    assert_eq!(status, StatusCode::OK, "{noted}");
    assert_eq!(
        (noted["created"].clone(), noted["incident_id"].clone()),
        (json!(false), json!(id))
    );
    let (_, incident) = api.get(&format!("/api/v1/incidents/{id}")).await;
    assert!(
        incident["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "note"
                && e["body"]["text"]
                    .as_str()
                    .unwrap()
                    .contains("Still down after the restart.")
                && e["body"]["via"]["from"] == "boss@elsewhere.example"),
        "{incident}"
    );
    let stray = message(
        &[
            ("From", "boss@elsewhere.example"),
            (
                "Subject",
                "Re: [incident 0190f3c2-7a1b-7c3d-8e4f-a1b2c3d4e5f6] other",
            ),
            ("Message-ID", "<m3@elsewhere.example>"),
        ],
        "?\n",
    );
    let (status, body) = post(stray, Some(key.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(count().await, 1);

    // 4. Deleted: deliveries find nothing.
    let (status, _) = api
        .delete(&format!("/api/v1/email-routes/{route_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(fresh(9, "anna@client.example"), Some(key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
