use super::*;
use steward_proto::Interpreter;

const DEVICE: &str = "0190aaaa-0000-7000-8000-000000000001";
const NOW: i64 = 1_800_000_000_000;

fn order(run: &str) -> Order {
    let body = "echo hi".to_string();
    Order {
        run_id: run.into(),
        job_id: "0190aaaa-0000-7000-8000-0000000000aa".into(),
        device_id: DEVICE.into(),
        issued_at: NOW - 1000,
        expires_at: NOW + 60_000,
        action: Action::Script {
            name: "hello".into(),
            interpreter: Interpreter::Sh,
            sha256: sha256_hex(body.as_bytes()),
            body,
            params: Default::default(),
            timeout_secs: 10,
            run_as: None,
        },
    }
}

/// Verifies `signed` as device DEVICE at NOW with run "seen-run" already
/// received, and compares the outcome with `expect` ("ok" or the refusal's
/// variant name).
fn check(verifier: &Verifier, signed: &SignedOrder, expect: &str) {
    let got = match verifier.verify(signed, DEVICE, NOW, |run| run == "seen-run") {
        Ok(_) => "ok".to_string(),
        Err(refusal) => format!("{refusal:?}")
            .split('(')
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    assert_eq!(got, expect, "payload: {}", signed.payload);
}

#[test]
fn refuses_every_bad_order_and_accepts_a_good_one() {
    let key = LocalKey::generate().unwrap();
    let other = LocalKey::generate().unwrap();
    let verifier = Verifier::new(&[key.public_key_b64().to_string()]).unwrap();
    let good = key.sign(&order("run-1"));
    check(&verifier, &good, "ok");

    // Tampered: the script body changed after signing.
    let mut tampered = good.clone();
    tampered.payload = tampered.payload.replace("echo hi", "rm -rf /");
    check(&verifier, &tampered, "BadSignature");
    // Unsigned.
    let mut unsigned = good.clone();
    unsigned.signature = String::new();
    check(&verifier, &unsigned, "BadSignature");
    // Signed by a key the agent does not trust, under its own id...
    check(&verifier, &other.sign(&order("run-2")), "UnknownKey");
    // ...or claiming the trusted key's id.
    let mut forged = other.sign(&order("run-2"));
    forged.key_id = key.key_id().to_string();
    check(&verifier, &forged, "BadSignature");
    // Expired.
    let mut old = order("run-3");
    old.expires_at = NOW - 1;
    check(&verifier, &key.sign(&old), "Expired");
    // Replayed.
    check(&verifier, &key.sign(&order("seen-run")), "Replayed");
    // Addressed to another device.
    let mut elsewhere = order("run-4");
    elsewhere.device_id = "0190aaaa-0000-7000-8000-000000000002".into();
    check(&verifier, &key.sign(&elsewhere), "Misaddressed");
    // Body and hash disagree (signed that way by a buggy or hostile signer).
    let mut mismatch = order("run-5");
    if let Action::Script { body, .. } = &mut mismatch.action {
        *body = "echo other".into();
    }
    check(&verifier, &key.sign(&mismatch), "BodyMismatch");
    // Valid for a year: refused (bounds replay memory).
    let mut long = order("run-6");
    long.expires_at = NOW + 365 * 24 * 3600 * 1000;
    check(&verifier, &key.sign(&long), "TooLong");
    // Signed garbage.
    let garbage = SignedOrder {
        payload: "{\"not\":\"an order\"}".into(),
        signature: STANDARD.encode(key.sign_bytes(b"{\"not\":\"an order\"}")),
        key_id: key.key_id().into(),
    };
    check(&verifier, &garbage, "Malformed");
}

#[test]
fn an_agent_without_keys_refuses_everything() {
    let key = LocalKey::generate().unwrap();
    check(
        &Verifier::default(),
        &key.sign(&order("run-1")),
        "UnknownKey",
    );
}

#[test]
fn keys_survive_a_round_trip_through_pkcs8() {
    let key = LocalKey::generate().unwrap();
    let again = LocalKey::from_pkcs8(key.pkcs8()).unwrap();
    assert_eq!(key.public_key_b64(), again.public_key_b64());
    assert!(LocalKey::from_pkcs8(b"junk").is_err());
    assert!(Verifier::new(&["bm90IGEga2V5".into()]).is_err());
}
