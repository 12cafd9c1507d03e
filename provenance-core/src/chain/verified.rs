//! The verified values every rule produces ([`Signer`], [`VerifiedRecord`], [`VerifiedRun`]),
//! the checks the mint, run and record rules share, and [`verify_run`].

use crate::error::VerifyError;
use crate::ids::RecordHash;
use crate::ids::{RunId, Timestamp};
use crate::keys::PublicKey;
use crate::limits::{MAX_CLOCK_SKEW_SECS, MAX_RUN_SIZE};
use crate::record::{ChainLink, DecodedRecord, RecordBody, RecordKind, RunManifest};
use crate::trust::{Role, TrustEntry, TrustList, Validity};

/// A trusted party as the trust list names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The signer's key.
    pub key: PublicKey,
    /// Display name from the trust list (empty for owners, who are not listed).
    pub name: String,
}

/// One record that passed every rule. Built only by this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRecord {
    hash: RecordHash,
    seq: u64,
    kind: RecordKind,
    time: Timestamp,
    signer: PublicKey,
    bytes: Vec<u8>,
}

impl VerifiedRecord {
    /// SHA-256 of the exact bytes.
    pub fn hash(&self) -> RecordHash {
        self.hash
    }
    /// Position in the chain (0 = mint).
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// The record kind.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }
    /// The record's own time.
    pub fn time(&self) -> Timestamp {
        self.time
    }
    /// The key that signed it.
    pub fn signer(&self) -> &PublicKey {
        &self.signer
    }
    /// The exact bytes that were verified.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A run manifest that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRun {
    id: RunId,
    maker: Signer,
    time: Timestamp,
    manifest: RunManifest,
    record: VerifiedRecord,
}

impl VerifiedRun {
    /// The run's id, derived from the manifest's bytes.
    pub fn id(&self) -> RunId {
        self.id
    }

    /// The maker who signed it.
    pub fn maker(&self) -> &Signer {
        &self.maker
    }

    /// When it was signed.
    pub fn time(&self) -> Timestamp {
        self.time
    }

    /// Its content.
    pub fn manifest(&self) -> &RunManifest {
        &self.manifest
    }

    /// The verified record (for storage).
    pub fn record(&self) -> &VerifiedRecord {
        &self.record
    }
}

pub(super) fn check_time(time: Timestamp, now: Timestamp) -> Result<(), VerifyError> {
    if time.0 > now.0.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(VerifyError::TimeInFuture);
    }
    Ok(())
}

fn check_validity(entry: &TrustEntry, time: Timestamp) -> Result<(), VerifyError> {
    match entry.validity_at(time) {
        Validity::Valid => Ok(()),
        Validity::NotYetValid => Err(VerifyError::KeyNotYetValid),
        Validity::Expired => Err(VerifyError::KeyExpired),
        Validity::Revoked => Err(VerifyError::KeyRevoked),
    }
}

/// Finds a trusted signer with `role`, verifies its signature, then its validity at `time`.
pub(super) fn trusted_signer<'t>(
    decoded: &DecodedRecord,
    trust: &'t TrustList,
    role: Role,
    link: Option<&ChainLink>,
) -> Result<&'t TrustEntry, VerifyError> {
    let entry = trust
        .entry(&decoded.signer)
        .ok_or(VerifyError::UnknownSigner(decoded.signer))?;
    if !decoded.signature_valid(&entry.key, link) {
        return Err(VerifyError::SignatureInvalid);
    }
    if !entry.roles.contains(role) {
        return Err(VerifyError::SignerNotAuthorized(role));
    }
    check_validity(entry, decoded.record.time)?;
    Ok(entry)
}

pub(super) fn check_run_size(size: u64) -> Result<(), VerifyError> {
    if size > MAX_RUN_SIZE {
        return Err(VerifyError::RunSizeOverLimit {
            size,
            limit: MAX_RUN_SIZE,
        });
    }
    Ok(())
}

pub(super) fn verified(decoded: DecodedRecord, bytes: &[u8], signer: PublicKey) -> VerifiedRecord {
    VerifiedRecord {
        hash: decoded.hash,
        seq: decoded.record.seq,
        kind: decoded.record.body.kind(),
        time: decoded.record.time,
        signer,
        bytes: bytes.to_vec(),
    }
}

/// Verifies a run manifest: decodes, a trusted maker signed it, valid at its time, sane window.
pub fn verify_run(
    bytes: &[u8],
    trust: &TrustList,
    now: Timestamp,
) -> Result<VerifiedRun, VerifyError> {
    let decoded = DecodedRecord::decode(bytes)?;
    let RecordBody::RunManifest(manifest) = decoded.record.body.clone() else {
        return Err(VerifyError::UnexpectedKind(decoded.record.body.kind()));
    };
    let entry = trusted_signer(&decoded, trust, Role::Maker, None)?;
    check_time(decoded.record.time, now)?;
    if manifest.size == 0 || manifest.window_end < manifest.window_start {
        return Err(VerifyError::InvalidWindow);
    }
    check_run_size(manifest.size)?;
    let maker = Signer {
        key: entry.key,
        name: entry.name.clone(),
    };
    let time = decoded.record.time;
    Ok(VerifiedRun {
        id: RunId::derive(bytes),
        maker,
        time,
        manifest,
        record: verified(decoded, bytes, entry.key),
    })
}
