//! Signed checkpoints of the Merkle log in the C2SP `tlog-checkpoint` format, wrapped as a
//! C2SP `signed-note` with an Ed25519 signature line.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, standard base64>\n
//! \n
//! — <key name> <base64(key id (4 bytes) ‖ Ed25519 signature (64 bytes))>\n
//! ```
//!
//! The signature covers the note text (the first three lines, with their newlines). The key id
//! is the first 4 bytes of `SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)` (0x01 = Ed25519).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::codes;
use crate::codes::ErrorCode;
use crate::keys::{PublicKey, SigningKey, SIGNATURE_LEN};
use crate::log::TreeHash;

/// Largest signed checkpoint note accepted, in bytes.
pub const MAX_CHECKPOINT_BYTES: usize = 4096;
/// Most signature lines read from one note.
const MAX_SIGNATURES: usize = 16;
/// Signature line prefix: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// A log checkpoint: the log's origin, its size and its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique name of the log (e.g. its address), no newline.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of the first `size` leaves.
    pub root: TreeHash,
}

/// Why a signed checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Over [`MAX_CHECKPOINT_BYTES`].
    #[error("checkpoint note is over the size limit")]
    TooLarge,
    /// Not a well-formed note or checkpoint body.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// No signature line by the expected key (name and key id).
    #[error("no signature by the ledger key")]
    UnknownKey,
    /// The ledger key's signature does not verify.
    #[error("checkpoint signature does not verify")]
    SignatureInvalid,
    /// A different log than expected.
    #[error("checkpoint is for another log origin")]
    OriginMismatch,
}

impl ErrorCode for CheckpointError {
    fn code(&self) -> &'static str {
        match self {
            CheckpointError::TooLarge => codes::CHECKPOINT_TOO_LARGE,
            CheckpointError::Malformed(_) => codes::CHECKPOINT_MALFORMED,
            CheckpointError::UnknownKey => codes::CHECKPOINT_UNKNOWN_KEY,
            CheckpointError::SignatureInvalid => codes::CHECKPOINT_SIGNATURE_INVALID,
            CheckpointError::OriginMismatch => codes::CHECKPOINT_ORIGIN_MISMATCH,
        }
    }
}

/// The signed-note key id of an Ed25519 verifier key.
pub fn note_key_id(name: &str, key: &PublicKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, 0x01]);
    h.update(key.to_bytes());
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn valid_origin(origin: &str) -> bool {
    !origin.is_empty() && !origin.contains('\n') && !origin.contains('\r')
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

impl Checkpoint {
    /// The checkpoint body (the signed note text).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root.0)
        )
    }

    /// Signs the checkpoint as a note by `key` under `key_name` (no spaces or '+').
    /// Returns `None` if the origin or name cannot appear in a note.
    pub fn sign(&self, key: &SigningKey, key_name: &str) -> Option<String> {
        if !valid_origin(&self.origin) || !valid_key_name(key_name) {
            return None;
        }
        let body = self.body();
        let mut blob = note_key_id(key_name, &key.public_key()).to_vec();
        blob.extend_from_slice(&key.sign(body.as_bytes()));
        Some(format!(
            "{body}\n{SIG_PREFIX}{key_name} {}\n",
            STANDARD.encode(blob)
        ))
    }

    /// Parses a signed note and verifies the signature line of `key_name` / `key`. Other
    /// signature lines (witnesses) are ignored. With `origin`, the checkpoint must be that log's.
    pub fn verify(
        note: &str,
        key_name: &str,
        key: &PublicKey,
        origin: Option<&str>,
    ) -> Result<Self, CheckpointError> {
        if note.len() > MAX_CHECKPOINT_BYTES {
            return Err(CheckpointError::TooLarge);
        }
        let split = note.find("\n\n").ok_or(CheckpointError::Malformed(
            "no blank line before signatures",
        ))?;
        let (body, sigs) = (&note[..split + 1], &note[split + 2..]);
        let checkpoint = Self::parse_body(body)?;
        if origin.is_some_and(|o| o != checkpoint.origin) {
            return Err(CheckpointError::OriginMismatch);
        }
        if !sigs.ends_with('\n') {
            return Err(CheckpointError::Malformed(
                "signature block must end with a newline",
            ));
        }
        let want_id = note_key_id(key_name, key);
        let mut found = false;
        // Lines end with "\n" only: `lines()` would also strip a "\r", accepting a byte that
        // neither the signature covers nor the canonical note has (fuzz/checkpoint round trip).
        for (i, line) in sigs.split_terminator('\n').enumerate() {
            if i == MAX_SIGNATURES {
                return Err(CheckpointError::Malformed("too many signature lines"));
            }
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or(CheckpointError::Malformed(
                    "signature line must start with an em dash",
                ))?;
            let (name, b64) = rest.split_once(' ').ok_or(CheckpointError::Malformed(
                "signature line needs a name and a signature",
            ))?;
            let blob = STANDARD
                .decode(b64)
                .map_err(|_| CheckpointError::Malformed("signature is not base64"))?;
            if name != key_name || blob.len() < 4 || blob[..4] != want_id {
                continue;
            }
            let sig: [u8; SIGNATURE_LEN] = blob[4..]
                .try_into()
                .map_err(|_| CheckpointError::Malformed("Ed25519 signature must be 64 bytes"))?;
            if !key.verify_strict(body.as_bytes(), &sig) {
                return Err(CheckpointError::SignatureInvalid);
            }
            found = true;
        }
        if found {
            Ok(checkpoint)
        } else {
            Err(CheckpointError::UnknownKey)
        }
    }

    /// Verifies a note signed under its own origin as key name (how the ledger signs its
    /// checkpoints), for verifiers that know the ledger key but not its address.
    pub fn verify_own_origin(note: &str, key: &PublicKey) -> Result<Self, CheckpointError> {
        let origin = note
            .split_once('\n')
            .map(|(origin, _)| origin)
            .ok_or(CheckpointError::Malformed("missing origin"))?;
        Self::verify(note, origin, key, None)
    }

    fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let mut lines = body.split_terminator('\n');
        let origin = lines
            .next()
            .ok_or(CheckpointError::Malformed("missing origin"))?;
        if !valid_origin(origin) {
            return Err(CheckpointError::Malformed("empty origin"));
        }
        let size = lines
            .next()
            .ok_or(CheckpointError::Malformed("missing size"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(CheckpointError::Malformed(
                "size must be a decimal number without leading zeros",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| CheckpointError::Malformed("size out of range"))?;
        let root = lines
            .next()
            .ok_or(CheckpointError::Malformed("missing root hash"))?;
        let root = STANDARD
            .decode(root)
            .map_err(|_| CheckpointError::Malformed("root hash is not base64"))?;
        let root = TreeHash::from_slice(&root)
            .map_err(|_| CheckpointError::Malformed("root hash must be 32 bytes"))?;
        // Extension lines are allowed by the format but this log writes none: refuse them so a
        // checkpoint carries no unsigned-looking meaning we would ignore.
        if lines.next().is_some() {
            return Err(CheckpointError::Malformed("unexpected extension lines"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::leaf_hash;

    fn sample() -> Checkpoint {
        Checkpoint {
            origin: "ledger.example/log".into(),
            size: 42,
            root: leaf_hash(b"x"),
        }
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let key = SigningKey::from_seed([9; 32]);
        let note = sample().sign(&key, "ledger.example").expect("signs");
        assert!(note.starts_with("ledger.example/log\n42\n"));
        assert!(note.contains("\n\n\u{2014} ledger.example "));
        let back = Checkpoint::verify(
            &note,
            "ledger.example",
            &key.public_key(),
            Some("ledger.example/log"),
        );
        assert_eq!(back, Ok(sample()));
    }

    #[test]
    fn rejections() {
        let key = SigningKey::from_seed([9; 32]);
        let other = SigningKey::from_seed([8; 32]).public_key();
        let note = sample().sign(&key, "ledger.example").expect("signs");
        assert_eq!(
            Checkpoint::verify(&note, "ledger.example", &other, None),
            Err(CheckpointError::UnknownKey)
        );
        assert_eq!(
            Checkpoint::verify(
                &note,
                "ledger.example",
                &key.public_key(),
                Some("elsewhere")
            ),
            Err(CheckpointError::OriginMismatch)
        );
        let tampered = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(
            Checkpoint::verify(&tampered, "ledger.example", &key.public_key(), None),
            Err(CheckpointError::SignatureInvalid)
        );
        let leading_zero = note.replacen("\n42\n", "\n042\n", 1);
        assert!(matches!(
            Checkpoint::verify(&leading_zero, "ledger.example", &key.public_key(), None),
            Err(CheckpointError::Malformed(_))
        ));
        assert_eq!(
            Checkpoint::verify(&"x".repeat(5000), "n", &key.public_key(), None),
            Err(CheckpointError::TooLarge)
        );
        assert!(sample().sign(&key, "bad name").is_none());
    }

    /// The C2SP signed-note Ed25519 key id: SHA-256("name" || 0x0A || 0x01 || key)[..4].
    #[test]
    fn note_key_id_follows_the_signed_note_rule() {
        let key = SigningKey::from_seed([1; 32]).public_key();
        let mut input = b"example.com/log\n\x01".to_vec();
        input.extend_from_slice(&key.to_bytes());
        let digest = Sha256::digest(&input);
        assert_eq!(note_key_id("example.com/log", &key), digest[..4]);
    }
}
