//! Reads: the queries behind the [`crate::store::LedgerStore`] reads, over a connection or
//! the writer's transaction. Every read sees committed data of every server on the database.

use std::cell::RefCell;

use postgres::{GenericClient, IsolationLevel};
use provenance_core::log::{self as tlog, TreeHash};
use provenance_core::{ItemId, RecordHash, RunId, Timestamp};

use super::conn::{Conn, Db};
use super::log::{read_checkpoint, PgNodes};
use crate::columns::{blob, key, u, u64_from_text};
use crate::store::{
    kind_from_number, ExportSnapshot, Head, ItemRow, LeafKind, LogEntry, RecordRef, RecordRow,
    RunRow, StoreError, StoreStats,
};

/// The stored record with this hash, wherever it is.
pub(super) fn find_record_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    hash: &RecordHash,
) -> Result<Option<RecordRef>, StoreError> {
    let Some(row) = db.opt(
        "SELECT item, seq, kind, log_index FROM records WHERE hash = $1",
        &[&&hash.0[..]],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(RecordRef {
        item: ItemId(blob(row.try_get(0)?, "item id")?),
        seq: u(row.try_get(1)?)?,
        kind: kind_from_number(i64::from(row.try_get::<_, i16>(2)?))
            .ok_or(StoreError::Corrupt("record kind"))?,
        log_index: Some(u(row.try_get(3)?)?),
    }))
}

/// An item's stored head.
pub(super) fn head_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    item: &ItemId,
) -> Result<Option<Head>, StoreError> {
    let Some(row) = db.opt(
        "SELECT head_seq, head_hash FROM items WHERE id = $1",
        &[&&item.0[..]],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(Head {
        seq: u(row.try_get(0)?)?,
        hash: RecordHash(blob(row.try_get(1)?, "head hash")?),
    }))
}

/// The highest stored trust-list version.
pub(super) fn latest_trust_version<C: GenericClient>(
    db: &mut Db<'_, C>,
) -> Result<Option<u64>, StoreError> {
    let row = db.one("SELECT MAX(version) FROM trust_lists", &[])?;
    let current: Option<String> = row.try_get(0)?;
    current.as_deref().map(u64_from_text).transpose()
}

/// An item's records, mint first.
pub(super) fn records_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    item: &ItemId,
) -> Result<Vec<RecordRow>, StoreError> {
    let rows = db.all(
        "SELECT seq, hash, kind, time, signer, bytes, received_at, log_index
         FROM records WHERE item = $1 ORDER BY seq",
        &[&&item.0[..]],
    )?;
    rows.into_iter()
        .map(|r| {
            Ok(RecordRow {
                seq: u(r.try_get(0)?)?,
                hash: RecordHash(blob(r.try_get(1)?, "record hash")?),
                kind: kind_from_number(i64::from(r.try_get::<_, i16>(2)?))
                    .ok_or(StoreError::Corrupt("record kind"))?,
                time: Timestamp(u(r.try_get(3)?)?),
                signer: key(r.try_get(4)?)?,
                bytes: r.try_get(5)?,
                received_at: Timestamp(u(r.try_get(6)?)?),
                log_index: Some(u(r.try_get(7)?)?),
            })
        })
        .collect()
}

/// A proof, or the error for parameters the caller should have checked.
pub(super) fn unwrap_proof(proof: Option<Vec<TreeHash>>) -> Result<Vec<TreeHash>, StoreError> {
    proof.ok_or(StoreError::Corrupt("proof parameters out of range"))
}

/// The export snapshot, read in one REPEATABLE READ transaction so that the records, the
/// checkpoint and the inclusion proof agree.
pub(super) fn export_in(
    conn: &mut Conn,
    item: &ItemId,
) -> Result<Option<ExportSnapshot>, StoreError> {
    let mut tx = conn
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let mut db = Db {
        c: &mut tx,
        cache: &mut conn.cache,
    };
    let records = records_in(&mut db, item)?;
    if records.is_empty() {
        return Ok(None);
    }
    let run: Option<Vec<u8>> = db
        .opt(
            "SELECT r.bytes FROM items i JOIN runs r ON r.id = i.run WHERE i.id = $1",
            &[&&item.0[..]],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    let checkpoint = read_checkpoint(&mut db)?;
    let last = records.last().and_then(|r| r.log_index);
    let proof = match (&checkpoint, last) {
        (Some(cp), Some(index)) if index < cp.size => Some((
            index,
            unwrap_proof(tlog::inclusion_proof(
                &PgNodes(RefCell::new(&mut db)),
                index,
                cp.size,
            )?)?,
        )),
        _ => None,
    };
    tx.commit()?;
    Ok(Some(ExportSnapshot {
        records,
        run,
        checkpoint,
        proof,
    }))
}

/// An item's index row.
pub(super) fn item_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    item: ItemId,
) -> Result<Option<ItemRow>, StoreError> {
    let Some(r) = db.opt(
        "SELECT run, edition, maker, head_seq, head_hash FROM items WHERE id = $1",
        &[&&item.0[..]],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(ItemRow {
        item,
        run: RunId(blob(r.try_get(0)?, "run id")?),
        edition: u(r.try_get(1)?)?,
        maker: key(r.try_get(2)?)?,
        head: Head {
            seq: u(r.try_get(3)?)?,
            hash: RecordHash(blob(r.try_get(4)?, "head hash")?),
        },
    }))
}

/// A registered run.
pub(super) fn run_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    run: RunId,
) -> Result<Option<RunRow>, StoreError> {
    let Some(r) = db.opt(
        "SELECT maker, size, hash, bytes, received_at, log_index FROM runs WHERE id = $1",
        &[&&run.0[..]],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(RunRow {
        id: run,
        maker: key(r.try_get(0)?)?,
        size: u(r.try_get(1)?)?,
        hash: RecordHash(blob(r.try_get(2)?, "run hash")?),
        bytes: r.try_get(3)?,
        received_at: Timestamp(u(r.try_get(4)?)?),
        log_index: Some(u(r.try_get(5)?)?),
    }))
}

/// The items minted in a run, by edition.
pub(super) fn run_items_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    run: RunId,
) -> Result<Vec<(u64, ItemId)>, StoreError> {
    db.all(
        "SELECT edition, id FROM items WHERE run = $1 ORDER BY edition",
        &[&&run.0[..]],
    )?
    .into_iter()
    .map(|r| Ok((u(r.try_get(0)?)?, ItemId(blob(r.try_get(1)?, "item id")?))))
    .collect()
}

/// The newest stored trust list's bytes.
pub(super) fn latest_trust_in<C: GenericClient>(
    db: &mut Db<'_, C>,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(db
        .opt(
            "SELECT bytes FROM trust_lists ORDER BY version DESC LIMIT 1",
            &[],
        )?
        .map(|r| r.try_get(0))
        .transpose()?)
}

/// Row counts.
pub(super) fn stats_in<C: GenericClient>(db: &mut Db<'_, C>) -> Result<StoreStats, StoreError> {
    let r = db.one(
        "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM items),
                (SELECT COUNT(*) FROM records), (SELECT COUNT(*) FROM trust_lists)",
        &[],
    )?;
    Ok(StoreStats {
        runs: u(r.try_get(0)?)?,
        items: u(r.try_get(1)?)?,
        records: u(r.try_get(2)?)?,
        trust_lists: u(r.try_get(3)?)?,
    })
}

/// The log leaves `[start, end)` with the record bytes they commit to.
pub(super) fn log_entries_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    start: u64,
    end: u64,
) -> Result<Vec<LogEntry>, StoreError> {
    let start = i64::try_from(start).unwrap_or(i64::MAX);
    let end = i64::try_from(end).unwrap_or(i64::MAX);
    db.all(
        "SELECT l.idx, l.kind, l.id, l.seq, l.hash,
                CASE l.kind WHEN 1 THEN r.bytes ELSE n.bytes END
         FROM log_leaves l
         LEFT JOIN records r ON l.kind = 1 AND r.item = l.id AND r.seq = l.seq
         LEFT JOIN runs n ON l.kind = 2 AND n.id = l.id
         WHERE l.idx >= $1 AND l.idx < $2 ORDER BY l.idx",
        &[&start, &end],
    )?
    .into_iter()
    .map(|r| {
        Ok(LogEntry {
            index: u(r.try_get(0)?)?,
            kind: LeafKind::from_number(i64::from(r.try_get::<_, i16>(1)?))
                .ok_or(StoreError::Corrupt("leaf kind"))?,
            id: blob(r.try_get(2)?, "leaf id")?,
            seq: u(r.try_get(3)?)?,
            leaf_hash: TreeHash(blob(r.try_get(4)?, "leaf hash")?),
            bytes: r.try_get(5)?,
        })
    })
    .collect()
}

/// An inclusion proof from the stored tree.
pub(super) fn inclusion_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    index: u64,
    size: u64,
) -> Result<Vec<TreeHash>, StoreError> {
    unwrap_proof(tlog::inclusion_proof(
        &PgNodes(RefCell::new(db)),
        index,
        size,
    )?)
}

/// A consistency proof from the stored tree.
pub(super) fn consistency_in<C: GenericClient>(
    db: &mut Db<'_, C>,
    first: u64,
    second: u64,
) -> Result<Vec<TreeHash>, StoreError> {
    unwrap_proof(tlog::consistency_proof(
        &PgNodes(RefCell::new(db)),
        first,
        second,
    )?)
}
