//! The record model: every kind's fields, its deterministic CBOR payload (spec §3), and
//! signing/decoding as COSE_Sign1 with the chain binding in `external_aad` (spec §4).

use std::fmt;

use ciborium::Value;

use crate::cbor::{self, IntMap};
use crate::cose::{self, Envelope};
use crate::error::DecodeError;
use crate::ids::{ItemId, RecordHash, RunId, Timestamp};
use crate::keys::{KeyId, NewOwner, PublicKey, RecoveryDigest, SigningKey};
use crate::limits::{MAX_PARTS, MAX_RECORD_BYTES, MAX_TEXT_BYTES};

/// The kinds of record, with their CBOR kind numbers (payload key 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A maker's production run (kind 1).
    RunManifest = 1,
    /// Genesis of an item: edition n of N (kind 2).
    Mint = 2,
    /// A repair desk's record (kind 3).
    Repair = 3,
    /// The owner hands the item to a new key (kind 4).
    Transfer = 4,
    /// An event host's attendance badge (kind 5).
    Badge = 5,
    /// Stolen, recovered (owner or its recovery key) or void (maker) (kind 6).
    Report = 6,
    /// The owner's recovery key moves the ownership to a new key (kind 7).
    Recover = 7,
}

impl RecordKind {
    /// The kind with CBOR kind number `n`, if there is one.
    pub fn from_number(n: u64) -> Option<Self> {
        Some(match n {
            1 => RecordKind::RunManifest,
            2 => RecordKind::Mint,
            3 => RecordKind::Repair,
            4 => RecordKind::Transfer,
            5 => RecordKind::Badge,
            6 => RecordKind::Report,
            7 => RecordKind::Recover,
            _ => return None,
        })
    }

    /// The CBOR kind number (payload key 1).
    pub fn number(self) -> u64 {
        self as u64
    }

    /// The lower-case name used in JSON and messages.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::RunManifest => "run",
            RecordKind::Mint => "mint",
            RecordKind::Repair => "repair",
            RecordKind::Transfer => "transfer",
            RecordKind::Badge => "badge",
            RecordKind::Report => "report",
            RecordKind::Recover => "recover",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    /// The owner reports the item stolen (1).
    Stolen = 1,
    /// The owner reports it recovered (2).
    Recovered = 2,
    /// The maker declares the item void, e.g. a misprint or a destroyed piece (3).
    Void = 3,
}

impl ReportStatus {
    /// The lower-case name used in JSON and messages.
    pub fn name(self) -> &'static str {
        match self {
            ReportStatus::Stolen => "stolen",
            ReportStatus::Recovered => "recovered",
            ReportStatus::Void => "void",
        }
    }
}

/// A maker's production run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunManifest {
    /// Run title, e.g. "Eclipse Pin".
    pub title: String,
    /// Microfactory name.
    pub microfactory: String,
    /// Microfactory place.
    pub place: String,
    /// Edition size N.
    pub size: u64,
    /// First moment pieces may be minted.
    pub window_start: Timestamp,
    /// Last moment pieces may be minted.
    pub window_end: Timestamp,
}

/// Genesis of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mint {
    /// The run it belongs to.
    pub run: RunId,
    /// Edition number n (1..=N).
    pub number: u64,
    /// Edition size N (the run's size).
    pub size: u64,
    /// The run title, repeated so a label alone names the piece.
    pub title: String,
    /// The microfactory name, repeated so a label alone names it.
    pub microfactory: String,
    /// The first owner (and its recovery commitment); absent means the maker owns it.
    pub owner: Option<NewOwner>,
}

/// A repair record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// What was done.
    pub note: String,
    /// Parts replaced.
    pub parts: Vec<String>,
}

/// An attendance badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// Event name.
    pub event: String,
    /// Where it took place.
    pub place: Option<String>,
}

/// A stolen or recovered report signed by the owner's recovery key (kind 6 with key 5), so
/// the person who lost an unlocked phone can act before a thief does (spec §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The recovery key that signs it, whose digest the current ownership committed to.
    pub recovery_key: PublicKey,
    /// Stolen or recovered (never void, which is the maker's).
    pub status: ReportStatus,
}

/// The owner's recovery key moving the ownership to a new key (kind 7, spec §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recover {
    /// The recovery key that signs it, whose digest the current ownership committed to.
    pub recovery_key: PublicKey,
    /// The new owner key and its own recovery commitment.
    pub new_owner: NewOwner,
}

/// The kind-specific content of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordBody {
    /// Kind 1.
    RunManifest(RunManifest),
    /// Kind 2.
    Mint(Mint),
    /// Kind 3.
    Repair(Repair),
    /// Kind 4: the new owner's key and recovery commitment.
    Transfer(NewOwner),
    /// Kind 5.
    Badge(Badge),
    /// Kind 6, signed by the owner (stolen, recovered) or the maker (void).
    Report(ReportStatus),
    /// Kind 6 with the recovery key (key 5): stolen or recovered, signed by that key.
    RecoveryReport(RecoveryReport),
    /// Kind 7.
    Recover(Recover),
}

impl RecordBody {
    /// The kind of this body.
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordBody::RunManifest(_) => RecordKind::RunManifest,
            RecordBody::Mint(_) => RecordKind::Mint,
            RecordBody::Repair(_) => RecordKind::Repair,
            RecordBody::Transfer(_) => RecordKind::Transfer,
            RecordBody::Badge(_) => RecordKind::Badge,
            RecordBody::Report(_) | RecordBody::RecoveryReport(_) => RecordKind::Report,
            RecordBody::Recover(_) => RecordKind::Recover,
        }
    }

    /// Whether this kind starts something (run manifest, mint) rather than extending a chain.
    pub fn is_genesis(&self) -> bool {
        matches!(self, RecordBody::RunManifest(_) | RecordBody::Mint(_))
    }
}

/// A record's payload: time, position in its item's chain, and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When the signer made it (claimed by the signer; checked against trust validity).
    pub time: Timestamp,
    /// Position in the item's chain: 0 for mints and run manifests (not encoded), 1.. after.
    pub seq: u64,
    /// The content.
    pub body: RecordBody,
}

/// Where a later record sits: its item and the hash of the record before it.
/// Bound into the signature through COSE `external_aad` (spec §4), never transmitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink {
    /// The item.
    pub item: ItemId,
    /// SHA-256 of the previous record's exact bytes.
    pub prev: RecordHash,
}

impl ChainLink {
    /// `item_id (16 bytes) || prev_hash (32 bytes)`.
    pub fn external_aad(&self) -> [u8; 48] {
        let mut aad = [0u8; 48];
        aad[..16].copy_from_slice(&self.item.0);
        aad[16..].copy_from_slice(&self.prev.0);
        aad
    }
}

fn text(s: &str) -> Option<Value> {
    Some(Value::Text(s.to_string()))
}

fn uint(n: u64) -> Option<Value> {
    Some(Value::Integer(n.into()))
}

fn key_bytes(k: &PublicKey) -> Option<Value> {
    Some(Value::Bytes(k.to_bytes().to_vec()))
}

fn digest_bytes(d: &RecoveryDigest) -> Option<Value> {
    Some(Value::Bytes(d.0.to_vec()))
}

impl Record {
    /// The deterministic CBOR payload (RFC 8949 §4.2.1: shortest integers, sorted keys, definite lengths).
    pub fn to_payload(&self) -> Vec<u8> {
        let kind = uint(self.body.kind() as u64);
        let time = uint(self.time.0);
        let seq = if self.body.is_genesis() {
            None
        } else {
            uint(self.seq)
        };
        let fields = match &self.body {
            RecordBody::RunManifest(r) => vec![
                (4, text(&r.title)),
                (5, text(&r.microfactory)),
                (6, text(&r.place)),
                (7, uint(r.size)),
                (8, uint(r.window_start.0)),
                (9, uint(r.window_end.0)),
            ],
            RecordBody::Mint(m) => vec![
                (4, Some(Value::Bytes(m.run.0.to_vec()))),
                (5, uint(m.number)),
                (6, uint(m.size)),
                (7, text(&m.title)),
                (8, text(&m.microfactory)),
                (9, m.owner.as_ref().and_then(|o| key_bytes(&o.key))),
                (
                    10,
                    m.owner
                        .as_ref()
                        .and_then(|o| o.recovery.as_ref())
                        .and_then(digest_bytes),
                ),
            ],
            RecordBody::Repair(r) => vec![
                (4, text(&r.note)),
                (
                    5,
                    (!r.parts.is_empty()).then(|| {
                        Value::Array(r.parts.iter().map(|p| Value::Text(p.clone())).collect())
                    }),
                ),
            ],
            RecordBody::Transfer(to) => vec![
                (4, key_bytes(&to.key)),
                (5, to.recovery.as_ref().and_then(digest_bytes)),
            ],
            RecordBody::Badge(b) => {
                vec![(4, text(&b.event)), (5, b.place.as_deref().and_then(text))]
            }
            RecordBody::Report(s) => vec![(4, uint(*s as u64))],
            RecordBody::RecoveryReport(r) => {
                vec![(4, uint(r.status as u64)), (5, key_bytes(&r.recovery_key))]
            }
            RecordBody::Recover(r) => vec![
                (4, key_bytes(&r.new_owner.key)),
                (5, r.new_owner.recovery.as_ref().and_then(digest_bytes)),
                (6, key_bytes(&r.recovery_key)),
            ],
        };
        let mut all = vec![(1, kind), (2, time), (3, seq)];
        all.extend(fields);
        cbor::encode(&cbor::int_map(all))
    }

    /// Parses a payload strictly: known kind, every required field, no unknown field,
    /// and the bytes must be exactly the deterministic encoding of the result.
    pub fn from_payload(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value = cbor::decode_one(bytes, MAX_RECORD_BYTES)?;
        let mut map = IntMap::new(value, "record")?;
        let number = map.uint(1)?;
        let kind = RecordKind::from_number(number).ok_or(DecodeError::UnknownKind(number))?;
        let time = Timestamp(map.uint(2)?);
        let genesis = matches!(kind, RecordKind::RunManifest | RecordKind::Mint);
        let seq = if genesis { 0 } else { map.uint(3)? };
        if !genesis && seq == 0 {
            return Err(DecodeError::invalid(
                "record",
                3,
                "sequence number 0 is the mint's",
            ));
        }
        let body = match kind {
            RecordKind::RunManifest => RecordBody::RunManifest(RunManifest {
                title: map.text(4, MAX_TEXT_BYTES)?,
                microfactory: map.text(5, MAX_TEXT_BYTES)?,
                place: map.text(6, MAX_TEXT_BYTES)?,
                size: map.uint(7)?,
                window_start: Timestamp(map.uint(8)?),
                window_end: Timestamp(map.uint(9)?),
            }),
            RecordKind::Mint => RecordBody::Mint(Mint {
                run: RunId(map.bytes_n::<16>(4)?),
                number: map.uint(5)?,
                size: map.uint(6)?,
                title: map.text(7, MAX_TEXT_BYTES)?,
                microfactory: map.text(8, MAX_TEXT_BYTES)?,
                owner: first_owner(&mut map)?,
            }),
            RecordKind::Repair => RecordBody::Repair(Repair {
                note: map.text(4, MAX_TEXT_BYTES)?,
                parts: repair_parts(&mut map)?,
            }),
            RecordKind::Transfer => RecordBody::Transfer(NewOwner {
                key: parse_key(&map.bytes_n::<32>(4)?)?,
                recovery: map.opt_bytes_n::<32>(5)?.map(RecoveryDigest),
            }),
            RecordKind::Badge => RecordBody::Badge(Badge {
                event: map.text(4, MAX_TEXT_BYTES)?,
                place: map.opt_text(5, MAX_TEXT_BYTES)?,
            }),
            RecordKind::Report => report(&mut map)?,
            RecordKind::Recover => {
                let key = parse_key(&map.bytes_n::<32>(4)?)?;
                let recovery = map.opt_bytes_n::<32>(5)?.map(RecoveryDigest);
                RecordBody::Recover(Recover {
                    recovery_key: parse_key(&map.bytes_n::<32>(6)?)?,
                    new_owner: NewOwner { key, recovery },
                })
            }
        };
        map.finish()?;
        let record = Record { time, seq, body };
        if record.to_payload() != bytes {
            return Err(DecodeError::NonCanonical);
        }
        Ok(record)
    }

    /// Checks every text field against the character rule of spec §3 ([`crate::text`]), so a
    /// signer can refuse text no verifier would accept before signing it.
    pub fn check_text(&self) -> Result<(), DecodeError> {
        let fields: Vec<(u64, &str)> = match &self.body {
            RecordBody::RunManifest(r) => vec![(4, &r.title), (5, &r.microfactory), (6, &r.place)]
                .into_iter()
                .map(|(k, t)| (k, t.as_str()))
                .collect(),
            RecordBody::Mint(m) => vec![(7, m.title.as_str()), (8, m.microfactory.as_str())],
            RecordBody::Repair(r) => std::iter::once((4, r.note.as_str()))
                .chain(r.parts.iter().map(|p| (5, p.as_str())))
                .collect(),
            RecordBody::Badge(b) => std::iter::once((4, b.event.as_str()))
                .chain(b.place.iter().map(|p| (5, p.as_str())))
                .collect(),
            RecordBody::Transfer(_)
            | RecordBody::Report(_)
            | RecordBody::RecoveryReport(_)
            | RecordBody::Recover(_) => Vec::new(),
        };
        for (key, text) in fields {
            if let Some(c) = crate::text::first_forbidden(text) {
                return Err(DecodeError::BadText {
                    context: "record",
                    key,
                    character: u32::from(c),
                });
            }
        }
        Ok(())
    }

    /// What a signer outside this library (a browser's non-extractable WebCrypto key, a
    /// hardware token) signs for this record as `signer`: the COSE Sig_structure (RFC 9052
    /// §4.4) with the chain binding of `link` (spec §2, §4). Sign these bytes with Ed25519 and
    /// give the signature to [`Record::assemble`].
    pub fn to_be_signed(&self, signer: &PublicKey, link: Option<&ChainLink>) -> Vec<u8> {
        let aad = link.map(ChainLink::external_aad);
        cose::to_be_signed(
            signer.key_id(),
            &self.to_payload(),
            aad.as_ref().map_or(&[][..], |a| &a[..]),
        )
    }

    /// The record's COSE_Sign1 bytes from a signature made elsewhere over
    /// [`Record::to_be_signed`]. The signature is checked first (strictly), so what comes out
    /// verifies, and, Ed25519 being deterministic, is byte for byte what [`Record::sign`] makes
    /// with the same key.
    pub fn assemble(
        &self,
        signer: &PublicKey,
        link: Option<&ChainLink>,
        signature: &[u8; crate::keys::SIGNATURE_LEN],
    ) -> Result<Vec<u8>, crate::error::VerifyError> {
        if !signer.verify_strict(&self.to_be_signed(signer, link), signature) {
            return Err(crate::error::VerifyError::SignatureInvalid);
        }
        Ok(cose::assemble(
            signer.key_id(),
            &self.to_payload(),
            signature,
        ))
    }

    /// Signs the record with `key`. Genesis kinds (run manifest, mint) take `link: None`;
    /// every later record takes the item and previous hash it extends.
    /// Signing does not check any rule: verification does ([`Record::check_text`] lets a
    /// signer refuse text that verification would).
    pub fn sign(&self, key: &SigningKey, link: Option<&ChainLink>) -> Vec<u8> {
        let aad = link.map(ChainLink::external_aad);
        cose::sign(
            key,
            self.to_payload(),
            aad.as_ref().map_or(&[][..], |a| &a[..]),
        )
    }
}

/// A repair's parts (key 5): omitted, or 1 to [`MAX_PARTS`] short text strings, each
/// holding only the characters spec §3 allows.
fn repair_parts(map: &mut IntMap) -> Result<Vec<String>, DecodeError> {
    let items = match map.opt_array(5, MAX_PARTS)? {
        None => return Ok(Vec::new()),
        Some(items) if items.is_empty() => {
            return Err(DecodeError::invalid(
                "record",
                5,
                "empty parts list must be omitted",
            ))
        }
        Some(items) => items,
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::Text(t) if t.len() <= MAX_TEXT_BYTES => match crate::text::first_forbidden(&t) {
                None => Ok(t),
                Some(c) => Err(DecodeError::BadText {
                    context: "record",
                    key: 5,
                    character: u32::from(c),
                }),
            },
            _ => Err(DecodeError::invalid(
                "record",
                5,
                "parts must be short text strings",
            )),
        })
        .collect()
}

/// A mint's first owner (key 9) and its recovery commitment (key 10, only with key 9: a maker
/// who keeps the piece commits through a transfer, not the mint).
fn first_owner(map: &mut IntMap) -> Result<Option<NewOwner>, DecodeError> {
    let key = map
        .opt_bytes_n::<32>(9)?
        .map(|b| parse_key(&b))
        .transpose()?;
    let recovery = map.opt_bytes_n::<32>(10)?.map(RecoveryDigest);
    match (key, recovery) {
        (None, Some(_)) => Err(DecodeError::invalid(
            "record",
            10,
            "a recovery commitment needs a first owner (key 9)",
        )),
        (key, recovery) => Ok(key.map(|key| NewOwner { key, recovery })),
    }
}

/// A report (kind 6): its status (key 4) and, when the owner's recovery key signs it, that key
/// (key 5; stolen or recovered only).
fn report(map: &mut IntMap) -> Result<RecordBody, DecodeError> {
    let status = match map.uint(4)? {
        1 => ReportStatus::Stolen,
        2 => ReportStatus::Recovered,
        3 => ReportStatus::Void,
        _ => return Err(DecodeError::invalid("record", 4, "unknown report status")),
    };
    Ok(match map.opt_bytes_n::<32>(5)? {
        None => RecordBody::Report(status),
        Some(_) if status == ReportStatus::Void => {
            return Err(DecodeError::invalid(
                "record",
                5,
                "a void is the maker's, never a recovery key's",
            ))
        }
        Some(key) => RecordBody::RecoveryReport(RecoveryReport {
            recovery_key: parse_key(&key)?,
            status,
        }),
    })
}

fn parse_key(bytes: &[u8; 32]) -> Result<PublicKey, DecodeError> {
    PublicKey::from_bytes(bytes).map_err(|_| DecodeError::BadPublicKey)
}

/// A record decoded from untrusted bytes; its signature is not yet checked.
pub struct DecodedRecord {
    /// SHA-256 of the exact bytes received.
    pub hash: RecordHash,
    /// The key id named in the protected header.
    pub signer: KeyId,
    /// The parsed payload.
    pub record: Record,
    pub(crate) envelope: Envelope,
}

impl DecodedRecord {
    /// Strictly decodes one record (at most [`MAX_RECORD_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let envelope = Envelope::decode(bytes, MAX_RECORD_BYTES)?;
        let record = Record::from_payload(&envelope.payload)?;
        Ok(DecodedRecord {
            hash: RecordHash::of(bytes),
            signer: envelope.kid,
            record,
            envelope,
        })
    }

    /// Whether `key` signed this record at the position `link` (`None` for genesis kinds:
    /// mints and runs). Checks the signature alone, not the header's key id: a caller that
    /// knows whose record this should be (an outbox that queued it, a verifier holding the
    /// signer's trust entry) passes that key and compares [`DecodedRecord::signer`] itself.
    pub fn signature_valid(&self, key: &PublicKey, link: Option<&ChainLink>) -> bool {
        let aad = link.map(ChainLink::external_aad);
        self.envelope
            .verify(key, aad.as_ref().map_or(&[][..], |a| &a[..]))
    }
}

/// Signs arbitrary payload bytes as a profiled COSE_Sign1. Only for building conformance
/// vectors that must carry a valid signature over a deliberately broken payload.
#[doc(hidden)]
pub fn sign_raw_payload_for_vectors(
    key: &SigningKey,
    payload: Vec<u8>,
    link: Option<&ChainLink>,
) -> Vec<u8> {
    let aad = link.map(ChainLink::external_aad);
    cose::sign(key, payload, aad.as_ref().map_or(&[][..], |a| &a[..]))
}
