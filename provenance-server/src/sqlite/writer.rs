//! The single writer: group commit (every queued write in one transaction, each in its own
//! savepoint), compare-and-swap of item heads, idempotent re-posts, and the log leaves.

use std::sync::Arc;

use provenance_core::{ItemId, RunId, VerifiedRecord, VerifiedRun};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::mpsc;

use super::log::{append_leaf, log_size_in, sign_checkpoint, LogWriter};
use super::rows::{find_record_in, head_in};
use super::wal::WalGate;
use crate::columns::{blob, to_int, u64_from_text, u64_text, unix_now};
use crate::group_commit::{self, Msg};
use crate::metrics::Metrics;
use crate::store::{
    kind_number, Head, LeafKind, SignedCheckpoint, StoreError, VerifiedTrust, WriteOp,
    WriteOutcome, WriteResult,
};

/// The writer thread: group commit ([`crate::group_commit`]) of SQLite transactions; a new
/// checkpoint is published only after its commit, so a served checkpoint is durable. After
/// each batch the WAL's size is checked against its bound ([`WalGate::before_batch`]).
pub(super) fn writer_loop(
    mut conn: Connection,
    rx: mpsc::UnboundedReceiver<Msg>,
    metrics: Arc<Metrics>,
    log: LogWriter,
    wal: &WalGate,
) {
    group_commit::run(rx, &metrics, |ops| {
        let writes = ops.len();
        // Before the batch, once the last one's answers are out: the WAL's bound.
        wal.before_batch();
        match apply_batch(&mut conn, ops, &log) {
            Ok((outcomes, checkpoint)) => {
                if let Some(cp) = checkpoint {
                    match log.published.write() {
                        Ok(mut p) => *p = Some(Arc::new(cp)),
                        Err(poisoned) => *poisoned.into_inner() = Some(Arc::new(cp)),
                    }
                }
                outcomes
            }
            Err(e) => {
                let busy = e.is_contention();
                tracing::error!("group commit failed, nothing stored: {e}");
                (0..writes)
                    .map(|_| {
                        Err(if busy {
                            StoreError::Busy
                        } else {
                            StoreError::Corrupt("the transaction failed to commit")
                        })
                    })
                    .collect()
            }
        }
    });
}

/// Applies every write in one transaction; each write runs in its own savepoint and appends
/// its log leaf there. If the batch added leaves, the new checkpoint is signed and stored in
/// the same transaction and returned for publication after the commit.
pub(super) fn apply_batch(
    conn: &mut Connection,
    ops: Vec<WriteOp>,
    log: &LogWriter,
) -> Result<(Vec<WriteResult>, Option<SignedCheckpoint>), StoreError> {
    let now = unix_now();
    // IMMEDIATE: take the write lock at BEGIN, where the busy handler waits for it, rather than
    // upgrading a read transaction mid-way, where SQLite answers SQLITE_BUSY at once.
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let start = log_size_in(&tx)?;
    let mut size = start;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let mut sp = tx.savepoint()?;
        let result = apply_one(&sp, op, now, size);
        match &result {
            Ok(WriteOutcome::Stored { log_index }) => {
                sp.commit()?;
                if log_index.is_some() {
                    size += 1;
                }
            }
            _ => sp.rollback()?,
        }
        results.push(result);
    }
    let checkpoint = if size > start && !log.tainted {
        Some(sign_checkpoint(&tx, &log.signer, size, now)?)
    } else {
        None
    };
    tx.commit()?;
    Ok((results, checkpoint))
}

/// Stores an item record and its log leaf `log_index`.
pub(super) fn insert_record(
    tx: &Connection,
    item: &ItemId,
    record: &provenance_core::VerifiedRecord,
    now: i64,
    log_index: u64,
) -> WriteResult {
    tx.prepare_cached(
        "INSERT INTO records (item, seq, hash, kind, time, signer, bytes, received_at, log_index)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        &item.0[..],
        to_int(record.seq(), "seq")?,
        &record.hash().0[..],
        kind_number(record.kind()),
        to_int(record.time().0, "time")?,
        &record.signer().to_bytes()[..],
        record.bytes(),
        now,
        to_int(log_index, "log_index")?
    ])?;
    append_leaf(
        tx,
        log_index,
        LeafKind::Record,
        &item.0,
        record.seq(),
        record.bytes(),
    )?;
    Ok(WriteOutcome::Stored {
        log_index: Some(log_index),
    })
}

/// Applies one write; `log_size` is the index the next leaf gets.
pub(super) fn apply_one(tx: &Connection, op: WriteOp, now: i64, log_size: u64) -> WriteResult {
    match op {
        WriteOp::Run(run) => store_run(tx, &run, now, log_size),
        WriteOp::Mint {
            item,
            run,
            edition,
            record,
        } => store_mint(tx, &item, &run, edition, &record, now, log_size),
        WriteOp::Append {
            item,
            expected,
            record,
        } => store_append(tx, &item, expected, &record, now, log_size),
        WriteOp::Trust(list) => store_trust(tx, &list, now),
    }
}

/// A run manifest and its log leaf, unless the run is already stored.
fn store_run(tx: &Connection, run: &VerifiedRun, now: i64, log_size: u64) -> WriteResult {
    let exists: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM runs WHERE id = ?1",
            params![&run.id().0[..]],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Ok(WriteOutcome::RunAlreadyStored);
    }
    let record = run.record();
    tx.execute(
        "INSERT INTO runs (id, maker, size, hash, time, bytes, received_at, log_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            &run.id().0[..],
            &run.maker().key.to_bytes()[..],
            to_int(run.manifest().size, "size")?,
            &record.hash().0[..],
            to_int(record.time().0, "time")?,
            record.bytes(),
            now,
            to_int(log_size, "log_size")?
        ],
    )?;
    append_leaf(tx, log_size, LeafKind::Run, &run.id().0, 0, record.bytes())?;
    Ok(WriteOutcome::Stored {
        log_index: Some(log_size),
    })
}

/// A mint: the item's row (its edition must be free) and its first record.
fn store_mint(
    tx: &Connection,
    item: &ItemId,
    run: &RunId,
    edition: u64,
    record: &VerifiedRecord,
    now: i64,
    log_size: u64,
) -> WriteResult {
    if let Some(found) = find_record_in(tx, &record.hash())? {
        return Ok(WriteOutcome::AlreadyStored(found));
    }
    let taken: Option<Vec<u8>> = tx
        .query_row(
            "SELECT id FROM items WHERE run = ?1 AND edition = ?2",
            params![&run.0[..], to_int(edition, "edition")?],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = taken {
        return Ok(WriteOutcome::EditionTaken(ItemId(blob(other, "item id")?)));
    }
    tx.execute(
        "INSERT INTO items (id, run, edition, maker, head_seq, head_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
        params![
            &item.0[..],
            &run.0[..],
            to_int(edition, "edition")?,
            &record.signer().to_bytes()[..],
            &record.hash().0[..],
            now
        ],
    )?;
    insert_record(tx, item, record, now, log_size)
}

/// A later record: compare-and-swap of the item's head from `expected`, then the record; an
/// idempotent re-post, a stale head or an unknown item otherwise.
fn store_append(
    tx: &Connection,
    item: &ItemId,
    expected: Head,
    record: &VerifiedRecord,
    now: i64,
    log_size: u64,
) -> WriteResult {
    let changed = tx
        .prepare_cached(
            "UPDATE items SET head_seq = ?1, head_hash = ?2
             WHERE id = ?3 AND head_seq = ?4 AND head_hash = ?5",
        )?
        .execute(params![
            to_int(record.seq(), "seq")?,
            &record.hash().0[..],
            &item.0[..],
            to_int(expected.seq, "seq")?,
            &expected.hash.0[..]
        ])?;
    if changed == 1 && record.seq() == expected.seq + 1 {
        return insert_record(tx, item, record, now, log_size);
    }
    if changed == 1 {
        // A caller bug (seq not head + 1): refuse; the savepoint rolls the update back.
        return Err(StoreError::Corrupt("append is not head + 1"));
    }
    if let Some(found) = find_record_in(tx, &record.hash())? {
        if found.item == *item {
            return Ok(WriteOutcome::AlreadyStored(found));
        }
    }
    match head_in(tx, item)? {
        Some(head) => Ok(WriteOutcome::Stale(head)),
        None => Ok(WriteOutcome::UnknownItem),
    }
}

/// A trust list, if its version is above every stored one.
fn store_trust(tx: &Connection, list: &VerifiedTrust, now: i64) -> WriteResult {
    let version = list.version();
    let current: Option<String> =
        tx.query_row("SELECT MAX(version) FROM trust_lists", [], |r| r.get(0))?;
    let current = current
        .as_deref()
        .map(u64_from_text)
        .transpose()?
        .unwrap_or(0);
    if version <= current {
        return Ok(WriteOutcome::TrustStale { current });
    }
    tx.execute(
        "INSERT INTO trust_lists (version, issued_at, bytes, received_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            u64_text(version),
            u64_text(list.issued_at().0),
            list.bytes(),
            now
        ],
    )?;
    Ok(WriteOutcome::Stored { log_index: None })
}
