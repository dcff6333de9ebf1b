//! Sign-in hardening end to end (issue #13): parallel guesses counted before
//! hashing and bounded in memory, a stranger's burst locking the account for
//! seconds rather than an hour, two factors required of existing sessions and
//! tokens, TOTP codes good once, and refusals that reveal nothing.

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PASSWORD: &str = "a-long-test-password";

/// (resident, peak resident) of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sends `count` sign-ins at once; returns each (status, Retry-After).
async fn burst(base: &Api, count: usize, username: impl Fn(usize) -> String) -> Vec<(u16, u64)> {
    let requests = (0..count).map(|i| {
        let request = base
            .http
            .post(format!("{}/api/v1/login", base.base))
            .json(&json!({ "username": username(i), "password": "wrong password" }));
        async move {
            let response = request.send().await.unwrap();
            let retry = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            (response.status().as_u16(), retry)
        }
    });
    futures_util::future::join_all(requests).await
}

fn count(results: &[(u16, u64)], status: u16) -> usize {
    results.iter().filter(|(s, _)| *s == status).count()
}

async fn create_user(owner: &Api, name: &str, extra: Value) {
    let mut body = json!({ "username": name, "password": PASSWORD, "role": "technician" });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, answer) = owner.post("/api/v1/users", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

fn session(base: &Api, cookie: Option<String>) -> Api {
    Api {
        cookie,
        origin: Some(base.base.clone()),
        ..base.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_are_counted_before_hashing_and_bounded() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let base = Api::new(&server.url(), &ca);
    let owner = base.with_token(&server.token);
    create_user(&owner, "victim", json!({})).await;
    let pid = server.proc.as_ref().unwrap().0.id();
    let (rss_before, _) = memory_kib(pid);

    // 40 wrong passwords at once: five are checked, the others refused
    // before any hashing, with a short Retry-After.
    let results = burst(&base, 40, |_| "victim".into()).await;
    let (rss_after, peak) = memory_kib(pid);
    eprintln!(
        "40 parallel wrong logins: {results:?}; server RSS {rss_before} KiB before, \
         {rss_after} KiB after, peak {peak} KiB"
    );
    assert_eq!(count(&results, 401), 5, "{results:?}");
    assert_eq!(count(&results, 429), 35, "{results:?}");
    assert!(
        results.iter().all(|(s, retry)| *s != 429 || *retry <= 2),
        "{results:?}"
    );

    // The burst costs the stranger seconds, not the owner an hour: the lock
    // ends within the first back-off (the tests all run from 127.0.0.1, so
    // this is also the owner's own address; other addresses are spared by
    // the per-pair counters, see throttle.rs).
    let started = Instant::now();
    let signed_in = loop {
        let (status, _, body) = base.login("victim", PASSWORD, None).await;
        if status == StatusCode::OK {
            break started.elapsed();
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still locked out after 10 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("the owner signed in {signed_in:?} after the burst");

    // Every refused attempt was left unchecked: the audit has five failures.
    let audit = owner.get("/api/v1/audit?limit=5000").await.1;
    let failures = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login.failed" && e["actor"] == "victim")
        .count();
    assert_eq!(failures, 5);

    // Many names at once from one address: the address counter stops them,
    // and at most a few passwords are hashed at a time, so memory stays
    // bounded (each check needs 19 MiB).
    let results = burst(&base, 40, |i| format!("nobody-{i}")).await;
    let (rss_end, peak_end) = memory_kib(pid);
    eprintln!(
        "40 parallel unknown users: {results:?}; server RSS {rss_end} KiB after, peak {peak_end} KiB"
    );
    assert!(count(&results, 401) <= 15, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(s, retry)| [401, 429, 503].contains(s) && (*s == 401 || *retry >= 1)),
        "{results:?}"
    );
    if peak_end > 0 {
        let grown = peak_end.saturating_sub(rss_before) / 1024;
        assert!(grown < 100, "peak resident memory grew by {grown} MiB");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_totp_reaches_existing_sessions_and_tokens() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let base = Api::new(&server.url(), &ca);
    let owner = base.with_token(&server.token);
    let (status, org) = owner.post("/api/v1/orgs", json!({ "name": "late" })).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    let org = org["id"].as_str().unwrap().to_string();
    create_user(&owner, "late-user", json!({ "org": "late" })).await;

    // Signed in and holding a token before the organisation requires TOTP.
    let (_, cookie, _) = base.login("late-user", PASSWORD, None).await;
    let browser = session(&base, cookie);
    let token = base.with_token(&base.token_for("late-user", PASSWORD).await);
    assert_eq!(browser.get("/api/v1/devices").await.0, StatusCode::OK);
    assert_eq!(token.get("/api/v1/devices").await.0, StatusCode::OK);

    let (status, body) = owner
        .post(
            &format!("/api/v1/orgs/{org}/require-totp"),
            json!({ "require": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The session may now only set up TOTP or sign out...
    let (status, body) = browser.get("/api/v1/devices").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["mfa_setup_required"], true, "{body}");
    let (status, me) = browser.get("/api/v1/whoami").await;
    assert_eq!((status, &me["mfa_done"]), (StatusCode::OK, &json!(false)));
    // ...and the token is refused everywhere, with a sentence saying why
    // (it cannot be used to set up the second factor either).
    for (path, post) in [
        ("/api/v1/devices", false),
        ("/api/v1/whoami", false),
        ("/api/v1/me/totp/setup", true),
    ] {
        let (status, body) = if post {
            token.post(path, json!({})).await
        } else {
            token.get(path).await
        };
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("two-factor sign-in is now required"),
            "{path}: {body}"
        );
    }

    // Once the user turns TOTP on in that session, both work again.
    let (status, setup) = browser.post("/api/v1/me/totp/setup", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let code = totp.generate_current().to_string();
    let (status, body) = browser
        .post("/api/v1/me/totp/enable", json!({ "code": code }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(browser.get("/api/v1/devices").await.0, StatusCode::OK);
    assert_eq!(token.get("/api/v1/devices").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_codes_are_good_once_and_refusals_reveal_nothing() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let base = Api::new(&server.url(), &ca);
    let owner = base.with_token(&server.token);
    create_user(&owner, "mfa", json!({})).await;
    create_user(&owner, "plain", json!({})).await;
    let (_, cookie, _) = base.login("mfa", PASSWORD, None).await;
    let browser = session(&base, cookie);
    let (_, setup) = browser.post("/api/v1/me/totp/setup", json!({})).await;
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let current = totp.generate_current().to_string();
    let (status, body) = browser
        .post("/api/v1/me/totp/enable", json!({ "code": current }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The code that turned TOTP on does not sign in again (replay)...
    let (status, _, replayed) = base.login("mfa", PASSWORD, Some(&current)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{replayed}");
    // ...the next step's code does (one step of skew), once.
    let next = totp.generate(totp.next_step_current()).to_string();
    let (status, _, body) = base.login("mfa", PASSWORD, Some(&next)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, again) = base.login("mfa", PASSWORD, Some(&next)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{again}");
    // An earlier step's code is refused too, though still within the skew.
    let (status, _, _) = base.login("mfa", PASSWORD, Some(&current)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // With two factors on, the right password without a code is answered
    // exactly like a wrong password, an unknown user or a wrong code; the
    // answer still tells the console to offer the code field.
    let refusals = [
        base.login("mfa", PASSWORD, None).await,
        base.login("mfa", "wrong password", None).await,
        base.login("mfa", PASSWORD, Some("000000")).await,
        base.login("nobody", PASSWORD, None).await,
        base.login("plain", "wrong password", None).await,
    ];
    for (status, cookie, body) in &refusals {
        assert_eq!(*status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(cookie.is_none());
        assert_eq!(body, &refusals[0].2);
        assert_eq!(body["mfa_required"], true, "{body}");
    }
    // An account without TOTP signs in with an empty code field.
    let (status, _, body) = base.login("plain", PASSWORD, Some("")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(replayed, again);
    assert_eq!(again, refusals[0].2);
}

/// A password changed by its owner (the current one first) ends their
/// other sessions and keeps this one; a reset by an administrator ends
/// them all; the old password signs in no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_changed_and_reset() {
    let root = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::launch(root.path()));
    let ca = std::fs::read_to_string(server.ca()).unwrap();
    let base = Api::new(&server.url(), &ca);
    let admin = base.with_token(&server.token);
    let (status, body) = admin
        .post(
            "/api/v1/users",
            json!({ "username": "mia", "password": PASSWORD, "role": "technician" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mia = body["id"].as_str().unwrap().to_string();
    let (_, laptop, _) = base.login("mia", PASSWORD, None).await;
    let (_, phone, _) = base.login("mia", PASSWORD, None).await;
    let (laptop, phone) = (session(&base, laptop), session(&base, phone));
    let signed_in = |api: Api| async move { api.get("/api/v1/whoami").await.0 == StatusCode::OK };

    let new = "a brand new passphrase";
    let (status, body) = laptop
        .post(
            "/api/v1/me/password",
            json!({ "current_password": "not it at all", "new_password": new }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = laptop
        .post(
            "/api/v1/me/password",
            json!({ "current_password": PASSWORD, "new_password": "short" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("12 characters"),
        "{body}"
    );
    let (status, body) = laptop
        .post(
            "/api/v1/me/password",
            json!({ "current_password": PASSWORD, "new_password": new }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        signed_in(laptop.clone()).await,
        "the session that changed it stays"
    );
    assert!(!signed_in(phone.clone()).await, "the other session ended");
    assert_eq!(
        base.login("mia", PASSWORD, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(base.login("mia", new, None).await.0, StatusCode::OK);

    // Reset by an administrator: every session of hers ends.
    let reset = "reset by the helpdesk";
    let (status, _, body) = admin
        .patch(
            &format!("/api/v1/users/{mia}"),
            None,
            json!({ "password": reset }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!signed_in(laptop).await, "a reset ends every session");
    assert_eq!(
        base.login("mia", new, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(base.login("mia", reset, None).await.0, StatusCode::OK);
    // Nobody resets their own this way, and a technician cannot reset an admin's.
    let (_, me) = admin.get("/api/v1/whoami").await;
    let (status, _, body) = admin
        .patch(
            &format!(
                "/api/v1/users/{}",
                me["user_id"].as_str().unwrap_or_default()
            ),
            None,
            json!({ "password": "my own new password" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A refused change changes nothing: a short password with a disable.
    let (_, before) = admin.get(&format!("/api/v1/users/{mia}")).await;
    let (status, _, body) = admin
        .patch(
            &format!("/api/v1/users/{mia}"),
            None,
            json!({ "disabled": true, "password": "short" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, after) = admin.get(&format!("/api/v1/users/{mia}")).await;
    assert_eq!(
        (&after["disabled"], &after["version"]),
        (&before["disabled"], &before["version"]),
        "{after}"
    );
    assert_eq!(base.login("mia", reset, None).await.0, StatusCode::OK);
    // A technician cannot reset an administrator's password.
    let (status, body) = admin
        .post(
            "/api/v1/users",
            json!({ "username": "boss", "password": PASSWORD, "role": "admin" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let boss = body["id"].as_str().unwrap().to_string();
    let tech = base.with_token(&base.token_for("mia", reset).await);
    let (status, _, body) = tech
        .patch(
            &format!("/api/v1/users/{boss}"),
            None,
            json!({ "password": "taken over by mia" }),
        )
        .await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "{status} {body}"
    );
    assert_eq!(base.login("boss", PASSWORD, None).await.0, StatusCode::OK);
    // The audit entry says a password changed, never what it is.
    let (_, audit) = admin.get("/api/v1/audit?limit=100").await;
    let details: Vec<Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| serde_json::from_str(e["detail"].as_str()?).ok())
        .collect();
    assert!(
        details.iter().any(|d| d["after"]["sign_in"] == "changed"),
        "{audit}"
    );
    assert!(
        details.iter().any(|d| d["after"]["sign_in"] == "reset"),
        "{audit}"
    );
    let text = audit.to_string();
    assert!(
        !text.contains(new) && !text.contains(reset),
        "a password in the audit log"
    );
}
