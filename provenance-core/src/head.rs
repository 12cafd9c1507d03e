//! Head statements (spec §14): the ledger's signed word on an item's current state, stapled
//! into living payloads like an OCSP response, so an offline verifier can say "owner confirmed
//! as of DATE".

use ciborium::Value;

use crate::cbor::{self, IntMap};
use crate::chain::{ChainHead, VerifiedChain};
use crate::codes;
use crate::codes::ErrorCode;
use crate::cose::{self, Envelope};
use crate::error::DecodeError;
use crate::ids::{ItemId, RecordHash, Timestamp};
use crate::keys::{PublicKey, SigningKey};
use crate::limits::{MAX_CLOCK_SKEW_SECS, MAX_RECORD_BYTES};
use crate::trust::TrustList;

/// The head statement's kind number (payload key 1).
const HEAD_KIND: u64 = 17;
/// `external_aad` of the ledger's signature: domain separation from records and trust lists.
const HEAD_AAD: &[u8] = b"provenance/v1 head-statement";

/// The ledger's statement of an item's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadStatement {
    /// When the ledger made the statement.
    pub time: Timestamp,
    /// The item.
    pub item: ItemId,
    /// Sequence number of the head record.
    pub seq: u64,
    /// Hash of the head record.
    pub head: RecordHash,
    /// The current owner.
    pub owner: PublicKey,
    /// Reported stolen and not recovered.
    pub stolen: bool,
    /// Voided by the maker.
    pub void: bool,
    /// Number of repairs.
    pub repairs: u64,
    /// Number of transfers.
    pub transfers: u64,
    /// Number of badges.
    pub badges: u64,
    /// Size of the ledger's log when the statement was made.
    pub log_size: u64,
}

/// Why a head statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// Could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The trust list names no ledger key.
    #[error("the trust list names no ledger key to check the statement with")]
    NoLedgerKey,
    /// Signed by another key than the trust list's ledger key.
    #[error("the head statement is not signed by the ledger key")]
    SignerNotLedger,
    /// The ledger's signature does not verify.
    #[error("the head statement's signature does not verify")]
    SignatureInvalid,
    /// About another item than the records.
    #[error("the head statement is about another item")]
    ItemMismatch,
    /// Older than the records presented with it.
    #[error("the head statement is older than the records presented")]
    Stale,
    /// Same position as the records, but another head or state.
    #[error("the head statement contradicts the records presented")]
    Mismatch,
    /// Dated after now plus the allowed skew.
    #[error("the head statement is dated in the future")]
    TimeInFuture,
}

impl ErrorCode for HeadError {
    fn code(&self) -> &'static str {
        match self {
            HeadError::Decode(e) => e.code(),
            HeadError::NoLedgerKey => codes::HEAD_NO_LEDGER_KEY,
            HeadError::SignerNotLedger => codes::HEAD_SIGNER_NOT_LEDGER,
            HeadError::SignatureInvalid => codes::HEAD_SIGNATURE_INVALID,
            HeadError::ItemMismatch => codes::HEAD_ITEM_MISMATCH,
            HeadError::Stale => codes::HEAD_STALE,
            HeadError::Mismatch => codes::HEAD_MISMATCH,
            HeadError::TimeInFuture => codes::HEAD_TIME_IN_FUTURE,
        }
    }
}

impl HeadStatement {
    /// The statement a ledger makes for a verified chain at `time` with its log at `log_size`.
    pub fn for_chain(chain: &VerifiedChain, time: Timestamp, log_size: u64) -> Self {
        Self::for_head(chain.chain_head(), time, log_size)
    }

    /// The statement for a chain's verified head state (what the ledger caches per item).
    pub fn for_head(head: &ChainHead, time: Timestamp, log_size: u64) -> Self {
        HeadStatement {
            time,
            item: head.item(),
            seq: head.seq(),
            head: head.head(),
            owner: *head.owner(),
            stolen: head.is_stolen(),
            void: head.is_void(),
            repairs: head.repair_count(),
            transfers: head.transfer_count(),
            badges: head.badge_count(),
            log_size,
        }
    }

    fn to_payload(&self) -> Vec<u8> {
        let u = |n: u64| Some(Value::Integer(n.into()));
        let flags = (self.stolen as u64) | ((self.void as u64) << 1);
        cbor::encode(&cbor::int_map(vec![
            (1, u(HEAD_KIND)),
            (2, u(self.time.0)),
            (3, Some(Value::Bytes(self.item.0.to_vec()))),
            (4, u(self.seq)),
            (5, Some(Value::Bytes(self.head.0.to_vec()))),
            (6, Some(Value::Bytes(self.owner.to_bytes().to_vec()))),
            (7, u(flags)),
            (8, u(self.repairs)),
            (9, u(self.transfers)),
            (10, u(self.badges)),
            (11, u(self.log_size)),
        ]))
    }

    /// Signs the statement with the ledger key.
    pub fn sign(&self, ledger: &SigningKey) -> Vec<u8> {
        cose::sign(ledger, self.to_payload(), HEAD_AAD)
    }

    /// Decodes and verifies a signed statement against the trust list's ledger key.
    pub fn verify(bytes: &[u8], trust: &TrustList, now: Timestamp) -> Result<Self, HeadError> {
        let envelope = Envelope::decode(bytes, MAX_RECORD_BYTES)?;
        let statement = Self::from_payload(&envelope.payload)?;
        let ledger = trust.content().ledger.ok_or(HeadError::NoLedgerKey)?;
        if envelope.kid != ledger.key_id() {
            return Err(HeadError::SignerNotLedger);
        }
        if !envelope.verify(&ledger, HEAD_AAD) {
            return Err(HeadError::SignatureInvalid);
        }
        if statement.time.0 > now.0.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(HeadError::TimeInFuture);
        }
        Ok(statement)
    }

    fn from_payload(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value = cbor::decode_one(bytes, MAX_RECORD_BYTES)?;
        let mut map = IntMap::new(value, "head statement")?;
        let kind = map.uint(1)?;
        if kind != HEAD_KIND {
            return Err(DecodeError::UnknownKind(kind));
        }
        let time = Timestamp(map.uint(2)?);
        let item = ItemId(map.bytes_n::<16>(3)?);
        let seq = map.uint(4)?;
        let head = RecordHash(map.bytes_n::<32>(5)?);
        let owner =
            PublicKey::from_bytes(&map.bytes_n::<32>(6)?).map_err(|_| DecodeError::BadPublicKey)?;
        let flags = map.uint(7)?;
        if flags > 3 {
            return Err(DecodeError::invalid(
                "head statement",
                7,
                "unknown flag bits",
            ));
        }
        let statement = HeadStatement {
            time,
            item,
            seq,
            head,
            owner,
            stolen: flags & 1 != 0,
            void: flags & 2 != 0,
            repairs: map.uint(8)?,
            transfers: map.uint(9)?,
            badges: map.uint(10)?,
            log_size: map.uint(11)?,
        };
        map.finish()?;
        if statement.to_payload() != bytes {
            return Err(DecodeError::NonCanonical);
        }
        Ok(statement)
    }

    /// Checks the statement against the records presented with it (rules H3–H5): the same
    /// item; not older than the records; and, when the records reach the statement's head, the
    /// same head hash, owner, flags and counts.
    pub fn check_against(&self, chain: &VerifiedChain) -> Result<(), HeadError> {
        if self.item != chain.item() {
            return Err(HeadError::ItemMismatch);
        }
        if self.seq < chain.seq() {
            return Err(HeadError::Stale);
        }
        if self.seq == chain.seq()
            && *self != HeadStatement::for_chain(chain, self.time, self.log_size)
        {
            return Err(HeadError::Mismatch);
        }
        Ok(())
    }
}
