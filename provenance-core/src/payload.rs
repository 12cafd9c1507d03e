//! QR payloads (spec §7): `PV1:` followed by base45 (RFC 9285) of one CBOR item.
//!
//! - A **label** is the mint record itself (a tagged COSE_Sign1): origin only.
//! - A **history** is a container map `{1: [records...], ? 2: run manifest}` holding every
//!   record of one item as byte strings, exactly as signed. The same container, as raw CBOR,
//!   is the full-history file.
//!
//! Nothing in a payload is unsigned apart from the container's framing, and the framing is
//! canonical and closed (no unknown keys), so no byte can change without breaking decoding or a
//! signature.

use ciborium::Value;

use crate::base45;
use crate::cbor::{self, IntMap};
use crate::chain::{verify_chain, verify_run, VerifiedChain};
use crate::error::ChainError;
use crate::error::{DecodeError, PayloadError};
use crate::ids::Timestamp;
use crate::limits::{MAX_HISTORY_BYTES, MAX_HISTORY_RECORDS, MAX_PAYLOAD_CHARS, MAX_RECORD_BYTES};
use crate::trust::TrustList;

/// The version prefix of every payload string.
pub const PAYLOAD_PREFIX: &str = "PV1:";

/// Container map keys.
mod key {
    pub const RECORDS: u64 = 1;
    pub const RUN: u64 = 2;
    /// Reserved for the ledger-signed head statement (living payloads).
    pub const HEAD: u64 = 3;
}

/// An item's records as carried in a payload or a history file: exact bytes, unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The records in chain order, mint first, each exactly as signed.
    pub records: Vec<Vec<u8>>,
    /// The run manifest the mint names, if carried.
    pub run: Option<Vec<u8>>,
    /// Slot for the ledger-signed head statement that living payloads will staple.
    /// Decoding refuses key 3 until head statements are specified, so this is always `None`.
    pub head: Option<HeadStatementBytes>,
}

/// The bytes of a ledger-signed head statement (reserved; see spec §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadStatementBytes(pub Vec<u8>);

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

    /// Verifies every record in order from the mint, and the run manifest if carried
    /// (its own rules, then the mint against it, reported at index 0).
    pub fn verify(&self, trust: &TrustList, now: Timestamp) -> Result<VerifiedChain, ChainError> {
        let chain = verify_chain(self.records(), trust, now)?;
        if let Payload::History(History { run: Some(run), .. }) = self {
            let at0 = |error| ChainError { index: 0, error };
            let run = verify_run(run, trust, now).map_err(at0)?;
            chain.check_run(&run).map_err(at0)?;
        }
        Ok(chain)
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
        ]))
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
        if map
            .opt_bytes(key::HEAD, MAX_RECORD_BYTES)
            .map_err(PayloadError::Decode)?
            .is_some()
        {
            return Err(PayloadError::BadContainer(
                "head statements are not supported by this version",
            ));
        }
        map.finish().map_err(PayloadError::Decode)?;
        let history = History {
            records,
            run,
            head: None,
        };
        if history.to_cbor() != bytes {
            return Err(PayloadError::Decode(DecodeError::NonCanonical));
        }
        Ok(history)
    }
}
