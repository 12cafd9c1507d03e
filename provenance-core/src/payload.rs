//! QR payloads (spec §7): `PV1:` followed by base45 (RFC 9285) of one CBOR item.
//!
//! - A **label** is the mint record itself (a tagged COSE_Sign1): origin only.
//! - A **history** is a container map `{1: [records...], ? 2: run manifest, ? 3: head
//!   statement, ? 4: log anchor}` holding records of one item as byte strings, exactly as
//!   signed, mint first.
//!   - A **living payload** is the mint plus the ledger-signed head statement (spec §14), and
//!     every later record too when the whole chain fits the encoder's byte budget.
//!   - A **full-history file** (`provenance export`) is every record, the head statement, and a
//!     log anchor: a signed checkpoint with the inclusion proof of the last record.
//!
//! Nothing in a payload is unsigned apart from the container's framing, and the framing is
//! canonical and closed (no unknown keys), so no byte can change without breaking decoding or a
//! signature.

use ciborium::Value;

use crate::base45;
use crate::cbor::{self, IntMap};
use crate::chain::{verify_chain, verify_run, VerifiedChain};
use crate::checkpoint::{Checkpoint, CheckpointError, MAX_CHECKPOINT_BYTES};
use crate::codes::ErrorCode;
use crate::error::ChainError;
use crate::error::{DecodeError, PayloadError};
use crate::head::{HeadError, HeadStatement};
use crate::ids::Timestamp;
use crate::limits::{MAX_HISTORY_BYTES, MAX_HISTORY_RECORDS, MAX_PAYLOAD_CHARS, MAX_RECORD_BYTES};
use crate::log::{item_leaf, leaf_hash, verify_inclusion, LogError};
use crate::trust::TrustList;

/// The version prefix of every payload string.
pub const PAYLOAD_PREFIX: &str = "PV1:";

/// Container map keys.
mod key {
    pub const RECORDS: u64 = 1;
    pub const RUN: u64 = 2;
    /// The ledger-signed head statement (living payloads, spec §14).
    pub const HEAD: u64 = 3;
    /// The log anchor `[checkpoint, leaf index, [proof hashes]]` (full-history files, §14.4).
    pub const ANCHOR: u64 = 4;
}

/// Most hashes in an inclusion proof: enough for a log of 2^64 leaves.
const MAX_PROOF_HASHES: usize = 64;

/// An item's records as carried in a payload or a history file: exact bytes, unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The records in chain order, mint first, each exactly as signed.
    pub records: Vec<Vec<u8>>,
    /// The run manifest the mint names, if carried.
    pub run: Option<Vec<u8>>,
    /// The ledger-signed head statement, exactly as signed.
    pub head: Option<HeadStatementBytes>,
    /// Where the last record sits in the ledger's log, with a signed checkpoint.
    pub anchor: Option<LogAnchor>,
}

/// The bytes of a ledger-signed head statement (spec §14.1), exactly as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadStatementBytes(pub Vec<u8>);

/// Proof that the last record of a history is in the ledger's log (spec §14.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogAnchor {
    /// The ledger-signed checkpoint note (C2SP signed-note text).
    pub checkpoint: String,
    /// The last record's leaf index in the log.
    pub index: u64,
    /// The inclusion proof from that leaf to the checkpoint's root.
    pub proof: Vec<[u8; 32]>,
}

/// A payload whose every part verified.
#[derive(Debug, Clone)]
pub struct VerifiedPayload {
    /// The records, verified from the mint.
    pub chain: VerifiedChain,
    /// The ledger's head statement, verified and consistent with the records, if carried.
    pub head: Option<HeadStatement>,
    /// The checkpoint that the last record is proved included in, if an anchor was carried.
    pub checkpoint: Option<Checkpoint>,
}

/// Why a payload does not verify: the first failing part, in the order of spec §14.3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadVerifyError {
    /// A record, the run or the chain breaks a rule.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The head statement is refused.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The anchor's checkpoint is refused (the trust list's ledger key did not sign it).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The anchor's inclusion proof does not prove the last record into the checkpoint.
    #[error(transparent)]
    Inclusion(#[from] LogError),
}

impl ErrorCode for PayloadVerifyError {
    fn code(&self) -> &'static str {
        match self {
            PayloadVerifyError::Chain(e) => e.code(),
            PayloadVerifyError::Head(e) => e.code(),
            PayloadVerifyError::Checkpoint(e) => e.code(),
            PayloadVerifyError::Inclusion(e) => e.code(),
        }
    }
}

/// What a payload carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The mint record alone, as printed on a label: proves origin, not ownership or history.
    Label(Vec<u8>),
    /// Records of one item, mint first.
    History(History),
}

impl Payload {
    /// The records carried, mint first.
    pub fn records(&self) -> Vec<&[u8]> {
        match self {
            Payload::Label(mint) => vec![mint.as_slice()],
            Payload::History(h) => h.records.iter().map(Vec::as_slice).collect(),
        }
    }

    /// The CBOR item inside the payload string.
    pub fn to_cbor(&self) -> Vec<u8> {
        match self {
            Payload::Label(mint) => mint.clone(),
            Payload::History(h) => h.to_cbor(),
        }
    }

    /// Verifies everything carried, in the order of spec §14.3: every record in order from
    /// the mint; the run manifest (its own rules, then the mint against it, reported at
    /// index 0); the head statement (ledger signature, time, same item, not older than the
    /// records, consistent with them); the log anchor (checkpoint signed by the ledger key,
    /// inclusion of the last record).
    pub fn verify(
        &self,
        trust: &TrustList,
        now: Timestamp,
    ) -> Result<VerifiedPayload, PayloadVerifyError> {
        let chain = verify_chain(self.records(), trust, now)?;
        let Payload::History(history) = self else {
            return Ok(VerifiedPayload {
                chain,
                head: None,
                checkpoint: None,
            });
        };
        if let Some(run) = &history.run {
            let at0 = |error| ChainError { index: 0, error };
            let run = verify_run(run, trust, now).map_err(at0)?;
            chain.check_run(&run).map_err(at0)?;
        }
        let head = match &history.head {
            Some(bytes) => {
                let statement = HeadStatement::verify(&bytes.0, trust, now)?;
                statement.check_against(&chain)?;
                Some(statement)
            }
            None => None,
        };
        let checkpoint = match &history.anchor {
            Some(anchor) => Some(anchor.verify(&chain, history, trust)?),
            None => None,
        };
        Ok(VerifiedPayload {
            chain,
            head,
            checkpoint,
        })
    }

    /// Encodes as `PV1:` + base45.
    pub fn encode(&self) -> String {
        format!("{PAYLOAD_PREFIX}{}", base45::encode(&self.to_cbor()))
    }

    /// Decodes a payload string (surrounding whitespace is ignored).
    pub fn decode(text: &str) -> Result<Self, PayloadError> {
        let text = text.trim();
        if text.len() > MAX_PAYLOAD_CHARS {
            return Err(PayloadError::TooLarge(text.len()));
        }
        let body = text
            .strip_prefix(PAYLOAD_PREFIX)
            .ok_or(PayloadError::BadPrefix)?;
        let bytes = base45::decode(body).map_err(|_| PayloadError::BadBase45)?;
        Self::from_cbor(&bytes, MAX_PAYLOAD_CHARS)
    }

    /// Decodes the CBOR item of a payload or a history file (at most `max_len` bytes).
    pub fn from_cbor(bytes: &[u8], max_len: usize) -> Result<Self, PayloadError> {
        match bytes.first() {
            // 0xd2 = tag 18 (COSE_Sign1): a label. The record decoder checks it fully later.
            Some(0xd2) => {
                if bytes.len() > MAX_RECORD_BYTES {
                    return Err(PayloadError::Decode(DecodeError::TooLarge {
                        limit: MAX_RECORD_BYTES,
                        actual: bytes.len(),
                    }));
                }
                Ok(Payload::Label(bytes.to_vec()))
            }
            Some(b) if b >> 5 == 5 => History::from_cbor(bytes, max_len).map(Payload::History),
            _ => Err(PayloadError::BadContainer(
                "neither a COSE_Sign1 nor a container map",
            )),
        }
    }
}

impl History {
    /// The container's deterministic CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        let bstr = |b: &Vec<u8>| Value::Bytes(b.clone());
        cbor::encode(&cbor::int_map(vec![
            (
                key::RECORDS,
                Some(Value::Array(self.records.iter().map(bstr).collect())),
            ),
            (key::RUN, self.run.as_ref().map(bstr)),
            (key::HEAD, self.head.as_ref().map(|h| bstr(&h.0))),
            (key::ANCHOR, self.anchor.as_ref().map(LogAnchor::to_value)),
        ]))
    }

    /// The living payload for a chain: the mint and the head statement, plus every later
    /// record when the whole container stays within `budget` bytes of CBOR. A partial run of
    /// the latest records is never included: without the records before it, an offline
    /// verifier could not check who was allowed to sign it (spec §14.2).
    pub fn living(records: &[Vec<u8>], head: HeadStatementBytes, budget: usize) -> Self {
        let full = History {
            records: records.to_vec(),
            run: None,
            head: Some(head.clone()),
            anchor: None,
        };
        if records.len() <= 1 || full.to_cbor().len() <= budget {
            return full;
        }
        History {
            records: records.first().cloned().into_iter().collect(),
            run: None,
            head: Some(head),
            anchor: None,
        }
    }

    /// Decodes a container strictly (at most `max_len` bytes, at most
    /// [`MAX_HISTORY_RECORDS`] records). Use [`MAX_HISTORY_BYTES`] for files.
    pub fn from_cbor(bytes: &[u8], max_len: usize) -> Result<Self, PayloadError> {
        let max_len = max_len.min(MAX_HISTORY_BYTES);
        let value = cbor::decode_one(bytes, max_len).map_err(PayloadError::Decode)?;
        let mut map = IntMap::new(value, "container").map_err(PayloadError::Decode)?;
        let records = map
            .array(key::RECORDS, MAX_HISTORY_RECORDS)
            .map_err(PayloadError::Decode)?
            .into_iter()
            .map(|v| match v {
                Value::Bytes(b) if b.len() <= MAX_RECORD_BYTES => Ok(b),
                _ => Err(PayloadError::BadContainer(
                    "records must be byte strings of at most 2048 bytes",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if records.is_empty() {
            return Err(PayloadError::BadContainer(
                "a container holds at least the mint",
            ));
        }
        let run = map
            .opt_bytes(key::RUN, MAX_RECORD_BYTES)
            .map_err(PayloadError::Decode)?;
        let head = map
            .opt_bytes(key::HEAD, MAX_RECORD_BYTES)
            .map_err(PayloadError::Decode)?
            .map(HeadStatementBytes);
        let anchor = map
            .opt_array(key::ANCHOR, 3)
            .map_err(PayloadError::Decode)?
            .map(LogAnchor::from_values)
            .transpose()?;
        map.finish().map_err(PayloadError::Decode)?;
        let history = History {
            records,
            run,
            head,
            anchor,
        };
        if history.to_cbor() != bytes {
            return Err(PayloadError::Decode(DecodeError::NonCanonical));
        }
        Ok(history)
    }
}

impl LogAnchor {
    fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::Text(self.checkpoint.clone()),
            Value::Integer(self.index.into()),
            Value::Array(
                self.proof
                    .iter()
                    .map(|h| Value::Bytes(h.to_vec()))
                    .collect(),
            ),
        ])
    }

    fn from_values(values: Vec<Value>) -> Result<Self, PayloadError> {
        const SHAPE: &str = "a log anchor is [checkpoint text, leaf index, [32-byte hashes]]";
        let [Value::Text(checkpoint), Value::Integer(index), Value::Array(hashes)] =
            <[Value; 3]>::try_from(values).map_err(|_| PayloadError::BadContainer(SHAPE))?
        else {
            return Err(PayloadError::BadContainer(SHAPE));
        };
        if checkpoint.len() > MAX_CHECKPOINT_BYTES || hashes.len() > MAX_PROOF_HASHES {
            return Err(PayloadError::BadContainer(SHAPE));
        }
        let index = u64::try_from(index).map_err(|_| PayloadError::BadContainer(SHAPE))?;
        let proof = hashes
            .into_iter()
            .map(|h| match h {
                Value::Bytes(b) => <[u8; 32]>::try_from(b.as_slice()).ok(),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(PayloadError::BadContainer(SHAPE))?;
        Ok(LogAnchor {
            checkpoint,
            index,
            proof,
        })
    }

    /// Checks the checkpoint's ledger signature and that the last record of `history` (the
    /// chain's head) is the leaf at `index` of the checkpoint's tree.
    fn verify(
        &self,
        chain: &VerifiedChain,
        history: &History,
        trust: &TrustList,
    ) -> Result<Checkpoint, PayloadVerifyError> {
        let ledger = trust.content().ledger.ok_or(HeadError::NoLedgerKey)?;
        let checkpoint = Checkpoint::verify_own_origin(&self.checkpoint, &ledger)?;
        let last = history
            .records
            .last()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let leaf = leaf_hash(&item_leaf(&chain.item(), chain.seq(), last));
        let proof: Vec<&[u8]> = self.proof.iter().map(|h| h.as_slice()).collect();
        verify_inclusion(
            self.index,
            checkpoint.size,
            &leaf.0,
            &proof,
            &checkpoint.root.0,
        )?;
        Ok(checkpoint)
    }
}
