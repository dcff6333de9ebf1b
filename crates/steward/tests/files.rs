//! File transfers end to end (security review, issue #13): a download's
//! content reaches only callers who could have made the transfer and is
//! not kept afterwards; uploads up to the documented 2 MiB work, larger
//! ones get a clear refusal; the audit trail keeps a hash and size of an
//! upload, not its content, and no webhook URL.

mod common;

use base64::Engine;
use common::api::Api;
use common::*;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "a-long-test-password";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// Opens a job's event socket with a bearer token.
async fn job_events(server: &Server, job: &str, token: &str) -> Ws {
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let config = Arc::new(steward_pki::client_config(&ca, None).unwrap());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(
            rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let mut request = format!("wss://127.0.0.1:{}/api/v1/jobs/{job}/events", server.port)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::client_async(request, tls)
        .await
        .unwrap()
        .0
}

async fn poll<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server, an online agent, and tokens for a technician and for a user
/// of a custom role that runs scripts but may not open shells.
async fn setup(root: &std::path::Path) -> (Server, Agent, Api, Api, String) {
    steward_pki::install_default_provider();
    let server = tokio::task::block_in_place(|| Server::launch_sqlite(root));
    let base = Api::new(
        &server.url(),
        &std::fs::read_to_string(server.ca()).unwrap(),
    );
    let owner = base.with_token(&server.token);
    let (status, role) = owner
        .post(
            "/api/v1/roles",
            json!({ "name": "runner", "permissions": ["devices.view", "scripts.run"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    for (name, role) in [
        ("tech", "technician"),
        ("runner", role["id"].as_str().unwrap()),
    ] {
        let (status, body) = owner
            .post(
                "/api/v1/users",
                json!({ "username": name, "password": PASSWORD, "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let tech = base.with_token(&base.token_for("tech", PASSWORD).await);
    let runner_token = base.token_for("runner", PASSWORD).await;
    let runner = base.with_token(&runner_token);
    let agent = tokio::task::block_in_place(|| server.online_agent(root, "box", "5s"));
    (server, agent, tech, runner, runner_token)
}

fn signal(agent: &Agent, signal: &str) {
    let pid = agent.proc.as_ref().unwrap().0.id().to_string();
    let done = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(done.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_reaches_only_who_may_transfer_files_and_is_not_kept() {
    let root = tempfile::tempdir().unwrap();
    let (server, agent, tech, runner, runner_token) = setup(root.path()).await;
    let device = agent.device_id.clone();
    let content = format!(
        "root:$6$not-a-real-hash-{}:19000:0:99999:7:::\n",
        uuid::Uuid::now_v7().simple()
    );
    let encoded = B64.encode(&content);
    let secret = root.path().join("shadow");
    std::fs::write(&secret, &content).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let leaks = |what: &str, body: &Value| {
        let text = body.to_string();
        assert!(
            !text.contains(&encoded) && !text.contains("not-a-real-hash"),
            "{what} shows the downloaded content: {text}"
        );
    };

    // The agent is held still while the runner's watchers attach, so they
    // see the whole job go by.
    signal(&agent, "-STOP");
    let download = {
        let (tech, device, path) = (tech.clone(), device.clone(), secret.display().to_string());
        tokio::spawn(async move {
            tech.post(
                &format!("/api/v1/devices/{device}/files/get"),
                json!({ "path": path }),
            )
            .await
        })
    };
    let job = poll("the download job", Duration::from_secs(5), async || {
        let (_, jobs) = runner.get("/api/v1/jobs").await;
        jobs.as_array()?
            .iter()
            .find(|j| {
                j["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("download "))
            })
            .map(|j| j["id"].as_str().unwrap().to_string())
    })
    .await;
    let mut events = job_events(&server, &job, &runner_token).await;
    signal(&agent, "-CONT");

    let (status, answer) = download.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["content_b64"], json!(encoded), "the caller got it");

    // The runner's event stream showed the job's progress, not the file.
    let mut seen = Vec::new();
    let finished = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = events.next().await {
            if let Message::Text(text) = message {
                seen.push(text.to_string());
                if text.contains("succeeded") {
                    return;
                }
            }
        }
    })
    .await;
    assert!(finished.is_ok(), "no final status on the socket: {seen:?}");
    leaks("the job's event stream", &json!(seen));

    // Nor do the job and run views show it to the runner...
    let (status, shown) = runner.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["runs"][0]["status"], "succeeded", "{shown}");
    leaks("GET /api/v1/jobs/{id}", &shown);
    leaks("GET /api/v1/jobs", &runner.get("/api/v1/jobs").await.1);
    let (status, runs) = runner.get(&format!("/api/v1/devices/{device}/runs")).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    leaks("GET /api/v1/devices/{id}/runs", &runs);

    // ...and once the technician has it, the store keeps only a note.
    let (_, shown) = tech.get(&format!("/api/v1/jobs/{job}")).await;
    leaks("the technician's GET /api/v1/jobs/{id}", &shown);
    let sha = steward_sign::sha256_hex(content.as_bytes());
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        server.dir.join("steward.db").display()
    ))
    .await
    .unwrap();
    let (stdout,): (String,) = sqlx::query_as("SELECT stdout FROM job_runs WHERE job_id = ?")
        .bind(&job)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(!stdout.contains(&encoded), "the stored run keeps the file");
    assert!(
        stdout.contains(&sha) && stdout.contains(&content.len().to_string()),
        "the note names size and hash: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_up_to_2_mib_work_and_the_audit_trail_keeps_no_content_or_webhook() {
    let root = tempfile::tempdir().unwrap();
    let (server, agent, tech, _, _) = setup(root.path()).await;
    let device = agent.device_id.clone();

    // 1.5 MiB goes through the CLI, and the replaced 0600 file stays 0600.
    let bytes: Vec<u8> = (0..3 * 512 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let local = root.path().join("upload.bin");
    std::fs::write(&local, &bytes).unwrap();
    let remote = root.path().join("remote.bin");
    std::fs::write(&remote, "old").unwrap();
    std::fs::set_permissions(&remote, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cli = |args: &[&str]| {
        std::process::Command::new(STEWARD)
            .args(args)
            .env("STEWARD_URL", server.url())
            .env("STEWARD_TOKEN", &server.token)
            .env("STEWARD_CA", server.ca())
            .output()
            .unwrap()
    };
    let out = tokio::task::block_in_place(|| {
        cli(&[
            "file",
            "put",
            &device,
            local.to_str().unwrap(),
            remote.to_str().unwrap(),
        ])
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&remote).unwrap() == bytes, "content differs");
    assert_eq!(
        std::fs::metadata(&remote).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // 3 MiB: the CLI says why before sending anything.
    let big = root.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 3 * 1024 * 1024]).unwrap();
    let out = tokio::task::block_in_place(|| {
        cli(&[
            "file",
            "put",
            &device,
            big.to_str().unwrap(),
            root.path().join("big-copy").to_str().unwrap(),
        ])
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is 3.0 MiB; the limit is 2 MiB"),
        "{stderr}"
    );
    // The API: one byte over the limit is a 413 naming the limit.
    let (status, body) = tech
        .post(
            &format!("/api/v1/devices/{device}/files/put"),
            json!({ "path": "/tmp/x", "content_b64": B64.encode(vec![0u8; 2 * 1024 * 1024 + 1]) }),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("the limit is 2 MiB")),
        "{body}"
    );

    // Channels whose URLs are credentials.
    let owner = tech.with_token(&server.token);
    for channel in [
        json!({ "name": "chat", "kind": "slack", "url": "https://hooks.slack.com/services/T0001/B0001/slacksecretpart" }),
        json!({ "name": "office", "kind": "teams", "url": "https://example.webhook.office.com/webhookb2/teamssecretpart" }),
        json!({ "name": "hook", "kind": "webhook", "url": "https://hooks.example.com/in?token=querysecretpart", "secret": "signingsecretpart-0123456789" }),
    ] {
        let (status, body) = owner.post("/api/v1/channels", channel).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let (_, audit) = owner.get("/api/v1/audit?limit=5000").await;
    let entries = audit.as_array().unwrap();
    let upload = entries
        .iter()
        .find(|e| {
            e["action"] == "POST /api/v1/devices/{id}/files/put"
                && e["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("\"status\":200")
        })
        .unwrap_or_else(|| panic!("no upload audited: {audit}"));
    let detail = upload["detail"].as_str().unwrap();
    assert!(
        detail.len() < 4096,
        "an audit entry of {} bytes",
        detail.len()
    );
    assert!(
        detail.contains(&steward_sign::sha256_hex(&bytes))
            && detail.contains(&bytes.len().to_string()),
        "the entry names the upload's size and hash: {detail}"
    );
    let text = audit.to_string();
    assert!(
        !text.contains(&B64.encode(&bytes)[..64]),
        "upload content in the audit log"
    );
    for secret in [
        "slacksecretpart",
        "teamssecretpart",
        "querysecretpart",
        "signingsecretpart",
    ] {
        assert!(!text.contains(secret), "{secret} reached the audit log");
    }
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "POST /api/v1/channels")
            .count(),
        3
    );
}
