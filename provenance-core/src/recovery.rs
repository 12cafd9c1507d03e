//! The texts of owner-key recovery (spec §3.1, §7.6): the buyer's **receive code** (the owner
//! key and its recovery commitment, which a seller's transfer names) and the **recovery-sheet
//! code** (the recovery key itself, printed on paper and kept offline).
//!
//! Both are QR-alphanumeric text: a prefix, then base45 of the content followed by a 4-byte
//! check (the first bytes of SHA-256 over a domain label and the content), so a mistyped or
//! misread code is refused instead of naming someone else's key.

use sha2::{Digest, Sha256};

use crate::base45;
use crate::cbor::{self, IntMap};
use crate::codes::{self, ErrorCode};
use crate::error::DecodeError;
use crate::keys::{NewOwner, PublicKey, RecoveryDigest, SigningKey};

/// Prefix of a receive code.
pub const RECEIVE_CODE_PREFIX: &str = "PVK1:";
/// Prefix of a recovery-sheet code.
pub const RECOVERY_SHEET_PREFIX: &str = "PVR1:";
/// The longest receive or recovery-sheet code accepted (characters), far above what either
/// holds (a receive code with a commitment is 118 characters).
pub const MAX_CODE_CHARS: usize = 256;
/// Bytes of the check that ends both codes.
const CHECK_LEN: usize = 4;
const RECEIVE_DOMAIN: &[u8] = b"provenance/v1 receive-code";
const SHEET_DOMAIN: &[u8] = b"provenance/v1 recovery-sheet";

/// Why a receive or recovery-sheet code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// Longer than [`MAX_CODE_CHARS`].
    #[error("the code is {0} characters long, over the limit of {MAX_CODE_CHARS}")]
    TooLong(usize),
    /// Not the expected prefix.
    #[error("the code does not start with {0}")]
    BadPrefix(&'static str),
    /// Not base45, or too short to hold its check.
    #[error("the code is not base45 text (RFC 9285) with its check")]
    BadBase45,
    /// The check does not match: a character was misread or mistyped.
    #[error("the code's check does not match: a character was misread or mistyped")]
    BadCheck,
    /// The content does not decode.
    #[error("the code's content: {0}")]
    Decode(#[from] DecodeError),
}

impl ErrorCode for CodeError {
    fn code(&self) -> &'static str {
        match self {
            CodeError::TooLong(_) | CodeError::BadPrefix(_) | CodeError::BadBase45 => {
                codes::CODE_MALFORMED
            }
            CodeError::BadCheck => codes::CODE_BAD_CHECK,
            CodeError::Decode(e) => e.code(),
        }
    }
}

fn check(domain: &[u8], content: &[u8]) -> [u8; CHECK_LEN] {
    let digest = Sha256::new()
        .chain_update(domain)
        .chain_update(content)
        .finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&digest[..CHECK_LEN]);
    out
}

fn encode(prefix: &str, domain: &[u8], content: &[u8]) -> String {
    let mut bytes = content.to_vec();
    bytes.extend_from_slice(&check(domain, content));
    format!("{prefix}{}", base45::encode(&bytes))
}

fn decode(text: &str, prefix: &'static str, domain: &[u8]) -> Result<Vec<u8>, CodeError> {
    // Base45 holds spaces, so only line ends (a pasted line) are trimmed.
    let text = text.trim_matches(['\r', '\n']);
    if text.len() > MAX_CODE_CHARS {
        return Err(CodeError::TooLong(text.len()));
    }
    let body = text
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .and_then(|_| text.get(prefix.len()..))
        .ok_or(CodeError::BadPrefix(prefix))?;
    let mut bytes = base45::decode(&body.to_ascii_uppercase()).map_err(|_| CodeError::BadBase45)?;
    let split = bytes
        .len()
        .checked_sub(CHECK_LEN)
        .ok_or(CodeError::BadBase45)?;
    let found = bytes.split_off(split);
    if found != check(domain, &bytes) {
        return Err(CodeError::BadCheck);
    }
    Ok(bytes)
}

/// What a buyer shows a seller: the owner key to transfer to and the commitment to its
/// recovery key. Content: deterministic CBOR `{1: owner key, ? 2: recovery digest}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveCode(pub NewOwner);

impl ReceiveCode {
    /// The deterministic CBOR content.
    fn content(&self) -> Vec<u8> {
        let owner = self.0;
        cbor::encode(&cbor::int_map(vec![
            (
                1,
                Some(ciborium::Value::Bytes(owner.key.to_bytes().to_vec())),
            ),
            (
                2,
                owner.recovery.map(|d| ciborium::Value::Bytes(d.0.to_vec())),
            ),
        ]))
    }

    /// The code as text (`PVK1:` and base45).
    pub fn encode(&self) -> String {
        encode(RECEIVE_CODE_PREFIX, RECEIVE_DOMAIN, &self.content())
    }

    /// Parses a code strictly: prefix (any case), base45, check, then the canonical closed map.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let content = decode(text, RECEIVE_CODE_PREFIX, RECEIVE_DOMAIN)?;
        let value = cbor::decode_one(&content, MAX_CODE_CHARS)?;
        let mut map = IntMap::new(value, "receive code")?;
        let key =
            PublicKey::from_bytes(&map.bytes_n::<32>(1)?).map_err(|_| DecodeError::BadPublicKey)?;
        let recovery = map.opt_bytes_n::<32>(2)?.map(RecoveryDigest);
        map.finish()?;
        let code = ReceiveCode(NewOwner { key, recovery });
        if code.content() != content {
            return Err(DecodeError::NonCanonical.into());
        }
        Ok(code)
    }
}

/// The recovery key as printed on a recovery sheet: its 32-byte Ed25519 seed (spec §3.1).
/// Whoever holds the sheet can recover the piece once; it belongs offline.
pub struct RecoverySheetCode(pub SigningKey);

impl RecoverySheetCode {
    /// The code as text (`PVR1:` and base45).
    pub fn encode(&self) -> String {
        encode(RECOVERY_SHEET_PREFIX, SHEET_DOMAIN, &self.0.to_seed())
    }

    /// Parses a code: prefix (any case), base45, check, and exactly 32 bytes of seed.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let content = decode(text, RECOVERY_SHEET_PREFIX, SHEET_DOMAIN)?;
        let seed: [u8; 32] = content.try_into().map_err(|_| {
            DecodeError::invalid("recovery sheet", 0, "the seed is not exactly 32 bytes")
        })?;
        Ok(RecoverySheetCode(SigningKey::from_seed(seed)))
    }

    /// The short code a person types to show they can read the sheet back: the recovery key's
    /// id (16 hex characters).
    pub fn short_code(&self) -> String {
        self.0.public_key().key_id().to_string()
    }
}

impl std::fmt::Debug for RecoverySheetCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoverySheetCode({})", self.short_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn owner(seed: u8, recovery: Option<u8>) -> NewOwner {
        NewOwner {
            key: SigningKey::from_seed([seed; 32]).public_key(),
            recovery: recovery
                .map(|r| RecoveryDigest::of(&SigningKey::from_seed([r; 32]).public_key())),
        }
    }

    #[test]
    fn receive_codes_round_trip_and_refuse_each_fault() {
        for o in [owner(5, Some(6)), owner(5, None)] {
            let text = ReceiveCode(o).encode();
            assert!(text.starts_with(RECEIVE_CODE_PREFIX));
            assert_eq!(ReceiveCode::parse(&text), Ok(ReceiveCode(o)));
            assert_eq!(
                ReceiveCode::parse(&text.to_ascii_lowercase()),
                Ok(ReceiveCode(o)),
                "a QR reader may lower-case alphanumeric text"
            );
        }
        let text = ReceiveCode(owner(5, Some(6))).encode();
        let mut typo = text.clone().into_bytes();
        let last = typo.len() - 8;
        typo[last] = if typo[last] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(typo).unwrap();
        assert!(matches!(
            ReceiveCode::parse(&typo),
            Err(CodeError::BadCheck | CodeError::BadBase45)
        ));
        assert_eq!(
            ReceiveCode::parse(&text.replace("PVK1:", "PVR1:")),
            Err(CodeError::BadPrefix(RECEIVE_CODE_PREFIX))
        );
        assert_eq!(
            ReceiveCode::parse(&"PVK1:".repeat(60)),
            Err(CodeError::TooLong(300))
        );
        assert_eq!(ReceiveCode::parse("PVK1:%%"), Err(CodeError::BadBase45));
        assert_eq!(ReceiveCode::parse("PVK1:"), Err(CodeError::BadBase45));
    }

    #[test]
    fn a_sheet_code_gives_back_the_key_and_refuses_a_receive_code() {
        let key = SigningKey::from_seed([9; 32]);
        let sheet = RecoverySheetCode(SigningKey::from_seed([9; 32]));
        let text = sheet.encode();
        let back = RecoverySheetCode::parse(&text).unwrap();
        assert_eq!(back.0.public_key(), key.public_key());
        assert_eq!(sheet.short_code(), key.public_key().key_id().to_string());
        let receive = ReceiveCode(owner(5, None)).encode();
        assert_eq!(
            RecoverySheetCode::parse(&receive).unwrap_err(),
            CodeError::BadPrefix(RECOVERY_SHEET_PREFIX)
        );
        assert!(
            !format!("{back:?}").contains(&text[5..]),
            "Debug hides the secret"
        );
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panic(text in ".{0,300}") {
            let _ = ReceiveCode::parse(&text);
            let _ = RecoverySheetCode::parse(&text);
        }

        #[test]
        fn every_seed_round_trips(seed in any::<[u8; 32]>(), with in any::<bool>()) {
            let key = SigningKey::from_seed(seed).public_key();
            let o = NewOwner { key, recovery: with.then(|| RecoveryDigest::of(&key)) };
            prop_assert_eq!(ReceiveCode::parse(&ReceiveCode(o).encode()), Ok(ReceiveCode(o)));
            let sheet = RecoverySheetCode::parse(&RecoverySheetCode(SigningKey::from_seed(seed)).encode()).unwrap();
            prop_assert_eq!(sheet.0.public_key(), key);
        }
    }
}
