//! COSE_Sign1 (RFC 9052 §4.2) with Ed25519 (alg -19, RFC 9864), strictly profiled:
//! tagged, protected header exactly `{1: -19, 4: kid}`, unprotected header empty,
//! payload embedded, signature 64 bytes, canonical encoding. The signature input is the
//! RFC 9052 §4.4 Sig_structure built from the protected header bytes *as received*.

use ciborium::Value;
use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};

use crate::cbor;
use crate::error::DecodeError;
use crate::keys::{KeyId, PublicKey, SigningKey, SIGNATURE_LEN};

/// CBOR tag for COSE_Sign1 (RFC 9052 §2).
const COSE_SIGN1_TAG: u64 = 18;
/// `{1: -19, 4: h'..'}` up to the 8 kid bytes: map(2), 1, -19, 4, bstr(8).
const PROTECTED_PREFIX: [u8; 5] = [0xa2, 0x01, 0x32, 0x04, 0x48];

/// A decoded, not yet verified, COSE_Sign1.
pub(crate) struct Envelope {
    /// Who claims to have signed it.
    pub kid: KeyId,
    /// The embedded payload bytes (decoded separately by the caller).
    pub payload: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
    protected: Vec<u8>,
}

impl Envelope {
    /// Strictly decodes `bytes` (at most `max_len`).
    pub(crate) fn decode(bytes: &[u8], max_len: usize) -> Result<Self, DecodeError> {
        let value = cbor::decode_one(bytes, max_len)?;
        let Value::Tag(COSE_SIGN1_TAG, inner) = value else {
            return Err(DecodeError::NotCoseSign1);
        };
        let Value::Array(fields) = *inner else {
            return Err(DecodeError::NotCoseSign1);
        };
        let [protected, unprotected, payload, signature]: [Value; 4] =
            fields.try_into().map_err(|_| DecodeError::NotCoseSign1)?;
        let Value::Bytes(protected) = protected else {
            return Err(DecodeError::NotCoseSign1);
        };
        if protected.len() != PROTECTED_PREFIX.len() + 8 || protected[..5] != PROTECTED_PREFIX {
            return Err(DecodeError::BadProtectedHeader);
        }
        let mut kid = [0u8; 8];
        kid.copy_from_slice(&protected[5..]);
        match unprotected {
            Value::Map(m) if m.is_empty() => {}
            Value::Map(_) => return Err(DecodeError::UnprotectedHeader),
            _ => return Err(DecodeError::NotCoseSign1),
        }
        let payload = match payload {
            Value::Bytes(p) => p,
            Value::Null => return Err(DecodeError::DetachedPayload),
            _ => return Err(DecodeError::NotCoseSign1),
        };
        let Value::Bytes(signature) = signature else {
            return Err(DecodeError::NotCoseSign1);
        };
        let signature: [u8; SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| DecodeError::NotCoseSign1)?;
        let canonical = canonical_bytes(&protected, &payload, &signature);
        if canonical != bytes {
            return Err(DecodeError::NonCanonical);
        }
        Ok(Envelope {
            kid: KeyId(kid),
            payload,
            signature,
            protected,
        })
    }

    /// Checks the signature with `key` over the Sig_structure with `external_aad`.
    pub(crate) fn verify(&self, key: &PublicKey, external_aad: &[u8]) -> bool {
        key.verify_strict(
            &sig_structure(&self.protected, external_aad, &self.payload),
            &self.signature,
        )
    }
}

/// RFC 9052 §4.4: `["Signature1", body_protected, external_aad, payload]`, built from the
/// protected header bytes exactly as received.
fn sig_structure(protected: &[u8], external_aad: &[u8], payload: &[u8]) -> Vec<u8> {
    cbor::encode(&Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(external_aad.to_vec()),
        Value::Bytes(payload.to_vec()),
    ]))
}

fn canonical_bytes(protected: &[u8], payload: &[u8], signature: &[u8]) -> Vec<u8> {
    cbor::encode(&Value::Tag(
        COSE_SIGN1_TAG,
        Box::new(Value::Array(vec![
            Value::Bytes(protected.to_vec()),
            Value::Map(vec![]),
            Value::Bytes(payload.to_vec()),
            Value::Bytes(signature.to_vec()),
        ])),
    ))
}

/// The protected header bytes for `kid`: `{1: -19, 4: kid}`.
fn protected_for(kid: KeyId) -> Vec<u8> {
    let mut protected = PROTECTED_PREFIX.to_vec();
    protected.extend_from_slice(&kid.0);
    protected
}

/// What a signer outside this crate signs for `payload` under `kid` and `external_aad`: the
/// Sig_structure [`sign`] signs.
pub(crate) fn to_be_signed(kid: KeyId, payload: &[u8], external_aad: &[u8]) -> Vec<u8> {
    sig_structure(&protected_for(kid), external_aad, payload)
}

/// The canonical COSE_Sign1 of `payload` under `kid` with a signature made elsewhere over
/// [`to_be_signed`]; the caller checks the signature.
pub(crate) fn assemble(kid: KeyId, payload: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Vec<u8> {
    canonical_bytes(&protected_for(kid), payload, signature)
}

/// Signs `payload` with `key` into tagged COSE_Sign1 bytes, binding `external_aad`.
pub(crate) fn sign(key: &SigningKey, payload: Vec<u8>, external_aad: &[u8]) -> Vec<u8> {
    let kid = key.public_key().key_id();
    let protected = HeaderBuilder::new()
        .algorithm(coset::iana::Algorithm::Ed25519)
        .key_id(kid.0.to_vec())
        .build();
    let cose = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(external_aad, |tbs| key.sign(tbs).to_vec())
        .build();
    let mut protected_bytes = PROTECTED_PREFIX.to_vec();
    protected_bytes.extend_from_slice(&kid.0);
    let payload = cose.payload.clone().unwrap_or_default();
    let bytes = canonical_bytes(&protected_bytes, &payload, &cose.signature);
    debug_assert_eq!(
        cose.to_tagged_vec().ok().as_deref(),
        Some(bytes.as_slice()),
        "coset and the canonical encoder agree"
    );
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use coset::{CborSerializable, CoseSign1};

    #[test]
    fn sign_then_decode_verifies_with_the_same_aad_only() {
        let key = SigningKey::from_seed([3; 32]);
        let bytes = sign(&key, b"hello".to_vec(), b"aad");
        let env = Envelope::decode(&bytes, 1000).expect("decodes");
        assert_eq!(env.kid, key.public_key().key_id());
        assert_eq!(env.payload, b"hello");
        assert!(env.verify(&key.public_key(), b"aad"));
        assert!(!env.verify(&key.public_key(), b"other"));
        assert!(!env.verify(&SigningKey::from_seed([4; 32]).public_key(), b"aad"));
        // Our hand-built Sig_structure is the one coset builds.
        let cose = CoseSign1::from_slice(&bytes[1..]).expect("coset parses");
        assert_eq!(
            sig_structure(&env.protected, b"aad", &env.payload),
            cose.tbs_data(b"aad")
        );
    }

    #[test]
    fn rejects_untagged_and_header_variants() {
        let key = SigningKey::from_seed([3; 32]);
        let bytes = sign(&key, b"x".to_vec(), b"");
        assert_eq!(
            Envelope::decode(&bytes[1..], 1000).err(),
            Some(DecodeError::NotCoseSign1)
        );
        // alg -8 (EdDSA) instead of -19.
        let mut alg = bytes.clone();
        alg[5] = 0x27;
        assert_eq!(
            Envelope::decode(&alg, 1000).err(),
            Some(DecodeError::BadProtectedHeader)
        );
        // Non-empty unprotected header {4: h'31'}.
        let mut unprot = bytes[..16].to_vec();
        unprot.extend_from_slice(&[0xa1, 0x04, 0x41, 0x31]);
        unprot.extend_from_slice(&bytes[17..]);
        assert_eq!(
            Envelope::decode(&unprot, 1000).err(),
            Some(DecodeError::UnprotectedHeader)
        );
        // Long-form tag 0xd8 0x12 instead of 0xd2: same value, not canonical.
        let mut long_tag = vec![0xd8, 0x12];
        long_tag.extend_from_slice(&bytes[1..]);
        assert_eq!(
            Envelope::decode(&long_tag, 1000).err(),
            Some(DecodeError::NonCanonical)
        );
    }

    /// RFC 9052 / cose-wg example eddsa-sig-01 uses alg -8 and an unprotected kid: our strict
    /// profile must refuse it, while its signature is valid under plain COSE rules.
    #[test]
    fn cose_wg_eddsa_sig_01_is_refused_by_the_profile() {
        let text = include_str!("../../spec/vectors/external/cose-eddsa-sig-01.json");
        let json: serde_json::Value = serde_json::from_str(text).expect("json");
        let hex_cbor = json["output"]["cbor"].as_str().expect("cbor");
        let bytes = hex::decode(hex_cbor).expect("hex");
        assert_eq!(
            Envelope::decode(&bytes, 1000).err(),
            Some(DecodeError::BadProtectedHeader)
        );
        // The example itself is a correct Ed25519 COSE_Sign1: check its signature with coset + dalek.
        let cose = CoseSign1::from_slice(&bytes[1..]).expect("coset parses");
        let x: [u8; 32] = hex::decode(json["input"]["sign0"]["key"]["x_hex"].as_str().expect("x"))
            .expect("hex")
            .try_into()
            .expect("32");
        let key = PublicKey::from_bytes(&x).expect("key");
        let sig: [u8; 64] = cose.signature.clone().try_into().expect("64");
        assert!(key.verify_strict(&cose.tbs_data(b""), &sig));
        let tbs =
            hex::decode(json["intermediates"]["ToBeSign_hex"].as_str().expect("tbs")).expect("hex");
        assert_eq!(cose.tbs_data(b""), tbs);
    }
}
