//! Chain verification (spec §6): the only code that builds [`VerifiedRun`], [`VerifiedRecord`]
//! and [`VerifiedChain`]. The rules are checked in the order the spec lists them.

use std::collections::BTreeMap;

use crate::error::{ChainError, Quota, VerifyError};
use crate::ids::{ItemId, RecordHash, RunId, Timestamp};
use crate::keys::{KeyId, PublicKey};
use crate::limits::{
    MAX_CLOCK_SKEW_SECS, MAX_HISTORY_RECORDS, MAX_RUN_SIZE, MAX_THIRD_PARTY_RECORDS_PER_ITEM,
    MAX_THIRD_PARTY_RECORDS_PER_SIGNER,
};
use crate::record::{
    ChainLink, DecodedRecord, Mint, Record, RecordBody, RecordKind, ReportStatus, RunManifest,
};
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

/// A repair in an item's story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairEvent {
    /// When.
    pub time: Timestamp,
    /// Which desk.
    pub desk: Signer,
    /// What was done.
    pub note: String,
    /// Parts replaced.
    pub parts: Vec<String>,
}

/// A change of owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferEvent {
    /// When.
    pub time: Timestamp,
    /// The previous owner.
    pub from: PublicKey,
    /// The new owner.
    pub to: PublicKey,
}

/// An attendance badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeEvent {
    /// When.
    pub time: Timestamp,
    /// The host.
    pub host: Signer,
    /// Event name.
    pub event: String,
    /// Event place.
    pub place: Option<String>,
}

/// A stolen / recovered / void report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEvent {
    /// When.
    pub time: Timestamp,
    /// What was reported.
    pub status: ReportStatus,
}

/// An item's history that passed every rule, summarised as its story and current state.
/// Only [`verify_chain`], [`VerifiedChain::start`] and [`VerifiedChain::extend`] build or change one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    item: ItemId,
    maker: Signer,
    mint: Mint,
    minted_at: Timestamp,
    owner: PublicKey,
    seq: u64,
    head: RecordHash,
    last_time: Timestamp,
    stolen: bool,
    void: bool,
    repairs: Vec<RepairEvent>,
    transfers: Vec<TransferEvent>,
    badges: Vec<BadgeEvent>,
    reports: Vec<ReportEvent>,
    /// Repairs and badges per signer, for the third-party quotas.
    third_party_by_signer: BTreeMap<KeyId, usize>,
}

fn check_time(time: Timestamp, now: Timestamp) -> Result<(), VerifyError> {
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
fn trusted_signer<'t>(
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

fn check_run_size(size: u64) -> Result<(), VerifyError> {
    if size > MAX_RUN_SIZE {
        return Err(VerifyError::RunSizeOverLimit {
            size,
            limit: MAX_RUN_SIZE,
        });
    }
    Ok(())
}

fn verified(decoded: DecodedRecord, bytes: &[u8], signer: PublicKey) -> VerifiedRecord {
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

impl VerifiedChain {
    /// Verifies a mint and starts its item's chain (rules M1–M6 in the spec).
    pub fn start(
        mint_bytes: &[u8],
        trust: &TrustList,
        now: Timestamp,
    ) -> Result<(Self, VerifiedRecord), VerifyError> {
        let decoded = DecodedRecord::decode(mint_bytes)?;
        let RecordBody::Mint(mint) = decoded.record.body.clone() else {
            return Err(VerifyError::FirstNotMint(decoded.record.body.kind()));
        };
        let entry = trusted_signer(&decoded, trust, Role::Maker, None)?;
        check_time(decoded.record.time, now)?;
        if mint.number == 0 {
            return Err(VerifyError::EditionZero);
        }
        check_run_size(mint.size)?;
        if mint.number > mint.size {
            return Err(VerifyError::EditionOverCap {
                number: mint.number,
                size: mint.size,
            });
        }
        let maker = Signer {
            key: entry.key,
            name: entry.name.clone(),
        };
        let chain = VerifiedChain {
            item: ItemId::from_hash(&decoded.hash),
            owner: mint.owner.unwrap_or(entry.key),
            maker,
            minted_at: decoded.record.time,
            mint,
            seq: 0,
            head: decoded.hash,
            last_time: decoded.record.time,
            stolen: false,
            void: false,
            repairs: Vec::new(),
            transfers: Vec::new(),
            badges: Vec::new(),
            reports: Vec::new(),
            third_party_by_signer: BTreeMap::new(),
        };
        let record = verified(decoded, mint_bytes, entry.key);
        Ok((chain, record))
    }

    /// Verifies one more record against the current head (rules R1–R8) and, only if every
    /// rule passes, moves the head. On error the chain is unchanged: every rule is checked
    /// before anything is written, so nothing is copied to be thrown away.
    pub fn extend(
        &mut self,
        bytes: &[u8],
        trust: &TrustList,
        now: Timestamp,
    ) -> Result<VerifiedRecord, VerifyError> {
        let decoded = DecodedRecord::decode(bytes)?;
        self.check_position(&decoded.record, now)?;
        let link = ChainLink {
            item: self.item,
            prev: self.head,
        };
        let signer = self.check_signer(&decoded, trust, &link)?;
        self.check_state(&decoded.record.body)?;
        self.apply(&decoded, &signer);
        Ok(verified(decoded, bytes, signer.key))
    }

    /// Rules R1–R3 and the clock: a non-genesis kind, the next seq, a live item, and a time
    /// neither before the head's nor in the future.
    fn check_position(&self, record: &Record, now: Timestamp) -> Result<(), VerifyError> {
        if record.body.is_genesis() {
            return Err(VerifyError::UnexpectedKind(record.body.kind()));
        }
        let expected = self.seq + 1;
        if record.seq != expected {
            return Err(VerifyError::SeqMismatch {
                expected,
                found: record.seq,
            });
        }
        if self.void {
            return Err(VerifyError::ItemVoid);
        }
        if record.time < self.last_time {
            return Err(VerifyError::TimeRegressed);
        }
        check_time(record.time, now)
    }

    /// Rules R4–R6 and the quotas: who may sign this kind of record at this head, and that
    /// the signature binds it to the head.
    fn check_signer(
        &self,
        decoded: &DecodedRecord,
        trust: &TrustList,
        link: &ChainLink,
    ) -> Result<Signer, VerifyError> {
        match &decoded.record.body {
            RecordBody::Transfer(_)
            | RecordBody::Report(ReportStatus::Stolen | ReportStatus::Recovered) => {
                if decoded.signer != self.owner.key_id() {
                    return Err(VerifyError::SignerNotOwner);
                }
                if !decoded.signature_valid(&self.owner, Some(link)) {
                    return Err(VerifyError::SignatureInvalid);
                }
                Ok(Signer {
                    key: self.owner,
                    name: String::new(),
                })
            }
            RecordBody::Report(ReportStatus::Void) => {
                if decoded.signer != self.maker.key.key_id() {
                    return Err(VerifyError::SignerNotMaker);
                }
                let entry = trusted_signer(decoded, trust, Role::Maker, Some(link))?;
                Ok(Signer {
                    key: entry.key,
                    name: entry.name.clone(),
                })
            }
            RecordBody::Repair(_) | RecordBody::Badge(_) => {
                let role = if decoded.record.body.kind() == RecordKind::Repair {
                    Role::Repairer
                } else {
                    Role::Host
                };
                let entry = trusted_signer(decoded, trust, role, Some(link))?;
                self.check_third_party_quota(decoded.signer)?;
                Ok(Signer {
                    key: entry.key,
                    name: entry.name.clone(),
                })
            }
            RecordBody::RunManifest(_) | RecordBody::Mint(_) => {
                Err(VerifyError::UnexpectedKind(decoded.record.body.kind()))
            }
        }
    }

    /// Rules R7: a transfer goes to someone else; a report changes the status.
    fn check_state(&self, body: &RecordBody) -> Result<(), VerifyError> {
        match body {
            RecordBody::Transfer(to) if *to == self.owner => Err(VerifyError::TransferToSelf),
            RecordBody::Report(ReportStatus::Stolen) if self.stolen => {
                Err(VerifyError::StatusUnchanged)
            }
            RecordBody::Report(ReportStatus::Recovered) if !self.stolen => {
                Err(VerifyError::StatusUnchanged)
            }
            _ => Ok(()),
        }
    }

    /// Moves the head past a record every rule accepted, and adds it to the story.
    fn apply(&mut self, decoded: &DecodedRecord, signer: &Signer) {
        let record = &decoded.record;
        let time = record.time;
        match &record.body {
            RecordBody::Repair(r) => {
                self.count_third_party(decoded.signer);
                self.repairs.push(RepairEvent {
                    time,
                    desk: signer.clone(),
                    note: r.note.clone(),
                    parts: r.parts.clone(),
                });
            }
            RecordBody::Badge(b) => {
                self.count_third_party(decoded.signer);
                self.badges.push(BadgeEvent {
                    time,
                    host: signer.clone(),
                    event: b.event.clone(),
                    place: b.place.clone(),
                });
            }
            RecordBody::Transfer(to) => {
                self.transfers.push(TransferEvent {
                    time,
                    from: self.owner,
                    to: *to,
                });
                self.owner = *to;
            }
            RecordBody::Report(status) => {
                match status {
                    ReportStatus::Stolen => self.stolen = true,
                    ReportStatus::Recovered => self.stolen = false,
                    ReportStatus::Void => self.void = true,
                }
                self.reports.push(ReportEvent {
                    time,
                    status: *status,
                });
            }
            RecordBody::RunManifest(_) | RecordBody::Mint(_) => {}
        }
        self.seq = record.seq;
        self.head = decoded.hash;
        self.last_time = time;
    }

    /// Refuses one more repair or badge by `signer` over either quota (rule R8's quotas: no
    /// third party can fill an item's history and lock its owner out).
    fn check_third_party_quota(&self, signer: KeyId) -> Result<(), VerifyError> {
        if self.repairs.len() + self.badges.len() >= MAX_THIRD_PARTY_RECORDS_PER_ITEM {
            return Err(VerifyError::QuotaExceeded(Quota::PerItem));
        }
        let count = self
            .third_party_by_signer
            .get(&signer)
            .copied()
            .unwrap_or(0);
        if count >= MAX_THIRD_PARTY_RECORDS_PER_SIGNER {
            return Err(VerifyError::QuotaExceeded(Quota::PerSigner));
        }
        Ok(())
    }

    /// Counts one more repair or badge by `signer` (after [`Self::check_third_party_quota`]).
    fn count_third_party(&mut self, signer: KeyId) {
        *self.third_party_by_signer.entry(signer).or_insert(0) += 1;
    }

    /// Checks the mint against its verified run manifest (rules M7–M8): same run id, maker,
    /// size, title and microfactory, and minted inside the production window.
    pub fn check_run(&self, run: &VerifiedRun) -> Result<(), VerifyError> {
        let m = &self.mint;
        if m.run != run.id {
            return Err(VerifyError::RunMismatch("run id"));
        }
        if self.maker.key != run.maker.key {
            return Err(VerifyError::RunMismatch("maker"));
        }
        if m.size != run.manifest.size {
            return Err(VerifyError::RunMismatch("size"));
        }
        if m.title != run.manifest.title || m.microfactory != run.manifest.microfactory {
            return Err(VerifyError::RunMismatch("title or microfactory"));
        }
        if self.minted_at < run.manifest.window_start || self.minted_at > run.manifest.window_end {
            return Err(VerifyError::OutsideWindow);
        }
        Ok(())
    }

    /// The item id (derived from the mint's bytes).
    pub fn item(&self) -> ItemId {
        self.item
    }
    /// The maker, as the trust list names it.
    pub fn maker(&self) -> &Signer {
        &self.maker
    }
    /// The mint's content (run, edition, title, microfactory).
    pub fn mint(&self) -> &Mint {
        &self.mint
    }
    /// When it was minted.
    pub fn minted_at(&self) -> Timestamp {
        self.minted_at
    }
    /// The current owner's key.
    pub fn owner(&self) -> &PublicKey {
        &self.owner
    }
    /// Sequence number of the head (0 = only the mint).
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// Hash of the last record.
    pub fn head(&self) -> RecordHash {
        self.head
    }
    /// Time of the last record.
    pub fn last_time(&self) -> Timestamp {
        self.last_time
    }
    /// Whether the owner has reported it stolen (and not recovered).
    pub fn is_stolen(&self) -> bool {
        self.stolen
    }
    /// Whether the maker has voided it.
    pub fn is_void(&self) -> bool {
        self.void
    }
    /// Repairs, oldest first.
    pub fn repairs(&self) -> &[RepairEvent] {
        &self.repairs
    }
    /// Transfers, oldest first.
    pub fn transfers(&self) -> &[TransferEvent] {
        &self.transfers
    }
    /// Badges, oldest first.
    pub fn badges(&self) -> &[BadgeEvent] {
        &self.badges
    }
    /// Reports, oldest first.
    pub fn reports(&self) -> &[ReportEvent] {
        &self.reports
    }
    /// Number of owners so far (the first owner plus one per transfer).
    pub fn owner_count(&self) -> usize {
        1 + self.transfers.len()
    }
}

/// Verifies a whole item history: the mint, then every later record in order.
pub fn verify_chain<'a, I>(
    records: I,
    trust: &TrustList,
    now: Timestamp,
) -> Result<VerifiedChain, ChainError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut records = records.into_iter();
    let first = records.next().ok_or(ChainError {
        index: 0,
        error: VerifyError::Empty,
    })?;
    let (mut chain, _) =
        VerifiedChain::start(first, trust, now).map_err(|error| ChainError { index: 0, error })?;
    for (offset, bytes) in records.enumerate() {
        let index = offset + 1;
        if index >= MAX_HISTORY_RECORDS {
            return Err(ChainError {
                index,
                error: crate::error::DecodeError::TooLarge {
                    limit: MAX_HISTORY_RECORDS,
                    actual: index + 1,
                }
                .into(),
            });
        }
        chain
            .extend(bytes, trust, now)
            .map_err(|error| ChainError { index, error })?;
    }
    Ok(chain)
}
