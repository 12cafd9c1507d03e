//! The Merkle log in SQLite: leaves and the interior nodes they close, in the same savepoint
//! as their record; proofs read through [`SqliteNodes`]; checkpoints signed after each batch.

use std::sync::{Arc, RwLock};

use provenance_core::checkpoint::Checkpoint;
use provenance_core::log::{NodeSource, TreeHash};
use provenance_core::{log as tlog, ItemId, RunId, SigningKey};
use rusqlite::{params, Connection, OptionalExtension};

use crate::columns::{blob, to_int, u, unix_now};
use crate::store::{
    judge_stored_checkpoint, LeafKind, SignedCheckpoint, StoreError, StoredCheckpoint,
};

/// The key and name the ledger signs checkpoints with.
pub struct LogSigner {
    /// The ledger key.
    pub key: Arc<SigningKey>,
    /// The log's origin line, also the signature's key name (no whitespace or '+').
    pub origin: String,
}

/// The latest checkpoint, shared between the writer (which publishes after commit) and readers.
pub(super) type Published = Arc<RwLock<Option<Arc<SignedCheckpoint>>>>;

/// [`NodeSource`] over a SQLite connection: level 0 from `log_leaves`, higher levels from
/// `log_nodes`. Inside the writer's transaction it sees the uncommitted leaves too.
pub struct SqliteNodes<'a>(pub &'a Connection);

impl NodeSource for SqliteNodes<'_> {
    type Error = StoreError;

    fn perfect(&self, level: u32, index: u64) -> Result<TreeHash, StoreError> {
        let index = i64::try_from(index).map_err(|_| StoreError::Corrupt("log index"))?;
        let hash: Option<Vec<u8>> = if level == 0 {
            self.0
                .prepare_cached("SELECT hash FROM log_leaves WHERE idx = ?1")?
                .query_row(params![index], |r| r.get(0))
                .optional()?
        } else {
            self.0
                .prepare_cached("SELECT hash FROM log_nodes WHERE level = ?1 AND idx = ?2")?
                .query_row(params![level, index], |r| r.get(0))
                .optional()?
        };
        let hash = hash.ok_or(StoreError::Corrupt("a log node is missing"))?;
        Ok(TreeHash(blob(hash, "log hash")?))
    }
}

/// Number of leaves stored.
pub(super) fn log_size_in(conn: &Connection) -> Result<u64, StoreError> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT MAX(idx) FROM log_leaves")?
        .query_row([], |r| r.get(0))?;
    Ok(max.map(u).transpose()?.map_or(0, |m| m + 1))
}

/// Appends leaf `index` (which must be the current size) and every interior node it closes.
pub(super) fn append_leaf(
    conn: &Connection,
    index: u64,
    kind: LeafKind,
    id: &[u8; 16],
    seq: u64,
    record_bytes: &[u8],
) -> Result<(), StoreError> {
    let data = match kind {
        LeafKind::Record => tlog::item_leaf(&ItemId(*id), seq, record_bytes),
        LeafKind::Run => tlog::run_leaf(&RunId(*id), record_bytes),
    };
    let leaf = tlog::leaf_hash(&data);
    conn.prepare_cached(
        "INSERT INTO log_leaves (idx, kind, id, seq, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        to_int(index, "index")?,
        kind.number(),
        &id[..],
        to_int(seq, "seq")?,
        &leaf.0[..]
    ])?;
    let nodes = SqliteNodes(conn);
    let (mut hash, mut level, mut i) = (leaf, 0u32, index);
    while i % 2 == 1 {
        let left = nodes.perfect(level, i - 1)?;
        hash = tlog::node_hash(&left, &hash);
        level += 1;
        i /= 2;
        conn.prepare_cached("INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?
            .execute(params![level, to_int(i, "node index")?, &hash.0[..]])?;
    }
    Ok(())
}

pub(super) fn read_checkpoint(conn: &Connection) -> Result<Option<SignedCheckpoint>, StoreError> {
    let row = conn
        .prepare_cached("SELECT size, root, note FROM log_checkpoint WHERE id = 1")?
        .query_row([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()?;
    row.map(|(size, root, note)| {
        Ok(SignedCheckpoint {
            size: u(size)?,
            root: TreeHash(blob(root, "checkpoint root")?),
            note,
        })
    })
    .transpose()
}

/// Signs a checkpoint of the first `size` leaves and stores it as the latest.
pub(super) fn sign_checkpoint(
    conn: &Connection,
    signer: &LogSigner,
    size: u64,
    now: i64,
) -> Result<SignedCheckpoint, StoreError> {
    let root = tlog::root(&SqliteNodes(conn), size)?;
    let checkpoint = Checkpoint {
        origin: signer.origin.clone(),
        size,
        root,
    };
    let note = checkpoint
        .sign(&signer.key, &signer.origin)
        .ok_or(StoreError::Corrupt(
            "the log origin cannot be a note key name",
        ))?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO log_checkpoint (id, size, root, note, signed_at) VALUES (1, ?1, ?2, ?3, ?4)",
    )?
    .execute(params![to_int(size, "size")?, &root.0[..], note, now])?;
    Ok(SignedCheckpoint { size, root, note })
}

/// At open: checks the stored checkpoint against the stored tree, and signs a new one when
/// the tree grew (backfill), the origin or key changed, or there is none. Returns the checkpoint
/// to publish and whether the stored tree contradicts the stored checkpoint ("tainted": the
/// database was edited; the ledger then never signs a checkpoint over it).
pub(super) fn open_log(
    conn: &Connection,
    signer: &LogSigner,
) -> Result<(Option<SignedCheckpoint>, bool), StoreError> {
    let size = log_size_in(conn)?;
    let stored = read_checkpoint(conn)?;
    let root_at = |n| tlog::root(&SqliteNodes(conn), n).ok();
    match judge_stored_checkpoint(stored.as_ref(), size, signer, root_at) {
        StoredCheckpoint::Tainted => return Ok((stored, true)),
        StoredCheckpoint::Current => return Ok((stored, false)),
        StoredCheckpoint::SignNew => {}
    }
    let tx = conn.unchecked_transaction()?;
    let cp = sign_checkpoint(&tx, signer, size, unix_now())?;
    tx.commit()?;
    Ok((Some(cp), false))
}

/// The writer's side of the log: how to sign, where to publish.
pub(super) struct LogWriter {
    pub(super) signer: LogSigner,
    pub(super) published: Published,
    pub(super) tainted: bool,
}
