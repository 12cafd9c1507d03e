//! Chain verification (spec §6): the only code that builds [`VerifiedRun`], [`VerifiedRecord`],
//! [`ChainHead`] and [`VerifiedChain`]. The rules are checked in the order the spec lists them.
//!
//! Rooms: `verified` (the verified values, the checks every rule shares, [`verify_run`]),
//! `head` ([`ChainHead`]: the append rules over an item's state at its head), and this module
//! ([`VerifiedChain`]: a head plus the story, and [`verify_chain`]).

mod head;
mod verified;

pub use head::{transfer_room, ChainHead};
pub use verified::{verify_run, Signer, VerifiedRecord, VerifiedRun};

use crate::error::{ChainError, VerifyError};
use crate::ids::{ItemId, RecordHash, Timestamp};
use crate::keys::PublicKey;
use crate::limits::MAX_HISTORY_RECORDS;
use crate::record::{DecodedRecord, Mint, RecordBody, ReportStatus};
use crate::trust::TrustList;
use verified::verified;

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
    /// Whether the owner's recovery key signed it (rather than the owner key or the maker).
    pub by_recovery_key: bool,
}

/// The owner's recovery key moved the ownership to a new key (spec §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverEvent {
    /// When.
    pub time: Timestamp,
    /// The owner key that was replaced.
    pub from: PublicKey,
    /// The new owner key.
    pub to: PublicKey,
}

/// An item's history that passed every rule: its [`ChainHead`] (the state the rules read) and
/// its story (every repair, transfer, badge and report). Only [`verify_chain`],
/// [`VerifiedChain::start`] and [`VerifiedChain::extend`] build or change one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    head: ChainHead,
    repairs: Vec<RepairEvent>,
    transfers: Vec<TransferEvent>,
    badges: Vec<BadgeEvent>,
    reports: Vec<ReportEvent>,
    recovers: Vec<RecoverEvent>,
}

impl VerifiedChain {
    /// Verifies a mint and starts its item's chain (rules M1–M6 in the spec).
    pub fn start(
        mint_bytes: &[u8],
        trust: &TrustList,
        now: Timestamp,
    ) -> Result<(Self, VerifiedRecord), VerifyError> {
        let (head, record) = ChainHead::start(mint_bytes, trust, now)?;
        let chain = VerifiedChain {
            head,
            repairs: Vec::new(),
            transfers: Vec::new(),
            badges: Vec::new(),
            reports: Vec::new(),
            recovers: Vec::new(),
        };
        Ok((chain, record))
    }

    /// Verifies one more record against the current head (rules R1–R8) and, only if every
    /// rule passes, moves the head and adds the record to the story. On error the chain is
    /// unchanged: every rule is checked before anything is written.
    pub fn extend(
        &mut self,
        bytes: &[u8],
        trust: &TrustList,
        now: Timestamp,
    ) -> Result<VerifiedRecord, VerifyError> {
        let decoded = DecodedRecord::decode(bytes)?;
        let previous_owner = *self.head.owner();
        let signer = self.head.advance(&decoded, trust, now)?;
        let time = decoded.record.time;
        match &decoded.record.body {
            RecordBody::Repair(r) => self.repairs.push(RepairEvent {
                time,
                desk: signer.clone(),
                note: r.note.clone(),
                parts: r.parts.clone(),
            }),
            RecordBody::Badge(b) => self.badges.push(BadgeEvent {
                time,
                host: signer.clone(),
                event: b.event.clone(),
                place: b.place.clone(),
            }),
            RecordBody::Transfer(to) => self.transfers.push(TransferEvent {
                time,
                from: previous_owner,
                to: to.key,
            }),
            RecordBody::Report(status) => self.reports.push(ReportEvent {
                time,
                status: *status,
                by_recovery_key: false,
            }),
            RecordBody::RecoveryReport(r) => self.reports.push(ReportEvent {
                time,
                status: r.status,
                by_recovery_key: true,
            }),
            RecordBody::Recover(r) => self.recovers.push(RecoverEvent {
                time,
                from: previous_owner,
                to: r.new_owner.key,
            }),
            RecordBody::RunManifest(_) | RecordBody::Mint(_) => {}
        }
        Ok(verified(decoded, bytes, signer.key))
    }

    /// Checks the mint against its verified run manifest (rules M7–M8).
    pub fn check_run(&self, run: &VerifiedRun) -> Result<(), VerifyError> {
        self.head.check_run(run)
    }

    /// The state at the head, which the append rules read.
    pub fn chain_head(&self) -> &ChainHead {
        &self.head
    }
    /// The state at the head, without the story.
    pub fn into_head(self) -> ChainHead {
        self.head
    }
    /// The item id (derived from the mint's bytes).
    pub fn item(&self) -> ItemId {
        self.head.item()
    }
    /// The maker, as the trust list names it.
    pub fn maker(&self) -> &Signer {
        self.head.maker()
    }
    /// The mint's content (run, edition, title, microfactory).
    pub fn mint(&self) -> &Mint {
        self.head.mint()
    }
    /// When it was minted.
    pub fn minted_at(&self) -> Timestamp {
        self.head.minted_at()
    }
    /// The current owner's key.
    pub fn owner(&self) -> &PublicKey {
        self.head.owner()
    }
    /// Sequence number of the head (0 = only the mint).
    pub fn seq(&self) -> u64 {
        self.head.seq()
    }
    /// Hash of the last record.
    pub fn head(&self) -> RecordHash {
        self.head.head()
    }
    /// Time of the last record.
    pub fn last_time(&self) -> Timestamp {
        self.head.last_time()
    }
    /// Whether the owner has reported it stolen (and not recovered).
    pub fn is_stolen(&self) -> bool {
        self.head.is_stolen()
    }
    /// Whether the maker has voided it.
    pub fn is_void(&self) -> bool {
        self.head.is_void()
    }
    /// Whether a transfer can still be recorded ([`ChainHead::can_transfer`]).
    pub fn can_transfer(&self) -> bool {
        self.head.can_transfer()
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
    /// Recovers of the owner key, oldest first.
    pub fn recovers(&self) -> &[RecoverEvent] {
        &self.recovers
    }
    /// Number of owner keys so far: the first owner plus one per transfer or recover.
    pub fn owner_count(&self) -> usize {
        1 + self.transfers.len() + self.recovers.len()
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
