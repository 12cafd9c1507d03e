//! # provenance-core
//!
//! The provenance format: records of limited-edition pieces as Ed25519-signed COSE_Sign1
//! (RFC 9052) over deterministic CBOR (RFC 8949 §4.2.1), hash-chained per item; the signed
//! trust list; owner challenges; and the `PV1:` QR payload codec. The byte formats are
//! specified in `spec/README.md`.
//!
//! **No I/O**: no files, no network, no clock. Times come in as [`Timestamp`] arguments and
//! randomness as seeds.
//!
//! The path of a record: [`Record::sign`] → bytes → [`DecodedRecord::decode`] (strict, size
//! limited) → [`VerifiedChain::start`] / [`VerifiedChain::extend`] (signature, authorization,
//! chain rules) → [`VerifiedRecord`], the only value the ledger's append path accepts.
#![forbid(unsafe_code)]

pub mod base45;
mod cbor;
pub mod chain;
pub mod challenge;
pub mod checkpoint;
pub mod codes;
mod cose;
pub mod error;
pub mod head;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod log;
pub mod payload;
pub mod record;
pub mod recovery;
pub mod text;
pub mod trust;

pub use chain::{
    verify_chain, verify_run, ChainHead, Signer, VerifiedChain, VerifiedRecord, VerifiedRun,
};
pub use codes::ErrorCode;
pub use error::{
    ChainError, DecodeError, PayloadError, ProofError, Quota, TrustError, VerifyError,
};
pub use ids::{ItemId, RecordHash, RunId, Timestamp};
pub use keys::{KeyError, KeyId, NewOwner, PublicKey, RecoveryDigest, SigningKey};
pub use payload::{History, Payload, PayloadVerifyError, VerifiedPayload, PAYLOAD_PREFIX};
pub use record::{
    Badge, ChainLink, DecodedRecord, Mint, Record, RecordBody, RecordKind, Recover, RecoveryReport,
    Repair, ReportStatus, RunManifest,
};
pub use trust::{Role, Roles, TrustEntry, TrustList, TrustListContent};
