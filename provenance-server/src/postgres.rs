//! The PostgreSQL backend (issue 15): several `provenance serve` processes on one database, with
//! the guarantees of the single SQLite server.
//!
//! The same shape as [`crate::sqlite`]: versioned migrations (each in one transaction, under an
//! advisory lock so that two servers starting together do not both migrate), one writer thread
//! per process with group commit, and a small pool of reader connections. The client is the
//! synchronous `postgres` crate: the store is called from a dedicated writer thread and from short
//! synchronous reads, exactly as the SQLite backend is, so an async client would only add a
//! runtime hop per call.
//!
//! Several servers, one truth:
//! - every write transaction first locks the single row of `log_state` (`SELECT … FOR UPDATE`),
//!   which holds the log's size. Write transactions of all processes are therefore serialized,
//!   each reads the tree size *under the lock*, assigns gap-free leaf indexes in commit order,
//!   stores records, leaves, interior nodes and the newly signed checkpoint in the same
//!   transaction, and releases the lock at commit. One signer at a time; every checkpoint
//!   extends the previous one.
//! - the item head's compare-and-swap is a conditional `UPDATE … WHERE head_seq = $ AND
//!   head_hash = $` inside that transaction, so a stale head cached by any process cannot win;
//! - re-posts find the stored record by its hash in the database, whichever server stored it;
//! - the only per-process log state, the right edge of the Merkle tree (one hash per level), is
//!   reused only when the size read under the lock is the size it was built for, and reloaded
//!   from the database otherwise; the served checkpoint is read from the database.
//!
//! `synchronous_commit` is on: a write is answered only after its commit is flushed. A lost
//! connection is replaced: the writer reconnects (retrying the batch when the loss came before
//! `COMMIT` was sent), readers retry on a fresh connection; a write whose `COMMIT` got no answer is
//! answered 503 and, if it was in fact stored, its retry is an idempotent re-post.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, IsolationLevel, NoTls, Row, Statement};
use provenance_core::checkpoint::Checkpoint;
use provenance_core::log::{self as tlog, NodeSource, TreeHash};
use provenance_core::{ItemId, PublicKey, RecordHash, RunId, Timestamp, VerifiedRecord};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::sqlite::{LogSigner, MAX_BATCH};
use crate::store::{
    kind_from_number, kind_number, ExportSnapshot, Head, ItemRow, LeafKind, LedgerStore, LogEntry,
    RecordRef, RecordRow, RunRow, SignedCheckpoint, StoreError, StoreStats, WriteOp, WriteOutcome,
    WriteResult,
};

/// Reader threads, each with its own connection once used (a PostgreSQL backend process each).
const READER_THREADS: usize = 8;
/// Times a read is retried on a fresh connection after a lost connection or contention.
const READ_RETRIES: u32 = 5;
/// How long the writer keeps trying to reconnect before it answers a batch 503.
const RECONNECT_FOR: Duration = Duration::from_secs(10);
/// The advisory lock that serializes schema migrations between servers starting together.
const MIGRATION_LOCK: i64 = 0x7072_6f76_656e_0015;
/// Session settings of every connection: durable commits, bounded waits (a server frozen inside
/// a transaction loses its session rather than blocking the others forever).
const SESSION: &str = "SET synchronous_commit = on; SET lock_timeout = '5s'; \
     SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s'";

/// Schema migrations, applied in order, each in one transaction; `provenance_schema.version`
/// records how many ran. The tables mirror the SQLite backend's final schema.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, items, records, trust lists and the Merkle log. Trust-list versions and issue
    // times span all of u64: 20-digit zero-padded decimal text in the C collation sorts as the
    // numbers it spells. `log_state` holds the tree size; its row lock serializes appends.
    r#"CREATE TABLE runs (
        id          bytea PRIMARY KEY,
        maker       bytea NOT NULL,
        size        bigint NOT NULL,
        hash        bytea NOT NULL UNIQUE,
        time        bigint NOT NULL,
        bytes       bytea NOT NULL,
        received_at bigint NOT NULL,
        log_index   bigint NOT NULL UNIQUE
    );
    CREATE TABLE items (
        id         bytea PRIMARY KEY,
        run        bytea NOT NULL REFERENCES runs(id),
        edition    bigint NOT NULL,
        maker      bytea NOT NULL,
        head_seq   bigint NOT NULL,
        head_hash  bytea NOT NULL,
        created_at bigint NOT NULL,
        UNIQUE (run, edition)
    );
    CREATE TABLE records (
        item        bytea NOT NULL REFERENCES items(id),
        seq         bigint NOT NULL,
        hash        bytea NOT NULL UNIQUE,
        kind        smallint NOT NULL,
        time        bigint NOT NULL,
        signer      bytea NOT NULL,
        bytes       bytea NOT NULL,
        received_at bigint NOT NULL,
        log_index   bigint NOT NULL UNIQUE,
        PRIMARY KEY (item, seq)
    );
    CREATE TABLE trust_lists (
        version     text COLLATE "C" PRIMARY KEY CHECK (version ~ '^[0-9]{20}$'),
        issued_at   text COLLATE "C" NOT NULL CHECK (issued_at ~ '^[0-9]{20}$'),
        bytes       bytea NOT NULL,
        received_at bigint NOT NULL
    );
    CREATE TABLE log_leaves (
        idx  bigint PRIMARY KEY,
        kind smallint NOT NULL,
        id   bytea NOT NULL,
        seq  bigint NOT NULL,
        hash bytea NOT NULL
    );
    CREATE TABLE log_nodes (
        level integer NOT NULL,
        idx   bigint NOT NULL,
        hash  bytea NOT NULL,
        PRIMARY KEY (level, idx)
    );
    CREATE TABLE log_checkpoint (
        id        integer PRIMARY KEY CHECK (id = 1),
        size      bigint NOT NULL,
        root      bytea NOT NULL,
        note      text NOT NULL,
        signed_at bigint NOT NULL
    );
    CREATE TABLE log_state (
        id   integer PRIMARY KEY CHECK (id = 1),
        size bigint NOT NULL
    );
    INSERT INTO log_state (id, size) VALUES (1, 0);"#,
];

/// A PostgreSQL failure, before it is mapped to a [`StoreError`].
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The `postgres://` URL does not parse.
    #[error("the PostgreSQL URL is not valid: {0}")]
    Url(#[source] postgres::Error),
    /// No connection could be made.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] postgres::Error),
    /// The connection broke (server restarted, network, administrator).
    #[error("the connection to PostgreSQL was lost: {0}")]
    Lost(#[source] postgres::Error),
    /// A lock or statement timeout, a serialization failure or too many connections: retry.
    #[error("PostgreSQL is busy ({code}): {source}")]
    Contention {
        /// The SQLSTATE.
        code: String,
        /// The error.
        #[source]
        source: postgres::Error,
    },
    /// Any other database error.
    #[error("PostgreSQL error: {0}")]
    Query(#[source] postgres::Error),
    /// The database was migrated by a newer program.
    #[error("the database schema is version {found}, newer than this program's {known}")]
    SchemaTooNew {
        /// The stored version.
        found: i64,
        /// The newest version this program knows.
        known: usize,
    },
}

impl PgError {
    /// Classifies a client error: lost connection, contention, or a plain query error.
    pub fn classify(e: postgres::Error) -> Self {
        if e.is_closed() {
            return PgError::Lost(e);
        }
        if let Some(code) = e.code() {
            let lost = [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::CONNECTION_FAILURE,
                SqlState::CONNECTION_EXCEPTION,
            ];
            let busy = [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::QUERY_CANCELED,
                SqlState::TOO_MANY_CONNECTIONS,
            ];
            if lost.contains(code) {
                return PgError::Lost(e);
            }
            if busy.contains(code) {
                return PgError::Contention {
                    code: code.code().to_string(),
                    source: e,
                };
            }
            return PgError::Query(e);
        }
        // No SQLSTATE: an I/O error on the socket is a lost connection.
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if io {
            PgError::Lost(e)
        } else {
            PgError::Query(e)
        }
    }

    /// Whether the request may simply be retried (lost connection or contention).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PgError::Connect(_) | PgError::Lost(_) | PgError::Contention { .. }
        )
    }
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        if e.is_transient() {
            // 503, retry: nothing was stored (or, for a lost COMMIT answer, the retry is an
            // idempotent re-post).
            tracing::warn!("{e}");
            return StoreError::Busy;
        }
        match e {
            PgError::SchemaTooNew { .. } => {
                StoreError::Corrupt("database schema is newer than this program")
            }
            other => StoreError::Io(std::io::Error::other(other)),
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        PgError::classify(e).into()
    }
}

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The URL without its password, for logs and messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Parses a `postgres://` URL (libpq's URL form; a socket directory as a percent-encoded host).
pub fn parse_url(url: &str) -> Result<Config, PgError> {
    let mut config: Config = url.parse().map_err(PgError::Url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("provenance");
    }
    Ok(config)
}

/// Prepared statements of one connection, by their SQL text.
type Cache = HashMap<&'static str, Statement>;

/// A connection and its prepared statements.
pub struct Conn {
    client: Client,
    cache: Cache,
}

/// Opens a connection with the session settings of [`SESSION`].
pub fn connect(config: &Config) -> Result<Conn, PgError> {
    let mut client = config.connect(NoTls).map_err(PgError::Connect)?;
    client.batch_execute(SESSION).map_err(PgError::classify)?;
    Ok(Conn {
        client,
        cache: HashMap::new(),
    })
}

/// Statements over a client or a transaction, prepared once per connection.
struct Db<'a, C: GenericClient> {
    c: &'a mut C,
    cache: &'a mut Cache,
}

type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Db<'_, C> {
    fn stmt(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql)?;
        self.cache.insert(sql, s.clone());
        Ok(s)
    }

    fn opt(&mut self, sql: &'static str, p: &Params<'_>) -> Result<Option<Row>, StoreError> {
        let s = self.stmt(sql)?;
        Ok(self.c.query_opt(&s, p)?)
    }

    fn one(&mut self, sql: &'static str, p: &Params<'_>) -> Result<Row, StoreError> {
        let s = self.stmt(sql)?;
        Ok(self.c.query_one(&s, p)?)
    }

    fn all(&mut self, sql: &'static str, p: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let s = self.stmt(sql)?;
        Ok(self.c.query(&s, p)?)
    }

    fn exec(&mut self, sql: &'static str, p: &Params<'_>) -> Result<u64, StoreError> {
        let s = self.stmt(sql)?;
        Ok(self.c.execute(&s, p)?)
    }
}

fn blob<const N: usize>(v: Vec<u8>, what: &'static str) -> Result<[u8; N], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt(what))
}

fn key(v: Vec<u8>) -> Result<PublicKey, StoreError> {
    PublicKey::from_bytes(&blob::<32>(v, "public key")?)
        .map_err(|_| StoreError::Corrupt("public key"))
}

/// A stored bigint as the unsigned value it was written from.
fn u(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("a negative stored integer"))
}

/// An unsigned value for a bigint column (bounded by the rules before it gets here).
fn int(v: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what))
}

fn u64_text(v: u64) -> String {
    format!("{v:020}")
}

fn u64_from_text(v: &str) -> Result<u64, StoreError> {
    match v.parse() {
        Ok(n) if v.len() == 20 => Ok(n),
        _ => Err(StoreError::Corrupt("a stored 20-digit number")),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

/// [`NodeSource`] over a PostgreSQL client or transaction: level 0 from `log_leaves`, higher
/// levels from `log_nodes`.
struct PgNodes<'a, 'b, C: GenericClient>(RefCell<&'a mut Db<'b, C>>);

impl<C: GenericClient> NodeSource for PgNodes<'_, '_, C> {
    type Error = StoreError;

    fn perfect(&self, level: u32, index: u64) -> Result<TreeHash, StoreError> {
        let index = int(index, "log index")?;
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
struct Frontier {
    size: u64,
    nodes: BTreeMap<u32, TreeHash>,
}

impl Frontier {
    /// The `(level, index)` of each subtree on the right edge of a tree of `size` leaves.
    fn positions(size: u64) -> Vec<(u32, u64)> {
        (0..64u32)
            .filter(|level| (size >> level) & 1 == 1)
            .map(|level| (level, (size >> level) - 1))
            .collect()
    }

    /// Reads the right edge of the stored tree of `size` leaves.
    fn load<C: GenericClient>(db: &mut Db<'_, C>, size: u64) -> Result<Self, StoreError> {
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
    fn push(&mut self, leaf: TreeHash) -> Result<Vec<(u32, u64, TreeHash)>, StoreError> {
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

    fn root(&self) -> Result<TreeHash, StoreError> {
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
struct Pending {
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
    fn leaf(
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
            self.node_idx.push(int(i, "node index")?);
            self.node_hash.push(h.0.to_vec());
        }
        self.idx.push(int(index, "log index")?);
        self.kind.push(i16::from(kind.number()));
        self.id.push(id.to_vec());
        self.seq.push(int(seq, "seq")?);
        self.hash.push(leaf.0.to_vec());
        Ok(index)
    }

    fn insert<C: GenericClient>(&self, db: &mut Db<'_, C>) -> Result<(), StoreError> {
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

fn read_checkpoint<C: GenericClient>(
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
fn store_checkpoint<C: GenericClient>(
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
        &[&int(size, "size")?, &&root.0[..], &note, &now],
    )?;
    Ok(SignedCheckpoint { size, root, note })
}

/// Locks the log (the `log_state` row) for the rest of the transaction; returns its size.
fn lock_log<C: GenericClient>(db: &mut Db<'_, C>) -> Result<u64, StoreError> {
    let row = db.one("SELECT size FROM log_state WHERE id = 1 FOR UPDATE", &[])?;
    u(row.try_get(0)?)
}

/// Runs the pending schema migrations, each in one transaction, under an advisory lock.
pub fn migrate_schema(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS provenance_schema (
             id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)",
        )
        .or_else(|e| {
            // Two servers creating the table at once: one loses with a unique violation on the
            // catalog; the table then exists.
            if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.execute(
            "INSERT INTO provenance_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING",
            &[],
        )?;
        let version: i32 = tx
            .query_one("SELECT version FROM provenance_schema WHERE id = 1", &[])?
            .try_get(0)?;
        let applied =
            usize::try_from(version).map_err(|_| StoreError::Corrupt("negative schema version"))?;
        if applied > MIGRATIONS.len() {
            return Err(PgError::SchemaTooNew {
                found: i64::from(version),
                known: MIGRATIONS.len(),
            }
            .into());
        }
        let Some(sql) = MIGRATIONS.get(applied) else {
            tx.commit()?;
            return Ok(());
        };
        tx.batch_execute(sql)?;
        tx.execute(
            "UPDATE provenance_schema SET version = version + 1 WHERE id = 1",
            &[],
        )?;
        tx.commit()?;
    }
}

/// At open: checks the stored checkpoint against the stored tree, and signs a new one when the
/// tree grew, the origin or key changed, or there is none. Returns whether the stored tree
/// contradicts the stored checkpoint ("tainted": this process then never signs).
fn open_log(conn: &mut Conn, signer: &LogSigner) -> Result<bool, StoreError> {
    let mut tx = conn.client.transaction()?;
    let mut db = Db {
        c: &mut tx,
        cache: &mut conn.cache,
    };
    let size = lock_log(&mut db)?;
    let stored = read_checkpoint(&mut db)?;
    if let Some(cp) = &stored {
        let root = if cp.size <= size {
            tlog::root(&PgNodes(RefCell::new(&mut db)), cp.size).ok()
        } else {
            None
        };
        if root != Some(cp.root) {
            tracing::error!(
                size = cp.size,
                "the stored Merkle log does not match the ledger's latest signed checkpoint: \
                 the database was modified outside the ledger; no new checkpoint will be signed"
            );
            return Ok(true);
        }
        let same_signer = Checkpoint::verify(
            &cp.note,
            &signer.origin,
            &signer.key.public_key(),
            Some(&signer.origin),
        )
        .is_ok();
        if cp.size == size && same_signer {
            tx.commit()?;
            return Ok(false);
        }
        if !same_signer {
            tracing::warn!(
                "the latest checkpoint was signed under another origin or key: re-signing as \
                 {:?}. Every server of one ledger must share the ledger key and --origin \
                 (docs/DEPLOY.md)",
                signer.origin
            );
        }
    }
    let root = tlog::root(&PgNodes(RefCell::new(&mut db)), size)?;
    store_checkpoint(&mut db, signer, size, root, unix_now())?;
    tx.commit()?;
    Ok(false)
}

enum Msg {
    Write(WriteOp, oneshot::Sender<WriteResult>),
    Shutdown,
}

/// The PostgreSQL-backed [`LedgerStore`].
pub struct PgStore {
    tx: mpsc::UnboundedSender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Jobs for the reader threads (the synchronous client cannot block inside the async
    /// runtime of an HTTP worker, so reads run on threads of their own).
    jobs: std::sync::mpsc::Sender<Job>,
    /// The last checkpoint read or committed, served when the database cannot be reached.
    checkpoint: Arc<RwLock<Option<Arc<SignedCheckpoint>>>>,
}

impl PgStore {
    /// Connects to the database at `url`, runs pending migrations, checks the log against its
    /// latest checkpoint (signing a new one if needed) and starts the writer thread.
    pub fn open(url: &str, metrics: Arc<Metrics>, signer: LogSigner) -> Result<Self, StoreError> {
        let config = parse_url(url).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let mut conn = connect(&config).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        migrate_schema(&mut conn.client)?;
        let tainted = open_log(&mut conn, &signer)?;
        let latest = {
            let mut db = Db {
                c: &mut conn.client,
                cache: &mut conn.cache,
            };
            read_checkpoint(&mut db)?
        };
        let checkpoint = Arc::new(RwLock::new(latest.map(Arc::new)));
        let writer = Writer {
            config: config.clone(),
            conn: Some(conn),
            frontier: None,
            signer,
            tainted,
            published: checkpoint.clone(),
        };
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..READER_THREADS {
            let mut reader = Reader {
                config: config.clone(),
                conn: None,
            };
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("ledger-reader-{n}"))
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&mut reader),
                        Err(_) => return,
                    }
                })?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer.run(rx, &metrics))?;
        Ok(PgStore {
            tx,
            writer: Mutex::new(Some(handle)),
            jobs,
            checkpoint,
        })
    }

    /// Runs a read on a reader thread and waits for its answer (as a SQLite read blocks the
    /// calling HTTP worker, so does this).
    fn read<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let job: Job = Box::new(move |reader: &mut Reader| {
            let _ = reply.send(reader.run(&f));
        });
        self.jobs.send(job).map_err(|_| StoreError::WriterGone)?;
        answer.recv().map_err(|_| StoreError::WriterGone)?
    }

    /// [`PgStore::read`] with the connection's statement cache.
    fn with_reader<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Db<'_, Client>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.read(move |conn| {
            f(&mut Db {
                c: &mut conn.client,
                cache: &mut conn.cache,
            })
        })
    }
}

/// A read job, run on a reader thread.
type Job = Box<dyn FnOnce(&mut Reader) + Send>;

/// A reader thread's connection, opened on first use and replaced when lost.
struct Reader {
    config: Config,
    conn: Option<Conn>,
}

impl Reader {
    /// Runs a read; a lost connection is dropped and the read retried on a fresh one (reads are
    /// idempotent), as is contention.
    fn run<T>(&mut self, f: &dyn Fn(&mut Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            if self.conn.as_ref().map_or(true, |c| c.client.is_closed()) {
                self.conn = None;
                match connect(&self.config) {
                    Ok(c) => self.conn = Some(c),
                    Err(e) if attempt < READ_RETRIES => {
                        attempt += 1;
                        tracing::debug!("read retried ({attempt}): {e}");
                        std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            let result = f(conn);
            if conn.client.is_closed() {
                self.conn = None;
            }
            match result {
                Err(StoreError::Busy) if attempt < READ_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
                }
                other => return other,
            }
        }
    }
}

/// The writer thread's state.
struct Writer {
    config: Config,
    conn: Option<Conn>,
    /// The right edge of the tree as of the last commit; valid only for its own size.
    frontier: Option<Frontier>,
    signer: LogSigner,
    tainted: bool,
    published: Arc<RwLock<Option<Arc<SignedCheckpoint>>>>,
}

/// Why a batch did not commit.
enum BatchError {
    /// A statement of write `index` failed: the transaction is void; the others may be retried
    /// alone.
    Op(StoreError),
    /// The connection broke before `COMMIT` was sent: nothing was stored; retry elsewhere.
    Lost(StoreError),
    /// The batch failed as a whole (or its `COMMIT` got no answer).
    Batch(StoreError),
}

impl Writer {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>, metrics: &Metrics) {
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
            let outcomes = self.commit(&ops);
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        rx.close();
        while let Ok(msg) = rx.try_recv() {
            if let Msg::Write(_, reply) = msg {
                let _ = reply.send(Err(StoreError::WriterGone));
            }
        }
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

    fn try_batch(&mut self, ops: &[WriteOp]) -> Result<Vec<WriteResult>, BatchError> {
        if self.conn.as_ref().map_or(true, |c| c.client.is_closed()) {
            self.conn = None;
            self.frontier = None;
            let conn = connect(&self.config).map_err(|e| BatchError::Lost(e.into()))?;
            self.conn = Some(conn);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(BatchError::Lost(StoreError::Busy));
        };
        let lost = |conn: &Conn, e: StoreError| {
            if conn.client.is_closed() {
                BatchError::Lost(e)
            } else {
                BatchError::Batch(e)
            }
        };
        let now = unix_now();
        // BEGIN failing means nothing of this batch reached the database: reconnect and retry.
        let mut tx = match conn.client.transaction() {
            Ok(tx) => tx,
            Err(e) => return Err(BatchError::Lost(e.into())),
        };
        let mut db = Db {
            c: &mut tx,
            cache: &mut conn.cache,
        };
        let prepared = (|| -> Result<(u64, Frontier), StoreError> {
            let size = lock_log(&mut db)?;
            let frontier = match &self.frontier {
                Some(f) if f.size == size => f.clone(),
                _ => Frontier::load(&mut db, size)?,
            };
            Ok((size, frontier))
        })();
        let (start, mut frontier) = match prepared {
            Ok(v) => v,
            Err(e) => {
                drop(tx);
                return Err(lost(conn, e));
            }
        };
        let mut pending = Pending::default();
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            match apply_one(&mut db, op, now, &mut frontier, &mut pending) {
                Ok(result) => results.push(result),
                Err(e) => {
                    drop(tx);
                    return Err(if conn.client.is_closed() {
                        BatchError::Lost(e)
                    } else {
                        BatchError::Op(e)
                    });
                }
            }
        }
        let finish = (|| -> Result<Option<SignedCheckpoint>, StoreError> {
            if frontier.size == start {
                return Ok(None);
            }
            pending.insert(&mut db)?;
            db.exec(
                "UPDATE log_state SET size = $1 WHERE id = 1",
                &[&int(frontier.size, "size")?],
            )?;
            if self.tainted {
                return Ok(None);
            }
            let root = frontier.root()?;
            Ok(Some(store_checkpoint(
                &mut db,
                &self.signer,
                frontier.size,
                root,
                now,
            )?))
        })();
        let checkpoint = match finish {
            Ok(cp) => cp,
            Err(e) => {
                drop(tx);
                return Err(lost(conn, e));
            }
        };
        // COMMIT: if it gets no answer the outcome is unknown, so the batch is not retried
        // (its writes are answered 503; a retried re-post finds what was stored).
        if let Err(e) = tx.commit() {
            self.frontier = None;
            return Err(BatchError::Batch(e.into()));
        }
        self.frontier = Some(frontier);
        if let Some(cp) = checkpoint {
            match self.published.write() {
                Ok(mut p) => *p = Some(Arc::new(cp)),
                Err(poisoned) => *poisoned.into_inner() = Some(Arc::new(cp)),
            }
        }
        Ok(results)
    }
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

fn find_record_in<C: GenericClient>(
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

fn head_in<C: GenericClient>(
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
            &int(record.seq(), "seq")?,
            &&record.hash().0[..],
            &kind_small(record)?,
            &int(record.time().0, "time")?,
            &&record.signer().to_bytes()[..],
            &record.bytes(),
            &now,
            &int(index, "log_index")?,
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
    match op {
        WriteOp::Run(run) => {
            if db
                .opt("SELECT 1 FROM runs WHERE id = $1", &[&&run.id().0[..]])?
                .is_some()
            {
                return Ok(Ok(WriteOutcome::RunAlreadyStored));
            }
            let record = run.record();
            let index = pending.leaf(frontier, LeafKind::Run, &run.id().0, 0, record.bytes())?;
            db.exec(
                "INSERT INTO runs (id, maker, size, hash, time, bytes, received_at, log_index)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &&run.id().0[..],
                    &&run.maker().key.to_bytes()[..],
                    &int(run.manifest().size, "size")?,
                    &&record.hash().0[..],
                    &int(record.time().0, "time")?,
                    &record.bytes(),
                    &now,
                    &int(index, "log_index")?,
                ],
            )?;
            Ok(Ok(WriteOutcome::Stored {
                log_index: Some(index),
            }))
        }
        WriteOp::Mint {
            item,
            run,
            edition,
            record,
        } => {
            if let Some(found) = find_record_in(db, &record.hash())? {
                return Ok(Ok(WriteOutcome::AlreadyStored(found)));
            }
            let edition = int(*edition, "edition")?;
            if let Some(row) = db.opt(
                "SELECT id FROM items WHERE run = $1 AND edition = $2",
                &[&&run.0[..], &edition],
            )? {
                return Ok(Ok(WriteOutcome::EditionTaken(ItemId(blob(
                    row.try_get(0)?,
                    "item id",
                )?))));
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
            insert_record(db, item, record, now, frontier, pending)
        }
        WriteOp::Append {
            item,
            expected,
            record,
        } => {
            if record.seq() != expected.seq + 1 {
                // A caller bug: refused before anything is written.
                return Ok(Err(StoreError::Corrupt("append is not head + 1")));
            }
            // The compare-and-swap, inside the transaction that holds the log lock: only the
            // head stored in the database counts, never a head some process cached.
            let changed = db.exec(
                "UPDATE items SET head_seq = $1, head_hash = $2
                 WHERE id = $3 AND head_seq = $4 AND head_hash = $5",
                &[
                    &int(record.seq(), "seq")?,
                    &&record.hash().0[..],
                    &&item.0[..],
                    &int(expected.seq, "seq")?,
                    &&expected.hash.0[..],
                ],
            )?;
            if changed == 1 {
                return insert_record(db, item, record, now, frontier, pending);
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
        WriteOp::Trust {
            version,
            issued_at,
            bytes,
        } => {
            let current = latest_trust_version(db)?.unwrap_or(0);
            if *version <= current {
                return Ok(Ok(WriteOutcome::TrustStale { current }));
            }
            db.exec(
                "INSERT INTO trust_lists (version, issued_at, bytes, received_at)
                 VALUES ($1, $2, $3, $4)",
                &[&u64_text(*version), &u64_text(issued_at.0), bytes, &now],
            )?;
            Ok(Ok(WriteOutcome::Stored { log_index: None }))
        }
    }
}

fn latest_trust_version<C: GenericClient>(db: &mut Db<'_, C>) -> Result<Option<u64>, StoreError> {
    let row = db.one("SELECT MAX(version) FROM trust_lists", &[])?;
    let current: Option<String> = row.try_get(0)?;
    current.as_deref().map(u64_from_text).transpose()
}

fn records_in<C: GenericClient>(
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

fn unwrap_proof(proof: Option<Vec<TreeHash>>) -> Result<Vec<TreeHash>, StoreError> {
    proof.ok_or(StoreError::Corrupt("proof parameters out of range"))
}

impl LedgerStore for PgStore {
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
        let hash = *hash;
        self.with_reader(move |db| find_record_in(db, &hash))
    }

    fn item(&self, item: &ItemId) -> Result<Option<ItemRow>, StoreError> {
        let item = *item;
        self.with_reader(move |db| {
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
        })
    }

    fn records(&self, item: &ItemId) -> Result<Vec<RecordRow>, StoreError> {
        let item = *item;
        self.with_reader(move |db| records_in(db, &item))
    }

    fn run(&self, run: &RunId) -> Result<Option<RunRow>, StoreError> {
        let run = *run;
        self.with_reader(move |db| {
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
        })
    }

    fn run_items(&self, run: &RunId) -> Result<Vec<(u64, ItemId)>, StoreError> {
        let run = *run;
        self.with_reader(move |db| {
            db.all(
                "SELECT edition, id FROM items WHERE run = $1 ORDER BY edition",
                &[&&run.0[..]],
            )?
            .into_iter()
            .map(|r| Ok((u(r.try_get(0)?)?, ItemId(blob(r.try_get(1)?, "item id")?))))
            .collect()
        })
    }

    fn latest_trust(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_reader(|db| {
            Ok(db
                .opt(
                    "SELECT bytes FROM trust_lists ORDER BY version DESC LIMIT 1",
                    &[],
                )?
                .map(|r| r.try_get(0))
                .transpose()?)
        })
    }

    fn shared_trust_version(&self) -> Result<Option<u64>, StoreError> {
        // Another server may have stored a newer list: the ledger reloads it when this is
        // above its own copy's version.
        self.with_reader(|db| Ok(Some(latest_trust_version(db)?.unwrap_or(0))))
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_reader(|db| {
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
        })
    }

    fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn checkpoint(&self) -> Option<Arc<SignedCheckpoint>> {
        // The database's latest: another server may have committed since this one did.
        match self.with_reader(read_checkpoint) {
            Ok(Some(cp)) => {
                let cp = Arc::new(cp);
                if let Ok(mut p) = self.checkpoint.write() {
                    if p.as_ref().map_or(true, |old| old.size <= cp.size) {
                        *p = Some(cp.clone());
                    }
                }
                Some(cp)
            }
            Ok(None) | Err(_) => match self.checkpoint.read() {
                Ok(c) => c.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            },
        }
    }

    fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<TreeHash>, StoreError> {
        self.with_reader(move |db| {
            unwrap_proof(tlog::inclusion_proof(
                &PgNodes(RefCell::new(db)),
                index,
                size,
            )?)
        })
    }

    fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<TreeHash>, StoreError> {
        self.with_reader(move |db| {
            unwrap_proof(tlog::consistency_proof(
                &PgNodes(RefCell::new(db)),
                first,
                second,
            )?)
        })
    }

    fn log_entries(&self, start: u64, end: u64) -> Result<Vec<LogEntry>, StoreError> {
        let start = i64::try_from(start).unwrap_or(i64::MAX);
        let end = i64::try_from(end).unwrap_or(i64::MAX);
        self.with_reader(move |db| {
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
        })
    }

    fn export(&self, item: &ItemId) -> Result<Option<ExportSnapshot>, StoreError> {
        let item = *item;
        self.read(move |conn| export_in(conn, &item))
    }
}

/// The export snapshot, read in one REPEATABLE READ transaction so that the records, the
/// checkpoint and the inclusion proof agree.
fn export_in(conn: &mut Conn, item: &ItemId) -> Result<Option<ExportSnapshot>, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The right edge computes the same roots and closes the same nodes as the in-memory tree,
    /// for every size up to 300, and only answers for its own nodes.
    #[test]
    fn frontier_matches_the_memory_tree() {
        let mut tree = tlog::MemoryTree::new();
        let mut edge = Frontier::default();
        for i in 0..300u64 {
            let leaf = tlog::leaf_hash(&i.to_be_bytes());
            tree.push(leaf);
            let closed = edge.push(leaf).unwrap();
            assert_eq!(closed, tree.nodes_closed_by_last_leaf(), "size {}", i + 1);
            assert_eq!(edge.root().unwrap(), tlog::root(&tree, i + 1).unwrap());
            for (level, index) in Frontier::positions(edge.size) {
                assert_eq!(
                    edge.perfect(level, index).unwrap(),
                    tlog::NodeSource::perfect(&tree, level, index).unwrap()
                );
            }
        }
        assert!(edge.perfect(0, 0).is_err(), "not on the right edge");
        assert_eq!(Frontier::default().root().unwrap(), TreeHash::empty());
    }

    #[test]
    fn urls_and_redaction() {
        assert!(is_postgres_url("postgres://u@h:5432/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("provenance.db"));
        assert!(!is_postgres_url("/var/lib/postgres://x"));
        assert_eq!(
            redacted("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redacted("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(redacted("postgres://h/db"), "postgres://h/db");
        assert!(parse_url("postgres://u@h:5432/db").is_ok());
        assert!(parse_url("postgres://u@h:notaport/db").is_err());
    }

    /// A lost connection and contention answer 503 (retry); other errors 500.
    #[test]
    fn transient_errors_are_busy() {
        assert!(PgError::SchemaTooNew { found: 9, known: 1 }
            .to_string()
            .contains("newer"));
        let e = StoreError::from(PgError::SchemaTooNew { found: 9, known: 1 });
        assert!(matches!(e, StoreError::Corrupt(_)));
    }
}
