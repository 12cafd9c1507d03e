//! The Merkle log in PostgreSQL: the node source for proofs, the right edge the writer keeps
//! between batches, the leaves and nodes a batch adds, the `log_state` row lock that serializes
//! appends across servers, and the latest signed checkpoint.

use std::cell::RefCell;
use std::collections::BTreeMap;

use postgres::GenericClient;
use provenance_core::checkpoint::Checkpoint;
use provenance_core::log::{self as tlog, NodeSource, TreeHash};
use provenance_core::{ItemId, RunId};

use super::conn::{Conn, Db};
use crate::columns::{blob, to_int, u, unix_now};
use crate::sqlite::LogSigner;
use crate::store::{
    judge_stored_checkpoint, LeafKind, SignedCheckpoint, StoreError, StoredCheckpoint,
};

/// [`NodeSource`] over a PostgreSQL client or transaction: level 0 from `log_leaves`, higher
/// levels from `log_nodes`.
pub(super) struct PgNodes<'a, 'b, C: GenericClient>(pub(super) RefCell<&'a mut Db<'b, C>>);

impl<C: GenericClient> NodeSource for PgNodes<'_, '_, C> {
    type Error = StoreError;

    fn perfect(&self, level: u32, index: u64) -> Result<TreeHash, StoreError> {
        let index = to_int(index, "log index")?;
        let mut db = self.0.borrow_mut();
        let row = if level == 0 {
            db.opt("SELECT hash FROM log_leaves WHERE idx = $1", &[&index])?
        } else {
            let level = i32::try_from(level).map_err(|_| StoreError::Corrupt("log level"))?;
            db.opt(
                "SELECT hash FROM log_nodes WHERE level = $1 AND idx = $2",
                &[&level, &index],
            )?
        };
        let row = row.ok_or(StoreError::Corrupt("a log node is missing"))?;
        Ok(TreeHash(blob(row.try_get(0)?, "log hash")?))
    }
}

/// The right edge of the Merkle tree of `size` leaves: the root of each perfect subtree of the
/// size's binary decomposition, by level. Enough to append leaves (and name the interior nodes
/// they close) and to compute the root, without reading the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Frontier {
    /// The tree size it is the right edge of.
    pub(super) size: u64,
    nodes: BTreeMap<u32, TreeHash>,
}

impl Frontier {
    /// The `(level, index)` of each subtree on the right edge of a tree of `size` leaves.
    pub(super) fn positions(size: u64) -> Vec<(u32, u64)> {
        (0..64u32)
            .filter(|level| (size >> level) & 1 == 1)
            .map(|level| (level, (size >> level) - 1))
            .collect()
    }

    /// Reads the right edge of the stored tree of `size` leaves.
    pub(super) fn load<C: GenericClient>(
        db: &mut Db<'_, C>,
        size: u64,
    ) -> Result<Self, StoreError> {
        let nodes = PgNodes(RefCell::new(db));
        let mut out = Frontier {
            size,
            nodes: BTreeMap::new(),
        };
        for (level, index) in Self::positions(size) {
            out.nodes.insert(level, nodes.perfect(level, index)?);
        }
        Ok(out)
    }

    /// Appends a leaf; returns the interior nodes `(level, index, hash)` it closes.
    pub(super) fn push(&mut self, leaf: TreeHash) -> Result<Vec<(u32, u64, TreeHash)>, StoreError> {
        let mut closed = Vec::new();
        let (mut hash, mut level, mut i) = (leaf, 0u32, self.size);
        while i % 2 == 1 {
            let left = self
                .nodes
                .remove(&level)
                .ok_or(StoreError::Corrupt("the log's right edge is incomplete"))?;
            hash = tlog::node_hash(&left, &hash);
            level += 1;
            i /= 2;
            closed.push((level, i, hash));
        }
        self.nodes.insert(level, hash);
        self.size += 1;
        Ok(closed)
    }

    /// The root of the tree of `size` leaves.
    pub(super) fn root(&self) -> Result<TreeHash, StoreError> {
        tlog::root(self, self.size)
    }
}

impl NodeSource for Frontier {
    type Error = StoreError;

    fn perfect(&self, level: u32, index: u64) -> Result<TreeHash, StoreError> {
        let on_edge =
            level < 64 && (self.size >> level) & 1 == 1 && index == (self.size >> level) - 1;
        match self.nodes.get(&level) {
            Some(h) if on_edge => Ok(*h),
            _ => Err(StoreError::Corrupt("not a node of the log's right edge")),
        }
    }
}

/// Leaves and nodes a batch adds, inserted together before its commit.
#[derive(Default)]
pub(super) struct Pending {
    idx: Vec<i64>,
    kind: Vec<i16>,
    id: Vec<Vec<u8>>,
    seq: Vec<i64>,
    hash: Vec<Vec<u8>>,
    node_level: Vec<i32>,
    node_idx: Vec<i64>,
    node_hash: Vec<Vec<u8>>,
}

impl Pending {
    /// Appends the leaf of a record or run manifest to `frontier` and queues it and the nodes
    /// it closes; returns its index.
    pub(super) fn leaf(
        &mut self,
        frontier: &mut Frontier,
        kind: LeafKind,
        id: &[u8; 16],
        seq: u64,
        bytes: &[u8],
    ) -> Result<u64, StoreError> {
        let index = frontier.size;
        let data = match kind {
            LeafKind::Record => tlog::item_leaf(&ItemId(*id), seq, bytes),
            LeafKind::Run => tlog::run_leaf(&RunId(*id), bytes),
        };
        let leaf = tlog::leaf_hash(&data);
        for (level, i, h) in frontier.push(leaf)? {
            self.node_level
                .push(i32::try_from(level).map_err(|_| StoreError::Corrupt("log level"))?);
            self.node_idx.push(to_int(i, "node index")?);
            self.node_hash.push(h.0.to_vec());
        }
        self.idx.push(to_int(index, "log index")?);
        self.kind.push(i16::from(kind.number()));
        self.id.push(id.to_vec());
        self.seq.push(to_int(seq, "seq")?);
        self.hash.push(leaf.0.to_vec());
        Ok(index)
    }

    /// Inserts the queued leaves and nodes.
    pub(super) fn insert<C: GenericClient>(&self, db: &mut Db<'_, C>) -> Result<(), StoreError> {
        if !self.idx.is_empty() {
            db.exec(
                "INSERT INTO log_leaves (idx, kind, id, seq, hash)
                 SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bytea[], $4::bigint[], $5::bytea[])",
                &[&self.idx, &self.kind, &self.id, &self.seq, &self.hash],
            )?;
        }
        if !self.node_idx.is_empty() {
            db.exec(
                "INSERT INTO log_nodes (level, idx, hash)
                 SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bytea[])",
                &[&self.node_level, &self.node_idx, &self.node_hash],
            )?;
        }
        Ok(())
    }
}

/// The latest stored checkpoint.
pub(super) fn read_checkpoint<C: GenericClient>(
    db: &mut Db<'_, C>,
) -> Result<Option<SignedCheckpoint>, StoreError> {
    let Some(row) = db.opt(
        "SELECT size, root, note FROM log_checkpoint WHERE id = 1",
        &[],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(SignedCheckpoint {
        size: u(row.try_get(0)?)?,
        root: TreeHash(blob(row.try_get(1)?, "checkpoint root")?),
        note: row.try_get(2)?,
    }))
}

/// Signs a checkpoint of `size` leaves with root `root` and stores it as the latest.
pub(super) fn store_checkpoint<C: GenericClient>(
    db: &mut Db<'_, C>,
    signer: &LogSigner,
    size: u64,
    root: TreeHash,
    now: i64,
) -> Result<SignedCheckpoint, StoreError> {
    let note = Checkpoint {
        origin: signer.origin.clone(),
        size,
        root,
    }
    .sign(&signer.key, &signer.origin)
    .ok_or(StoreError::Corrupt(
        "the log origin cannot be a note key name",
    ))?;
    db.exec(
        "INSERT INTO log_checkpoint (id, size, root, note, signed_at) VALUES (1, $1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET size = EXCLUDED.size, root = EXCLUDED.root,
             note = EXCLUDED.note, signed_at = EXCLUDED.signed_at",
        &[&to_int(size, "size")?, &&root.0[..], &note, &now],
    )?;
    Ok(SignedCheckpoint { size, root, note })
}

/// Locks the log (the `log_state` row) for the rest of the transaction; returns its size.
pub(super) fn lock_log<C: GenericClient>(db: &mut Db<'_, C>) -> Result<u64, StoreError> {
    let row = db.one("SELECT size FROM log_state WHERE id = 1 FOR UPDATE", &[])?;
    u(row.try_get(0)?)
}

/// At open: checks the stored checkpoint against the stored tree, and signs a new one when the
/// tree grew, the origin or key changed, or there is none. Returns whether the stored tree
/// contradicts the stored checkpoint ("tainted": this process then never signs).
pub(super) fn open_log(conn: &mut Conn, signer: &LogSigner) -> Result<bool, StoreError> {
    let mut tx = conn.client.transaction()?;
    let mut db = Db {
        c: &mut tx,
        cache: &mut conn.cache,
    };
    let size = lock_log(&mut db)?;
    let stored = read_checkpoint(&mut db)?;
    let root_at = |n| tlog::root(&PgNodes(RefCell::new(&mut db)), n).ok();
    match judge_stored_checkpoint(stored.as_ref(), size, signer, root_at) {
        StoredCheckpoint::Tainted => return Ok(true),
        StoredCheckpoint::Current => {
            tx.commit()?;
            return Ok(false);
        }
        StoredCheckpoint::SignNew => {}
    }
    let root = tlog::root(&PgNodes(RefCell::new(&mut db)), size)?;
    store_checkpoint(&mut db, signer, size, root, unix_now())?;
    tx.commit()?;
    Ok(false)
}

/// The root of the first `size` leaves of the stored tree, read through `client` (a connection
/// or a transaction): how `provenance migrate` recomputes a checkpoint's root from the target.
pub fn stored_root<C: GenericClient>(client: &mut C, size: u64) -> Result<TreeHash, StoreError> {
    let mut cache = super::conn::Cache::new();
    let mut db = Db {
        c: client,
        cache: &mut cache,
    };
    tlog::root(&PgNodes(RefCell::new(&mut db)), size)
}
