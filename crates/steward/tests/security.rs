//! Authentication and trust behaviour, end to end against a real server:
//! brute force, TOTP, CSRF, setup replay, revocation at once (also on open
//! connections), cross-origin WebSockets, and a tamper-evident audit trail.

mod common;

use common::api::Api;
use common::*;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "a-long-test-password";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// Opens the console's event socket with the given headers.
async fn events_socket(server: &Server, headers: &[(&'static str, String)]) -> Result<Ws, String> {
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
    let mut request = format!("wss://127.0.0.1:{}/api/v1/events", server.port)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::client_async(request, tls)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

/// Reads until the socket closes; returns the close reason.
async fn closed(ws: &mut Ws, within: Duration) -> String {
    tokio::time::timeout(within, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| f.reason.to_string()).unwrap_or_default();
                }
                Some(Ok(_)) => continue,
                other => return format!("{other:?}"),
            }
        }
    })
    .await
    .expect("socket stayed open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_trust() {
    steward_pki::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let mut server = tokio::task::block_in_place(|| Server::launch_sqlite(root.path()));
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let base = Api::new(&server.url(), &ca);
    let owner = base.with_token(&server.token);
    for (name, role) in [
        ("victim", "read_only"),
        ("mfa", "read_only"),
        ("csrf", "technician"),
    ] {
        let (status, body) = owner
            .post(
                "/api/v1/users",
                json!({ "username": name, "password": PASSWORD, "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // Brute force: five failures lock the account, even for the right password.
    for _ in 0..5 {
        assert_eq!(
            base.login("victim", "wrong", None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, _, body) = base.login("victim", PASSWORD, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");

    // Session cookies: HttpOnly, Secure, SameSite=Strict, expiring, and a
    // new one at every sign-in.
    let raw = |cookie: &reqwest::Response| {
        cookie
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    let sign_in = || {
        base.http
            .post(format!("{}/api/v1/login", server.url()))
            .json(&json!({ "username": "csrf", "password": PASSWORD }))
            .send()
    };
    let (first, second) = (
        raw(&sign_in().await.unwrap()),
        raw(&sign_in().await.unwrap()),
    );
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Max-Age="] {
        assert!(first.contains(attribute), "{first}");
    }
    assert_ne!(
        first.split(';').next(),
        second.split(';').next(),
        "session id reused across sign-ins"
    );

    // TOTP: set up, then required at every sign-in; recovery codes work once.
    let (_, cookie, _) = base.login("mfa", PASSWORD, None).await;
    let session = Api {
        cookie,
        origin: Some(server.url()),
        ..base.clone()
    };
    assert_eq!(session.get("/api/v1/whoami").await.1["totp_enabled"], false);
    let (status, setup) = session.post("/api/v1/me/totp/setup", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let qr = setup["qr"].as_str().unwrap_or_default();
    assert!(qr.starts_with("data:image/svg+xml;base64,"), "{setup}");
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let (status, enabled) = session
        .post(
            "/api/v1/me/totp/enable",
            json!({ "code": totp.generate_current().to_string() }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    let recovery = enabled["recovery_codes"][0].as_str().unwrap().to_string();
    assert_eq!(session.get("/api/v1/whoami").await.1["totp_enabled"], true);
    let (status, _, body) = base.login("mfa", PASSWORD, None).await;
    assert_eq!(
        (status, body["mfa_required"].as_bool()),
        (StatusCode::UNAUTHORIZED, Some(true))
    );
    assert_eq!(
        base.login("mfa", PASSWORD, Some("123456x")).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The code that enabled TOTP is spent; the next step's is within the
    // skew (tests/signin.rs checks codes are good once).
    let next = totp.generate(totp.next_step_current()).to_string();
    assert_eq!(
        base.login("mfa", PASSWORD, Some(&next)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        base.login("mfa", PASSWORD, Some(&recovery)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        base.login("mfa", PASSWORD, Some(&recovery)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // An organisation that requires TOTP: its users may only set it up.
    owner
        .post("/api/v1/orgs", json!({ "name": "strict" }))
        .await;
    owner.post("/api/v1/users", json!({ "username": "strict-user", "password": PASSWORD, "org": "strict", "role": "technician" })).await;
    let orgs = owner.get("/api/v1/orgs").await.1;
    let strict = orgs
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "strict")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        owner
            .post(
                &format!("/api/v1/orgs/{strict}/require-totp"),
                json!({ "require": true })
            )
            .await
            .0,
        StatusCode::OK
    );
    let (status, cookie, body) = base.login("strict-user", PASSWORD, None).await;
    assert_eq!(
        (status, body["mfa_setup_required"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let pending = Api {
        cookie,
        origin: Some(server.url()),
        ..base.clone()
    };
    let (status, body) = pending.get("/api/v1/devices").await;
    assert!(
        status == StatusCode::FORBIDDEN && body["error"].as_str().unwrap().contains("two-factor"),
        "{status} {body}"
    );
    assert_eq!(pending.get("/api/v1/whoami").await.0, StatusCode::OK);

    // CSRF: a cookie-authenticated write must come from our own origin.
    let (_, cookie, _) = base.login("csrf", PASSWORD, None).await;
    let no_origin = Api {
        cookie: cookie.clone(),
        origin: None,
        ..base.clone()
    };
    let foreign = Api {
        cookie: cookie.clone(),
        origin: Some("https://evil.example".into()),
        ..base.clone()
    };
    let own = Api {
        cookie,
        origin: Some(server.url()),
        ..base.clone()
    };
    assert_eq!(
        no_origin.post("/api/v1/enroll-tokens", json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        foreign.post("/api/v1/enroll-tokens", json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        own.post("/api/v1/enroll-tokens", json!({})).await.0,
        StatusCode::OK
    );
    // A plain HTML form cannot send JSON: refused even from our origin.
    let form = base
        .http
        .post(format!("{}/api/v1/enroll-tokens", server.url()))
        .header("cookie", own.cookie.clone().unwrap())
        .header("origin", server.url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("site=x")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A browser WebSocket from a foreign origin is refused; our own works.
    let token = base.token_for("csrf", PASSWORD).await;
    let bearer = ("authorization", format!("Bearer {token}"));
    let refused = events_socket(
        &server,
        &[bearer.clone(), ("origin", "https://evil.example".into())],
    )
    .await;
    assert!(refused.unwrap_err().contains("403"));
    let mut ws = events_socket(&server, &[bearer.clone(), ("origin", server.url())])
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.to_text().unwrap().contains("fleet"));

    // A revoked token is refused at once, and its open socket closes.
    let api = base.with_token(&token);
    let tokens = api.get("/api/v1/tokens").await.1;
    let id = tokens.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.post(&format!("/api/v1/tokens/{id}/revoke"), json!({}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(api.get("/api/v1/whoami").await.0, StatusCode::UNAUTHORIZED);
    assert!(
        closed(&mut ws, Duration::from_secs(10))
            .await
            .contains("revoked")
    );

    // A revoked device is disconnected at once and refused afterwards.
    let enroll = owner
        .post("/api/v1/enroll-tokens", json!({ "uses": 1 }))
        .await
        .1;
    let dir = root.path().join("agent");
    let device =
        steward_agent::enroll::enroll(&dir, enroll["token"].as_str().unwrap(), Some("d".into()))
            .await
            .unwrap();
    let state = steward_agent::state::AgentState::load(&dir).unwrap();
    let identity =
        Arc::new(steward_pki::client_config(&state.ca_pem, Some(&state.identity)).unwrap());
    let mut agent = steward_agent::transport::open(
        &server.url(),
        steward_proto::AGENT_WS_PATH,
        identity.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        owner
            .post(&format!("/api/v1/devices/{device}/revoke"), json!({}))
            .await
            .0,
        StatusCode::OK
    );
    let reason = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match agent.next().await {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| f.reason.to_string()).unwrap_or_default();
                }
                Some(Ok(_)) => continue,
                other => return format!("{other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert!(reason.contains("revoked"), "{reason}");
    let again =
        steward_agent::transport::open(&server.url(), steward_proto::AGENT_WS_PATH, identity).await;
    assert!(format!("{:#}", again.err().unwrap()).contains("403"));

    // First-run setup cannot be replayed: no setup route, and a restart with
    // another STEWARD_ADMIN_PASSWORD changes nothing.
    assert_eq!(
        base.post("/api/v1/setup", json!({ "password": "x" }))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    server.proc.as_mut().unwrap().kill9();
    server.proc = Some(tokio::task::block_in_place(|| {
        Server::start_with_password(&server.dir, server.port, "attacker-chosen-password")
    }));
    assert_eq!(
        base.login("admin", "attacker-chosen-password", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        base.login("admin", ADMIN_PASSWORD, None).await.0,
        StatusCode::OK
    );

    // Per-address throttling: many failures from one address, whatever the
    // account names, lock that address out.
    for i in 0..20 {
        base.login(&format!("nobody-{i}"), "wrong", None).await;
    }
    assert_eq!(
        base.login("admin", ADMIN_PASSWORD, None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    // The audit trail recorded all of this and verifies...
    let audit = owner.get("/api/v1/audit?limit=5000").await.1;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "login.failed",
        "login",
        "device.enrolled",
        "POST /api/v1/devices/{id}/revoke",
        "POST /api/v1/users",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} not audited: {actions:?}"
        );
    }
    assert!(
        !audit.to_string().contains(PASSWORD),
        "a password reached the audit log"
    );
    let verify = |dir: &std::path::Path| {
        std::process::Command::new(STEWARD)
            .args(["audit", "verify", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap()
    };
    let ok = verify(&server.dir);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // ...and detects an edited row, then a deleted one.
    let db = server.dir.join("steward.db");
    let tamper = |sql: &'static str| {
        let db = db.clone();
        async move {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    };
    tamper("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'someone-else' WHERE id = 3;").await;
    let edited = verify(&server.dir);
    assert!(
        !edited.status.success()
            && String::from_utf8_lossy(&edited.stderr).contains("entry 3 was altered"),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    tamper("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 3;").await;
    let deleted = verify(&server.dir);
    assert!(
        !deleted.status.success()
            && String::from_utf8_lossy(&deleted.stderr).contains("entry 3 is missing"),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
}
