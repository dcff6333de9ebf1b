//! Steward's private certificate authority and the rustls configurations
//! built on it (ring provider only).
//!
//! - The server creates one CA on first start, a server certificate signed
//!   by it, and signs each agent's CSR at enrollment: agent private keys never
//!   leave the endpoint.
//! - A device is identified by the SHA-256 fingerprint of its certificate;
//!   revocation is a store lookup on that fingerprint, checked on every
//!   connection.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("invalid PEM: {0}")]
    Pem(String),
    #[error("invalid certificate signing request: {0}")]
    Csr(String),
}

/// The ring crypto provider: the only one Steward uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide default provider (idempotent), for
/// libraries that build their own rustls configs.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Lowercase hex SHA-256 of DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// First certificate in a PEM text, as DER.
pub fn cert_der_from_pem(pem: &str) -> Result<CertificateDer<'static>, PkiError> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::Pem(e.to_string()))
}

fn key_from_pem(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::Pem(e.to_string()))
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct CertifiedKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// The CA: signs the server certificate and agent certificates.
pub struct Authority {
    pub cert_pem: String,
    key: KeyPair,
}

impl Authority {
    /// Creates a new CA valid for 20 years.
    pub fn generate(common_name: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(365 * 20);
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key,
        })
    }

    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        // Validate the certificate parses before accepting it.
        cert_der_from_pem(cert_pem)?;
        Ok(Self {
            cert_pem: cert_pem.to_string(),
            key: KeyPair::from_pem(key_pem)?,
        })
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// SHA-256 of the CA certificate's DER: what enrollment tokens pin.
    pub fn fingerprint(&self) -> Result<String, PkiError> {
        Ok(fingerprint(&cert_der_from_pem(&self.cert_pem)?))
    }

    fn issuer(&self) -> Result<Issuer<'_, &KeyPair>, PkiError> {
        Ok(Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)?)
    }

    /// Issues a server certificate for the given DNS names and IP addresses.
    pub fn issue_server(&self, names: &[String]) -> Result<CertifiedKey, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        for n in names {
            params.subject_alt_names.push(match n.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(n.clone().try_into()?),
            });
        }
        params.distinguished_name = name("steward server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(825);
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs an agent's CSR. Only the CSR's public key is used: the subject,
    /// names and usages are set here (client authentication only).
    pub fn sign_agent_csr(
        &self,
        csr_pem: &str,
        device_id: &str,
        valid_days: i64,
    ) -> Result<String, PkiError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::Csr(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(device_id);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
        params.not_after = OffsetDateTime::now_utc() + Duration::days(valid_days);
        let mut serial = [0u8; 16];
        serial.copy_from_slice(&Sha256::digest(device_id.as_bytes())[..16]);
        serial[0] &= 0x7f;
        params.serial_number = Some(serial.to_vec().into());
        Ok(params.signed_by(&csr.public_key, &self.issuer()?)?.pem())
    }

    /// The rustls server config: our server certificate; client certificates
    /// signed by this CA are verified when offered, and optional (the CLI and
    /// browsers connect without one).
    pub fn server_config(&self, server: &CertifiedKey) -> Result<rustls::ServerConfig, PkiError> {
        let mut roots = RootCertStore::empty();
        roots.add(cert_der_from_pem(&self.cert_pem)?)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()?;
        // The CA travels in the chain so a new agent can find the CA its
        // enrollment token pins (see `PinnedCaVerifier`).
        let chain = vec![
            cert_der_from_pem(&server.cert_pem)?,
            cert_der_from_pem(&self.cert_pem)?,
        ];
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key_from_pem(&server.key_pem)?)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Parses a CSR and verifies its self-signature, without signing anything:
/// cheap enough to run before an enrollment token is spent.
pub fn check_csr(csr_pem: &str) -> Result<(), PkiError> {
    CertificateSigningRequestParams::from_pem(csr_pem)
        .map(|_| ())
        .map_err(|e| PkiError::Csr(e.to_string()))
}

/// A certificate's expiry (Unix seconds).
pub fn not_after(cert_pem: &str) -> Result<i64, PkiError> {
    not_after_der(&cert_der_from_pem(cert_pem)?)
}

/// A DER certificate's expiry (Unix seconds).
pub fn not_after_der(der: &[u8]) -> Result<i64, PkiError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::Pem(e.to_string()))?;
    Ok(cert.validity().not_after.timestamp())
}

/// A new agent key and a CSR for it.
pub fn agent_csr(device_name: &str) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(device_name);
    let csr = params.serialize_request(&key)?;
    Ok((csr.pem()?, key.serialize_pem()))
}

/// A rustls client config that trusts only `ca_pem` and optionally presents
/// a client certificate.
pub fn client_config(
    ca_pem: &str,
    identity: Option<&CertifiedKey>,
) -> Result<rustls::ClientConfig, PkiError> {
    let mut roots = RootCertStore::empty();
    roots.add(cert_der_from_pem(ca_pem)?)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    Ok(match identity {
        Some(id) => builder.with_client_auth_cert(
            vec![cert_der_from_pem(&id.cert_pem)?],
            key_from_pem(&id.key_pem)?,
        )?,
        None => builder.with_no_client_auth(),
    })
}

/// A client config for enrollment: trusts the server only if it presents, in
/// its chain, a CA whose SHA-256 is `ca_sha256`, and its certificate verifies
/// against that CA. The verifier keeps the CA it found.
pub fn pinned_ca_client_config(
    ca_sha256: &str,
) -> Result<(rustls::ClientConfig, Arc<PinnedCaVerifier>), PkiError> {
    let verifier = Arc::new(PinnedCaVerifier {
        ca_sha256: ca_sha256.to_ascii_lowercase(),
        found: std::sync::Mutex::new(None),
        provider: provider(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    Ok((config, verifier))
}

#[derive(Debug)]
pub struct PinnedCaVerifier {
    ca_sha256: String,
    found: std::sync::Mutex<Option<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl PinnedCaVerifier {
    /// The pinned CA as PEM, once a handshake verified against it.
    pub fn ca_pem(&self) -> Option<String> {
        let der = self.found.lock().ok()?.clone()?;
        Some(pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())))
    }
}

impl rustls::client::danger::ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|c| fingerprint(c) == self.ca_sha256)
            .ok_or_else(|| {
                rustls::Error::General("the server did not present the CA this token pins".into())
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            self.provider.clone(),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        let verified =
            inner.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)?;
        if let Ok(mut found) = self.found.lock() {
            *found = Some(ca.clone().into_owned());
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

#[cfg(test)]
mod tests;
