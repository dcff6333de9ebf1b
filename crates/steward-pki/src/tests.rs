use super::*;

#[test]
fn signs_agent_csr_with_our_subject() {
    let ca = Authority::generate("test ca").unwrap();
    let (csr, _key) = agent_csr("claimed-name").unwrap();
    let pem = ca.sign_agent_csr(&csr, "device-123", 365).unwrap();
    let der = cert_der_from_pem(&pem).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(cert.subject().to_string(), "CN=device-123");
    assert_eq!(fingerprint(&der).len(), 64);
}

#[test]
fn refuses_garbage_csr() {
    let ca = Authority::generate("test ca").unwrap();
    assert!(matches!(
        ca.sign_agent_csr("nope", "d", 1),
        Err(PkiError::Csr(_))
    ));
}

#[test]
fn authority_round_trips_through_pem() {
    let ca = Authority::generate("test ca").unwrap();
    let again = Authority::load(&ca.cert_pem, &ca.key_pem()).unwrap();
    assert_eq!(again.fingerprint().unwrap(), ca.fingerprint().unwrap());
    let server = again
        .issue_server(&["localhost".into(), "127.0.0.1".into()])
        .unwrap();
    again.server_config(&server).unwrap();
    client_config(&ca.cert_pem, None).unwrap();
    assert!(format!("{server:?}").contains("<redacted>"));
}
