//! The embedded SQLite backend: WAL, `synchronous=FULL`, versioned migrations
//! (`PRAGMA user_version`), one writer thread with group commit, and a small pool of reader
//! connections.
//!
//! Group commit: the writer blocks for the first queued write, then takes every write already
//! queued (up to [`MAX_BATCH`]), applies them in one transaction, each inside its own savepoint
//! (a write that is refused or fails rolls back alone), commits once, and only then answers
//! every request. While it commits, new writes queue up and form the next batch, so the batch
//! size follows the load without adding latency when the ledger is idle.
//!
//! Merkle log: every stored run manifest and item record becomes a leaf in the same savepoint
//! that stores it (`log_leaves`), together with the interior nodes of every perfect subtree the
//! leaf closes (`log_nodes`). After the last write of a batch the writer computes the new root,
//! signs a checkpoint and stores it (`log_checkpoint`) in the same transaction, so a committed
//! checkpoint always covers exactly the committed leaves and nothing served is ever lost.
//! Proofs are computed from SQLite through [`SqliteNodes`], O(log² n) point reads each.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use provenance_core::checkpoint::Checkpoint;
use provenance_core::log::{self as tlog, NodeSource, TreeHash};
use provenance_core::{ItemId, PublicKey, RecordHash, RunId, SigningKey, Timestamp};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{
    kind_from_number, kind_number, ExportSnapshot, Head, ItemRow, LeafKind, LedgerStore, LogEntry,
    RecordRef, RecordRow, RunRow, SignedCheckpoint, StoreError, StoreStats, WriteOp, WriteOutcome,
    WriteResult,
};

/// Most writes committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Reader connections kept open for reuse.
/// Reader connections kept open between requests. Enough for every concurrent handler under
/// load, so readers are not opened and closed per request (a closing connection may try to
/// checkpoint, briefly locking the database file).
const MAX_IDLE_READERS: usize = 64;
/// Times a read is retried when SQLite reports contention despite the busy timeout.
const READ_RETRIES: u32 = 5;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: runs, items, records, trust lists.
    "CREATE TABLE runs (
        id          BLOB PRIMARY KEY,
        maker       BLOB NOT NULL,
        size        INTEGER NOT NULL,
        hash        BLOB NOT NULL UNIQUE,
        time        INTEGER NOT NULL,
        bytes       BLOB NOT NULL,
        received_at INTEGER NOT NULL
    );
    CREATE TABLE items (
        id         BLOB PRIMARY KEY,
        run        BLOB NOT NULL REFERENCES runs(id),
        edition    INTEGER NOT NULL,
        maker      BLOB NOT NULL,
        head_seq   INTEGER NOT NULL,
        head_hash  BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (run, edition)
    );
    CREATE TABLE records (
        id          INTEGER PRIMARY KEY,
        item        BLOB NOT NULL REFERENCES items(id),
        seq         INTEGER NOT NULL,
        hash        BLOB NOT NULL UNIQUE,
        kind        INTEGER NOT NULL,
        time        INTEGER NOT NULL,
        signer      BLOB NOT NULL,
        bytes       BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (item, seq)
    );
    CREATE TABLE trust_lists (
        version     INTEGER PRIMARY KEY,
        issued_at   INTEGER NOT NULL,
        bytes       BLOB NOT NULL,
        received_at INTEGER NOT NULL
    );",
    // 2: the Merkle log. Leaf hashes (level 0) in log_leaves, interior nodes of closed perfect
    // subtrees in log_nodes, the latest signed checkpoint in log_checkpoint; each run and
    // record knows its leaf. Rows stored before this migration get leaves at open time.
    "CREATE TABLE log_leaves (
        idx  INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        id   BLOB NOT NULL,
        seq  INTEGER NOT NULL,
        hash BLOB NOT NULL
    );
    CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx   INTEGER NOT NULL,
        hash  BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE log_checkpoint (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        size      INTEGER NOT NULL,
        root      BLOB NOT NULL,
        note      TEXT NOT NULL,
        signed_at INTEGER NOT NULL
    );
    ALTER TABLE runs ADD COLUMN log_index INTEGER;
    ALTER TABLE records ADD COLUMN log_index INTEGER;
    CREATE UNIQUE INDEX runs_log_index ON runs(log_index);
    CREATE UNIQUE INDEX records_log_index ON records(log_index);",
    // 3: trust-list versions span all of u64 (spec §5). Migration 1 made the version the
    // INTEGER rowid, which stops at 2^63 - 1: a larger version was stored negative and lost
    // to an older list at the next start. Versions (and issue times, also any u64) are now
    // 20-digit zero-padded decimal text, which sorts exactly as the numbers it spells.
    "CREATE TABLE trust_lists_v3 (
        version     TEXT PRIMARY KEY CHECK (length(version) = 20),
        issued_at   TEXT NOT NULL CHECK (length(issued_at) = 20),
        bytes       BLOB NOT NULL,
        received_at INTEGER NOT NULL
    );
    INSERT INTO trust_lists_v3 (version, issued_at, bytes, received_at)
        SELECT printf('%020d', version), printf('%020d', issued_at), bytes, received_at
        FROM trust_lists WHERE version >= 0 AND issued_at >= 0;
    DROP TABLE trust_lists;
    ALTER TABLE trust_lists_v3 RENAME TO trust_lists;",
];

/// The key and name the ledger signs checkpoints with.
pub struct LogSigner {
    /// The ledger key.
    pub key: Arc<SigningKey>,
    /// The log's origin line, also the signature's key name (no whitespace or '+').
    pub origin: String,
}

/// The latest checkpoint, shared between the writer (which publishes after commit) and readers.
type Published = Arc<RwLock<Option<Arc<SignedCheckpoint>>>>;

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
fn log_size_in(conn: &Connection) -> Result<u64, StoreError> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT MAX(idx) FROM log_leaves")?
        .query_row([], |r| r.get(0))?;
    Ok(max.map(u).transpose()?.map_or(0, |m| m + 1))
}

/// Appends leaf `index` (which must be the current size) and every interior node it closes.
fn append_leaf(
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

fn read_checkpoint(conn: &Connection) -> Result<Option<SignedCheckpoint>, StoreError> {
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
fn sign_checkpoint(
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

/// Gives every run and record stored before the log existed (migration 2) its leaf, in the
/// order they were received (runs before records at the same second, as a mint needs its run).
fn backfill_log(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let mut pending: Vec<(i64, u8, i64)> = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT received_at, rowid FROM runs WHERE log_index IS NULL")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (at, rowid) = row?;
            pending.push((at, 0, rowid));
        }
        let mut stmt = tx.prepare("SELECT received_at, id FROM records WHERE log_index IS NULL")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (at, rowid) = row?;
            pending.push((at, 1, rowid));
        }
    }
    if pending.is_empty() {
        return Ok(());
    }
    pending.sort_unstable();
    let first = log_size_in(&tx)?;
    for (size, (_, table, rowid)) in (first..).zip(pending) {
        if table == 0 {
            let (id, bytes): (Vec<u8>, Vec<u8>) = tx.query_row(
                "SELECT id, bytes FROM runs WHERE rowid = ?1",
                params![rowid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            append_leaf(&tx, size, LeafKind::Run, &blob(id, "run id")?, 0, &bytes)?;
            tx.execute(
                "UPDATE runs SET log_index = ?1 WHERE rowid = ?2",
                params![to_int(size, "size")?, rowid],
            )?;
        } else {
            let (item, seq, bytes): (Vec<u8>, i64, Vec<u8>) = tx.query_row(
                "SELECT item, seq, bytes FROM records WHERE id = ?1",
                params![rowid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            append_leaf(
                &tx,
                size,
                LeafKind::Record,
                &blob(item, "item id")?,
                u(seq)?,
                &bytes,
            )?;
            tx.execute(
                "UPDATE records SET log_index = ?1 WHERE id = ?2",
                params![to_int(size, "size")?, rowid],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// At open: checks the stored checkpoint against the stored tree, and signs a new one when
/// the tree grew (backfill), the origin or key changed, or there is none. Returns the checkpoint
/// to publish and whether the stored tree contradicts the stored checkpoint ("tainted": the
/// database was edited; the ledger then never signs a checkpoint over it).
fn open_log(
    conn: &Connection,
    signer: &LogSigner,
) -> Result<(Option<SignedCheckpoint>, bool), StoreError> {
    let size = log_size_in(conn)?;
    let stored = read_checkpoint(conn)?;
    if let Some(cp) = &stored {
        let root = if cp.size <= size {
            tlog::root(&SqliteNodes(conn), cp.size).ok()
        } else {
            None
        };
        if root != Some(cp.root) {
            tracing::error!(
                size = cp.size,
                "the stored Merkle log does not match the ledger's latest signed checkpoint: \
                 the database was modified outside the ledger; no new checkpoint will be signed"
            );
            return Ok((stored, true));
        }
        let same_signer = Checkpoint::verify(
            &cp.note,
            &signer.origin,
            &signer.key.public_key(),
            Some(&signer.origin),
        )
        .is_ok();
        if cp.size == size && same_signer {
            return Ok((stored, false));
        }
    }
    let tx = conn.unchecked_transaction()?;
    let cp = sign_checkpoint(&tx, signer, size, unix_now())?;
    tx.commit()?;
    Ok((Some(cp), false))
}

enum Msg {
    Write(WriteOp, oneshot::Sender<WriteResult>),
    Shutdown,
}

/// The SQLite-backed [`LedgerStore`].
pub struct SqliteStore {
    path: std::path::PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    checkpoint: Published,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

fn open_write(path: &Path) -> Result<Connection, StoreError> {
    // Create the database file owner-only before SQLite does (it would use the umask, often
    // 0644); SQLite gives the -wal and -shm files the database file's permissions.
    if !path.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
    }
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version =
        usize::try_from(version).map_err(|_| StoreError::Corrupt("negative schema version"))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(
            "database schema is newer than this program",
        ));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        let next = i64::try_from(index + 1).map_err(|_| StoreError::Corrupt("schema version"))?;
        tx.pragma_update(None, "user_version", next)?;
        tx.commit()?;
    }
    Ok(())
}

fn blob<const N: usize>(v: Vec<u8>, what: &'static str) -> Result<[u8; N], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt(what))
}

fn key(v: Vec<u8>) -> Result<PublicKey, StoreError> {
    PublicKey::from_bytes(&blob::<32>(v, "public key")?)
        .map_err(|_| StoreError::Corrupt("public key"))
}

/// A stored integer as the unsigned value it was written from; a negative one is corruption,
/// never a silent 0.
fn u(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("a negative stored integer"))
}

/// An unsigned value for an SQLite INTEGER column. Every value written through it is bounded
/// by the rules before it gets here (times by the clock, seq by the history limit, editions by
/// the run size limit, log indexes by the log), so an error is an invariant broken, not input.
fn to_int(v: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what))
}

/// A u64 as 20-digit zero-padded decimal text, which sorts as the number (trust versions).
fn u64_text(v: u64) -> String {
    format!("{v:020}")
}

fn u64_from_text(v: &str) -> Result<u64, StoreError> {
    match v.parse() {
        Ok(n) if v.len() == 20 => Ok(n),
        _ => Err(StoreError::Corrupt("a stored 20-digit number")),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, runs pending migrations, gives
    /// older rows their log leaves, checks the log against its latest checkpoint (signing a new
    /// one if needed) and starts the writer thread.
    pub fn open(path: &Path, metrics: Arc<Metrics>, signer: LogSigner) -> Result<Self, StoreError> {
        let mut conn = open_write(path)?;
        migrate(&mut conn)?;
        backfill_log(&mut conn)?;
        let (latest, tainted) = open_log(&conn, &signer)?;
        let checkpoint: Published = Arc::new(RwLock::new(latest.map(Arc::new)));
        let log = LogWriter {
            signer,
            published: checkpoint.clone(),
            tainted,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer_loop(conn, rx, metrics, log))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            tx,
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            checkpoint,
        })
    }

    /// Runs a read on a pooled connection, retrying it (reads are idempotent) when SQLite
    /// reports contention the busy timeout did not absorb.
    fn with_reader<T>(
        &self,
        f: impl Fn(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            match self.with_reader_once(&f) {
                Err(e) if e.is_contention() && attempt < READ_RETRIES => {
                    attempt += 1;
                    tracing::debug!("read retried after contention ({attempt}): {e}");
                    std::thread::sleep(std::time::Duration::from_millis(u64::from(attempt) * 2));
                }
                other => return other,
            }
        }
    }

    fn with_reader_once<T>(
        &self,
        f: &impl Fn(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c.pragma_update(None, "query_only", "ON")?;
                c
            }
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        result
    }
}

/// The writer's side of the log: how to sign, where to publish.
struct LogWriter {
    signer: LogSigner,
    published: Published,
    tainted: bool,
}

fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    metrics: Arc<Metrics>,
    log: LogWriter,
) {
    let mut stopping = false;
    while !stopping {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut batch = Vec::with_capacity(16);
        let mut push = |msg: Msg, batch: &mut Vec<_>| match msg {
            Msg::Write(op, reply) => batch.push((op, reply)),
            Msg::Shutdown => stopping = true,
        };
        push(first, &mut batch);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => push(msg, &mut batch),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        metrics.observe_batch(batch.len());
        let (ops, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match apply_batch(&mut conn, ops, &log) {
            Ok((outcomes, checkpoint)) => {
                if let Some(cp) = checkpoint {
                    // Published only after the commit: a served checkpoint is durable.
                    match log.published.write() {
                        Ok(mut p) => *p = Some(Arc::new(cp)),
                        Err(poisoned) => *poisoned.into_inner() = Some(Arc::new(cp)),
                    }
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                let busy = e.is_contention();
                tracing::error!("group commit failed, nothing stored: {e}");
                for reply in replies {
                    let _ = reply.send(Err(if busy {
                        StoreError::Busy
                    } else {
                        StoreError::Corrupt("the transaction failed to commit")
                    }));
                }
            }
        }
    }
    // Refuse whatever arrives after shutdown.
    rx.close();
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Write(_, reply) = msg {
            let _ = reply.send(Err(StoreError::WriterGone));
        }
    }
}

/// Applies every write in one transaction; each write runs in its own savepoint and appends
/// its log leaf there. If the batch added leaves, the new checkpoint is signed and stored in
/// the same transaction and returned for publication after the commit.
fn apply_batch(
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

fn find_record_in(conn: &Connection, hash: &RecordHash) -> Result<Option<RecordRef>, StoreError> {
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

fn head_in(conn: &Connection, item: &ItemId) -> Result<Option<Head>, StoreError> {
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

/// Stores an item record and its log leaf `log_index`.
fn insert_record(
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
fn apply_one(tx: &Connection, op: WriteOp, now: i64, log_size: u64) -> WriteResult {
    match op {
        WriteOp::Run(run) => {
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
        WriteOp::Mint {
            item,
            run,
            edition,
            record,
        } => {
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
            insert_record(tx, &item, &record, now, log_size)
        }
        WriteOp::Append {
            item,
            expected,
            record,
        } => {
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
                return insert_record(tx, &item, &record, now, log_size);
            }
            if changed == 1 {
                // A caller bug (seq not head + 1): refuse; the savepoint rolls the update back.
                return Err(StoreError::Corrupt("append is not head + 1"));
            }
            if let Some(found) = find_record_in(tx, &record.hash())? {
                if found.item == item {
                    return Ok(WriteOutcome::AlreadyStored(found));
                }
            }
            match head_in(tx, &item)? {
                Some(head) => Ok(WriteOutcome::Stale(head)),
                None => Ok(WriteOutcome::UnknownItem),
            }
        }
        WriteOp::Trust {
            version,
            issued_at,
            bytes,
        } => {
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
                params![u64_text(version), u64_text(issued_at.0), bytes, now],
            )?;
            Ok(WriteOutcome::Stored { log_index: None })
        }
    }
}

fn records_in(c: &Connection, item: &ItemId) -> Result<Vec<RecordRow>, StoreError> {
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

fn unwrap_proof(proof: Option<Vec<TreeHash>>) -> Result<Vec<TreeHash>, StoreError> {
    proof.ok_or(StoreError::Corrupt("proof parameters out of range"))
}

impl LedgerStore for SqliteStore {
    fn submit(&self, op: WriteOp) -> oneshot::Receiver<WriteResult> {
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(Msg::Write(_, reply))) =
            self.tx.send(Msg::Write(op, reply))
        {
            let _ = reply.send(Err(StoreError::WriterGone));
        }
        answer
    }

    fn find_record(&self, hash: &RecordHash) -> Result<Option<RecordRef>, StoreError> {
        self.with_reader(|c| find_record_in(c, hash))
    }

    fn item(&self, item: &ItemId) -> Result<Option<ItemRow>, StoreError> {
        self.with_reader(|c| {
            let row = c
                .prepare_cached(
                    "SELECT run, edition, maker, head_seq, head_hash FROM items WHERE id = ?1",
                )?
                .query_row(params![&item.0[..]], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                    ))
                })
                .optional()?;
            row.map(|(run, edition, maker, seq, hash)| {
                Ok(ItemRow {
                    item: *item,
                    run: RunId(blob(run, "run id")?),
                    edition: u(edition)?,
                    maker: key(maker)?,
                    head: Head {
                        seq: u(seq)?,
                        hash: RecordHash(blob(hash, "head hash")?),
                    },
                })
            })
            .transpose()
        })
    }

    fn records(&self, item: &ItemId) -> Result<Vec<RecordRow>, StoreError> {
        self.with_reader(|c| records_in(c, item))
    }

    fn run(&self, run: &RunId) -> Result<Option<RunRow>, StoreError> {
        self.with_reader(|c| {
            let row = c
                .prepare_cached(
                    "SELECT maker, size, hash, bytes, received_at, log_index FROM runs WHERE id = ?1",
                )?
                .query_row(params![&run.0[..]], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                })
                .optional()?;
            row.map(|(maker, size, hash, bytes, received_at, log_index)| {
                Ok(RunRow {
                    id: *run,
                    maker: key(maker)?,
                    size: u(size)?,
                    hash: RecordHash(blob(hash, "run hash")?),
                    bytes,
                    received_at: Timestamp(u(received_at)?),
                    log_index: log_index.map(u).transpose()?,
                })
            })
            .transpose()
        })
    }

    fn run_items(&self, run: &RunId) -> Result<Vec<(u64, ItemId)>, StoreError> {
        self.with_reader(|c| {
            let mut stmt =
                c.prepare_cached("SELECT edition, id FROM items WHERE run = ?1 ORDER BY edition")?;
            let rows = stmt.query_map(params![&run.0[..]], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (edition, id) = row?;
                out.push((u(edition)?, ItemId(blob(id, "item id")?)));
            }
            Ok(out)
        })
    }

    fn latest_trust(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT bytes FROM trust_lists ORDER BY version DESC LIMIT 1", // 20-digit text
                [],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_reader(|c| {
            let count = |table: &str| -> Result<u64, StoreError> {
                u(c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?)
            };
            Ok(StoreStats {
                runs: count("runs")?,
                items: count("items")?,
                records: count("records")?,
                trust_lists: count("trust_lists")?,
            })
        })
    }

    fn checkpoint(&self) -> Option<Arc<SignedCheckpoint>> {
        match self.checkpoint.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<TreeHash>, StoreError> {
        self.with_reader(|c| unwrap_proof(tlog::inclusion_proof(&SqliteNodes(c), index, size)?))
    }

    fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<TreeHash>, StoreError> {
        self.with_reader(|c| unwrap_proof(tlog::consistency_proof(&SqliteNodes(c), first, second)?))
    }

    fn log_entries(&self, start: u64, end: u64) -> Result<Vec<LogEntry>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT l.idx, l.kind, l.id, l.seq, l.hash,
                        CASE l.kind WHEN 1 THEN r.bytes ELSE n.bytes END
                 FROM log_leaves l
                 LEFT JOIN records r ON l.kind = 1 AND r.item = l.id AND r.seq = l.seq
                 LEFT JOIN runs n ON l.kind = 2 AND n.id = l.id
                 WHERE l.idx >= ?1 AND l.idx < ?2 ORDER BY l.idx",
            )?;
            let start = i64::try_from(start).unwrap_or(i64::MAX);
            let end = i64::try_from(end).unwrap_or(i64::MAX);
            let rows = stmt.query_map(params![start, end], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Option<Vec<u8>>>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (index, kind, id, seq, hash, bytes) = row?;
                out.push(LogEntry {
                    index: u(index)?,
                    kind: LeafKind::from_number(kind).ok_or(StoreError::Corrupt("leaf kind"))?,
                    id: blob(id, "leaf id")?,
                    seq: u(seq)?,
                    leaf_hash: TreeHash(blob(hash, "leaf hash")?),
                    bytes,
                });
            }
            Ok(out)
        })
    }

    fn export(&self, item: &ItemId) -> Result<Option<ExportSnapshot>, StoreError> {
        self.with_reader(|c| {
            // One read transaction: the records, the checkpoint and the proof are one snapshot.
            let tx = c.unchecked_transaction()?;
            let records = records_in(&tx, item)?;
            if records.is_empty() {
                return Ok(None);
            }
            let run: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT r.bytes FROM items i JOIN runs r ON r.id = i.run WHERE i.id = ?1",
                    params![&item.0[..]],
                    |r| r.get(0),
                )
                .optional()?;
            let checkpoint = read_checkpoint(&tx)?;
            let last = records.last().and_then(|r| r.log_index);
            let proof = match (&checkpoint, last) {
                (Some(cp), Some(index)) if index < cp.size => Some((
                    index,
                    unwrap_proof(tlog::inclusion_proof(&SqliteNodes(&tx), index, cp.size)?)?,
                )),
                _ => None,
            };
            tx.finish()?;
            Ok(Some(ExportSnapshot {
                records,
                run,
                checkpoint,
                proof,
            }))
        })
    }

    fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use provenance_core::{
        verify_run, Mint, Record, RecordBody, Role, Roles, RunManifest, SigningKey, TrustEntry,
        TrustList, TrustListContent, VerifiedChain,
    };

    fn signer() -> LogSigner {
        LogSigner {
            key: Arc::new(SigningKey::from_seed([7; 32])),
            origin: "test.example/log".into(),
        }
    }

    fn trust(maker: &SigningKey) -> TrustList {
        let operator = SigningKey::from_seed([9; 32]);
        let content = TrustListContent {
            version: 1,
            issued_at: Timestamp(0),
            ledger: None,
            entries: vec![TrustEntry {
                key: maker.public_key(),
                roles: Roles::of(Role::Maker),
                name: "maker".into(),
                valid_from: Timestamp(0),
                valid_until: None,
                revoked_at: None,
            }],
        };
        TrustList::verify(&content.sign(&operator), None).unwrap()
    }

    #[test]
    fn migrations_group_commit_cas_and_edition_uniqueness() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let metrics = Arc::new(Metrics::default());
        let store = SqliteStore::open(&path, metrics.clone(), signer()).unwrap();
        let maker = SigningKey::from_seed([1; 32]);
        let trust = trust(&maker);
        let now = Timestamp(1_000);
        let manifest = RunManifest {
            title: "T".into(),
            microfactory: "M".into(),
            place: "P".into(),
            size: 2,
            window_start: Timestamp(0),
            window_end: Timestamp(2_000),
        };
        let run_bytes = Record {
            time: now,
            seq: 0,
            body: RecordBody::RunManifest(manifest),
        }
        .sign(&maker, None);
        let run = verify_run(&run_bytes, &trust, now).unwrap();
        let run_id = run.id();
        let r = store
            .submit(WriteOp::Run(Box::new(run.clone())))
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(r, WriteOutcome::Stored { log_index: Some(0) });
        let r = store
            .submit(WriteOp::Run(Box::new(run)))
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(r, WriteOutcome::RunAlreadyStored);

        let mint = |time: u64| {
            Record {
                time: Timestamp(time),
                seq: 0,
                body: RecordBody::Mint(Mint {
                    run: run_id,
                    number: 1,
                    size: 2,
                    title: "T".into(),
                    microfactory: "M".into(),
                    owner: None,
                }),
            }
            .sign(&maker, None)
        };
        let (a, a_rec) = VerifiedChain::start(&mint(1_000), &trust, now).unwrap();
        let (b, b_rec) = VerifiedChain::start(&mint(1_001), &trust, now).unwrap();
        let rx1 = store.submit(WriteOp::Mint {
            item: a.item(),
            run: run_id,
            edition: 1,
            record: Box::new(a_rec.clone()),
        });
        let rx2 = store.submit(WriteOp::Mint {
            item: b.item(),
            run: run_id,
            edition: 1,
            record: Box::new(b_rec),
        });
        assert_eq!(
            rx1.blocking_recv().unwrap().unwrap(),
            WriteOutcome::Stored { log_index: Some(1) }
        );
        assert_eq!(
            rx2.blocking_recv().unwrap().unwrap(),
            WriteOutcome::EditionTaken(a.item())
        );
        let stats = store.stats().unwrap();
        assert_eq!((stats.runs, stats.items, stats.records), (1, 1, 1));

        // A stale compare-and-swap changes nothing and reports the head.
        let wrong = Head {
            seq: 0,
            hash: RecordHash([0; 32]),
        };
        let owner_key = SigningKey::from_seed([3; 32]);
        let transfer = Record {
            time: now,
            seq: 1,
            body: RecordBody::Transfer(owner_key.public_key()),
        }
        .sign(
            &maker,
            Some(&provenance_core::ChainLink {
                item: a.item(),
                prev: a.head(),
            }),
        );
        let mut chain = a.clone();
        let rec = chain.extend(&transfer, &trust, now).unwrap();
        let stale = store
            .submit(WriteOp::Append {
                item: a.item(),
                expected: wrong,
                record: Box::new(rec.clone()),
            })
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(
            stale,
            WriteOutcome::Stale(Head {
                seq: 0,
                hash: a.head()
            })
        );
        let ok = store
            .submit(WriteOp::Append {
                item: a.item(),
                expected: Head {
                    seq: 0,
                    hash: a.head(),
                },
                record: Box::new(rec.clone()),
            })
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(ok, WriteOutcome::Stored { log_index: Some(2) });
        let again = store
            .submit(WriteOp::Append {
                item: a.item(),
                expected: Head {
                    seq: 0,
                    hash: a.head(),
                },
                record: Box::new(rec),
            })
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert!(matches!(again, WriteOutcome::AlreadyStored(r) if r.seq == 1));
        store.shutdown();
        assert!(matches!(
            store
                .submit(WriteOp::Run(Box::new(
                    verify_run(&run_bytes, &trust, now).unwrap()
                )))
                .blocking_recv()
                .unwrap(),
            Err(StoreError::WriterGone)
        ));

        // Reopen: migrations are idempotent, data is there, and so is the log.
        let before = store.checkpoint().unwrap();
        let store = SqliteStore::open(&path, metrics, signer()).unwrap();
        assert_eq!(store.records(&a.item()).unwrap().len(), 2);
        assert_eq!(store.item(&a.item()).unwrap().unwrap().head.seq, 1);
        check_log(&store, 3);
        assert_eq!(*store.checkpoint().unwrap(), *before);
        store.shutdown();
    }

    /// Every proof the store serves verifies against its checkpoint, and the stored tree equals
    /// the in-memory tree built from the entries' record bytes.
    fn check_log(store: &SqliteStore, size: u64) {
        use provenance_core::log::{leaf_hash, verify_consistency, verify_inclusion, MemoryTree};
        let cp = store.checkpoint().unwrap();
        assert_eq!(cp.size, size);
        let parsed = Checkpoint::verify_own_origin(&cp.note, &signer().key.public_key()).unwrap();
        assert_eq!((parsed.size, parsed.root), (cp.size, cp.root));
        let mut tree = MemoryTree::new();
        for e in store.log_entries(0, size).unwrap() {
            let bytes = e.bytes.unwrap();
            let data = match e.kind {
                LeafKind::Record => tlog::item_leaf(&ItemId(e.id), e.seq, &bytes),
                LeafKind::Run => tlog::run_leaf(&RunId(e.id), &bytes),
            };
            assert_eq!(leaf_hash(&data), e.leaf_hash);
            tree.push(e.leaf_hash);
        }
        assert_eq!(tlog::root(&tree, size).unwrap(), cp.root);
        for n in 1..=size {
            let root_n = tlog::root(&tree, n).unwrap();
            for i in 0..n {
                let proof = store.inclusion_proof(i, n).unwrap();
                let proof: Vec<&[u8]> = proof.iter().map(|h| &h.0[..]).collect();
                let leaf = tlog::NodeSource::perfect(&tree, 0, i).unwrap();
                verify_inclusion(i, n, &leaf.0, &proof, &root_n.0).unwrap();
            }
            let proof = store.consistency_proof(n, size).unwrap();
            let proof: Vec<&[u8]> = proof.iter().map(|h| &h.0[..]).collect();
            verify_consistency(n, size, &root_n.0, &cp.root.0, &proof).unwrap();
        }
    }

    #[test]
    fn a_database_from_before_the_log_gets_its_leaves_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let metrics = Arc::new(Metrics::default());
        let store = SqliteStore::open(&path, metrics.clone(), signer()).unwrap();
        let maker = SigningKey::from_seed([1; 32]);
        let trust = trust(&maker);
        let run_bytes = Record {
            time: Timestamp(1_000),
            seq: 0,
            body: RecordBody::RunManifest(RunManifest {
                title: "T".into(),
                microfactory: "M".into(),
                place: "P".into(),
                size: 2,
                window_start: Timestamp(0),
                window_end: Timestamp(2_000),
            }),
        }
        .sign(&maker, None);
        let run = verify_run(&run_bytes, &trust, Timestamp(1_000)).unwrap();
        let run_id = run.id();
        store
            .submit(WriteOp::Run(Box::new(run)))
            .blocking_recv()
            .unwrap()
            .unwrap();
        let mint = Record {
            time: Timestamp(1_000),
            seq: 0,
            body: RecordBody::Mint(Mint {
                run: run_id,
                number: 1,
                size: 2,
                title: "T".into(),
                microfactory: "M".into(),
                owner: None,
            }),
        }
        .sign(&maker, None);
        let (chain, rec) = VerifiedChain::start(&mint, &trust, Timestamp(1_000)).unwrap();
        store
            .submit(WriteOp::Mint {
                item: chain.item(),
                run: run_id,
                edition: 1,
                record: Box::new(rec),
            })
            .blocking_recv()
            .unwrap()
            .unwrap();
        let before = store.checkpoint().unwrap();
        store.shutdown();
        // Turn it back into a version-1 database: no log tables, no log_index columns.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP INDEX runs_log_index; DROP INDEX records_log_index;
             ALTER TABLE runs DROP COLUMN log_index; ALTER TABLE records DROP COLUMN log_index;
             DROP TABLE log_leaves; DROP TABLE log_nodes; DROP TABLE log_checkpoint;
             PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(conn);
        let store = SqliteStore::open(&path, metrics, signer()).unwrap();
        check_log(&store, 2);
        assert_eq!(
            store.checkpoint().unwrap().root,
            before.root,
            "same leaves, same order"
        );
        assert_eq!(store.records(&chain.item()).unwrap()[0].log_index, Some(1));
        assert_eq!(store.run(&run_id).unwrap().unwrap().log_index, Some(0));
        store.shutdown();
    }

    #[test]
    fn log_over_many_batches_matches_memory_tree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path, Arc::new(Metrics::default()), signer()).unwrap();
        assert_eq!(
            store.checkpoint().unwrap().size,
            0,
            "an empty log has a checkpoint"
        );
        let maker = SigningKey::from_seed([1; 32]);
        let trust = trust(&maker);
        let mut answers = Vec::new();
        for i in 0..37u64 {
            let bytes = Record {
                time: Timestamp(1_000 + i),
                seq: 0,
                body: RecordBody::RunManifest(RunManifest {
                    title: format!("T{i}"),
                    microfactory: "M".into(),
                    place: "P".into(),
                    size: 2,
                    window_start: Timestamp(0),
                    window_end: Timestamp(5_000),
                }),
            }
            .sign(&maker, None);
            let run = verify_run(&bytes, &trust, Timestamp(2_000)).unwrap();
            answers.push(store.submit(WriteOp::Run(Box::new(run))));
            if i % 5 == 0 {
                // Several batch shapes: some single writes, some groups.
                for a in answers.drain(..) {
                    assert!(matches!(
                        a.blocking_recv().unwrap().unwrap(),
                        WriteOutcome::Stored { .. }
                    ));
                }
            }
        }
        for a in answers.drain(..) {
            assert!(matches!(
                a.blocking_recv().unwrap().unwrap(),
                WriteOutcome::Stored { .. }
            ));
        }
        check_log(&store, 37);
        store.shutdown();
        // Reopened under another origin: same tree, re-signed checkpoint.
        let other = LogSigner {
            key: Arc::new(SigningKey::from_seed([7; 32])),
            origin: "elsewhere".into(),
        };
        let store = SqliteStore::open(&path, Arc::new(Metrics::default()), other).unwrap();
        let cp = store.checkpoint().unwrap();
        assert_eq!(cp.size, 37);
        assert!(cp.note.starts_with("elsewhere\n37\n"));
        store.shutdown();
    }

    /// Migration 3: a database whose trust lists sit in the old INTEGER rowid column keeps
    /// them, in order, and then accepts versions past 2^63.
    #[test]
    fn trust_lists_migrate_to_the_whole_u64_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            for (index, sql) in MIGRATIONS.iter().enumerate().take(2) {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", index as i64 + 1)
                    .unwrap();
                tx.commit().unwrap();
            }
            for (version, bytes) in [(7i64, b"seven".to_vec()), (12, b"twelve".to_vec())] {
                conn.execute(
                    "INSERT INTO trust_lists (version, issued_at, bytes, received_at) VALUES (?1, 1, ?2, 1)",
                    params![version, bytes],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path, Arc::new(Metrics::default()), signer()).unwrap();
        assert_eq!(store.latest_trust().unwrap(), Some(b"twelve".to_vec()));
        let put = |version: u64, bytes: &[u8]| {
            store
                .submit(WriteOp::Trust {
                    version,
                    issued_at: Timestamp(u64::MAX),
                    bytes: bytes.to_vec(),
                })
                .blocking_recv()
                .unwrap()
                .unwrap()
        };
        assert!(matches!(
            put(12, b"again"),
            WriteOutcome::TrustStale { current: 12 }
        ));
        assert!(matches!(put(1 << 63, b"big"), WriteOutcome::Stored { .. }));
        assert!(matches!(
            put((1 << 63) - 1, b"smaller"),
            WriteOutcome::TrustStale { current } if current == 1 << 63
        ));
        assert!(matches!(put(u64::MAX, b"max"), WriteOutcome::Stored { .. }));
        assert_eq!(store.latest_trust().unwrap(), Some(b"max".to_vec()));
        store.shutdown();
    }

    /// Contention is never a 500: a real SQLITE_BUSY is recognised, and answers 503
    /// `ledger.overloaded` (retry), like the writer's `Busy`.
    #[test]
    fn contention_answers_503_not_500() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let a = open_write(&path).unwrap();
        let b = Connection::open(&path).unwrap();
        b.busy_timeout(std::time::Duration::from_millis(0)).unwrap();
        a.execute_batch("BEGIN IMMEDIATE").unwrap();
        let busy = StoreError::from(b.execute_batch("BEGIN IMMEDIATE").unwrap_err());
        assert!(busy.is_contention(), "{busy}");
        for e in [busy, StoreError::Busy] {
            let p = crate::ledger::Problem::internal(&e);
            assert_eq!((p.status, p.code), (503, "ledger.overloaded"));
        }
        let other = crate::ledger::Problem::internal(&StoreError::Corrupt("x"));
        assert_eq!(other.status, 500);
        a.execute_batch("ROLLBACK").unwrap();
    }

    /// Issue 9.7, the cause: under load a reader that catches the wal-index header mid-update
    /// takes the WAL write lock for a moment to re-read it. The writer used to begin DEFERRED
    /// and read before its first write; upgrading a read transaction to a write one is the
    /// case where SQLite answers SQLITE_BUSY at once, without the busy handler, so one append
    /// in ~100,000 failed with 500. Here another connection holds the write lock when a batch
    /// starts: the writer must wait for it (BEGIN IMMEDIATE under the busy timeout) and store,
    /// not answer an error. The pause only lets the writer reach the lock; nothing is timed
    /// (a slow writer still passes).
    #[test]
    fn writer_waits_for_a_write_lock_held_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path, Arc::new(Metrics::default()), signer()).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut reply = store.submit(WriteOp::Trust {
            version: 1,
            issued_at: Timestamp(1),
            bytes: b"list".to_vec(),
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            matches!(
                reply.try_recv(),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty)
            ),
            "the writer answered while another connection held the write lock"
        );
        other.execute_batch("ROLLBACK").unwrap();
        assert!(matches!(
            reply.blocking_recv().unwrap().unwrap(),
            WriteOutcome::Stored { log_index: None }
        ));
        assert_eq!(store.latest_trust().unwrap(), Some(b"list".to_vec()));
        store.shutdown();
    }
}
