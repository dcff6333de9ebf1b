//! Agent releases: signed offline with the release key, verified by the
//! agent against the key its installation pinned (the package's
//! `/etc/steward-agent/release-keys`, or `--release-key`), never a key the
//! server hands out. A compromised server can offer a release but cannot
//! make one an agent accepts.
//!
//! The signature covers [`message`]: the target triple, version, SHA-256
//! and size of the binary, one per line, so a release for another platform
//! or a binary swapped under a genuine signature is refused.

use crate::{KeyError, OrderSigner, key_id, sha256_hex};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, UnparsedPublicKey};

/// What a release's signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub target: String,
    pub version: String,
    /// SHA-256 of the binary, lowercase hex.
    pub sha256: String,
    pub size: u64,
}

impl Release {
    /// The description of `binary` as a release of `version` for `target`.
    pub fn of(target: &str, version: &str, binary: &[u8]) -> Self {
        Self {
            target: target.into(),
            version: version.into(),
            sha256: sha256_hex(binary),
            size: binary.len() as u64,
        }
    }
}

/// The exact bytes the release key signs.
pub fn message(release: &Release) -> Vec<u8> {
    format!(
        "steward-agent-release/1\ntarget {}\nversion {}\nsha256 {}\nsize {}\n",
        release.target, release.version, release.sha256, release.size
    )
    .into_bytes()
}

/// A release signature and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub key_id: String,
    /// Ed25519 signature, base64.
    pub signature: String,
}

pub fn sign(key: &dyn OrderSigner, release: &Release) -> Signature {
    Signature {
        key_id: key.key_id().to_string(),
        signature: STANDARD.encode(key.sign_bytes(&message(release))),
    }
}

/// Why a release was not installed. Nothing of a refused release runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseRefusal {
    #[error("no release key is pinned on this agent: updates are off")]
    NoPinnedKey,
    #[error("the release is signed by a key this agent does not trust (key id {0:?})")]
    UnknownKey(String),
    #[error("the release signature does not verify: altered or forged")]
    BadSignature,
    #[error("the release is for {0}, this agent runs on {1}")]
    WrongTarget(String, String),
    #[error("the binary is {got} bytes, the release says {want}")]
    WrongSize { got: u64, want: u64 },
    #[error("the binary's SHA-256 is {got}, the release says {want}")]
    WrongChecksum { got: String, want: String },
}

/// The release keys an agent trusts.
#[derive(Debug, Clone, Default)]
pub struct ReleaseVerifier {
    keys: Vec<(String, Vec<u8>)>,
}

impl ReleaseVerifier {
    /// Keys as base64 Ed25519 public keys (32 bytes each).
    pub fn new(public_keys_b64: &[String]) -> Result<Self, KeyError> {
        let keys = public_keys_b64
            .iter()
            .map(|text| {
                let bytes = STANDARD
                    .decode(text.trim())
                    .ok()
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| KeyError::BadPublicKey(text.clone()))?;
                Ok((key_id(&bytes), bytes))
            })
            .collect::<Result<_, KeyError>>()?;
        Ok(Self { keys })
    }

    /// Reads a key file's text: one base64 key per line, `#` comments and
    /// blank lines ignored.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let keys: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        Self::new(&keys)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks that `signature` by a pinned key covers `release` and that
    /// the release is for `own_target` (before anything is fetched).
    pub fn verify_signature(
        &self,
        release: &Release,
        signature: &Signature,
        own_target: &str,
    ) -> Result<(), ReleaseRefusal> {
        if self.keys.is_empty() {
            return Err(ReleaseRefusal::NoPinnedKey);
        }
        let key = self
            .keys
            .iter()
            .find(|(id, _)| *id == signature.key_id)
            .ok_or_else(|| {
                ReleaseRefusal::UnknownKey(signature.key_id.chars().take(40).collect())
            })?;
        let bytes = STANDARD
            .decode(&signature.signature)
            .map_err(|_| ReleaseRefusal::BadSignature)?;
        UnparsedPublicKey::new(&ED25519, &key.1)
            .verify(&message(release), &bytes)
            .map_err(|_| ReleaseRefusal::BadSignature)?;
        if release.target != own_target {
            return Err(ReleaseRefusal::WrongTarget(
                release.target.clone(),
                own_target.into(),
            ));
        }
        Ok(())
    }

    /// [`Self::verify_signature`], then that `binary` is what the release
    /// describes (size, SHA-256).
    pub fn verify(
        &self,
        release: &Release,
        signature: &Signature,
        own_target: &str,
        binary: &[u8],
    ) -> Result<(), ReleaseRefusal> {
        self.verify_signature(release, signature, own_target)?;
        if binary.len() as u64 != release.size {
            return Err(ReleaseRefusal::WrongSize {
                got: binary.len() as u64,
                want: release.size,
            });
        }
        let got = sha256_hex(binary);
        if got != release.sha256 {
            return Err(ReleaseRefusal::WrongChecksum {
                got,
                want: release.sha256.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalKey;

    const TARGET: &str = "x86_64-unknown-linux-gnu";

    fn setup() -> (LocalKey, ReleaseVerifier, Vec<u8>, Release) {
        let key = LocalKey::generate().unwrap();
        let verifier =
            ReleaseVerifier::parse(&format!("# release key\n\n{}\n", key.public_key_b64()))
                .unwrap();
        let binary = b"\x7fELF new agent".to_vec();
        let release = Release::of(TARGET, "0.2.0", &binary);
        (key, verifier, binary, release)
    }

    #[test]
    fn a_genuine_release_verifies() {
        let (key, verifier, binary, release) = setup();
        let signature = sign(&key, &release);
        assert_eq!(
            verifier.verify(&release, &signature, TARGET, &binary),
            Ok(())
        );
    }

    #[test]
    fn every_kind_of_bad_release_is_refused_for_its_own_reason() {
        let (key, verifier, binary, release) = setup();
        let signature = sign(&key, &release);
        // Another key (say, the server's own) signed it.
        let other = LocalKey::generate().unwrap();
        assert!(matches!(
            verifier.verify(&release, &sign(&other, &release), TARGET, &binary),
            Err(ReleaseRefusal::UnknownKey(_))
        ));
        // Another key signed it under the pinned key's id.
        let forged = Signature {
            key_id: signature.key_id.clone(),
            signature: sign(&other, &release).signature,
        };
        assert_eq!(
            verifier.verify(&release, &forged, TARGET, &binary),
            Err(ReleaseRefusal::BadSignature)
        );
        let garbage = Signature {
            key_id: signature.key_id.clone(),
            signature: "not base64!".into(),
        };
        assert_eq!(
            verifier.verify(&release, &garbage, TARGET, &binary),
            Err(ReleaseRefusal::BadSignature)
        );
        // The description changed after signing: version, checksum.
        let mut renamed = release.clone();
        renamed.version = "9.9.9".into();
        assert_eq!(
            verifier.verify(&renamed, &signature, TARGET, &binary),
            Err(ReleaseRefusal::BadSignature)
        );
        // A genuine release for another platform.
        let arm = Release::of("aarch64-unknown-linux-gnu", "0.2.0", &binary);
        assert!(matches!(
            verifier.verify(&arm, &sign(&key, &arm), TARGET, &binary),
            Err(ReleaseRefusal::WrongTarget(..))
        ));
        // The binary is not the one signed: same size, other bytes.
        let mut tampered = binary.clone();
        tampered[0] ^= 1;
        assert!(matches!(
            verifier.verify(&release, &signature, TARGET, &tampered),
            Err(ReleaseRefusal::WrongChecksum { .. })
        ));
        assert!(matches!(
            verifier.verify(&release, &signature, TARGET, &binary[1..]),
            Err(ReleaseRefusal::WrongSize { .. })
        ));
        // An agent with no pinned key takes no update at all.
        assert_eq!(
            ReleaseVerifier::default().verify(&release, &signature, TARGET, &binary),
            Err(ReleaseRefusal::NoPinnedKey)
        );
    }

    #[test]
    fn key_files_with_junk_are_refused() {
        assert!(ReleaseVerifier::parse("not-a-key\n").is_err());
        assert!(
            ReleaseVerifier::parse("# only comments\n")
                .unwrap()
                .is_empty()
        );
    }
}
