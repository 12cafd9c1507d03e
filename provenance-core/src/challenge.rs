//! Owner challenge (spec §8): a buyer sends a nonce, the owner signs it for this item, the
//! buyer's verifier checks the answer against the current owner key. The signed message
//! starts with a domain string, while every record's signature input starts with the CBOR
//! array head 0x84 of a Sig_structure, so an answer can never pass as a record or vice versa.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::ProofError;
use crate::ids::ItemId;
use crate::keys::{PublicKey, SigningKey, SIGNATURE_LEN};
use crate::limits::MAX_CHALLENGE_BYTES;

/// Domain-separation prefix of the signed message.
pub const PROOF_DOMAIN: &[u8] = b"provenance/v1 owner-proof\0";

/// `domain || item id (16) || challenge length (1 byte) || challenge`.
fn message(item: &ItemId, challenge: &[u8]) -> Result<Vec<u8>, ProofError> {
    if challenge.is_empty() || challenge.len() > MAX_CHALLENGE_BYTES {
        return Err(ProofError::Malformed);
    }
    let length = u8::try_from(challenge.len()).map_err(|_| ProofError::Malformed)?;
    let mut msg = Vec::with_capacity(PROOF_DOMAIN.len() + 17 + challenge.len());
    msg.extend_from_slice(PROOF_DOMAIN);
    msg.extend_from_slice(&item.0);
    msg.push(length);
    msg.extend_from_slice(challenge);
    Ok(msg)
}

/// The owner's answer: unpadded base64url of an Ed25519 signature (86 characters).
pub fn prove(owner: &SigningKey, item: &ItemId, challenge: &[u8]) -> Result<String, ProofError> {
    Ok(URL_SAFE_NO_PAD.encode(owner.sign(&message(item, challenge)?)))
}

/// Checks an answer against the owner key, item and challenge (strict verification).
pub fn check(
    answer: &str,
    owner: &PublicKey,
    item: &ItemId,
    challenge: &[u8],
) -> Result<(), ProofError> {
    let answer = answer.trim();
    if answer.len() != 86 {
        return Err(ProofError::Malformed);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(answer)
        .map_err(|_| ProofError::Malformed)?;
    let signature: [u8; SIGNATURE_LEN] = raw.try_into().map_err(|_| ProofError::Malformed)?;
    if owner.verify_strict(&message(item, challenge)?, &signature) {
        Ok(())
    } else {
        Err(ProofError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_owner_passes_everything_else_fails() {
        let owner = SigningKey::from_seed([1; 32]);
        let other = SigningKey::from_seed([2; 32]);
        let item = ItemId([5; 16]);
        let answer = prove(&owner, &item, b"nonce-1").expect("proves");
        assert_eq!(answer.len(), 86);
        assert_eq!(
            check(&answer, &owner.public_key(), &item, b"nonce-1"),
            Ok(())
        );
        assert_eq!(
            check(&answer, &other.public_key(), &item, b"nonce-1"),
            Err(ProofError::Invalid)
        );
        assert_eq!(
            check(&answer, &owner.public_key(), &ItemId([6; 16]), b"nonce-1"),
            Err(ProofError::Invalid)
        );
        assert_eq!(
            check(&answer, &owner.public_key(), &item, b"nonce-2"),
            Err(ProofError::Invalid)
        );
        assert_eq!(
            check("short", &owner.public_key(), &item, b"nonce-1"),
            Err(ProofError::Malformed)
        );
        assert_eq!(prove(&owner, &item, b""), Err(ProofError::Malformed));
    }
}
