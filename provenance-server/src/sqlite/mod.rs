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

use provenance_core::log::{self as tlog, TreeHash};
use provenance_core::{ItemId, RecordHash, RunId, Timestamp};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

use crate::group_commit::{self, Msg};
use crate::metrics::Metrics;
use crate::store::{
    ExportSnapshot, Head, ItemRow, LeafKind, LedgerStore, LogEntry, RecordRef, RecordRow, RunRow,
    SignedCheckpoint, StoreError, StoreStats, WriteOp, WriteResult,
};

mod log;
mod rows;
mod schema;
#[cfg(test)]
mod tests;
mod wal;
mod writer;

pub use log::{LogSigner, SqliteNodes};
pub use wal::{WalLimits, DEFAULT_WAL_MAX_BYTES, MIN_WAL_MAX_BYTES, WAL_CHECKPOINT_INTERVAL};

use wal::checkpointer::Checkpointer;
use wal::{writer_settings, WalGate};

use crate::columns::{blob, key, u};
use log::{open_log, read_checkpoint, LogWriter, Published};
use rows::{find_record_in, records_in, unwrap_proof};
use schema::{backfill_log, migrate, open_write};
use writer::writer_loop;

/// The schema version this program writes (`PRAGMA user_version`); `provenance migrate` copies
/// only a ledger at this version.
pub const SCHEMA_VERSION: usize = schema::MIGRATIONS.len();
pub use crate::group_commit::MAX_BATCH;
/// Reader connections kept open between requests. Enough for every concurrent handler under
/// load, so readers are not opened and closed per request (a closing connection may try to
/// checkpoint, briefly locking the database file).
const MAX_IDLE_READERS: usize = 64;
/// Times a read is retried when SQLite reports contention despite the busy timeout.
const READ_RETRIES: u32 = 5;

/// The SQLite-backed [`LedgerStore`].
pub struct SqliteStore {
    path: std::path::PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    checkpoint: Published,
    wal: Mutex<Checkpointer>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, runs pending migrations, gives
    /// older rows their log leaves, checks the log against its latest checkpoint (signing a new
    /// one if needed) and starts the writer thread.
    pub fn open(path: &Path, metrics: Arc<Metrics>, signer: LogSigner) -> Result<Self, StoreError> {
        Self::open_with(path, metrics, signer, WalLimits::default())
    }

    /// [`Self::open`] with the WAL checkpointer's timer and the WAL's size bound.
    pub fn open_with(
        path: &Path,
        metrics: Arc<Metrics>,
        signer: LogSigner,
        wal_limits: WalLimits,
    ) -> Result<Self, StoreError> {
        let mut conn = open_write(path)?;
        migrate(&mut conn)?;
        backfill_log(&mut conn)?;
        writer_settings(&conn)?;
        let gate = WalGate::new(path, wal_limits, metrics.clone());
        let wal = Checkpointer::start(path, wal_limits, gate.clone(), metrics.clone())?;
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
            .spawn(move || writer_loop(conn, rx, metrics, log, &gate))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            tx,
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            checkpoint,
            wal: Mutex::new(wal),
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

impl LedgerStore for SqliteStore {
    fn submit(&self, op: WriteOp) -> oneshot::Receiver<WriteResult> {
        group_commit::submit(&self.tx, op)
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
        if let Ok(mut wal) = self.wal.lock() {
            wal.stop();
        }
    }
}
