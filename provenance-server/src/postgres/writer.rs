//! The writer thread: group commit. Each batch is one transaction that first locks the log
//! (`log_state`), so the write transactions of every server on the database are serialized,
//! leaf indexes are gap-free and in commit order, and the checkpoint signed in the transaction
//! extends the previous one. An item head's compare-and-swap is a conditional `UPDATE`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use postgres::{Config, GenericClient, Transaction};
use provenance_core::{ItemId, RunId, VerifiedRecord, VerifiedRun};
use tokio::sync::mpsc;

use super::conn::{connect, Conn, Db};
use super::log::{lock_log, store_checkpoint, Frontier, Pending};
use super::reads::{find_record_in, head_in, latest_trust_version};
use crate::columns::{blob, to_int, u64_text, unix_now};
use crate::group_commit::{self, Msg};
use crate::metrics::Metrics;
use crate::sqlite::LogSigner;
use crate::store::{
    kind_number, Head, LeafKind, SignedCheckpoint, StoreError, WriteOp, WriteOutcome, WriteResult,
};

/// How long the writer keeps trying to reconnect before it answers a batch 503.
const RECONNECT_FOR: Duration = Duration::from_secs(10);

/// The latest checkpoint, published by the writer after its commit.
pub(super) type Published = Arc<RwLock<Option<Arc<SignedCheckpoint>>>>;

/// The writer thread's state.
pub(super) struct Writer {
    /// Where to reconnect.
    pub(super) config: Config,
    /// The connection, `None` after it was lost.
    pub(super) conn: Option<Conn>,
    /// The right edge of the tree as of the last commit; valid only for its own size.
    pub(super) frontier: Option<Frontier>,
    /// The ledger key and log origin.
    pub(super) signer: LogSigner,
    /// The stored log contradicts its checkpoint: never sign.
    pub(super) tainted: bool,
    /// Where committed checkpoints are published.
    pub(super) published: Published,
}

/// Why a batch did not commit.
enum BatchError {
    /// A statement of one write failed: the transaction is void; the writes may be retried
    /// alone.
    Op(StoreError),
    /// The connection broke before `COMMIT` was sent: nothing was stored; retry elsewhere.
    Lost(StoreError),
    /// The batch failed as a whole (or its `COMMIT` got no answer).
    Batch(StoreError),
}

/// What a batch's transaction wrote, before its commit.
struct Prepared {
    results: Vec<WriteResult>,
    frontier: Frontier,
    checkpoint: Option<SignedCheckpoint>,
}

impl Writer {
    /// The writer thread's loop: takes up to [`MAX_BATCH`] queued writes, commits them in one
    /// transaction and answers each; on shutdown, finishes the queue and refuses later writes.
    pub(super) fn run(mut self, rx: mpsc::UnboundedReceiver<Msg>, metrics: &Metrics) {
        group_commit::run(rx, metrics, |ops| self.commit(&ops));
    }

    /// Commits a batch and returns one outcome per write. A write whose statement fails is
    /// retried alone, so it fails alone (as with SQLite's savepoints); a connection lost before
    /// `COMMIT` is replaced and the batch retried.
    fn commit(&mut self, ops: &[WriteOp]) -> Vec<WriteResult> {
        let deadline = Instant::now() + RECONNECT_FOR;
        loop {
            match self.try_batch(ops) {
                Ok(results) => return results,
                Err(BatchError::Lost(e)) if Instant::now() < deadline => {
                    self.conn = None;
                    self.frontier = None;
                    tracing::warn!("the writer's PostgreSQL connection failed ({e}); reconnecting");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(BatchError::Op(_)) if ops.len() > 1 => {
                    return ops
                        .iter()
                        .flat_map(|op| self.commit(std::slice::from_ref(op)))
                        .collect();
                }
                Err(BatchError::Op(e) | BatchError::Lost(e) | BatchError::Batch(e)) => {
                    tracing::error!("group commit failed, nothing stored: {e}");
                    return ops.iter().map(|_| Err(same_error(&e))).collect();
                }
            }
        }
    }

    /// The connection, reconnecting if it was lost (a failure: nothing was sent).
    fn connection(&mut self) -> Result<&mut Conn, BatchError> {
        if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            self.conn = None;
            self.frontier = None;
            let conn = connect(&self.config).map_err(|e| BatchError::Lost(e.into()))?;
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or(BatchError::Lost(StoreError::Busy))
    }

    /// One attempt at a batch: one transaction, committed only if every statement succeeded.
    fn try_batch(&mut self, ops: &[WriteOp]) -> Result<Vec<WriteResult>, BatchError> {
        self.connection()?;
        let Writer {
            conn,
            frontier,
            signer,
            tainted,
            published,
            ..
        } = self;
        let conn = conn.as_mut().ok_or(BatchError::Lost(StoreError::Busy))?;
        let cached = frontier.take();
        // BEGIN failing means nothing of this batch reached the database: reconnect and retry.
        let mut tx = match conn.client.transaction() {
            Ok(tx) => tx,
            Err(e) => return Err(BatchError::Lost(e.into())),
        };
        let prepared = match write_batch(&mut tx, &mut conn.cache, ops, cached, signer, *tainted) {
            Ok(p) => p,
            Err(e) => {
                drop(tx);
                return Err(match e {
                    BatchError::Op(e) | BatchError::Batch(e) if conn.client.is_closed() => {
                        BatchError::Lost(e)
                    }
                    other => other,
                });
            }
        };
        // COMMIT: if it gets no answer the outcome is unknown, so the batch is not retried
        // (its writes are answered 503; a retried re-post finds what was stored).
        if let Err(e) = tx.commit() {
            return Err(BatchError::Batch(e.into()));
        }
        *frontier = Some(prepared.frontier);
        if let Some(cp) = prepared.checkpoint {
            match published.write() {
                Ok(mut p) => *p = Some(Arc::new(cp)),
                Err(poisoned) => *poisoned.into_inner() = Some(Arc::new(cp)),
            }
        }
        Ok(prepared.results)
    }
}

/// Everything a batch writes inside its transaction: the log lock, each write, the leaves and
/// nodes, the new log size and the newly signed checkpoint.
fn write_batch(
    tx: &mut Transaction<'_>,
    cache: &mut super::conn::Cache,
    ops: &[WriteOp],
    cached: Option<Frontier>,
    signer: &LogSigner,
    tainted: bool,
) -> Result<Prepared, BatchError> {
    let mut db = Db { c: tx, cache };
    let now = unix_now();
    let start = lock_log(&mut db).map_err(BatchError::Batch)?;
    // The right edge kept from the last commit is reused only if no server appended since.
    let mut frontier = match cached {
        Some(f) if f.size == start => f,
        _ => Frontier::load(&mut db, start).map_err(BatchError::Batch)?,
    };
    let mut pending = Pending::default();
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let result = apply_one(&mut db, op, now, &mut frontier, &mut pending);
        results.push(result.map_err(BatchError::Op)?);
    }
    let checkpoint = (|| -> Result<Option<SignedCheckpoint>, StoreError> {
        if frontier.size == start {
            return Ok(None);
        }
        pending.insert(&mut db)?;
        db.exec(
            "UPDATE log_state SET size = $1 WHERE id = 1",
            &[&to_int(frontier.size, "size")?],
        )?;
        if tainted {
            return Ok(None);
        }
        let root = frontier.root()?;
        Ok(Some(store_checkpoint(
            &mut db,
            signer,
            frontier.size,
            root,
            now,
        )?))
    })()
    .map_err(BatchError::Batch)?;
    Ok(Prepared {
        results,
        frontier,
        checkpoint,
    })
}

/// The error answered to each write of a failed batch.
fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Busy => StoreError::Busy,
        StoreError::WriterGone => StoreError::WriterGone,
        StoreError::Corrupt(s) => StoreError::Corrupt(s),
        StoreError::OutOfRange(s) => StoreError::OutOfRange(s),
        _ => StoreError::Corrupt("the transaction failed to commit"),
    }
}

/// The stored kind number of a record.
fn kind_small(record: &VerifiedRecord) -> Result<i16, StoreError> {
    i16::try_from(kind_number(record.kind())).map_err(|_| StoreError::OutOfRange("kind"))
}

/// Stores an item record and queues its log leaf.
fn insert_record<C: GenericClient>(
    db: &mut Db<'_, C>,
    item: &ItemId,
    record: &VerifiedRecord,
    now: i64,
    frontier: &mut Frontier,
    pending: &mut Pending,
) -> Result<WriteResult, StoreError> {
    let index = pending.leaf(
        frontier,
        LeafKind::Record,
        &item.0,
        record.seq(),
        record.bytes(),
    )?;
    db.exec(
        "INSERT INTO records (item, seq, hash, kind, time, signer, bytes, received_at, log_index)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &&item.0[..],
            &to_int(record.seq(), "seq")?,
            &&record.hash().0[..],
            &kind_small(record)?,
            &to_int(record.time().0, "time")?,
            &&record.signer().to_bytes()[..],
            &record.bytes(),
            &now,
            &to_int(index, "log_index")?,
        ],
    )?;
    Ok(Ok(WriteOutcome::Stored {
        log_index: Some(index),
    }))
}

/// Applies one write inside the batch's transaction. The outer error is a failed statement
/// (the transaction is void); the inner result is the write's outcome. A refusal writes nothing.
fn apply_one<C: GenericClient>(
    db: &mut Db<'_, C>,
    op: &WriteOp,
    now: i64,
    frontier: &mut Frontier,
    pending: &mut Pending,
) -> Result<WriteResult, StoreError> {
    let mut log = Log { frontier, pending };
    match op {
        WriteOp::Run(run) => apply_run(db, run, now, &mut log),
        WriteOp::Mint {
            item,
            run,
            edition,
            record,
        } => apply_mint(db, (item, run, *edition), record, now, &mut log),
        WriteOp::Append {
            item,
            expected,
            record,
        } => apply_append(db, item, expected, record, now, &mut log),
        WriteOp::Trust(list) => {
            let current = latest_trust_version(db)?.unwrap_or(0);
            if list.version() <= current {
                return Ok(Ok(WriteOutcome::TrustStale { current }));
            }
            db.exec(
                "INSERT INTO trust_lists (version, issued_at, bytes, received_at)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &u64_text(list.version()),
                    &u64_text(list.issued_at().0),
                    &list.bytes(),
                    &now,
                ],
            )?;
            Ok(Ok(WriteOutcome::Stored { log_index: None }))
        }
    }
}

/// The batch's log state, lent to one write.
struct Log<'a> {
    frontier: &'a mut Frontier,
    pending: &'a mut Pending,
}

/// Registers a run manifest (once).
fn apply_run<C: GenericClient>(
    db: &mut Db<'_, C>,
    run: &VerifiedRun,
    now: i64,
    log: &mut Log<'_>,
) -> Result<WriteResult, StoreError> {
    if db
        .opt("SELECT 1 FROM runs WHERE id = $1", &[&&run.id().0[..]])?
        .is_some()
    {
        return Ok(Ok(WriteOutcome::RunAlreadyStored));
    }
    let record = run.record();
    let index = log
        .pending
        .leaf(log.frontier, LeafKind::Run, &run.id().0, 0, record.bytes())?;
    db.exec(
        "INSERT INTO runs (id, maker, size, hash, time, bytes, received_at, log_index)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &&run.id().0[..],
            &&run.maker().key.to_bytes()[..],
            &to_int(run.manifest().size, "size")?,
            &&record.hash().0[..],
            &to_int(record.time().0, "time")?,
            &record.bytes(),
            &now,
            &to_int(index, "log_index")?,
        ],
    )?;
    Ok(Ok(WriteOutcome::Stored {
        log_index: Some(index),
    }))
}

/// Stores a mint and creates its item, unless the record is stored or the edition taken.
fn apply_mint<C: GenericClient>(
    db: &mut Db<'_, C>,
    (item, run, edition): (&ItemId, &RunId, u64),
    record: &VerifiedRecord,
    now: i64,
    log: &mut Log<'_>,
) -> Result<WriteResult, StoreError> {
    if let Some(found) = find_record_in(db, &record.hash())? {
        return Ok(Ok(WriteOutcome::AlreadyStored(found)));
    }
    let edition = to_int(edition, "edition")?;
    if let Some(row) = db.opt(
        "SELECT id FROM items WHERE run = $1 AND edition = $2",
        &[&&run.0[..], &edition],
    )? {
        let other = ItemId(blob(row.try_get(0)?, "item id")?);
        return Ok(Ok(WriteOutcome::EditionTaken(other)));
    }
    db.exec(
        "INSERT INTO items (id, run, edition, maker, head_seq, head_hash, created_at)
         VALUES ($1, $2, $3, $4, 0, $5, $6)",
        &[
            &&item.0[..],
            &&run.0[..],
            &edition,
            &&record.signer().to_bytes()[..],
            &&record.hash().0[..],
            &now,
        ],
    )?;
    insert_record(db, item, record, now, log.frontier, log.pending)
}

/// Appends a later record if the item's stored head is still `expected`.
fn apply_append<C: GenericClient>(
    db: &mut Db<'_, C>,
    item: &ItemId,
    expected: &Head,
    record: &VerifiedRecord,
    now: i64,
    log: &mut Log<'_>,
) -> Result<WriteResult, StoreError> {
    if record.seq() != expected.seq + 1 {
        // A caller bug: refused before anything is written.
        return Ok(Err(StoreError::Corrupt("append is not head + 1")));
    }
    // The compare-and-swap, inside the transaction that holds the log lock: only the head
    // stored in the database counts, never a head some process cached.
    let changed = db.exec(
        "UPDATE items SET head_seq = $1, head_hash = $2
         WHERE id = $3 AND head_seq = $4 AND head_hash = $5",
        &[
            &to_int(record.seq(), "seq")?,
            &&record.hash().0[..],
            &&item.0[..],
            &to_int(expected.seq, "seq")?,
            &&expected.hash.0[..],
        ],
    )?;
    if changed == 1 {
        return insert_record(db, item, record, now, log.frontier, log.pending);
    }
    if let Some(found) = find_record_in(db, &record.hash())? {
        if found.item == *item {
            return Ok(Ok(WriteOutcome::AlreadyStored(found)));
        }
    }
    Ok(Ok(match head_in(db, item)? {
        Some(head) => WriteOutcome::Stale(head),
        None => WriteOutcome::UnknownItem,
    }))
}
