//! The storage boundary: everything the HTTP layer needs from a ledger backend, behind the
//! [`LedgerStore`] trait, so another backend ([`crate::postgres`]) serves HTTP unchanged.
//!
//! Writes go through [`LedgerStore::submit`] and carry only verified values
//! ([`VerifiedRun`], [`VerifiedRecord`]); the answer arrives on a oneshot channel after the
//! write has committed (or failed, in which case nothing was stored).

use std::sync::Arc;

use provenance_core::log::TreeHash;
use provenance_core::{
    ItemId, PublicKey, RecordHash, RecordKind, RunId, Timestamp, TrustError, TrustList,
    VerifiedRecord, VerifiedRun,
};
use tokio::sync::oneshot;

/// The head of an item's chain: the last record's sequence number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Sequence number of the last record (0 = only the mint).
    pub seq: u64,
    /// SHA-256 of the last record's bytes.
    pub hash: RecordHash,
}

/// One item as the store indexes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    /// The item id.
    pub item: ItemId,
    /// The run it was minted in.
    pub run: RunId,
    /// Edition number n.
    pub edition: u64,
    /// The maker's key.
    pub maker: PublicKey,
    /// The current head.
    pub head: Head,
}

/// One stored record of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// Position in the item's chain.
    pub seq: u64,
    /// SHA-256 of the bytes.
    pub hash: RecordHash,
    /// Record kind.
    pub kind: RecordKind,
    /// The record's own (signer-claimed) time.
    pub time: Timestamp,
    /// The verified signer's key.
    pub signer: PublicKey,
    /// The exact bytes as received and verified.
    pub bytes: Vec<u8>,
    /// When the ledger committed it.
    pub received_at: Timestamp,
    /// Its leaf index in the ledger's Merkle log.
    pub log_index: Option<u64>,
}

/// A registered run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    /// The run id.
    pub id: RunId,
    /// The maker's key.
    pub maker: PublicKey,
    /// Edition size N.
    pub size: u64,
    /// SHA-256 of the manifest bytes.
    pub hash: RecordHash,
    /// The manifest's exact bytes.
    pub bytes: Vec<u8>,
    /// When the ledger committed it.
    pub received_at: Timestamp,
    /// Its leaf index in the Merkle log.
    pub log_index: Option<u64>,
}

/// Where a stored record lives (for idempotent re-posts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    /// Its item.
    pub item: ItemId,
    /// Its position.
    pub seq: u64,
    /// Its kind.
    pub kind: RecordKind,
    /// Its leaf index in the Merkle log.
    pub log_index: Option<u64>,
}

/// Row counts, for `/metrics` and for tests that check nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Registered runs.
    pub runs: u64,
    /// Minted items.
    pub items: u64,
    /// Item records (mints included).
    pub records: u64,
    /// Stored trust lists (every accepted version is kept).
    pub trust_lists: u64,
}

/// A write, carrying only verified values.
#[derive(Debug)]
pub enum WriteOp {
    /// Register a run manifest.
    Run(Box<VerifiedRun>),
    /// Store a mint, creating its item. The writer enforces one mint per (run, edition).
    Mint {
        /// The item id derived from the mint bytes.
        item: ItemId,
        /// The run the mint names (already checked to be registered).
        run: RunId,
        /// Edition number n.
        edition: u64,
        /// The verified mint.
        record: Box<VerifiedRecord>,
    },
    /// Append a later record if the item's head is still `expected` (compare-and-swap).
    Append {
        /// The item.
        item: ItemId,
        /// The head the record was verified against.
        expected: Head,
        /// The verified record (seq = expected.seq + 1).
        record: Box<VerifiedRecord>,
    },
    /// Store a new operator-signed trust list if its version is above every stored one.
    Trust(Box<VerifiedTrust>),
}

/// A trust list that verified for the ledger's operator key, with the exact bytes it was
/// verified from: what [`WriteOp::Trust`] stores. Built only by [`VerifiedTrust::verify`], so
/// the writer never stores a list nobody checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTrust {
    version: u64,
    issued_at: Timestamp,
    bytes: Vec<u8>,
}

impl VerifiedTrust {
    /// Verifies `bytes` as a trust list signed by `operator`; returns what the store keeps and
    /// the list itself.
    pub fn verify(bytes: &[u8], operator: &PublicKey) -> Result<(Self, TrustList), TrustError> {
        let list = TrustList::verify(bytes, Some(operator))?;
        let verified = VerifiedTrust {
            version: list.content().version,
            issued_at: list.content().issued_at,
            bytes: bytes.to_vec(),
        };
        Ok((verified, list))
    }

    /// The list's version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the operator signed it.
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    /// The exact signed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// What a write did. Every variant other than `Stored` changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Committed, as leaf `log_index` of the Merkle log (`None` for trust lists, which are
    /// not log leaves).
    Stored {
        /// The new leaf's index.
        log_index: Option<u64>,
    },
    /// The same record (same bytes) was already stored; here is where.
    AlreadyStored(RecordRef),
    /// The run was already registered.
    RunAlreadyStored,
    /// Compare-and-swap lost: the item's head is now this.
    Stale(Head),
    /// Another mint already holds this edition of the run.
    EditionTaken(ItemId),
    /// The item does not exist.
    UnknownItem,
    /// A trust list with this version or a later one is already stored.
    TrustStale {
        /// The highest stored version.
        current: u64,
    },
}

/// Why the store failed. Nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Stored data is not what this version wrote.
    #[error("corrupt stored data: {0}")]
    Corrupt(&'static str),
    /// A value does not fit the column it is written to (an invariant the rules keep).
    #[error("value out of the storable range: {0}")]
    OutOfRange(&'static str),
    /// The database stayed locked past the busy timeout; nothing was stored.
    #[error("the database is busy")]
    Busy,
    /// The writer thread is gone (shutting down).
    #[error("the ledger is shutting down")]
    WriterGone,
    /// A filesystem error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Whether SQLite reported lock contention (`SQLITE_BUSY`, `SQLITE_LOCKED`): the request
    /// may be retried; it is never a reason to answer 500.
    pub fn is_contention(&self) -> bool {
        match self {
            StoreError::Busy => true,
            StoreError::Database(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}

/// The result a writer sends back.
pub type WriteResult = Result<WriteOutcome, StoreError>;

/// A ledger backend. Reads are synchronous and short; writes are queued to one writer that
/// group-commits and answers each write after its transaction commits.
pub trait LedgerStore: Send + Sync {
    /// Queues a write; the receiver yields its outcome after commit.
    fn submit(&self, op: WriteOp) -> oneshot::Receiver<WriteResult>;
    /// Finds a stored item record by the hash of its bytes.
    fn find_record(&self, hash: &RecordHash) -> Result<Option<RecordRef>, StoreError>;
    /// An item's index row.
    fn item(&self, item: &ItemId) -> Result<Option<ItemRow>, StoreError>;
    /// All records of an item, mint first.
    fn records(&self, item: &ItemId) -> Result<Vec<RecordRow>, StoreError>;
    /// A registered run.
    fn run(&self, run: &RunId) -> Result<Option<RunRow>, StoreError>;
    /// The items minted in a run: (edition, item), by edition.
    fn run_items(&self, run: &RunId) -> Result<Vec<(u64, ItemId)>, StoreError>;
    /// The newest stored trust list's bytes.
    fn latest_trust(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// The newest stored trust list's version when other processes may store one (several
    /// servers on one database): the ledger reloads the list when this is above its own copy's.
    /// `None` (the default) when this process is the only writer, so its copy is current.
    fn shared_trust_version(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    /// Row counts.
    fn stats(&self) -> Result<StoreStats, StoreError>;
    /// Lets the writer finish every queued write, then stops it. Later writes fail.
    fn shutdown(&self);
    /// The latest signed checkpoint (committed together with the leaves it covers).
    fn checkpoint(&self) -> Option<Arc<SignedCheckpoint>>;
    /// The inclusion proof of leaf `index` in the tree of `size` leaves; the caller checks
    /// `index < size <= checkpoint size`.
    fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<TreeHash>, StoreError>;
    /// The consistency proof between the trees of `first` and `second` leaves; the caller
    /// checks `0 < first <= second <= checkpoint size`.
    fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<TreeHash>, StoreError>;
    /// The log leaves `[start, end)` with the record bytes they commit to.
    fn log_entries(&self, start: u64, end: u64) -> Result<Vec<LogEntry>, StoreError>;
    /// Everything a full-history file needs, read from one snapshot so that the checkpoint
    /// and the inclusion proof agree.
    fn export(&self, item: &ItemId) -> Result<Option<ExportSnapshot>, StoreError>;
}

/// A checkpoint the ledger signed and committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root of the first `size` leaves.
    pub root: TreeHash,
    /// The C2SP signed note.
    pub note: String,
}

/// What a log leaf stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafKind {
    /// An item record (leaf kind 1): id = item, seq = its position.
    Record,
    /// A run manifest (leaf kind 2): id = run, seq = 0.
    Run,
}

impl LeafKind {
    /// The kind byte of the leaf data (spec §12).
    pub fn number(self) -> u8 {
        match self {
            LeafKind::Record => 1,
            LeafKind::Run => 2,
        }
    }

    /// The kind for a leaf kind byte.
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            1 => Some(LeafKind::Record),
            2 => Some(LeafKind::Run),
            _ => None,
        }
    }

    /// `record` or `run`.
    pub fn name(self) -> &'static str {
        match self {
            LeafKind::Record => "record",
            LeafKind::Run => "run",
        }
    }
}

/// One leaf of the log as stored, with the record bytes it commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Leaf index.
    pub index: u64,
    /// Item record or run manifest.
    pub kind: LeafKind,
    /// Item id or run id.
    pub id: [u8; 16],
    /// Position in the item's chain (0 for runs).
    pub seq: u64,
    /// The stored leaf hash.
    pub leaf_hash: TreeHash,
    /// The stored record bytes (`None` if the record row is missing).
    pub bytes: Option<Vec<u8>>,
}

/// An item's records, run manifest, the latest checkpoint and the last record's inclusion
/// proof, read in one transaction.
#[derive(Debug, Clone)]
pub struct ExportSnapshot {
    /// The records, mint first.
    pub records: Vec<RecordRow>,
    /// The run manifest's bytes.
    pub run: Option<Vec<u8>>,
    /// The latest checkpoint in the snapshot.
    pub checkpoint: Option<SignedCheckpoint>,
    /// The last record's leaf index and inclusion proof at the checkpoint's size, if the
    /// checkpoint covers it.
    pub proof: Option<(u64, Vec<TreeHash>)>,
}

/// The kind number stored for a record kind.
pub fn kind_number(kind: RecordKind) -> i64 {
    kind as i64
}

/// The record kind for a stored kind number.
pub fn kind_from_number(n: i64) -> Option<RecordKind> {
    u64::try_from(n).ok().and_then(RecordKind::from_number)
}

/// What opening a backend does with its latest stored checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoredCheckpoint {
    /// The stored tree contradicts it: the database was edited outside the ledger, and this
    /// process never signs a checkpoint over it.
    Tainted,
    /// It covers the whole tree and was signed by this ledger's key and origin: publish it.
    Current,
    /// None is stored, the tree grew, or the origin or key changed: sign a new one.
    SignNew,
}

/// Judges the latest stored checkpoint against the stored tree of `size` leaves; `root_at(n)`
/// is the stored tree's root at `n` leaves, if it can be computed.
pub(crate) fn judge_stored_checkpoint(
    stored: Option<&SignedCheckpoint>,
    size: u64,
    signer: &crate::sqlite::LogSigner,
    root_at: impl FnOnce(u64) -> Option<TreeHash>,
) -> StoredCheckpoint {
    let Some(cp) = stored else {
        return StoredCheckpoint::SignNew;
    };
    let root = if cp.size <= size {
        root_at(cp.size)
    } else {
        None
    };
    if root != Some(cp.root) {
        tracing::error!(
            size = cp.size,
            "the stored Merkle log does not match the ledger's latest signed checkpoint: \
             the database was modified outside the ledger; no new checkpoint will be signed"
        );
        return StoredCheckpoint::Tainted;
    }
    let same_signer = provenance_core::checkpoint::Checkpoint::verify(
        &cp.note,
        &signer.origin,
        &signer.key.public_key(),
        Some(&signer.origin),
    )
    .is_ok();
    if !same_signer {
        tracing::warn!(
            "the latest checkpoint was signed under another origin or key: re-signing as {:?}",
            signer.origin
        );
        return StoredCheckpoint::SignNew;
    }
    if cp.size == size {
        StoredCheckpoint::Current
    } else {
        StoredCheckpoint::SignNew
    }
}
