//! Job orders are signed by the server (or, later, an operator's key held
//! elsewhere) and verified by the agent before anything runs.
//!
//! The signature covers the exact bytes of the order's JSON text
//! ([`SignedOrder::payload`]); the agent verifies those bytes and only then
//! parses them. A verified order must also be addressed to this device, be
//! within its validity window, not have been seen before, and (for scripts)
//! carry a body matching its hash. Each failure is a distinct [`Refusal`].
//!
//! Pure: no I/O; the caller supplies the time and its memory of seen runs.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use steward_proto::{Action, MAX_ORDER_LIFETIME_MS, Order, SignedOrder};

pub mod release;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a signing key")]
    Generate,
    #[error("not an Ed25519 PKCS#8 key")]
    BadKey,
    #[error("not a base64 Ed25519 public key: {0:.60}")]
    BadPublicKey(String),
}

/// Why an order was refused. Nothing of a refused order runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the order is not signed by a trusted key (key id {0:?})")]
    UnknownKey(String),
    #[error("the order's signature does not verify: it was altered or forged")]
    BadSignature,
    #[error("the signed order does not parse: {0}")]
    Malformed(String),
    #[error("the order is addressed to device {0}, not this one")]
    Misaddressed(String),
    #[error("the order expired at {0} (Unix ms)")]
    Expired(i64),
    #[error("the order claims a validity longer than allowed")]
    TooLong,
    #[error("the order {0} was already received: replay refused")]
    Replayed(String),
    #[error("the script body does not match its signed hash")]
    BodyMismatch,
}

/// The short id of a public key: base64url of the first 12 bytes of its
/// SHA-256.
pub fn key_id(public_key: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(public_key)[..12])
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whatever signs orders: the server's own key today, an operator's signer
/// (hardware key, separate signing service) later. See docs/job-signing.md.
pub trait OrderSigner: Send + Sync {
    fn key_id(&self) -> &str;
    fn public_key_b64(&self) -> &str;
    fn sign_bytes(&self, message: &[u8]) -> Vec<u8>;

    fn sign(&self, order: &Order) -> SignedOrder {
        let payload = steward_proto::encode(order);
        let signature = STANDARD.encode(self.sign_bytes(payload.as_bytes()));
        SignedOrder {
            payload,
            signature,
            key_id: self.key_id().to_string(),
        }
    }
}

/// An Ed25519 key held in memory (loaded from a PKCS#8 file).
pub struct LocalKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
    id: String,
    public_b64: String,
}

impl LocalKey {
    /// A new key; store [`LocalKey::pkcs8`] to keep it.
    pub fn generate() -> Result<Self, KeyError> {
        let document =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
        Self::from_pkcs8(document.as_ref())
    }

    pub fn from_pkcs8(bytes: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(bytes).map_err(|_| KeyError::BadKey)?;
        let public = pair.public_key().as_ref().to_vec();
        Ok(Self {
            id: key_id(&public),
            public_b64: STANDARD.encode(&public),
            pkcs8: bytes.to_vec(),
            pair,
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
}

impl OrderSigner for LocalKey {
    fn key_id(&self) -> &str {
        &self.id
    }
    fn public_key_b64(&self) -> &str {
        &self.public_b64
    }
    fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// The keys an agent trusts, pinned at enrollment.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    keys: Vec<(String, Vec<u8>)>,
}

impl Verifier {
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

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks everything about `signed` for device `device_id` at `now_ms`;
    /// `seen` tells whether a run id was received before. Returns the order
    /// only when every check passes.
    pub fn verify(
        &self,
        signed: &SignedOrder,
        device_id: &str,
        now_ms: i64,
        seen: impl Fn(&str) -> bool,
    ) -> Result<Order, Refusal> {
        let key = self
            .keys
            .iter()
            .find(|(id, _)| *id == signed.key_id)
            .ok_or_else(|| Refusal::UnknownKey(signed.key_id.chars().take(40).collect()))?;
        let signature = STANDARD
            .decode(&signed.signature)
            .map_err(|_| Refusal::BadSignature)?;
        UnparsedPublicKey::new(&ED25519, &key.1)
            .verify(signed.payload.as_bytes(), &signature)
            .map_err(|_| Refusal::BadSignature)?;
        let order: Order =
            serde_json::from_str(&signed.payload).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if order.device_id != device_id {
            return Err(Refusal::Misaddressed(order.device_id));
        }
        if order.expires_at - order.issued_at > MAX_ORDER_LIFETIME_MS {
            return Err(Refusal::TooLong);
        }
        if now_ms > order.expires_at {
            return Err(Refusal::Expired(order.expires_at));
        }
        if seen(&order.run_id) {
            return Err(Refusal::Replayed(order.run_id));
        }
        if let Action::Script { body, sha256, .. } = &order.action
            && sha256_hex(body.as_bytes()) != *sha256
        {
            return Err(Refusal::BodyMismatch);
        }
        Ok(order)
    }
}

#[cfg(test)]
mod tests;
