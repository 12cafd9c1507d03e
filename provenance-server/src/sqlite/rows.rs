//! Rows to values and back: checked integer conversions (an error, never a silent 0), blobs
//! of fixed size, and the reads the writer and the readers share.

use provenance_core::log::TreeHash;
use provenance_core::{ItemId, RecordHash, Timestamp};
use rusqlite::{params, Connection, OptionalExtension};

use crate::columns::{blob, key, u};
use crate::store::{kind_from_number, Head, RecordRef, RecordRow, StoreError};

pub(super) fn find_record_in(
    conn: &Connection,
    hash: &RecordHash,
) -> Result<Option<RecordRef>, StoreError> {
    let row = conn
        .query_row(
            "SELECT item, seq, kind, log_index FROM records WHERE hash = ?1",
            params![&hash.0[..]],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            },
        )
        .optional()?;
    row.map(|(item, seq, kind, log_index)| {
        Ok(RecordRef {
            item: ItemId(blob(item, "item id")?),
            seq: u(seq)?,
            kind: kind_from_number(kind).ok_or(StoreError::Corrupt("record kind"))?,
            log_index: log_index.map(u).transpose()?,
        })
    })
    .transpose()
}

pub(super) fn head_in(conn: &Connection, item: &ItemId) -> Result<Option<Head>, StoreError> {
    let row = conn
        .query_row(
            "SELECT head_seq, head_hash FROM items WHERE id = ?1",
            params![&item.0[..]],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    row.map(|(seq, hash)| {
        Ok(Head {
            seq: u(seq)?,
            hash: RecordHash(blob(hash, "head hash")?),
        })
    })
    .transpose()
}

pub(super) fn records_in(c: &Connection, item: &ItemId) -> Result<Vec<RecordRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT seq, hash, kind, time, signer, bytes, received_at, log_index FROM records WHERE item = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![&item.0[..]], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Vec<u8>>(4)?,
            r.get::<_, Vec<u8>>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, Option<i64>>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, hash, kind, time, signer, bytes, received_at, log_index) = row?;
        out.push(RecordRow {
            seq: u(seq)?,
            hash: RecordHash(blob(hash, "record hash")?),
            kind: kind_from_number(kind).ok_or(StoreError::Corrupt("record kind"))?,
            time: Timestamp(u(time)?),
            signer: key(signer)?,
            bytes,
            received_at: Timestamp(u(received_at)?),
            log_index: log_index.map(u).transpose()?,
        });
    }
    Ok(out)
}

pub(super) fn unwrap_proof(proof: Option<Vec<TreeHash>>) -> Result<Vec<TreeHash>, StoreError> {
    proof.ok_or(StoreError::Corrupt("proof parameters out of range"))
}
