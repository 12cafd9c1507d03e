//! [`ChainHead`]: what the append rules (spec §6, R1–R8 and the quotas) need to know about an
//! item, and nothing of its story. The ledger keeps one per item and extends it per append, so
//! an append copies a few fields and counters, never a whole history.

use std::collections::BTreeMap;

use super::verified::{check_run_size, check_time, trusted_signer, verified};
use super::{Signer, VerifiedRecord, VerifiedRun};
use crate::error::{Quota, VerifyError};
use crate::ids::{ItemId, RecordHash, Timestamp};
use crate::keys::{KeyId, PublicKey, RecoveryDigest};
use crate::limits::{
    HISTORY_RESERVE, MAX_HISTORY_RECORDS, MAX_STATUS_REPORTS_PER_ITEM,
    MAX_THIRD_PARTY_RECORDS_PER_ITEM, MAX_THIRD_PARTY_RECORDS_PER_SIGNER,
};
use crate::record::{
    ChainLink, DecodedRecord, Mint, Record, RecordBody, RecordKind, RecoveryReport, ReportStatus,
};
use crate::trust::{Role, TrustList};

/// The verified state of an item's chain at its head: who made it and owns it, its status,
/// its head record and how many records of each kind it holds. Built only by
/// [`ChainHead::start`] (or from a [`super::VerifiedChain`]) and changed only by
/// [`ChainHead::extend`], after every rule passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    item: ItemId,
    maker: Signer,
    mint: Mint,
    minted_at: Timestamp,
    owner: PublicKey,
    /// The commitment of the current ownership to its recovery key (spec §3.1), if any.
    owner_recovery: Option<RecoveryDigest>,
    /// Recovery keys that can no longer act, by key id, and why (newest last), so a refusal
    /// names the reason.
    retired_recovery: Vec<(KeyId, RetiredRecovery)>,
    /// Owner keys whose ownership a recover moved on (newest last).
    recovered_owners: Vec<KeyId>,
    seq: u64,
    head: RecordHash,
    last_time: Timestamp,
    stolen: bool,
    void: bool,
    counts: Counts,
    /// Repairs and badges per signer, for the third-party quotas.
    third_party_by_signer: BTreeMap<KeyId, usize>,
}

/// Why a recovery key can no longer act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetiredRecovery {
    /// Its ownership was transferred away.
    FormerOwner,
    /// A recover used it.
    Spent,
}

/// Records of each later kind in a chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    repairs: u64,
    transfers: u64,
    recovers: u64,
    badges: u64,
    reports: u64,
    /// Stolen and recovered reports (not void), for the status quota.
    status_reports: u64,
}

impl ChainHead {
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
        let head = ChainHead {
            item: ItemId::from_hash(&decoded.hash),
            owner: mint.owner.map_or(entry.key, |o| o.key),
            owner_recovery: mint.owner.and_then(|o| o.recovery),
            retired_recovery: Vec::new(),
            recovered_owners: Vec::new(),
            maker: Signer {
                key: entry.key,
                name: entry.name.clone(),
            },
            minted_at: decoded.record.time,
            mint,
            seq: 0,
            head: decoded.hash,
            last_time: decoded.record.time,
            stolen: false,
            void: false,
            counts: Counts::default(),
            third_party_by_signer: BTreeMap::new(),
        };
        let record = verified(decoded, mint_bytes, entry.key);
        Ok((head, record))
    }

    /// Verifies one more record against the head (rules R1–R8) and, only if every rule
    /// passes, moves the head. On error the head is unchanged.
    pub fn extend(
        &mut self,
        bytes: &[u8],
        trust: &TrustList,
        now: Timestamp,
    ) -> Result<VerifiedRecord, VerifyError> {
        let decoded = DecodedRecord::decode(bytes)?;
        let signer = self.advance(&decoded, trust, now)?;
        Ok(verified(decoded, bytes, signer.key))
    }

    /// Every rule for `decoded` as the next record, then the move of the head; returns who
    /// signed it. Nothing changes unless every rule passed.
    pub(super) fn advance(
        &mut self,
        decoded: &DecodedRecord,
        trust: &TrustList,
        now: Timestamp,
    ) -> Result<Signer, VerifyError> {
        self.check_position(&decoded.record, now)?;
        let link = ChainLink {
            item: self.item,
            prev: self.head,
        };
        let signer = self.check_signer(decoded, trust, &link)?;
        self.check_state(&decoded.record.body)?;
        self.apply(decoded);
        Ok(signer)
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
        check_room(record)?;
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
                    return Err(if self.recovered_owners.contains(&decoded.signer) {
                        VerifyError::OwnerKeyRecovered
                    } else {
                        VerifyError::SignerNotOwner
                    });
                }
                if !decoded.signature_valid(&self.owner, Some(link)) {
                    return Err(VerifyError::SignatureInvalid);
                }
                if matches!(decoded.record.body, RecordBody::Report(_)) {
                    self.check_status_quota()?;
                }
                Ok(Signer {
                    key: self.owner,
                    name: String::new(),
                })
            }
            RecordBody::RecoveryReport(RecoveryReport { recovery_key, .. }) => {
                self.check_recovery_key(decoded, recovery_key, link)?;
                self.check_status_quota()?;
                Ok(Signer {
                    key: *recovery_key,
                    name: String::new(),
                })
            }
            RecordBody::Recover(recover) => {
                self.check_recovery_key(decoded, &recover.recovery_key, link)?;
                Ok(Signer {
                    key: recover.recovery_key,
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

    /// Rule R6 for a recovery key (spec §3.1): it is the key the record carries, the current
    /// ownership committed to it, and it signed the record at this head.
    fn check_recovery_key(
        &self,
        decoded: &DecodedRecord,
        key: &PublicKey,
        link: &ChainLink,
    ) -> Result<(), VerifyError> {
        if decoded.signer != key.key_id() {
            return Err(VerifyError::SignerNotRecoveryKey);
        }
        if self.owner_recovery != Some(RecoveryDigest::of(key)) {
            let retired = self
                .retired_recovery
                .iter()
                .rev()
                .find(|(id, _)| *id == decoded.signer);
            return Err(match (retired, self.owner_recovery) {
                (Some((_, RetiredRecovery::Spent)), _) => VerifyError::RecoveryKeySpent,
                (Some((_, RetiredRecovery::FormerOwner)), _) => VerifyError::RecoveryKeyFormerOwner,
                (None, None) => VerifyError::RecoveryNotCommitted,
                (None, Some(_)) => VerifyError::RecoveryKeyMismatch,
            });
        }
        if !decoded.signature_valid(key, Some(link)) {
            return Err(VerifyError::SignatureInvalid);
        }
        Ok(())
    }

    /// Rule R8's status quota: stolen and recovered reports, by the owner or its recovery key.
    fn check_status_quota(&self) -> Result<(), VerifyError> {
        if usize::try_from(self.counts.status_reports)
            .map_or(true, |n| n >= MAX_STATUS_REPORTS_PER_ITEM)
        {
            return Err(VerifyError::QuotaExceeded(Quota::StatusReports));
        }
        Ok(())
    }

    /// Rule R9: a transfer or recover goes to another key; a report changes the status; a
    /// recover waits until a stolen piece is reported recovered.
    fn check_state(&self, body: &RecordBody) -> Result<(), VerifyError> {
        let status = match body {
            RecordBody::Report(status) => Some(*status),
            RecordBody::RecoveryReport(r) => Some(r.status),
            _ => None,
        };
        match (body, status) {
            (RecordBody::Transfer(to), _) if to.key == self.owner => {
                Err(VerifyError::TransferToSelf)
            }
            (RecordBody::Recover(_), _) if self.stolen => Err(VerifyError::RecoverWhileStolen),
            (RecordBody::Recover(r), _) if r.new_owner.key == self.owner => {
                Err(VerifyError::TransferToSelf)
            }
            (_, Some(ReportStatus::Stolen)) if self.stolen => Err(VerifyError::StatusUnchanged),
            (_, Some(ReportStatus::Recovered)) if !self.stolen => Err(VerifyError::StatusUnchanged),
            _ => Ok(()),
        }
    }

    /// Retires the current ownership's recovery commitment, if it made one.
    fn retire_recovery(&mut self, why: RetiredRecovery) {
        if let Some(digest) = self.owner_recovery.take() {
            self.retired_recovery.push((digest.key_id(), why));
        }
    }

    /// Counts a stolen or recovered report and applies it.
    fn apply_status(&mut self, status: ReportStatus) {
        self.counts.reports += 1;
        if status != ReportStatus::Void {
            self.counts.status_reports += 1;
        }
        match status {
            ReportStatus::Stolen => self.stolen = true,
            ReportStatus::Recovered => self.stolen = false,
            ReportStatus::Void => self.void = true,
        }
    }

    /// Moves the head past a record every rule accepted.
    fn apply(&mut self, decoded: &DecodedRecord) {
        let record = &decoded.record;
        match &record.body {
            RecordBody::Repair(_) => {
                self.counts.repairs += 1;
                self.count_third_party(decoded.signer);
            }
            RecordBody::Badge(_) => {
                self.counts.badges += 1;
                self.count_third_party(decoded.signer);
            }
            RecordBody::Transfer(to) => {
                self.counts.transfers += 1;
                self.retire_recovery(RetiredRecovery::FormerOwner);
                self.owner = to.key;
                self.owner_recovery = to.recovery;
            }
            RecordBody::Recover(r) => {
                self.counts.recovers += 1;
                self.retire_recovery(RetiredRecovery::Spent);
                self.recovered_owners.push(self.owner.key_id());
                self.owner = r.new_owner.key;
                self.owner_recovery = r.new_owner.recovery;
            }
            RecordBody::Report(status) => self.apply_status(*status),
            RecordBody::RecoveryReport(r) => self.apply_status(r.status),
            RecordBody::RunManifest(_) | RecordBody::Mint(_) => {}
        }
        self.seq = record.seq;
        self.head = decoded.hash;
        self.last_time = record.time;
    }

    /// Refuses one more repair or badge by `signer` over either quota (rule R8's quotas: no
    /// third party can fill an item's history and lock its owner out).
    fn check_third_party_quota(&self, signer: KeyId) -> Result<(), VerifyError> {
        let third_party = self.counts.repairs.saturating_add(self.counts.badges);
        if usize::try_from(third_party).map_or(true, |n| n >= MAX_THIRD_PARTY_RECORDS_PER_ITEM) {
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
        let manifest = run.manifest();
        if m.run != run.id() {
            return Err(VerifyError::RunMismatch("run id"));
        }
        if self.maker.key != run.maker().key {
            return Err(VerifyError::RunMismatch("maker"));
        }
        if m.size != manifest.size {
            return Err(VerifyError::RunMismatch("size"));
        }
        if m.title != manifest.title || m.microfactory != manifest.microfactory {
            return Err(VerifyError::RunMismatch("title or microfactory"));
        }
        if self.minted_at < manifest.window_start || self.minted_at > manifest.window_end {
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
    /// Repair records so far.
    pub fn repair_count(&self) -> u64 {
        self.counts.repairs
    }
    /// Changes of owner key so far: transfers and recovers (the head statement's transfer
    /// count, spec §14.1).
    pub fn transfer_count(&self) -> u64 {
        self.counts.transfers + self.counts.recovers
    }
    /// Recovers so far (included in [`Self::transfer_count`]).
    pub fn recover_count(&self) -> u64 {
        self.counts.recovers
    }
    /// The current ownership's commitment to its recovery key, if it made one.
    pub fn owner_recovery(&self) -> Option<RecoveryDigest> {
        self.owner_recovery
    }
    /// Badges so far.
    pub fn badge_count(&self) -> u64 {
        self.counts.badges
    }
    /// Stolen, recovered and void reports so far.
    pub fn report_count(&self) -> u64 {
        self.counts.reports
    }
    /// Whether a transfer can still be recorded: the item is not void and the next position is
    /// before the ones kept for the maker's void (rule R3's room).
    pub fn can_transfer(&self) -> bool {
        !self.void && transfer_room(self.seq + 1)
    }
}

/// Whether position `seq` is open to a transfer: before the last position, which is kept for
/// the maker's void.
pub fn transfer_room(seq: u64) -> bool {
    usize::try_from(seq).is_ok_and(|s| s < MAX_HISTORY_RECORDS - 1)
}

/// Rule R3's room: the last [`HISTORY_RESERVE`] positions of a history are kept, the one before
/// last for a transfer (or the void), the last for the maker's void, so neither third parties
/// nor the owner's own reports can leave the piece unsellable or the maker unable to void it.
fn check_room(record: &Record) -> Result<(), VerifyError> {
    let open_to_all = MAX_HISTORY_RECORDS - HISTORY_RESERVE;
    let Ok(seq) = usize::try_from(record.seq) else {
        return Ok(()); // past every limit: the history limit refuses it
    };
    let kept_for = match &record.body {
        RecordBody::Report(ReportStatus::Void) => return Ok(()),
        RecordBody::Transfer(_) | RecordBody::Recover(_) if seq < MAX_HISTORY_RECORDS - 1 => {
            return Ok(())
        }
        RecordBody::Transfer(_) | RecordBody::Recover(_) => "the maker's void",
        _ if seq < open_to_all => return Ok(()),
        _ if seq < MAX_HISTORY_RECORDS - 1 => "a transfer",
        _ => "the maker's void",
    };
    Err(VerifyError::HistoryFull {
        seq: record.seq,
        kept_for,
    })
}
