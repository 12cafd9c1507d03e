//! Ed25519 key newtypes: signing keys (PKCS#8 PEM), public keys (unpadded base64url) and key ids.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};

use crate::codes;
use crate::codes::ErrorCode;

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a PKCS#8 PEM Ed25519 private key.
    #[error("not a PKCS#8 PEM Ed25519 private key")]
    BadPem,
    /// The text is not 43 characters of unpadded base64url.
    #[error("public key is not 43 characters of unpadded base64url")]
    BadEncoding,
    /// The 32 bytes are not a usable Ed25519 public key: not on the curve, of small order,
    /// or a non-canonical encoding (y ≥ p, RFC 8032 §5.1.3).
    #[error("not a valid, canonical, non-weak Ed25519 public key")]
    BadPoint,
    /// The key could not be written as PKCS#8 (the DER encoder refused it).
    #[error("the key cannot be written as PKCS#8")]
    Encoding,
}

impl ErrorCode for KeyError {
    fn code(&self) -> &'static str {
        codes::DECODE_BAD_PUBLIC_KEY
    }
}

/// An Ed25519 signing key. Its `Debug` never shows the secret.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Builds a key from a 32-byte seed (the caller supplies randomness: core does no I/O).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a PKCS#8 PEM private key (as written by [`SigningKey::to_pkcs8_pem`] or `openssl genpkey -algorithm ed25519`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(SigningKey)
            .map_err(|_| KeyError::BadPem)
    }

    /// Writes the key as PKCS#8 **v1** PEM (RFC 8410 §7: the seed alone, as `openssl genpkey
    /// -algorithm ed25519` writes it; OpenSSL 3.0 refuses the v2 form with the public key
    /// attached). Encoded by the RustCrypto `pkcs8` types. The caller stores it with mode 0600.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let pair = KeypairBytes {
            secret_key: self.0.to_bytes(),
            public_key: None,
        };
        pair.to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|_| KeyError::Encoding)
    }

    /// The 32-byte seed, for a recovery sheet ([`crate::recovery::RecoverySheetCode`]), the
    /// one place a private key is written as anything but a 0600 PEM file.
    pub fn to_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::new(self.0.verifying_key())
    }

    /// Signs `message` (RFC 8032 Ed25519, deterministic).
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public_key().key_id())
    }
}

/// An Ed25519 public key that is a valid curve point and not of small order, with its key id
/// computed once (the verifier names keys by id on every report).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
    id: KeyId,
}

impl PublicKey {
    fn new(key: ed25519_dalek::VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        PublicKey { key, id: KeyId(id) }
    }

    /// Parses 32 bytes, rejecting points off the curve, small-order (weak) keys, and
    /// non-canonical encodings: RFC 8032 §5.1.3 says decoding fails when y ≥ p, but the
    /// decompression underneath reduces y mod p, so a key must re-encode to the same bytes.
    /// Every key therefore has exactly one encoding, and one key id.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::BadPoint)?;
        if key.is_weak() || key.to_edwards().compress().as_bytes() != bytes {
            return Err(KeyError::BadPoint);
        }
        Ok(PublicKey::new(key))
    }

    /// Parses the unpadded base64url form shown to people.
    pub fn from_base64url(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.len() != 43 {
            return Err(KeyError::BadEncoding);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| KeyError::BadEncoding)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadEncoding)?;
        // Reject non-canonical base64 (trailing bits set) so each key has one spelling.
        if URL_SAFE_NO_PAD.encode(bytes) != text {
            return Err(KeyError::BadEncoding);
        }
        Self::from_bytes(&bytes)
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Unpadded base64url, 43 characters.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.as_bytes())
    }

    /// The key id: the first 8 bytes of SHA-256 of the public key.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// Strict Ed25519 verification (`verify_strict`: rejects small-order R and non-canonical S).
    /// Public so that outside vectors (`tests/ed25519_external.rs`: CCTV, Wycheproof) run
    /// through exactly the check records, head statements and owner proofs use.
    pub fn verify_strict(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify_strict(message, &signature).is_ok()
    }

    /// Non-strict verification, used only by tests that pin the difference.
    #[cfg(test)]
    pub(crate) fn verify_lax(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        use ed25519_dalek::Verifier as _;
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify(message, &signature).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64url())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64url())
    }
}

/// First 8 bytes of SHA-256 of a public key; names the signer in a record's protected header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::ids::hex_lower(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// SHA-256 of a recovery public key's 32 bytes: what an ownership commits to, so the key that
/// can later recover it (spec §3.1) stays offline and unrevealed until it is used. Its first 8
/// bytes are that key's [`KeyId`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecoveryDigest(pub [u8; 32]);

impl RecoveryDigest {
    /// The commitment to `key`.
    pub fn of(key: &PublicKey) -> Self {
        RecoveryDigest(Sha256::digest(key.key.as_bytes()).into())
    }

    /// The key id of the committed key (the digest's first 8 bytes).
    pub fn key_id(&self) -> KeyId {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[..8]);
        KeyId(id)
    }

    /// Whether `key` is the committed key.
    pub fn commits_to(&self, key: &PublicKey) -> bool {
        RecoveryDigest::of(key) == *self
    }
}

impl fmt::Display for RecoveryDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::ids::hex_lower(&self.0))
    }
}

impl fmt::Debug for RecoveryDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryDigest({self})")
    }
}

/// A new owner: the key that will own the item and, optionally, the commitment to the
/// recovery key that can move the ownership on if that key is lost (spec §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NewOwner {
    /// The owner key.
    pub key: PublicKey,
    /// The commitment to the owner's recovery key, if the owner made one.
    pub recovery: Option<RecoveryDigest>,
}

impl From<PublicKey> for NewOwner {
    /// An owner without a recovery commitment.
    fn from(key: PublicKey) -> Self {
        NewOwner {
            key,
            recovery: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_debug_hides_secret() {
        let key = SigningKey::from_seed([7; 32]);
        let pem = key.to_pkcs8_pem().unwrap();
        // PKCS#8 v1 (RFC 8410 §7): version 0, the Ed25519 OID, the seed; no public key.
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"),
            "{pem}"
        );
        let back = SigningKey::from_pkcs8_pem(&pem).expect("own PEM parses");
        assert_eq!(back.public_key(), key.public_key());
        let debug = format!("{key:?}");
        assert!(!debug.contains(&hex::encode([7u8; 32])));
        assert!(debug.starts_with("SigningKey("));
        assert_eq!(
            SigningKey::from_pkcs8_pem("garbage").unwrap_err(),
            KeyError::BadPem
        );
    }

    #[test]
    fn public_key_base64url_round_trip_and_rejections() {
        let public = SigningKey::from_seed([1; 32]).public_key();
        let text = public.to_base64url();
        assert_eq!(text.len(), 43);
        assert_eq!(PublicKey::from_base64url(&text), Ok(public));
        assert_eq!(
            PublicKey::from_base64url("short"),
            Err(KeyError::BadEncoding)
        );
        // The identity point (small order) is rejected as weak.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::BadPoint));
    }

    #[test]
    fn key_id_is_sha256_prefix() {
        let public = SigningKey::from_seed([2; 32]).public_key();
        let digest = Sha256::digest(public.to_bytes());
        assert_eq!(public.key_id().0, digest[..8]);
    }
}

/// Pins `verify_strict` semantics (DESIGN §3): the edge cases that lax Ed25519 accepts.
#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod strictness_tests {
    use super::*;

    fn identity_point() -> [u8; 32] {
        let mut p = [0u8; 32];
        p[0] = 1;
        p
    }

    /// With the small-order identity key, the signature (R = identity, S = 0) satisfies the lax
    /// cofactorless equation for every message; strict verification refuses it, and our
    /// `PublicKey` refuses the key outright.
    #[test]
    fn small_order_key_and_r_are_refused() {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&identity_point());
        let weak =
            ed25519_dalek::VerifyingKey::from_bytes(&identity_point()).expect("decompresses");
        let signature = ed25519_dalek::Signature::from_bytes(&sig);
        use ed25519_dalek::Verifier as _;
        assert!(
            weak.verify(b"any message", &signature).is_ok(),
            "lax accepts"
        );
        assert!(
            weak.verify_strict(b"any message", &signature).is_err(),
            "strict refuses"
        );
        assert_eq!(
            PublicKey::from_bytes(&identity_point()),
            Err(KeyError::BadPoint)
        );
    }

    /// A signature whose R is a small-order point is refused for a normal key.
    #[test]
    fn small_order_r_is_refused_for_a_normal_key() {
        let key = SigningKey::from_seed([5; 32]).public_key();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&identity_point());
        assert!(!key.verify_strict(b"m", &sig));
        assert!(!key.verify_lax(b"m", &sig));
    }

    /// S + L (the group order) is the same scalar mod L but a non-canonical encoding.
    #[test]
    fn non_canonical_s_is_refused() {
        let signer = SigningKey::from_seed([6; 32]);
        let mut sig = signer.sign(b"m");
        assert!(signer.public_key().verify_strict(b"m", &sig));
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = sig[32 + i] as u16 + L[i] as u16 + carry;
            sig[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        assert!(!signer.public_key().verify_strict(b"m", &sig));
        assert!(!signer.public_key().verify_lax(b"m", &sig));
    }

    /// A key off the curve does not decompress.
    #[test]
    fn key_id_is_the_first_8_bytes_of_sha256_of_the_key() {
        let key = SigningKey::from_seed([4; 32]).public_key();
        let digest = Sha256::digest(key.to_bytes());
        assert_eq!(key.key_id().0, digest[..8]);
        let parsed = PublicKey::from_bytes(&key.to_bytes()).unwrap();
        assert_eq!(parsed.key_id(), key.key_id());
    }

    /// y ≥ p: the encoding of y + p for a valid y. Decompression reduces it mod p, so without
    /// the canonical check it would parse as the key of y, with a different key id.
    #[test]
    fn non_canonical_y_is_refused() {
        // p = 2^255 - 19; y = 2^255 - 18 (≥ p) encodes y' = 1 after reduction... which is the
        // identity (weak). Find non-canonical encodings of points that are not weak: y' in
        // 2..19 gives y = p + y' < 2^255 when y' < 19.
        let mut refused = 0;
        for small in 2u8..19 {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + small; // p + small, little-endian: 0xed is p's low byte
            bytes[31] = 0x7f;
            let lax = ed25519_dalek::VerifyingKey::from_bytes(&bytes);
            if let Ok(lax) = lax {
                if !lax.is_weak() {
                    assert_ne!(lax.to_edwards().compress().as_bytes(), &bytes);
                    assert_eq!(PublicKey::from_bytes(&bytes), Err(KeyError::BadPoint));
                    refused += 1;
                }
            }
        }
        assert!(refused > 0, "some y ≥ p decompresses to a non-weak point");
    }

    #[test]
    fn off_curve_key_is_refused() {
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert_eq!(PublicKey::from_bytes(&bytes), Err(KeyError::BadPoint));
    }
}
