//! One typed error enum per layer: decoding bytes, verifying records and chains, trust lists,
//! QR payloads and owner proofs. Each variant maps to one stable code (see [`crate::codes`]).

use crate::codes;
use crate::codes::ErrorCode;
use crate::keys::KeyId;
use crate::record::RecordKind;
use crate::trust::Role;

/// Why bytes could not be decoded into a structure. Nothing about signatures or trust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is longer than the limit for its kind.
    #[error("input is {actual} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The limit that applied.
        limit: usize,
        /// The input's length.
        actual: usize,
    },
    /// Not well-formed CBOR (RFC 8949 §5.3.1).
    #[error("not well-formed CBOR")]
    Malformed,
    /// Nested deeper than [`crate::limits::MAX_CBOR_DEPTH`].
    #[error("CBOR nested too deeply")]
    TooDeep,
    /// Bytes follow the single item (RFC 8949 §5.3.1 "well-formed" covers one item only).
    #[error("trailing bytes after the CBOR item")]
    TrailingBytes,
    /// Not a tagged COSE_Sign1 (RFC 9052 §4.2: tag 18, array of four).
    #[error("not a tagged COSE_Sign1")]
    NotCoseSign1,
    /// The protected header is not exactly `{1: -19, 4: h'<8-byte kid>'}`.
    #[error("protected header is not exactly {{1: -19 (Ed25519), 4: key id}}")]
    BadProtectedHeader,
    /// The unprotected header is not empty (it would be malleable).
    #[error("unprotected header must be empty")]
    UnprotectedHeader,
    /// The payload is detached (nil).
    #[error("detached payloads are not allowed")]
    DetachedPayload,
    /// A map repeats a key (RFC 8949 §5.6).
    #[error("duplicate map key")]
    DuplicateKey,
    /// The bytes are not the deterministic encoding of what they decode to (RFC 8949 §4.2.1).
    #[error("not deterministically encoded CBOR")]
    NonCanonical,
    /// The kind field names no known structure.
    #[error("unknown kind {0}")]
    UnknownKind(u64),
    /// A field is missing, unknown, of the wrong type or out of range.
    #[error("{context} field {key}: {reason}")]
    InvalidField {
        /// Which structure.
        context: &'static str,
        /// The CBOR map key (0 when the problem is the map itself).
        key: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A public key field is not a valid, non-weak Ed25519 point.
    #[error("invalid Ed25519 public key")]
    BadPublicKey,
    /// A text field holds a control or bidirectional-formatting character ([`crate::text`]).
    #[error("{context} field {key}: text holds the forbidden character U+{character:04X}")]
    BadText {
        /// Which structure.
        context: &'static str,
        /// The CBOR map key.
        key: u64,
        /// The first forbidden character's code point.
        character: u32,
    },
}

impl DecodeError {
    pub(crate) fn invalid(context: &'static str, key: u64, reason: &'static str) -> Self {
        DecodeError::InvalidField {
            context,
            key,
            reason,
        }
    }
}

impl ErrorCode for DecodeError {
    fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => codes::DECODE_TOO_LARGE,
            DecodeError::Malformed => codes::DECODE_MALFORMED,
            DecodeError::TooDeep => codes::DECODE_TOO_DEEP,
            DecodeError::TrailingBytes => codes::DECODE_TRAILING_BYTES,
            DecodeError::NotCoseSign1 => codes::DECODE_NOT_COSE_SIGN1,
            DecodeError::BadProtectedHeader => codes::DECODE_BAD_PROTECTED_HEADER,
            DecodeError::UnprotectedHeader => codes::DECODE_UNPROTECTED_HEADER,
            DecodeError::DetachedPayload => codes::DECODE_DETACHED_PAYLOAD,
            DecodeError::DuplicateKey => codes::DECODE_DUPLICATE_KEY,
            DecodeError::NonCanonical => codes::DECODE_NON_CANONICAL,
            DecodeError::UnknownKind(_) => codes::DECODE_UNKNOWN_KIND,
            DecodeError::InvalidField { .. } => codes::DECODE_INVALID_FIELD,
            DecodeError::BadText { .. } => codes::DECODE_BAD_TEXT,
            DecodeError::BadPublicKey => codes::DECODE_BAD_PUBLIC_KEY,
        }
    }
}

/// Why a record, or a chain of records, is not genuine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The record's bytes could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The signature does not verify over this record bound to this item and previous record.
    #[error("signature does not verify (tampered, or bound to another item or position)")]
    SignatureInvalid,
    /// No records.
    #[error("no records")]
    Empty,
    /// The first record is not a mint.
    #[error("the first record is a {0}, not a mint")]
    FirstNotMint(RecordKind),
    /// A kind that cannot appear here (a second mint, or a run manifest inside an item chain).
    #[error("a {0} record cannot appear at this position")]
    UnexpectedKind(RecordKind),
    /// The sequence number is not previous + 1.
    #[error("sequence number {found}, expected {expected}")]
    SeqMismatch {
        /// previous + 1
        expected: u64,
        /// what the record says
        found: u64,
    },
    /// Dated before the previous record.
    #[error("record is dated before the previous record")]
    TimeRegressed,
    /// Dated after now plus the allowed skew.
    #[error("record is dated in the future")]
    TimeInFuture,
    /// The key id is neither trusted nor the current owner.
    #[error("signer {0} is not in the trust list")]
    UnknownSigner(KeyId),
    /// The signer lacks the role this kind needs.
    #[error("signer is not a trusted {0}")]
    SignerNotAuthorized(Role),
    /// A transfer or stolen/recovered report not signed by the current owner.
    #[error("signer is not the current owner")]
    SignerNotOwner,
    /// A void report not signed by the maker.
    #[error("only the item's maker can void it")]
    SignerNotMaker,
    /// The signer's trust entry starts after the record's time.
    #[error("signer's key was not yet valid at the record's time")]
    KeyNotYetValid,
    /// The signer's trust entry ended before the record's time.
    #[error("signer's key had expired at the record's time")]
    KeyExpired,
    /// The signer's key was revoked at or before the record's time.
    #[error("signer's key was revoked at the record's time")]
    KeyRevoked,
    /// A record follows a void report.
    #[error("the item was voided by its maker; nothing can follow")]
    ItemVoid,
    /// Stolen while stolen, or recovered while not stolen.
    #[error("the report does not change the item's status")]
    StatusUnchanged,
    /// A transfer to the current owner.
    #[error("transfer to the current owner")]
    TransferToSelf,
    /// Edition number 0.
    #[error("edition number is 0")]
    EditionZero,
    /// Edition number over the run size.
    #[error("edition {number} is over the run size {size}")]
    EditionOverCap {
        /// n
        number: u64,
        /// N
        size: u64,
    },
    /// The mint disagrees with its run manifest.
    #[error("mint does not match its run manifest: {0}")]
    RunMismatch(&'static str),
    /// The mint is dated outside the run's production window.
    #[error("mint is dated outside the run's production window")]
    OutsideWindow,
    /// The run's window or size is impossible.
    #[error("run manifest has an empty production window or size 0")]
    InvalidWindow,
    /// The run size is over [`crate::limits::MAX_RUN_SIZE`].
    #[error("run size {size} is over the limit of {limit}")]
    RunSizeOverLimit {
        /// N as signed
        size: u64,
        /// the format's largest run
        limit: u64,
    },
    /// A repair or badge over a third-party quota, or a status report over the status quota
    /// (spec §6, R8).
    #[error("{0}")]
    QuotaExceeded(Quota),
    /// The history has no room left for this kind of record: the last positions are kept for
    /// a transfer and the maker's void (spec §6, R3).
    #[error("the history is full for this kind of record: position {seq} is kept for {kept_for}")]
    HistoryFull {
        /// the record's position
        seq: u64,
        /// what the position is kept for
        kept_for: &'static str,
    },
    /// A recover or recovery-signed report whose protected kid is not the recovery key it
    /// carries.
    #[error("signer is not the recovery key the record names")]
    SignerNotRecoveryKey,
    /// A recovery key acts on an ownership that committed to no recovery key.
    #[error("the current ownership committed to no recovery key")]
    RecoveryNotCommitted,
    /// A recovery key other than the one the current ownership committed to.
    #[error("this is not the recovery key the current ownership committed to")]
    RecoveryKeyMismatch,
    /// The recovery key of an ownership that has since been transferred away.
    #[error("this recovery key belongs to a former owner")]
    RecoveryKeyFormerOwner,
    /// A recovery key already used by a recover: its commitment is spent.
    #[error("this recovery key was already used to recover the item")]
    RecoveryKeySpent,
    /// A recover while the item is reported stolen.
    #[error("the item is reported stolen: report it recovered before recovering the owner key")]
    RecoverWhileStolen,
    /// An owner key whose ownership a recover moved to a new key signs a transfer or report.
    #[error("this owner key was replaced by a recovery; it can no longer act for the item")]
    OwnerKeyRecovered,
}

/// Which quota a repair, badge or status report would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Quota {
    /// [`crate::limits::MAX_STATUS_REPORTS_PER_ITEM`] stolen and recovered reports on one item.
    StatusReports,
    /// [`crate::limits::MAX_THIRD_PARTY_RECORDS_PER_SIGNER`] repairs and badges by one signer.
    PerSigner,
    /// [`crate::limits::MAX_THIRD_PARTY_RECORDS_PER_ITEM`] repairs and badges on one item.
    PerItem,
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::limits::{MAX_THIRD_PARTY_RECORDS_PER_ITEM, MAX_THIRD_PARTY_RECORDS_PER_SIGNER};
        match self {
            Quota::StatusReports => write!(
                f,
                "the item already has {} stolen and recovered reports",
                crate::limits::MAX_STATUS_REPORTS_PER_ITEM
            ),
            Quota::PerSigner => write!(
                f,
                "this signer already has {MAX_THIRD_PARTY_RECORDS_PER_SIGNER} repairs and badges on the item"
            ),
            Quota::PerItem => write!(
                f,
                "the item already has {MAX_THIRD_PARTY_RECORDS_PER_ITEM} repairs and badges"
            ),
        }
    }
}

impl ErrorCode for VerifyError {
    fn code(&self) -> &'static str {
        match self {
            VerifyError::Decode(e) => e.code(),
            VerifyError::SignatureInvalid => codes::RECORD_SIGNATURE_INVALID,
            VerifyError::Empty => codes::CHAIN_EMPTY,
            VerifyError::FirstNotMint(_) => codes::CHAIN_FIRST_NOT_MINT,
            VerifyError::UnexpectedKind(_) => codes::CHAIN_UNEXPECTED_KIND,
            VerifyError::SeqMismatch { .. } => codes::CHAIN_SEQ_MISMATCH,
            VerifyError::TimeRegressed => codes::CHAIN_TIME_REGRESSED,
            VerifyError::TimeInFuture => codes::CHAIN_TIME_IN_FUTURE,
            VerifyError::UnknownSigner(_) => codes::CHAIN_UNKNOWN_SIGNER,
            VerifyError::SignerNotAuthorized(_) => codes::CHAIN_SIGNER_NOT_AUTHORIZED,
            VerifyError::SignerNotOwner => codes::CHAIN_SIGNER_NOT_OWNER,
            VerifyError::SignerNotMaker => codes::CHAIN_SIGNER_NOT_MAKER,
            VerifyError::KeyNotYetValid => codes::CHAIN_KEY_NOT_YET_VALID,
            VerifyError::KeyExpired => codes::CHAIN_KEY_EXPIRED,
            VerifyError::KeyRevoked => codes::CHAIN_KEY_REVOKED,
            VerifyError::ItemVoid => codes::CHAIN_ITEM_VOID,
            VerifyError::StatusUnchanged => codes::CHAIN_STATUS_UNCHANGED,
            VerifyError::TransferToSelf => codes::CHAIN_TRANSFER_TO_SELF,
            VerifyError::EditionZero => codes::RUN_EDITION_ZERO,
            VerifyError::EditionOverCap { .. } => codes::RUN_EDITION_OVER_CAP,
            VerifyError::RunMismatch(_) => codes::RUN_MISMATCH,
            VerifyError::OutsideWindow => codes::RUN_OUTSIDE_WINDOW,
            VerifyError::InvalidWindow => codes::RUN_INVALID_WINDOW,
            VerifyError::RunSizeOverLimit { .. } => codes::RUN_SIZE_OVER_LIMIT,
            VerifyError::QuotaExceeded(_) => codes::CHAIN_QUOTA_EXCEEDED,
            VerifyError::HistoryFull { .. } => codes::CHAIN_HISTORY_FULL,
            VerifyError::SignerNotRecoveryKey => codes::CHAIN_SIGNER_NOT_RECOVERY_KEY,
            VerifyError::RecoveryNotCommitted => codes::CHAIN_RECOVERY_NOT_COMMITTED,
            VerifyError::RecoveryKeyMismatch => codes::CHAIN_RECOVERY_KEY_MISMATCH,
            VerifyError::RecoveryKeyFormerOwner => codes::CHAIN_RECOVERY_KEY_FORMER_OWNER,
            VerifyError::RecoveryKeySpent => codes::CHAIN_RECOVERY_KEY_SPENT,
            VerifyError::RecoverWhileStolen => codes::CHAIN_RECOVER_WHILE_STOLEN,
            VerifyError::OwnerKeyRecovered => codes::CHAIN_OWNER_KEY_RECOVERED,
        }
    }
}

/// A [`VerifyError`] at a position in an item's chain (0 = the mint).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {index}: {error}")]
pub struct ChainError {
    /// Position of the offending record.
    pub index: usize,
    /// What is wrong with it.
    pub error: VerifyError,
}

impl ErrorCode for ChainError {
    fn code(&self) -> &'static str {
        self.error.code()
    }
}

/// Why a trust list is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The bytes could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The operator's signature does not verify.
    #[error("trust list signature does not verify")]
    SignatureInvalid,
    /// Signed by another operator than the pinned one.
    #[error("trust list is not signed by the pinned operator key")]
    OperatorMismatch,
    /// Two entries share a public key.
    #[error("two trust entries share a public key")]
    DuplicateEntry,
}

impl ErrorCode for TrustError {
    fn code(&self) -> &'static str {
        match self {
            TrustError::Decode(e) => e.code(),
            TrustError::SignatureInvalid => codes::TRUST_SIGNATURE_INVALID,
            TrustError::OperatorMismatch => codes::TRUST_OPERATOR_MISMATCH,
            TrustError::DuplicateEntry => codes::TRUST_DUPLICATE_ENTRY,
        }
    }
}

/// Why a QR payload string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Over [`crate::limits::MAX_PAYLOAD_CHARS`].
    #[error("payload is {0} characters, over the limit")]
    TooLarge(usize),
    /// Missing the `PV1:` prefix.
    #[error("payload does not start with PV1:")]
    BadPrefix,
    /// Not valid base45 (RFC 9285 §4).
    #[error("payload is not valid base45")]
    BadBase45,
    /// The container's shape is wrong (not a label or map, no records, reserved slot used).
    #[error("bad payload container: {0}")]
    BadContainer(&'static str),
    /// The container's CBOR could not be decoded.
    #[error(transparent)]
    Decode(DecodeError),
}

impl ErrorCode for PayloadError {
    fn code(&self) -> &'static str {
        match self {
            PayloadError::TooLarge(_) => codes::PAYLOAD_TOO_LARGE,
            PayloadError::BadPrefix => codes::PAYLOAD_BAD_PREFIX,
            PayloadError::BadBase45 => codes::PAYLOAD_BAD_BASE45,
            PayloadError::BadContainer(_) => codes::PAYLOAD_BAD_CONTAINER,
            PayloadError::Decode(e) => e.code(),
        }
    }
}

/// Why an owner's answer to a challenge was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Not 86 characters of base64url.
    #[error("the answer is not 86 characters of base64url")]
    Malformed,
    /// Does not verify for this item, challenge and owner key.
    #[error("the answer was not made by the current owner for this item and challenge")]
    Invalid,
}

impl ErrorCode for ProofError {
    fn code(&self) -> &'static str {
        match self {
            ProofError::Malformed => codes::PROOF_MALFORMED,
            ProofError::Invalid => codes::PROOF_INVALID,
        }
    }
}
